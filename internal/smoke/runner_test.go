package smoke

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/site"
	"github.com/hoist-dev/hoist/internal/testenv"
)

// fixtureServer serves testdata/site through the preview handler, plus a
// few handlers broken on purpose: a slow image, a 500 page and a page that
// never answers in time.
func fixtureServer(t *testing.T) *httptest.Server {
	t.Helper()
	tree, err := site.NewDirTree("testdata/site")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", site.NewPreviewHandler(tree))
	mux.HandleFunc("/slow/pic.svg", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(700 * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Write([]byte(`<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"/>`))
	})
	mux.HandleFunc("/error500", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "database on fire", http.StatusInternalServerError)
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(20 * time.Second):
		case <-r.Context().Done():
		}
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
	})
	return ts
}

func findingKinds(p PageResult) []Kind {
	var ks []Kind
	for _, f := range p.Findings {
		ks = append(ks, f.Kind)
	}
	return ks
}

func byPath(t *testing.T, r *Report, path string) PageResult {
	t.Helper()
	for _, p := range r.Pages {
		if p.Path == path {
			return p
		}
	}
	t.Fatalf("no result for %s in %+v", path, r.Pages)
	return PageResult{}
}

func hasFinding(p PageResult, k Kind, substr string) bool {
	for _, f := range p.Findings {
		if f.Kind == k && (strings.Contains(f.Message, substr) || strings.Contains(f.Resource, substr)) {
			return true
		}
	}
	return false
}

