// Package checks renders what hoist reports on GitHub check runs: the
// output (title, markdown summary and text, screenshots, annotations) and
// the action buttons, kept within the limits GitHub documents so a report
// never fails with a 422, however large the run it describes.
//
// It is plain Go over plain data: no network. Callers build an Output, call
// Requests to get the go-github values for the create call and the updates
// that carry the rest of the annotations, and GitHubActions for buttons.
package checks

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/google/go-github/v60/github"
)

// Limits GitHub documents for the Checks API (POST/PATCH check-runs).
const (
	MaxSummaryBytes       = 65535 // output.summary, in bytes of UTF-8
	MaxTextBytes          = 65535 // output.text, in bytes of UTF-8
	MaxAnnotationsPerCall = 50    // output.annotations per request; more are sent by updates
	MaxAnnotationTitle    = 255   // annotation title, in characters
	MaxAnnotationBytes    = 65535 // annotation message and raw_details ("64 KB")
	MaxActions            = 3     // action buttons per check run
	MaxActionLabel        = 20    // characters
	MaxActionDescription  = 40    // characters
	MaxActionIdentifier   = 20    // characters
	// GitHub documents no limit for these; hoist keeps them to one short
	// line, like the annotation title.
	MaxTitle             = 255 // output.title, in characters
	MaxImageCaptionRunes = 255 // image alt and caption, in characters
)

// Level is an annotation's severity.
type Level string

// The levels GitHub accepts.
const (
	Notice  Level = "notice"
	Warning Level = "warning"
	Failure Level = "failure"
)

// Output is a check run's output as hoist builds it.
type Output struct {
	Title       string // one line; truncated to MaxTitle characters
	Summary     string // markdown; truncated to MaxSummaryBytes
	Text        string // markdown details; truncated to MaxTextBytes
	Images      []Image
	Annotations []Annotation
}

// Image is a screenshot shown in the check run. GitHub's image proxy
// fetches ImageURL, so it must be a public http(s) URL serving image/png
// under 5 MB.
type Image struct {
	Alt      string // required
	ImageURL string // required, public http(s)
	Caption  string
}

// Annotation points at lines of a file in the repository.
type Annotation struct {
	Path        string // repository-relative, e.g. "public/index.html"
	StartLine   int    // from 1
	EndLine     int    // ≥ StartLine
	StartColumn int    // optional (0); only when StartLine == EndLine
	EndColumn   int    // optional (0)
	Level       Level
	Message     string // required; truncated to MaxAnnotationBytes
	Title       string // truncated to MaxAnnotationTitle characters
	RawDetails  string // truncated to MaxAnnotationBytes
}

// Action is a button shown once the run completes; a click sends
// check_run.requested_action with Identifier to the app owning the run.
type Action struct {
	Label       string // ≤ 20 characters
	Description string // ≤ 40 characters
	Identifier  string // ≤ 20 characters, unique within the run
}

// Fit returns a copy of o within GitHub's size limits: title on one line
// and at most MaxTitle characters, summary and text truncated with
// Truncate (the notice links detailsURL), annotation titles, messages and
// details and image captions cut. What cannot be fixed by cutting (a bad
// URL, a missing field) is left for Validate.
func (o Output) Fit(detailsURL string) Output {
	out := o
	out.Title = cutRunes(oneLine(o.Title), MaxTitle)
	out.Summary = Truncate(o.Summary, MaxSummaryBytes, detailsURL)
	out.Text = Truncate(o.Text, MaxTextBytes, detailsURL)
	if o.Images != nil {
		out.Images = make([]Image, len(o.Images))
		for i, img := range o.Images {
			img.Alt = cutRunes(oneLine(img.Alt), MaxImageCaptionRunes)
			img.Caption = cutRunes(oneLine(img.Caption), MaxImageCaptionRunes)
			out.Images[i] = img
		}
	}
	if o.Annotations != nil {
		out.Annotations = make([]Annotation, len(o.Annotations))
		for i, a := range o.Annotations {
			a.Title = cutRunes(oneLine(a.Title), MaxAnnotationTitle)
			a.Message = cutBytes(a.Message, MaxAnnotationBytes)
			a.RawDetails = cutBytes(a.RawDetails, MaxAnnotationBytes)
			out.Annotations[i] = a
		}
	}
	return out
}

