package smokegate

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hoist-dev/hoist/internal/checks"
	"github.com/hoist-dev/hoist/internal/smoke"
)

func shotOf(i int) *smoke.Shot { return &smoke.Shot{SHA256: fmt.Sprintf("%064x", i)} }

// A 5,000-page run where every page fails with long messages still gives
// a check run output within GitHub's limits, failures first, the rest
// counted and linked to the full report.
func TestSmokeOutputOf5000PagesFits(t *testing.T) {
	rep := &smoke.Report{Title: "0/5000 pages OK · 5000 console errors", Conclusion: smoke.Failure, DurationMS: 812345}
	for i := range 5000 {
		p := smoke.PageResult{Path: fmt.Sprintf("/catégorie/produits|spéciaux/%05d/", i), Viewport: "mobile", Status: 200, LoadMS: 120,
			Screenshot: shotOf(i), Conclusion: smoke.Success}
		if i%2 == 1 {
			p.Conclusion = smoke.Failure
			p.Findings = []smoke.Finding{{Kind: smoke.KindConsoleError, Fails: true,
				Message: strings.Repeat("TypeError: cannot read properties of undefined (reading 'price') | <b>", 4)}}
		}
		rep.Pages = append(rep.Pages, p)
	}
	rep.Pages[0].Path = "/"
	rep.Pages[2].Visual = &smoke.Visual{Status: smoke.VisualChanged, ChangedRatio: 0.25}
	v := smokeView{Env: "staging", SHA: strings.Repeat("ab", 20), ArtifactBase: "https://hoist.example", ReportURL: "https://hoist.example/smoke/runs/x"}
	out := smokeOutput(rep, v)
	reqs, err := out.Requests(v.ReportURL)
	if err != nil {
		t.Fatal(err)
	}
	s := reqs[0].GetSummary()
	if len(s) > checks.MaxSummaryBytes || !utf8.ValidString(s) {
		t.Fatalf("summary %d bytes", len(s))
	}
	if !strings.Contains(s, "more rows not shown; [full report](https://hoist.example/smoke/runs/x)") {
		t.Error("summary does not say what it left out")
	}
	// Failures come first: the first row is a failing page.
	rows := strings.Split(s, "\n")
	for i, r := range rows {
		if strings.HasPrefix(r, "| ---") {
			if !strings.Contains(rows[i+1], "failure") {
				t.Errorf("first row %q is not a failure", rows[i+1])
			}
			break
		}
	}
	if len(out.Images) != maxSmokeImages {
		t.Errorf("%d images, want %d", len(out.Images), maxSmokeImages)
	}
	for _, img := range out.Images {
		if img.Alt == "" || img.Caption == "" || !strings.HasPrefix(img.ImageURL, "https://hoist.example/artifacts/") {
			t.Errorf("image %+v", img)
		}
	}
	t.Logf("summary %d bytes", len(s))
}

