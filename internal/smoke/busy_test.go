package smoke

import (
	"context"
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
	procs := map[bool]int{}
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
	if procs[true] != procs[false]+1 {
		t.Errorf("browser processes: %d shared, %d with a renderer per tab; want one more per tab", procs[false], procs[true])
	}
}