// Validate reports every way o breaks GitHub's rules, each naming the field
// (and the image or annotation by number and path), joined into one error.
func (o Output) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if strings.TrimSpace(o.Title) == "" {
		bad("check output: title is empty; GitHub requires one")
	} else if n := utf8.RuneCountInString(o.Title); n > MaxTitle {
		bad("check output: title is %d characters, at most %d allowed", n, MaxTitle)
	}
	if strings.TrimSpace(o.Summary) == "" {
		bad("check output: summary is empty; GitHub requires one")
	}
	if n := len(o.Summary); n > MaxSummaryBytes {
		bad("check output: summary is %d bytes, GitHub allows at most %d", n, MaxSummaryBytes)
	}
	if n := len(o.Text); n > MaxTextBytes {
		bad("check output: text is %d bytes, GitHub allows at most %d", n, MaxTextBytes)
	}
	for i, img := range o.Images {
		where := fmt.Sprintf("check output: image %d (%q)", i+1, img.ImageURL)
		if strings.TrimSpace(img.Alt) == "" {
			bad("%s: alt text is empty; GitHub requires it", where)
		}
		if err := CheckImageURL(img.ImageURL); err != nil {
			bad("%s: %w", where, err)
		}
	}
	for i, a := range o.Annotations {
		if err := a.Validate(); err != nil {
			bad("check output: annotation %d: %w", i+1, err)
		}
	}
	return errors.Join(errs...)
}

// Validate reports what is wrong with one annotation.
func (a Annotation) Validate() error {
	var errs []string
	switch {
	case a.Path == "":
		errs = append(errs, "path is empty")
	case strings.HasPrefix(a.Path, "/") || strings.Contains(a.Path, "\\"):
		errs = append(errs, "path must be relative to the repository root, with forward slashes")
	}
	if a.StartLine < 1 {
		errs = append(errs, fmt.Sprintf("start line %d: lines start at 1", a.StartLine))
	}
	if a.EndLine < a.StartLine {
		errs = append(errs, fmt.Sprintf("end line %d is before start line %d", a.EndLine, a.StartLine))
	}
	if a.StartColumn != 0 || a.EndColumn != 0 {
		switch {
		case a.StartLine != a.EndLine:
			errs = append(errs, "columns are only allowed when start and end line are the same")
		case a.StartColumn < 1 || a.EndColumn < a.StartColumn:
			errs = append(errs, fmt.Sprintf("columns %d-%d: columns start at 1 and end at or after the start", a.StartColumn, a.EndColumn))
		}
	}
	switch a.Level {
	case Notice, Warning, Failure:
	default:
		errs = append(errs, fmt.Sprintf("level %q: must be notice, warning or failure", a.Level))
	}
	if strings.TrimSpace(a.Message) == "" {
		errs = append(errs, "message is empty")
	}
	if n := len(a.Message); n > MaxAnnotationBytes {
		errs = append(errs, fmt.Sprintf("message is %d bytes, at most %d allowed", n, MaxAnnotationBytes))
	}
	if n := len(a.RawDetails); n > MaxAnnotationBytes {
		errs = append(errs, fmt.Sprintf("raw details are %d bytes, at most %d allowed", n, MaxAnnotationBytes))
	}
	if n := utf8.RuneCountInString(a.Title); n > MaxAnnotationTitle {
		errs = append(errs, fmt.Sprintf("title is %d characters, at most %d allowed", n, MaxAnnotationTitle))
	}
	if len(errs) == 0 {
		return nil
	}
	path := a.Path
	if path == "" {
		path = "(no path)"
	}
	return fmt.Errorf("%s line %d: %s", path, a.StartLine, strings.Join(errs, "; "))
}

// CheckImageURL reports why GitHub's image proxy could not fetch u: it must
// be an absolute http or https URL on a public host, without credentials.
// Loopback, private, link-local and unspecified addresses and localhost
// names are refused; other host names are not resolved here.
func CheckImageURL(u string) error {
	if u == "" {
		return errors.New("image URL is empty")
	}
	p, err := url.Parse(u)
	if err != nil {
		return fmt.Errorf("image URL: %w", err)
	}
	if p.Scheme == "" {
		return errors.New("image URL must be absolute (https://host/…), GitHub fetches it from outside")
	}
	if p.Scheme != "https" && p.Scheme != "http" {
		return fmt.Errorf("image URL must be http or https, not %q", p.Scheme)
	}
	if p.User != nil {
		return errors.New("image URL must not carry credentials")
	}
	host := p.Hostname()
	if host == "" {
		return errors.New("image URL has no host")
	}
	lower := strings.ToLower(strings.TrimSuffix(host, "."))
	if lower == "localhost" || strings.HasSuffix(lower, ".localhost") {
		return fmt.Errorf("image URL host %s is not public: GitHub's image proxy cannot reach it", host)
	}
	if ip := net.ParseIP(host); ip != nil {
		if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
			ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast() {
			return fmt.Errorf("image URL host %s is not a public address: GitHub's image proxy cannot reach it", host)
		}
	}
	return nil
}

