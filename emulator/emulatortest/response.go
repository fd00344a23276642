package emulatortest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// CheckResponse reports whether a response is what GitHub documents for
// method on the path template specPath: the status must be documented for
// the operation (or covered by "default"), a status documented without a
// body must have none, and a JSON body must match the documented schema.
//
// The media type comes from header's Content-Type: a documented one is used
// as is; any other JSON type (application/json, *+json) is checked against
// the application/json schema; GitHub's own non-JSON media types
// (application/vnd.github.raw, .diff, .html, ...) that a client asks for with
// Accept are not schema-described and pass unchecked. A nil header means
// application/json. A non-nil header without Content-Type on a response
// with a body is an error, since GitHub always sends one.
//
// Bodies are checked with kin-openapi's Schema.VisitJSON on the decoded
// JSON rather than openapi3filter.ValidateResponse: that needs a router
// route, which GitHub's multi-segment parameters break, and it would
// decode and re-encode for every call. Formats follow kin-openapi's
// registry: date-time (and date) must be RFC 3339 — GitHub sends nothing
// else, so "2018-04-25 20:42:10" fails — while uri, email and the like are
// not checked, as GitHub's own examples use templated URLs.
func (s *Spec) CheckResponse(method, specPath string, status int, header http.Header, body []byte) error {
	op, err := s.operation(method, specPath)
	if err != nil {
		return err
	}
	where := fmt.Sprintf("%s (%s %s) status %d", op.OperationID, strings.ToUpper(method), specPath, status)
	if status == http.StatusNotModified && strings.EqualFold(method, http.MethodGet) {
		// The description lists 304 for a few operations only, but GitHub
		// answers any GET whose If-None-Match matches with a bodiless 304
		// ("Use conditional requests", REST best practices).
		if len(body) > 0 {
			return fmt.Errorf("%s: a 304 has no body, but the response has %d bytes", where, len(body))
		}
		return nil
	}
	ref := op.Responses.Status(status)
	if ref == nil {
		ref = op.Responses.Default()
	}
	if ref == nil || ref.Value == nil {
		return fmt.Errorf("%s: status not documented for this operation (documented: %s)", where, documentedStatuses(op))
	}
	resp := ref.Value
	if len(resp.Content) == 0 {
		if n := len(bytes.TrimSpace(body)); n > 0 {
			return fmt.Errorf("%s: documented without a body, but the response has %d bytes", where, n)
		}
		return nil
	}

	mediaType := "application/json"
	if header != nil {
		ct := header.Get("Content-Type")
		if ct == "" {
			if len(body) == 0 {
				return fmt.Errorf("%s: documented with a body (%s), but the response has none", where, contentTypes(resp.Content))
			}
			return fmt.Errorf("%s: response has a body but no Content-Type header", where)
		}
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil {
			return fmt.Errorf("%s: bad Content-Type %q: %w", where, ct, err)
		}
		mediaType = mt
	}
	media := resp.Content.Get(mediaType)
	if media == nil {
		switch {
		case isJSON(mediaType):
			media = resp.Content.Get("application/json")
		case strings.HasPrefix(mediaType, "application/vnd.github"):
			return nil // a raw/diff/html representation asked for with Accept
		}
	}
	if media == nil {
		return fmt.Errorf("%s: Content-Type %s is not documented (documented: %s)", where, mediaType, contentTypes(resp.Content))
	}
	if media.Schema == nil || media.Schema.Value == nil {
		return nil
	}
	if !isJSON(mediaType) {
		return nil // only JSON bodies are schema-checked
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return fmt.Errorf("%s: documented with a %s body, but the response has none", where, schemaName(media.Schema))
	}
	var value any
	if err := json.Unmarshal(body, &value); err != nil {
		return fmt.Errorf("%s: response body is not JSON: %w", where, err)
	}
	if err := visit(media.Schema.Value, value); err != nil {
		return fmt.Errorf("%s: response body does not match schema %s:%s", where, schemaName(media.Schema), err)
	}
	return nil
}

func isJSON(mediaType string) bool {
	return mediaType == "application/json" || strings.HasSuffix(mediaType, "+json")
}

func documentedStatuses(op *openapi3.Operation) string {
	var keys []string
	for k := range op.Responses.Map() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

func contentTypes(c openapi3.Content) string {
	var keys []string
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// schemaName is the component name a schema reference points to, or
// "(inline)" for a schema written in place.
func schemaName(ref *openapi3.SchemaRef) string {
	if ref.Ref == "" {
		return "(inline)"
	}
	return ref.Ref[strings.LastIndex(ref.Ref, "/")+1:]
}

// maxReported caps the schema errors listed in one message: past a few, the
// rest are usually consequences of the first.
const maxReported = 20

var visitOptions = []openapi3.SchemaValidationOption{
	openapi3.MultiErrors(),
	// Without the customizer every error carries the whole offending schema
	// as indented JSON, which for GitHub's payloads runs to megabytes.
	openapi3.SetSchemaErrorMessageCustomizer(schemaErrorMessage),
}

// visit validates value and returns nil or a message listing each error on
// its own line. VisitAsRequest/VisitAsResponse are not used: they deep-copy
// the value for every oneOf/anyOf branch and inject defaults into it.
func visit(schema *openapi3.Schema, value any) error {
	err := schema.VisitJSON(value, visitOptions...)
	if err == nil {
		return nil
	}
	var lines []string
	var flatten func(error)
	flatten = func(err error) {
		var me openapi3.MultiError
		if errors.As(err, &me) && !isSchemaError(err) {
			for _, e := range me {
				flatten(e)
			}
			return
		}
		lines = append(lines, err.Error())
	}
	flatten(err)
	var b strings.Builder
	for i, l := range lines {
		if i == maxReported {
			fmt.Fprintf(&b, "\n  - … and %d more", len(lines)-maxReported)
			break
		}
		b.WriteString("\n  - ")
		b.WriteString(l)
	}
	return errors.New(b.String())
}

func isSchemaError(err error) bool {
	_, ok := err.(*openapi3.SchemaError)
	return ok
}

func schemaErrorMessage(e *openapi3.SchemaError) string {
	msg := e.Reason
	switch {
	case e.SchemaField == "format":
		// kin's reason repeats the whole date-time regexp; the value says more.
		msg = fmt.Sprintf("string %s is not a valid %q", quoteShort(e.Value), e.Schema.Format)
	case msg == "":
		msg = fmt.Sprintf("does not match %q", e.SchemaField)
	}
	if e.Origin != nil && e.SchemaField != "format" {
		msg += " (" + e.Origin.Error() + ")"
	}
	return fmt.Sprintf("at %s: %s", jsonPointer(e.JSONPointer()), msg)
}

func jsonPointer(parts []string) string {
	if len(parts) == 0 {
		return "(root)"
	}
	esc := strings.NewReplacer("~", "~0", "/", "~1")
	var b strings.Builder
	for _, p := range parts {
		b.WriteByte('/')
		b.WriteString(esc.Replace(p))
	}
	return b.String()
}

// quoteShort quotes a string value for an error message, cut to a length
// that keeps the message readable.
func quoteShort(v any) string {
	s, ok := v.(string)
	if !ok {
		return fmt.Sprintf("%v", v)
	}
	const max = 60
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "…"
	}
	return strconv.Quote(s)
}
