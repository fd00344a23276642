// Spec holds GitHub's published REST API description (OpenAPI
// 3.0, with the x-webhooks payload schemas) for conformance tests: it checks
// that what the emulator answers and sends is what GitHub documents.
//
// The description is large (about 2.4 s and 150 MB to load), so Shared loads
// it once per process. It is never validated as a whole (doc.Validate):
// GitHub's own examples fail it, and only the schemas are needed here.
//
// Operations are looked up by their OpenAPI path template
// ("/repos/{owner}/{repo}/git/refs/{ref}"), not through kin-openapi's router,
// which cannot match parameters that span several path segments (GitHub marks
// them x-multi-segment: refs, file paths, branch names). MatchPath does that
// matching when only a concrete URL path is known.
package emulatortest

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/hoist-dev/hoist/internal/testenv"
)

// DescriptionFile is the description's path inside the reference folder
// (testdata/github).
const DescriptionFile = "openapi/api.github.com.json.gz"

// Spec is a loaded description with indexes for fast lookups. It is safe
// for concurrent use; nothing in it changes after loading.
type Spec struct {
	doc       *openapi3.T
	ops       map[opKey]*openapi3.Operation
	templates []pathTemplate
	webhooks  map[string]webhook // by x-webhooks operationId, e.g. "check-run/completed"
}

// OperationRef names one documented operation.
type OperationRef struct {
	Method string // upper case: GET, POST, ...
	Path   string // OpenAPI path template
	ID     string // operationId, e.g. "git/update-ref"
}

type opKey struct{ method, path string }

var (
	sharedOnce sync.Once
	shared     *Spec
	sharedErr  error
)

// Shared returns the description from the repository's reference folder
// (testenv.SharedGitHubDir, testdata/github), loaded once per process. The
// test fails when the file cannot be loaded; it is skipped when the folder
// is absent only outside CI.
func Shared(tb testing.TB) *Spec {
	tb.Helper()
	dir := testenv.SharedGitHubDir(tb)
	sharedOnce.Do(func() {
		shared, sharedErr = Load(filepath.Join(dir, DescriptionFile))
	})
	if sharedErr != nil {
		tb.Fatalf("emulatortest: %v", sharedErr)
	}
	return shared
}

// Load reads a description from a .json or .json.gz file. It does not cache:
// use Shared in tests.
func Load(path string) (*Spec, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load GitHub description: %w", err)
	}
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("load GitHub description %s: %w", path, err)
		}
		if raw, err = io.ReadAll(zr); err != nil {
			return nil, fmt.Errorf("load GitHub description %s: %w", path, err)
		}
	}
	s, err := New(raw)
	if err != nil {
		return nil, fmt.Errorf("load GitHub description %s: %w", path, err)
	}
	return s, nil
}

// New builds a Spec from the JSON text of a description.
func New(data []byte) (*Spec, error) {
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("parse OpenAPI: %w", err)
	}
	s := &Spec{doc: doc, ops: map[opKey]*openapi3.Operation{}}
	for path, item := range doc.Paths.Map() {
		tpl := pathTemplate{path: path, methods: map[string]bool{}}
		for method, op := range item.Operations() {
			method = strings.ToUpper(method)
			s.ops[opKey{method, path}] = op
			tpl.methods[method] = true
		}
		tpl.segments = parseTemplate(path, multiSegmentParams(item))
		s.templates = append(s.templates, tpl)
	}
	sort.Slice(s.templates, func(i, j int) bool { return s.templates[i].path < s.templates[j].path })
	if s.webhooks, err = indexWebhooks(doc); err != nil {
		return nil, err
	}
	return s, nil
}

// Doc is the underlying kin-openapi document, for lookups this package does
// not offer. Do not modify it.
func (s *Spec) Doc() *openapi3.T { return s.doc }

// Operation returns the operationId documented for method on the path
// template specPath.
func (s *Spec) Operation(method, specPath string) (operationID string, ok bool) {
	op := s.ops[opKey{strings.ToUpper(method), specPath}]
	if op == nil {
		return "", false
	}
	return op.OperationID, true
}

// Operations lists every documented operation, sorted by path then method,
// for coverage reports.
func (s *Spec) Operations() []OperationRef {
	out := make([]OperationRef, 0, len(s.ops))
	for k, op := range s.ops {
		out = append(out, OperationRef{Method: k.method, Path: k.path, ID: op.OperationID})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Method < out[j].Method
	})
	return out
}

// operation finds an operation or explains why there is none.
func (s *Spec) operation(method, specPath string) (*openapi3.Operation, error) {
	method = strings.ToUpper(method)
	if op := s.ops[opKey{method, specPath}]; op != nil {
		return op, nil
	}
	if s.doc.Paths.Value(specPath) == nil {
		hint := ""
		if strings.ContainsAny(specPath, "?#") {
			hint = " (pass the path template without query or fragment)"
		} else if !strings.Contains(specPath, "{") {
			if p, ok := s.MatchPath(method, specPath); ok {
				hint = fmt.Sprintf(" (a concrete path? it matches the template %s)", p)
			}
		}
		return nil, fmt.Errorf("%s %s: no such path template in GitHub's description%s", method, specPath, hint)
	}
	return nil, fmt.Errorf("%s %s: GitHub documents no %s operation on this path", method, specPath, method)
}

// Package-level helpers on the shared description, for tests.

// Operation is Shared(tb).Operation.
func Operation(tb testing.TB, method, specPath string) (operationID string, ok bool) {
	tb.Helper()
	return Shared(tb).Operation(method, specPath)
}

// Operations is Shared(tb).Operations.
func Operations(tb testing.TB) []OperationRef {
	tb.Helper()
	return Shared(tb).Operations()
}

// ValidateResponse fails the test (without stopping it) when a response is
// not what GitHub documents for method on specPath: an undocumented status,
// or a body that does not match the documented schema.
func ValidateResponse(tb testing.TB, method, specPath string, status int, header http.Header, body []byte) {
	tb.Helper()
	if err := Shared(tb).CheckResponse(method, specPath, status, header, body); err != nil {
		tb.Errorf("emulatortest: %v", err)
	}
}

// CheckResponse is Shared(tb).CheckResponse.
func CheckResponse(tb testing.TB, method, specPath string, status int, header http.Header, body []byte) error {
	tb.Helper()
	return Shared(tb).CheckResponse(method, specPath, status, header, body)
}

// ValidateWebhook fails the test (without stopping it) when payload does not
// match GitHub's schema for the event (X-GitHub-Event) and action.
func ValidateWebhook(tb testing.TB, event, action string, payload []byte) {
	tb.Helper()
	if err := Shared(tb).CheckWebhook(event, action, payload); err != nil {
		tb.Errorf("emulatortest: %v", err)
	}
}

// CheckWebhook is Shared(tb).CheckWebhook.
func CheckWebhook(tb testing.TB, event, action string, payload []byte) error {
	tb.Helper()
	return Shared(tb).CheckWebhook(event, action, payload)
}
