package smoke

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/testenv"
)

// A page whose script never yields holds the main thread of its renderer.
// When the tabs share one renderer (the default), that must fail only the
// busy page: the others are checked again on their own and pass.
func TestRunBusyPageDoesNotFailOthersInSharedRenderer(t *testing.T) {
	chromium := testenv.Chromium(t)
	ts := fixtureServer(t)
	pages := []Page{
		{Path: "/index.html", ExpectText: "Welcome"},
		{Path: "/busy.html"},
		{Path: "/about.html", ExpectText: "We sell tea"},
		{Path: "/index.html?again", ExpectText: "Welcome", ExpectSelector: ".product"},
		{Path: "/about.html?again", ExpectText: "We sell tea"},
	}
	rep, err := Run(context.Background(), Options{
		BaseURL:      ts.URL,
		ChromiumPath: chromium,
		Concurrency:  2,
		PageTimeout:  2 * time.Second,
		Pages:        pages,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Pages {
		want := Success
		if p.Path == "/busy.html" {
			want = Failure
		}
		if p.Conclusion != want {
			t.Errorf("%s: %s, want %s: %+v", p.Path, p.Conclusion, want, p.Findings)
		}
	}
	busy := byPath(t, rep, "/busy.html")
	if !hasFinding(busy, KindSlow, "did not load within 2s") {
		t.Errorf("busy page findings: %+v", busy.Findings)
	}
	if busy.Screenshot == nil {
		t.Errorf("busy page: no screenshot")
	}
	if !rep.Stats.SharedRenderer || rep.Stats.Rechecked == 0 {
		t.Errorf("stats %+v: want a shared renderer and pages checked again alone", rep.Stats)
	}
}

// By default two tabs share one renderer process; RendererPerTab gives each
// its own, one process more.
func TestRunRendererPerTab(t *testing.T) {
	chromium := testenv.Chromium(t)
	ts := fixtureServer(t)
	// The process count is sampled (every 50 ms, the tree searched again
	// when a tab opens) and Chromium may start a spare renderer of its own
	// accord, so one pair of runs can miscount by one; a browser that gave
	// the tabs no renderers of their own would fail every try.
	var procs map[bool]int
	for try := 0; try < 3; try++ {
		procs = map[bool]int{}
		for _, perTab := range []bool{false, true} {
			rep, err := Run(context.Background(), Options{
				BaseURL:        ts.URL,
				ChromiumPath:   chromium,
				Concurrency:    2,
				RendererPerTab: perTab,
				Pages:          []Page{{Path: "/index.html", ExpectText: "Welcome"}, {Path: "/about.html"}, {Path: "/index.html?2"}, {Path: "/about.html?2"}},
			})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Conclusion != Success || rep.Stats.TabsOpened != 2 || rep.Stats.SharedRenderer == perTab || rep.Stats.BrowserCPUMS <= 0 {
				t.Fatalf("renderer per tab %v: %s %+v", perTab, rep.Conclusion, rep.Stats)
			}
			procs[perTab] = rep.Stats.BrowserProcesses
		}
		// One renderer more for the second tab, and one for the browser's
		// idle first tab, which is outside the run's browser context and so
		// cannot share the tabs' renderers (with one renderer for all it
		// has none).
		if procs[true] == procs[false]+2 {
			return
		}
		t.Logf("try %d: browser processes: %d shared, %d with a renderer per tab", try+1, procs[false], procs[true])
	}
	t.Errorf("browser processes: %d shared, %d with a renderer per tab; want two more", procs[false], procs[true])
}

// A cross-site iframe (localhost inside 127.0.0.1: two sites) must not get a
// renderer process of its own: site isolation is off, so the shared
// renderer stays the only one.
func TestRunCrossSiteIframeStaysInTheRenderer(t *testing.T) {
	chromium := testenv.Chromium(t)
	other := fixtureServer(t)
	// The other site stands in for an allowed external host.
	otherAddr := netip.MustParseAddrPort(strings.TrimPrefix(other.URL, "http://"))
	otherURL := fmt.Sprintf("http://other.example:%d", otherAddr.Port())
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>Frames</title><h1>Frames</h1><iframe src="%s/about.html"></iframe><iframe src="%s/index.html"></iframe>`, otherURL, otherURL)
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	rep, err := Run(context.Background(), Options{
		BaseURL:      ts.URL,
		ChromiumPath: chromium,
		Concurrency:  1,
		Pages:        []Page{{Path: "/", ExpectText: "Frames"}},
		AllowHosts:   []string{fmt.Sprintf("other.example:%d", otherAddr.Port())},
		Network:      stubOutside(map[string]netip.Addr{"other.example": otherAddr.Addr()}, otherAddr),
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Conclusion != Success {
		t.Fatalf("%s: %+v", rep.Conclusion, rep.Pages)
	}
	base := 2 // the browser and one renderer
	if rep.Stats.Sandbox {
		base += 3 // the zygotes of a sandboxed browser
	}
	if rep.Stats.BrowserProcesses > base {
		t.Errorf("%d browser processes, want at most %d: the cross-site frames got renderers of their own", rep.Stats.BrowserProcesses, base)
	}
}

// While the other tab holds the screenshot slot, a page waits for it only
// as long as its own deadline allows.
func TestTakeShotWaitsForTheSlotWithinTheDeadline(t *testing.T) {
	r := &runner{shotSlot: make(chan struct{}, 1)}
	r.shotSlot <- struct{}{} // the other tab's shot
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := r.takeShot(ctx, DesktopViewport); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the deadline", err)
	}
	if len(r.shotSlot) != 1 {
		t.Errorf("the slot changed hands while held")
	}
}

// Above the memory threshold every finished page is followed by a garbage
// collection in its renderer; below it none is.
func TestRunCollectsGarbageWhenMemoryIsHigh(t *testing.T) {
	chromium := testenv.Chromium(t)
	ts := fixtureServer(t)
	pages := []Page{{Path: "/index.html", ExpectText: "Welcome"}, {Path: "/about.html"}, {Path: "/index.html?2"}}
	run := func() *Report {
		rep, err := Run(context.Background(), Options{BaseURL: ts.URL, ChromiumPath: chromium, Concurrency: 2, Pages: pages})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Conclusion != Success {
			t.Fatalf("%s: %+v", rep.Conclusion, rep.Pages)
		}
		return rep
	}
	if rep := run(); rep.Stats.GarbageCollections != 0 {
		t.Errorf("%d collections with %d MB of browser memory, want none", rep.Stats.GarbageCollections, rep.Stats.BrowserPeakRSS>>20)
	}
	defer func(v int64) { gcAboveRSS = v }(gcAboveRSS)
	gcAboveRSS = 1
	if rep := run(); rep.Stats.GarbageCollections != len(pages) {
		t.Errorf("%d collections above the threshold, want one per page (%d)", rep.Stats.GarbageCollections, len(pages))
	}
}

// A page whose document never comes times out with the renderer idle: it is
// the page's own fault, so it is not checked again (a site that is down
// would otherwise take twice as long to fail).
func TestRunHungDocumentIsNotCheckedAgain(t *testing.T) {
	chromium := testenv.Chromium(t)
	ts := fixtureServer(t)
	rep, err := Run(context.Background(), Options{
		BaseURL:      ts.URL,
		ChromiumPath: chromium,
		Concurrency:  2,
		PageTimeout:  1500 * time.Millisecond,
		Pages:        []Page{{Path: "/hang"}, {Path: "/hang?2"}, {Path: "/about.html"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Pages {
		want := Failure
		if p.Path == "/about.html" {
			want = Success
		}
		if p.Conclusion != want {
			t.Errorf("%s: %s, want %s: %+v", p.Path, p.Conclusion, want, p.Findings)
		}
	}
	if !rep.Stats.SharedRenderer || rep.Stats.Rechecked != 0 {
		t.Errorf("stats %+v: want a shared renderer and no page checked again", rep.Stats)
	}
}
