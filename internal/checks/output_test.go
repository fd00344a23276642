package checks

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func goodOutput() Output {
	return Output{
		Title:   "Smoke test passed: 20 pages",
		Summary: "All pages answered 200.",
		Images:  []Image{{Alt: "Home, desktop", ImageURL: "https://hoist.example/a/1/home.png", Caption: "/ at 1280×800"}},
	}
}

func wantErrs(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error does not mention %q:\n%v", p, err)
		}
	}
}

func TestRequestsSmall(t *testing.T) {
	o := goodOutput()
	o.Text = "details"
	o.Annotations = []Annotation{{Path: "public/index.html", StartLine: 3, EndLine: 3, StartColumn: 5, EndColumn: 9, Level: Failure, Message: "broken link", Title: "404"}}
	reqs, err := o.Requests("")
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	got, _ := json.Marshal(reqs[0])
	want := `{"title":"Smoke test passed: 20 pages","summary":"All pages answered 200.","text":"details",` +
		`"annotations":[{"path":"public/index.html","start_line":3,"end_line":3,"start_column":5,"end_column":9,"annotation_level":"failure","message":"broken link","title":"404"}],` +
		`"images":[{"alt":"Home, desktop","image_url":"https://hoist.example/a/1/home.png","caption":"/ at 1280×800"}]}`
	if string(got) != want {
		t.Errorf("JSON sent to GitHub:\n%s\nwant\n%s", got, want)
	}
	// Without annotations there is still one output, with no annotations key.
	reqs, err = goodOutput().Requests("")
	if err != nil || len(reqs) != 1 || reqs[0].Annotations != nil || reqs[0].Text != nil {
		t.Errorf("plain output: %v %+v", err, reqs)
	}
}

func TestRequestsBatchAnnotations(t *testing.T) {
	o := goodOutput()
	for i := range 123 {
		o.Annotations = append(o.Annotations, Annotation{Path: fmt.Sprintf("public/p%d.html", i), StartLine: 1, EndLine: 1, Level: Warning, Message: "console error"})
	}
	reqs, err := o.Requests("")
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	seen := 0
	for i, r := range reqs {
		if len(r.Annotations) > MaxAnnotationsPerCall {
			t.Errorf("request %d has %d annotations", i, len(r.Annotations))
		}
		if r.GetTitle() != o.Title || r.GetSummary() != o.Summary || len(r.Images) != 1 {
			t.Errorf("request %d lost title, summary or images", i)
		}
		for _, a := range r.Annotations {
			if a.GetPath() != fmt.Sprintf("public/p%d.html", seen) {
				t.Errorf("annotation %d out of order: %s", seen, a.GetPath())
			}
			seen++
		}
	}
	if seen != 123 {
		t.Errorf("%d annotations sent", seen)
	}
	if b := AnnotationBatches(o.Annotations); len(b) != 3 || len(b[0]) != 50 || len(b[2]) != 23 {
		t.Errorf("batches %d", len(b))
	}
	if AnnotationBatches(nil) != nil {
		t.Error("batches of nothing")
	}
}

func TestFit(t *testing.T) {
	const url = "https://hoist.example/runs/1"
	o := Output{
		Title:   "Smoke test\nfailed: " + strings.Repeat("页", 300),
		Summary: strings.Repeat("ß", 40000), // 80,000 bytes
		Text:    strings.Repeat("| a | b |\n", 10000),
		Images:  []Image{{Alt: "x\ny", ImageURL: "https://hoist.example/x.png", Caption: strings.Repeat("c", 400)}},
		Annotations: []Annotation{{
			Path: "a.html", StartLine: 1, EndLine: 1, Level: Notice,
			Message: strings.Repeat("m", 70000), Title: strings.Repeat("t", 300), RawDetails: strings.Repeat("€", 30000),
		}},
	}
	if err := o.Validate(); err == nil {
		t.Fatal("oversized output validated")
	} else {
		wantErrs(t, err, "title is 319 characters", "summary is 80000 bytes", "text is 100000 bytes",
			"annotation 1: a.html line 1:", "message is 70000 bytes", "raw details are 90000 bytes", "title is 300 characters")
	}
	fit := o.Fit(url)
	if err := fit.Validate(); err != nil {
		t.Fatalf("fitted output invalid: %v", err)
	}
	if strings.Contains(fit.Title, "\n") || !strings.HasPrefix(fit.Title, "Smoke test failed: 页") || !strings.HasSuffix(fit.Title, "…") {
		t.Errorf("title %q", fit.Title)
	}
	if !strings.Contains(fit.Summary, "more bytes truncated; [full report]("+url+")") {
		t.Errorf("summary notice missing")
	}
	if !strings.Contains(fit.Text, "more rows") {
		t.Errorf("text notice missing")
	}
	if fit.Images[0].Alt != "x y" || len([]rune(fit.Images[0].Caption)) != MaxImageCaptionRunes {
		t.Errorf("image %+v", fit.Images[0])
	}
	a := fit.Annotations[0]
	if len(a.Message) > MaxAnnotationBytes || len(a.RawDetails) > MaxAnnotationBytes || !strings.HasSuffix(a.RawDetails, "…") {
		t.Errorf("annotation sizes %d %d", len(a.Message), len(a.RawDetails))
	}
	// Fit copies: the caller's slices are untouched.
	if o.Annotations[0].Title != strings.Repeat("t", 300) || o.Images[0].Alt != "x\ny" {
		t.Error("Fit modified its input")
	}
	if _, err := o.Requests(url); err != nil {
		t.Errorf("Requests of an oversized output: %v", err)
	}
}

