package web_test

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/hoist-dev/hoist/internal/smoke"
	"github.com/hoist-dev/hoist/internal/testenv"
)

// The README's picture is made with
//
//	go test ./internal/web -run TestDashboardInChromium -args -dashboard-png "$PWD/docs/dashboard.png"
//
// A plain test run writes the screenshot to its temporary folder only.
var dashboardPNG = flag.String("dashboard-png", "", "also write the dashboard's screenshot to this file (for the README)")

func TestDashboardInChromium(t *testing.T) {
	chromium := testenv.Chromium(t)
	readme := *dashboardPNG != ""

	// Real screenshots of the sample site, taken as the smoke test takes
	// them and served as hoist serves its artifacts.
	site := httptest.NewServer(http.FileServer(http.Dir("../demo/sample")))
	defer site.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := smoke.Run(ctx, smoke.Options{
		BaseURL:      site.URL,
		Pages:        []smoke.Page{{Path: "/"}, {Path: "/products/"}, {Path: "/about/"}},
		Viewports:    []smoke.Viewport{smoke.DesktopViewport},
		ChromiumPath: chromium,
	})
	if err != nil {
		t.Fatal(err)
	}
	var pngs [][]byte
	for _, p := range rep.Pages {
		if p.Screenshot != nil {
			pngs = append(pngs, p.Screenshot.PNG)
		}
	}
	if len(pngs) < 3 {
		t.Fatalf("%d screenshots of the sample site, want 3", len(pngs))
	}
	_, shots := artifacts(t, pngs...)

	hs := holds
	if readme {
		hs = holdList{{Env: "production", Actor: "bob", Reason: "launch freeze until the campaign starts", Since: time.Now().Add(-2 * time.Hour)}}
	}
	w := newWorld(t, hs)
	w.fill(shots, readme)

	allocOpts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("font-render-hinting", "none"),
		chromedp.WindowSize(1280, 800),
	)
	if os.Geteuid() == 0 {
		allocOpts = append(allocOpts, chromedp.NoSandbox)
	}
	// The browser's first action must have no deadline, or the deadline
	// would end the browser.
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), allocOpts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}

	var mu sync.Mutex
	var problems []string
	err = chromedp.Listen(bctx, func(ev any) {
		var p string
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value))
				}
				p = fmt.Sprintf("console %s: %s", ev.Type, strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			p = "exception: " + ev.ExceptionDetails.Text
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
				p = fmt.Sprintf("log %s: %s %s", ev.Entry.Level, ev.Entry.Text, ev.Entry.URL)
			}
		case *network.EventLoadingFailed:
			p = "request failed: " + ev.ErrorText
		}
		if p != "" {
			mu.Lock()
			problems = append(problems, p)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}

	steps := []func() error{
		func() error { _, err := chromedp.Call(bctx, log.Enable, cdp.Empty{}); return err },
		func() error { _, err := chromedp.Call(bctx, network.Enable, network.EnableParams{}); return err },
		// Not signed in: the dashboard sends the browser to GitHub's
		// sign-in (the emulator's page asks who), then back.
		func() error {
			return chromedp.Do(bctx, chromedp.Navigate(w.srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`a[href*="login=alice"]`)))
		},
		func() error {
			return chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`a[href*="login=alice"]`)), chromedp.WaitVisible(chromedp.CSS(`tr.env`)))
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("load the dashboard in Chromium: %v (problems: %v)", err, problems)
		}
	}
	imagesLoaded, err := chromedp.Run(bctx, chromedp.Poll[bool](
		`[...document.images].length >= 3 && [...document.images].every(i => i.complete && i.naturalWidth > 0)`,
		chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		t.Fatalf("thumbnails did not load: %v (problems: %v)", err, problems)
	}
	title, err := chromedp.Run(bctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`main`)))
	if err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if title != "hoist · hoist" || !imagesLoaded {
		t.Errorf("title %q, images loaded %v", title, imagesLoaded)
	}
	for _, want := range []string{"acme/shop", "staging", "production", "pre-staging", "6/6 pages OK in 1.2 s",
		"https://staging.shop.example/", "Recent activity", "refused", "held"} {
		if !strings.Contains(text, want) {
			t.Errorf("the rendered page does not say %q:\n%s", want, text)
		}
	}
	if !readme && !strings.Contains(text, `<script>alert("dev")</script>`) {
		t.Errorf("the commit subject is not shown as text:\n%s", text)
	}
	// Give late events (a failed image, a CSP report) a moment to arrive.
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	if len(problems) > 0 {
		t.Errorf("the browser reported problems: %s", strings.Join(problems, "\n"))
	}
	mu.Unlock()

	if len(shot) < 8 || string(shot[1:4]) != "PNG" {
		t.Fatalf("the screenshot is not a PNG (%d bytes)", len(shot))
	}
	out := t.TempDir() + "/dashboard.png"
	if readme {
		out = *dashboardPNG
	}
	if err := os.WriteFile(out, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", out, len(shot))
}