// AnnotationBatches splits annotations into the groups GitHub accepts in
// one request (at most MaxAnnotationsPerCall each), in order. No
// annotations give no batches.
func AnnotationBatches(annotations []Annotation) [][]Annotation {
	var out [][]Annotation
	for len(annotations) > 0 {
		n := min(len(annotations), MaxAnnotationsPerCall)
		out = append(out, annotations[:n:n])
		annotations = annotations[n:]
	}
	return out
}

// Requests fits o to GitHub's limits, validates it and returns the outputs
// to send: the first with the create (or first update) call, each later one
// with an update of the same run. GitHub appends the annotations of each
// update to the run's; title, summary, text and images are repeated in
// every output because an update replaces them. There is always at least
// one output.
func (o Output) Requests(detailsURL string) ([]*github.CheckRunOutput, error) {
	fit := o.Fit(detailsURL)
	if err := fit.Validate(); err != nil {
		return nil, err
	}
	batches := AnnotationBatches(fit.Annotations)
	if len(batches) == 0 {
		batches = [][]Annotation{nil}
	}
	out := make([]*github.CheckRunOutput, len(batches))
	for i, batch := range batches {
		out[i] = fit.github(batch)
	}
	return out, nil
}

func (o Output) github(batch []Annotation) *github.CheckRunOutput {
	g := &github.CheckRunOutput{
		Title:   github.String(o.Title),
		Summary: github.String(o.Summary),
	}
	if o.Text != "" {
		g.Text = github.String(o.Text)
	}
	for _, img := range o.Images {
		gi := &github.CheckRunImage{Alt: github.String(img.Alt), ImageURL: github.String(img.ImageURL)}
		if img.Caption != "" {
			gi.Caption = github.String(img.Caption)
		}
		g.Images = append(g.Images, gi)
	}
	for _, a := range batch {
		ga := &github.CheckRunAnnotation{
			Path:            github.String(a.Path),
			StartLine:       github.Int(a.StartLine),
			EndLine:         github.Int(a.EndLine),
			AnnotationLevel: github.String(string(a.Level)),
			Message:         github.String(a.Message),
		}
		if a.StartColumn != 0 {
			ga.StartColumn = github.Int(a.StartColumn)
			ga.EndColumn = github.Int(a.EndColumn)
		}
		if a.Title != "" {
			ga.Title = github.String(a.Title)
		}
		if a.RawDetails != "" {
			ga.RawDetails = github.String(a.RawDetails)
		}
		g.Annotations = append(g.Annotations, ga)
	}
	return g
}

// ValidateActions reports every way actions break GitHub's rules: at most
// MaxActions, every field present and within its length, identifiers
// unique (a click is routed by identifier alone).
func ValidateActions(actions []Action) error {
	var errs []error
	if len(actions) > MaxActions {
		errs = append(errs, fmt.Errorf("check actions: %d buttons, GitHub allows at most %d", len(actions), MaxActions))
	}
	seen := map[string]int{}
	for i, a := range actions {
		where := fmt.Sprintf("check action %d (%q)", i+1, a.Label)
		for _, f := range []struct {
			name, value string
			max         int
		}{
			{"label", a.Label, MaxActionLabel},
			{"description", a.Description, MaxActionDescription},
			{"identifier", a.Identifier, MaxActionIdentifier},
		} {
			n := utf8.RuneCountInString(f.value)
			switch {
			case strings.TrimSpace(f.value) == "":
				errs = append(errs, fmt.Errorf("%s: %s is empty; GitHub requires it", where, f.name))
			case n > f.max:
				errs = append(errs, fmt.Errorf("%s: %s %q is %d characters, GitHub allows at most %d", where, f.name, f.value, n, f.max))
			}
		}
		if j, dup := seen[a.Identifier]; dup && a.Identifier != "" {
			errs = append(errs, fmt.Errorf("%s: identifier %q is already used by action %d", where, a.Identifier, j))
		}
		seen[a.Identifier] = i + 1
	}
	return errors.Join(errs...)
}

// GitHubActions validates actions and converts them for go-github.
func GitHubActions(actions []Action) ([]*github.CheckRunAction, error) {
	if err := ValidateActions(actions); err != nil {
		return nil, err
	}
	out := make([]*github.CheckRunAction, len(actions))
	for i, a := range actions {
		out[i] = &github.CheckRunAction{Label: a.Label, Description: a.Description, Identifier: a.Identifier}
	}
	return out, nil
}

// oneLine joins the lines of s with spaces.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " ")
}

// cutBytes shortens s to at most n bytes without splitting a rune, marking a
// cut with "…".
func cutBytes(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	const mark = "…"
	if n < len(mark) {
		return s[:runeStart(s, n)]
	}
	return s[:runeStart(s, n-len(mark))] + mark
}