func TestValidate(t *testing.T) {
	o := Output{
		Images: []Image{
			{Alt: "", ImageURL: "https://hoist.example/ok.png"},
			{Alt: "a", ImageURL: "http://127.0.0.1:8080/shot.png"},
			{Alt: "a", ImageURL: "file:///tmp/shot.png"},
			{Alt: "a", ImageURL: "https://preview.localhost/x.png"},
			{Alt: "a", ImageURL: "https://10.0.0.8/x.png"},
			{Alt: "a", ImageURL: "https://[::1]/x.png"},
			{Alt: "a", ImageURL: "https://user:pw@hoist.example/x.png"},
			{Alt: "a", ImageURL: "/relative.png"},
			{Alt: "a", ImageURL: ""},
		},
		Annotations: []Annotation{
			{Path: "", StartLine: 0, EndLine: 0, Level: "error", Message: ""},
			{Path: "/abs/path.html", StartLine: 5, EndLine: 3, Level: Warning, Message: "m"},
			{Path: "a.html", StartLine: 1, EndLine: 2, StartColumn: 1, EndColumn: 3, Level: Notice, Message: "m"},
		},
	}
	err := o.Validate()
	wantErrs(t, err,
		"title is empty", "summary is empty",
		`image 1 ("https://hoist.example/ok.png"): alt text is empty`,
		"image 2", "127.0.0.1 is not a public address",
		"image 3", `must be http or https, not "file"`,
		"image 4", "preview.localhost is not public",
		"image 5", "10.0.0.8 is not a public address",
		"image 6", "::1 is not a public address",
		"image 7", "must not carry credentials",
		"image 8", "must be absolute",
		"image 9", "image URL is empty",
		"annotation 1: (no path) line 0", "path is empty", "lines start at 1", `level "error": must be notice, warning or failure`, "message is empty",
		"annotation 2: /abs/path.html line 5", "relative to the repository root", "end line 3 is before start line 5",
		"annotation 3", "columns are only allowed when start and end line are the same",
	)
	if strings.Contains(err.Error(), `image 1 ("https://hoist.example/ok.png"): image URL`) {
		t.Error("a public URL was refused")
	}
	if _, rerr := o.Requests(""); rerr == nil {
		t.Error("Requests accepted an invalid output")
	}
	for _, u := range []string{"https://hoist.example/a.png", "http://203.0.113.7/a.png", "https://[2001:db8::1]/a.png", "https://artifacts.hoist.example:8443/a/b.png?sig=1"} {
		if err := CheckImageURL(u); err != nil {
			t.Errorf("CheckImageURL(%s): %v", u, err)
		}
	}
}

func TestActions(t *testing.T) {
	good := []Action{
		{Label: "Promote", Description: "Fast-forward staging to this commit", Identifier: "promote"},
		{Label: "Re-run smoke test", Description: "Test this candidate again", Identifier: "rerun-smoke"},
		{Label: "12345678901234567890", Description: strings.Repeat("d", 40), Identifier: "ünïcödé-idéntifïer12"},
	}
	got, err := GitHubActions(good)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[1].Identifier != "rerun-smoke" || got[0].Label != "Promote" {
		t.Errorf("converted %+v", got)
	}
	bad := []Action{
		{Label: "Promote to production", Description: "d", Identifier: "promote"},
		{Label: "Hold", Description: strings.Repeat("d", 41), Identifier: "promote"},
		{Label: "", Description: "", Identifier: "an-identifier-too-long"},
		{Label: "Four", Description: "d", Identifier: "four"},
	}
	_, err = GitHubActions(bad)
	wantErrs(t, err,
		"4 buttons, GitHub allows at most 3",
		`check action 1 ("Promote to production"): label "Promote to production" is 21 characters, GitHub allows at most 20`,
		`check action 2 ("Hold"): description`, "is 41 characters, GitHub allows at most 40",
		`check action 2 ("Hold"): identifier "promote" is already used by action 1`,
		`check action 3 (""): label is empty`, "description is empty",
		`identifier "an-identifier-too-long" is 22 characters, GitHub allows at most 20`,
	)
	if err := ValidateActions(nil); err != nil {
		t.Errorf("no actions: %v", err)
	}
}