func TestSmokeImagesFailingChangedAndHome(t *testing.T) {
	rep := &smoke.Report{Pages: []smoke.PageResult{
		{Path: "/", Viewport: "desktop", Screenshot: shotOf(1), Conclusion: smoke.Success},
		{Path: "/ok/", Viewport: "desktop", Screenshot: shotOf(2), Conclusion: smoke.Success},
		{Path: "/broken/", Viewport: "desktop", Screenshot: shotOf(3), Conclusion: smoke.Failure,
			Findings: []smoke.Finding{{Kind: smoke.KindHTTPError, Message: "HTTP 500", Fails: true}}},
		{Path: "/new-look/", Viewport: "mobile", Screenshot: shotOf(4), Conclusion: smoke.Success,
			Visual: &smoke.Visual{Status: smoke.VisualChanged, ChangedRatio: 0.031}},
	}}
	imgs := smokeImages(rep, "https://h.example")
	var got []string
	for _, i := range imgs {
		got = append(got, i.Alt+" | "+i.Caption)
	}
	want := []string{
		"Screenshot of /broken/ (desktop) | /broken/ (desktop): http_error: HTTP 500",
		"Screenshot of /new-look/ (mobile) | /new-look/ (mobile): visual changed: 3.10% of pixels",
		"Screenshot of / (desktop) | home page (desktop): success",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("images:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func BenchmarkSmokeOutput5000Pages(b *testing.B) {
	rep := &smoke.Report{Title: "2500/5000 pages OK", Conclusion: smoke.Failure}
	for i := range 5000 {
		p := smoke.PageResult{Path: fmt.Sprintf("/p/%05d/", i), Viewport: "desktop", Status: 200, Screenshot: shotOf(i), Conclusion: smoke.Success}
		if i%2 == 0 {
			p.Conclusion = smoke.Failure
			p.Findings = []smoke.Finding{{Kind: smoke.KindFailedRequest, Message: "404 for /img/missing.png", Fails: true}}
		}
		rep.Pages = append(rep.Pages, p)
	}
	v := smokeView{Env: "staging", SHA: strings.Repeat("ab", 20), ArtifactBase: "https://hoist.example", ReportURL: "https://hoist.example/smoke/runs/x"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := smokeOutput(rep, v).Requests(v.ReportURL); err != nil {
			b.Fatal(err)
		}
	}
}

// A failed run says that the environment was not promoted and what to do,
// offering /preview only where this server hands out links.
func TestSmokeOutputOfAFailureSaysWhatNext(t *testing.T) {
	rep := &smoke.Report{Title: "1/2 pages OK · 1 exception", Conclusion: smoke.Failure,
		Pages: []smoke.PageResult{{Path: "/", Viewport: "desktop", Status: 200, Conclusion: smoke.Success},
			{Path: "/products/", Viewport: "desktop", Status: 200, Conclusion: smoke.Failure}}}
	v := smokeView{Env: "staging", SHA: strings.Repeat("cd", 20), ArtifactBase: "https://hoist.example", ReportURL: "https://hoist.example/smoke/runs/y"}
	for _, links := range []bool{false, true} {
		v.PreviewLinks = links
		s := smokeOutput(rep, v).Summary
		if !strings.Contains(s, "**staging** is not promoted to this commit") || !strings.Contains(s, "**Re-run**") {
			t.Errorf("summary does not say what happened and what to do:\n%s", s)
		}
		if got := strings.Contains(s, "`/preview cdcdcdc`"); got != links {
			t.Errorf("preview links %v: summary offers /preview: %v", links, got)
		}
	}
	rep.Conclusion = smoke.Success
	if s := smokeOutput(rep, v).Summary; strings.Contains(s, "not promoted") {
		t.Errorf("a passing run says it was not promoted:\n%s", s)
	}
}

// A visual comparison that could not be made says so on the check run,
// rather than reading as a comparison that found nothing.
func TestSmokeOutputSaysWhenTheBaselineIsMissing(t *testing.T) {
	rep := &smoke.Report{Title: "1/1 pages OK", Conclusion: smoke.Success,
		Pages: []smoke.PageResult{{Path: "/", Viewport: "desktop", Status: 200, Screenshot: shotOf(1), Conclusion: smoke.Success}}}
	base := strings.Repeat("cd", 20)
	v := smokeView{Env: "staging", SHA: strings.Repeat("ab", 20), ReportURL: "https://hoist.example/smoke/runs/x", Baseline: base}
	if s := smokeOutput(rep, v).Summary; !strings.Contains(s, "Screenshots compared with `cdcdcdc`") {
		t.Fatalf("summary lacks the comparison:\n%s", s)
	}
	v.VisualSkipped = "its screenshots could not be read from the artifact store"
	s := smokeOutput(rep, v).Summary
	if !strings.Contains(s, "**not compared** with `cdcdcdc`") || !strings.Contains(s, "could not be read from the artifact store") {
		t.Fatalf("summary does not say the comparison was skipped:\n%s", s)
	}
}