func TestRunDetectsBrokenPages(t *testing.T) {
	chromium := testenv.Chromium(t)
	ts := fixtureServer(t)
	failOn := []Kind{KindHTTPError, KindConsoleError, KindFailedRequest, KindException, KindSlow, KindMissingSelector}
	rep, err := Run(context.Background(), Options{
		BaseURL:      ts.URL,
		ChromiumPath: chromium,
		Concurrency:  2,
		FailOn:       failOn, // missing_text only warns
		Pages: []Page{
			{Path: "/index.html", ExpectText: "Welcome", ExpectSelector: ".product"},
			{Path: "/missing-asset.html"},
			{Path: "/console.html"},
			{Path: "/exception.html"},
			{Path: "/selector.html", ExpectSelector: ".product"},
			{Path: "/slow.html", MaxLoadMS: 300},
			{Path: "/error500"},
			{Path: "/about.html", ExpectText: "words that are not there"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		path       string
		conclusion Conclusion
		kind       Kind
		substr     string
	}{
		{"/index.html", Success, "", ""},
		{"/missing-asset.html", Failure, KindFailedRequest, "/img/nope.png"},
		{"/console.html", Failure, KindConsoleError, "boom from console 42"},
		{"/exception.html", Failure, KindException, "kaboom"},
		{"/selector.html", Failure, KindMissingSelector, ".product"},
		{"/slow.html", Failure, KindSlow, "limit 300 ms"},
		{"/error500", Failure, KindHTTPError, "500"},
		{"/about.html", Neutral, KindMissingText, "words that are not there"},
	}
	for i, w := range want {
		p := rep.Pages[i]
		if p.Path != w.path {
			t.Fatalf("result %d is %s, want %s (results keep the configured order)", i, p.Path, w.path)
		}
		if p.Conclusion != w.conclusion {
			t.Errorf("%s: conclusion %s, want %s; findings %+v", w.path, p.Conclusion, w.conclusion, p.Findings)
		}
		if w.kind == "" {
			if len(p.Findings) != 0 {
				t.Errorf("%s: unexpected findings %+v", w.path, p.Findings)
			}
		} else {
			if !hasFinding(p, w.kind, w.substr) {
				t.Errorf("%s: no %s finding with %q; findings %+v", w.path, w.kind, w.substr, p.Findings)
			}
			if len(p.Findings) != 1 {
				t.Errorf("%s: want exactly one finding, got %v: %+v", w.path, findingKinds(p), p.Findings)
			}
		}
		if p.Screenshot == nil || len(p.Screenshot.PNG) == 0 {
			t.Errorf("%s: no screenshot", w.path)
		}
	}
	if s := byPath(t, rep, "/error500"); s.Status != 500 {
		t.Errorf("/error500 status %d", s.Status)
	}
	if s := byPath(t, rep, "/index.html"); s.Status != 200 {
		t.Errorf("/index.html status %d", s.Status)
	}
	if f := byPath(t, rep, "/about.html").Findings; len(f) != 1 || f[0].Fails {
		t.Errorf("missing_text must only warn: %+v", f)
	}
	if rep.Conclusion != Failure {
		t.Errorf("report conclusion %s", rep.Conclusion)
	}
	wantTitle := "1/8 pages OK · 1 HTTP error · 1 console error · 1 failed request · 1 exception · 1 slow page · 1 missing text · 1 missing selector"
	if rep.Title != wantTitle {
		t.Errorf("title %q\nwant  %q", rep.Title, wantTitle)
	}
	if rep.Stats.TabsOpened != 2 || rep.Stats.BrowserPeakRSS <= 0 {
		t.Errorf("stats %+v", rep.Stats)
	}
}

func TestRunCleanSitePasses(t *testing.T) {
	chromium := testenv.Chromium(t)
	ts := fixtureServer(t)
	var mu sync.Mutex
	var progress [][2]int
	rep, err := Run(context.Background(), Options{
		BaseURL:      ts.URL + "/",
		ChromiumPath: chromium,
		Pages: []Page{
			{Path: "/", ExpectText: "Welcome to the shop", ExpectSelector: "div.product"},
			{Path: "/docs", ExpectText: "Docs"}, // redirected to /docs/
		},
		Viewports: []Viewport{{Name: "desktop", Width: 1280, Height: 800}, {Name: "mobile", Width: 390, Height: 844}},
		Progress: func(done, total int) {
			mu.Lock()
			progress = append(progress, [2]int{done, total})
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Conclusion != Success || rep.Title != "4/4 pages OK" {
		t.Fatalf("%s %q: %+v", rep.Conclusion, rep.Title, rep.Pages)
	}
	if len(progress) != 4 || progress[3] != [2]int{4, 4} {
		t.Errorf("progress %v", progress)
	}
	for _, p := range rep.Pages {
		s := p.Screenshot
		sum := sha256.Sum256(s.PNG)
		if hex.EncodeToString(sum[:]) != s.SHA256 || s.Bytes != len(s.PNG) || s.Bytes >= 5_000_000 {
			t.Errorf("%s: screenshot sha/size wrong: %+v", p.Key(), s)
		}
		img, err := png.Decode(bytes.NewReader(s.PNG))
		if err != nil {
			t.Fatalf("%s: %v", p.Key(), err)
		}
		wantW := 640
		if p.Viewport == "mobile" {
			wantW = 195
		}
		if img.Bounds().Dx() != wantW || img.Bounds().Dy() < 300 {
			t.Errorf("%s: screenshot %v, want width %d at half scale", p.Key(), img.Bounds(), wantW)
		}
	}
	if rep.Pages[0].Key() != "/ (desktop)" || rep.Pages[1].Key() != "/ (mobile)" || rep.Pages[2].Key() != "/docs (desktop)" {
		t.Errorf("order: %s, %s, %s", rep.Pages[0].Key(), rep.Pages[1].Key(), rep.Pages[2].Key())
	}
}

func TestRunTimeoutDoesNotPoisonTheTab(t *testing.T) {
	chromium := testenv.Chromium(t)
	ts := fixtureServer(t)
	rep, err := Run(context.Background(), Options{
		BaseURL:      ts.URL,
		ChromiumPath: chromium,
		Concurrency:  1,
		PageTimeout:  1500 * time.Millisecond,
		Pages:        []Page{{Path: "/hang"}, {Path: "/index.html", ExpectText: "Welcome"}, {Path: "/hang"}, {Path: "/about.html"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stats.TabsOpened != 1 {
		t.Errorf("tabs opened %d; the one tab should survive the timeouts", rep.Stats.TabsOpened)
	}
	for i, want := range []Conclusion{Failure, Success, Failure, Success} {
		p := rep.Pages[i]
		if p.Conclusion != want {
			t.Errorf("%d %s: %s, want %s: %+v", i, p.Path, p.Conclusion, want, p.Findings)
		}
	}
	if !hasFinding(rep.Pages[0], KindSlow, "did not load within 1.5s") {
		t.Errorf("timeout finding: %+v", rep.Pages[0].Findings)
	}
}

func TestRunCrawlFindsBrokenLinks(t *testing.T) {
	chromium := testenv.Chromium(t)
	ts := fixtureServer(t)
	rep, err := Run(context.Background(), Options{
		BaseURL:      ts.URL,
		ChromiumPath: chromium,
		Pages:        []Page{{Path: "/links.html"}},
		Crawl:        Crawl{MaxPages: 10},
	})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, p := range rep.Pages {
		paths = append(paths, p.Path)
	}
	// about.html and gone.html from links.html; the image, the other site
	// and the fragment are not followed.
	if strings.Join(paths, " ") != "/links.html /about.html /gone.html" {
		t.Fatalf("crawled %v", paths)
	}
	gone := byPath(t, rep, "/gone.html")
	if gone.Status != 404 || !hasFinding(gone, KindHTTPError, "404") || gone.LinkedFrom != "/links.html" {
		t.Fatalf("broken link: %+v", gone)
	}
	if byPath(t, rep, "/about.html").Conclusion != Success || rep.Conclusion != Failure {
		t.Fatalf("conclusions: %+v", rep)
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	_, err := Run(context.Background(), Options{BaseURL: "ftp://x", Pages: []Page{{Path: "nope"}}, Viewports: []Viewport{{Name: "d", Width: 5, Height: 800}}})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`base URL "ftp://x"`, `pages[0].path "nope"`, `viewports[0] "d": 5x800`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}
