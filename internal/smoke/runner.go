package smoke

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"math"
	"net/url"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/heapprofiler"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/hoist-dev/hoist/internal/smoke/fence"
)

// Run tests every page of opts in every viewport with one headless Chromium
// and returns the report. It returns an error only when the run could not
// happen (bad options, no browser); problems of the site are findings.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("smoke options: %w", err)
	}
	o := opts.withDefaults()
	base, _ := url.Parse(o.BaseURL)
	chromium, err := FindChromium(o.ChromiumPath)
	if err != nil {
		return nil, err
	}

	rep := &Report{Schema: SchemaVersion, BaseURL: o.BaseURL, StartedAt: time.Now().UTC(), FailOn: o.FailOn}
	started := time.Now()
	fc, err := o.fenceConfig(base)
	if err != nil {
		return nil, err
	}
	fp, err := fence.Start(fc)
	if err != nil {
		return nil, err
	}
	// The browser goes first (deferred calls run last first): its
	// requests in flight end against a proxy that still answers.
	defer fp.Close()
	b, err := startBrowser(ctx, launch{path: chromium, shareRenderer: o.ShareRenderer || !o.RendererPerTab,
		proxy: fp.URL(), user: o.BrowserUser})
	if err != nil {
		return nil, err
	}
	defer b.close()
	rep.Stats.BrowserStartMS = time.Since(started).Milliseconds()
	rep.Stats.Concurrency = o.Concurrency
	rep.Stats.Sandbox = b.sandboxed
	rep.Stats.BrowserUser = b.user

	// The sandbox's zygotes are not garbage: the threshold is on top.
	r := &runner{opts: o, base: base, browser: b, gcAbove: gcAboveRSS + b.zygoteRSS(), fence: fp}
	if r.sharedRenderer() {
		r.shotSlot = make(chan struct{}, 1)
	}
	// The run's tabs live in a browser context of their own, disposed at
	// the end with its cookies, storage, cache and service workers. The
	// browser is the run's alone already (a fresh process and profile);
	// the context keeps it so should browsers ever be reused. It costs
	// nothing measurable: the browser's idle first tab has no renderer,
	// and the run's tabs still share one.
	runCtx, disposeContext := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	defer disposeContext()
	r.runCtx = runCtx
	pagesStarted := time.Now()
	rep.Pages, err = r.runAll(ctx)
	if err != nil {
		return nil, err
	}
	pagesTook := time.Since(pagesStarted)
	r.attributeUnclaimed(rep.Pages)
	rep.Stats.Refused = len(fp.Refusals())
	rep.Stats.TabsOpened = int(r.tabsOpened.Load())
	rep.Stats.Rechecked = int(r.rechecked.Load())
	rep.Stats.GarbageCollections = int(r.gcs.Load())
	rep.Stats.SharedRenderer = r.sharedRenderer()
	b.stopRSS()
	b.stopRSS = nil
	rep.Stats.BrowserPeakRSS = b.peak()
	rep.Stats.BrowserCPUMS = b.cpuTime().Milliseconds()
	rep.Stats.BrowserProcesses = b.processes()
	if secs := pagesTook.Seconds(); secs > 0 {
		rep.Stats.PagesPerSecond = math.Round(float64(len(rep.Pages))/secs*10) / 10
	}
	rep.DurationMS = time.Since(started).Milliseconds()
	rep.conclude()
	return rep, nil
}

type runner struct {
	opts       Options
	base       *url.URL
	browser    *browser
	tabsOpened atomic.Int32

	// alone is held shared by each page check and exclusively by a check
	// that must run with no other page in the renderer (see shared.go).
	alone sync.RWMutex
	// interrupts counts the scripts ended because they held the renderer.
	interrupts atomic.Int64
	// rechecked counts the pages checked again alone.
	rechecked atomic.Int32
	// shotSlot, when not nil, lets one tab at a time take its screenshot
	// (see takeShot).
	shotSlot chan struct{}
	// gcAbove is the browser memory above which a finished page is
	// followed by a garbage collection (see collectIfHigh).
	gcAbove int64
	gcs     atomic.Int32
	// fence is the run's network fence; its refusals become findings.
	fence *fence.Proxy
	// runCtx is the run's browser context; tabs are its children.
	runCtx context.Context
}

// job is one page in one viewport.
type job struct {
	page       Page
	viewport   Viewport
	pageIndex  int
	vpIndex    int
	linkedFrom string
	crawl      bool
}

type outcome struct {
	job    job
	result PageResult
	links  []string
}

// runAll hands jobs to one worker per tab and, when crawling, queues the
// same-site links the pages reveal.
func (r *runner) runAll(ctx context.Context) ([]PageResult, error) {
	var queue []job
	seen := map[string]bool{}
	for i, p := range r.opts.Pages {
		seen[p.Path] = true
		for vi, v := range r.opts.Viewports {
			queue = append(queue, job{page: p, viewport: v, pageIndex: i, vpIndex: vi})
		}
	}
	crawlLeft := r.opts.Crawl.MaxPages
	total := len(queue)

	jobs := make(chan job)
	outcomes := make(chan outcome)
	var wg sync.WaitGroup
	workers := min(r.opts.Concurrency, len(queue))
	if crawlLeft > 0 {
		workers = r.opts.Concurrency
	}
	tabErrs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			if err := r.worker(ctx, jobs, outcomes); err != nil {
				tabErrs <- err
			}
		})
	}

	var results []PageResult
	inflight, done := 0, 0
	var runErr error
	for (len(queue) > 0 || inflight > 0) && runErr == nil {
		var send chan job
		var next job
		if len(queue) > 0 {
			send, next = jobs, queue[0]
		}
		select {
		case send <- next:
			queue = queue[1:]
			inflight++
		case out := <-outcomes:
			inflight--
			done++
			results = append(results, out.result)
			for _, link := range out.links {
				if crawlLeft == 0 || seen[link] {
					continue
				}
				seen[link] = true
				crawlLeft--
				total++
				// A broken link is broken in every viewport: the crawl
				// checks its pages in the first one only.
				queue = append(queue, job{page: Page{Path: link}, viewport: r.opts.Viewports[0],
					pageIndex: len(r.opts.Pages) + len(seen), linkedFrom: out.job.page.Path, crawl: true})
			}
			if r.opts.Progress != nil {
				r.opts.Progress(done, total)
			}
		case err := <-tabErrs:
			runErr = err
		case <-ctx.Done():
			runErr = ctx.Err()
		}
	}
	close(jobs)
	if runErr != nil {
		// Drain so that workers finishing a page can exit.
		go func() {
			for range outcomes {
			}
		}()
		wg.Wait()
		close(outcomes)
		return nil, fmt.Errorf("smoke run: %w", runErr)
	}
	wg.Wait()
	sortPages(results, func(p PageResult) (int, int) { return p.order, p.vpOrder })
	return results, nil
}

// tab is one browser tab and the collector of the page it shows now.
type tab struct {
	ctx    context.Context
	cancel func()
	cur    atomic.Pointer[collector]
	// vp is the viewport the tab emulates now; set again only on change.
	vp Viewport
}

func (r *runner) openTab() (*tab, error) {
	var t *tab
	ctx, cancel := chromedp.NewContext(r.runCtx)
	t = &tab{ctx: ctx, cancel: cancel}
	// Open the tab with no deadline: a deadline on a tab's first action
	// would close the tab when it ends. Per-page timeouts are derived from
	// this long-lived context afterwards.
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		return nil, fmt.Errorf("open tab: %w", err)
	}
	if err := chromedp.Listen(ctx, func(ev any) {
		if c := t.cur.Load(); c != nil {
			c.onEvent(ev)
		}
	}); err != nil {
		cancel()
		return nil, fmt.Errorf("listen to tab: %w", err)
	}
	r.tabsOpened.Add(1)
	r.browser.treeChanged.Store(true)
	return t, nil
}

// alive tells whether the tab still answers, after a page timed out in it.
func (t *tab) alive() bool {
	ctx, cancel := context.WithTimeout(t.ctx, 2*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Evaluate[int]("1"))
	return err == nil
}

func (r *runner) worker(ctx context.Context, jobs <-chan job, outcomes chan<- outcome) error {
	var t *tab
	defer func() {
		if t != nil {
			t.cancel()
		}
	}()
	shared := r.sharedRenderer()
	for j := range jobs {
		var (
			res   PageResult
			links []string
		)
		for alone := false; ; alone = true {
			if t == nil {
				var err error
				if t, err = r.openTab(); err != nil {
					return err
				}
			}
			if shared {
				if alone {
					r.alone.Lock()
				} else {
					r.alone.RLock()
				}
			}
			before := r.interrupts.Load()
			var timedOut bool
			res, links, timedOut = r.check(t, j)
			interrupted := r.interrupts.Load() != before
			if shared {
				if alone {
					r.alone.Unlock()
				} else {
					r.alone.RUnlock()
				}
			}
			if timedOut && !t.alive() {
				// The page wedged its tab (a busy renderer, say): the next
				// page gets a new one.
				t.cancel()
				t = nil
			} else {
				r.collectIfHigh(t)
			}
			if !shared || alone || !(interrupted || mayBeSpoiled(res, timedOut)) {
				break
			}
			r.rechecked.Add(1)
		}
		select {
		case outcomes <- outcome{job: j, result: res, links: links}:
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}

// probe is what the page reports about itself once loaded.
type probe struct {
	Text          *bool    `json:"text"`
	Selector      *bool    `json:"selector"`
	SelectorError string   `json:"selectorError"`
	Links         []string `json:"links"`
}

func probeScript(p Page, links bool) string {
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	var text, sel any
	if p.ExpectText != "" {
		text = p.ExpectText
	}
	if p.ExpectSelector != "" {
		sel = p.ExpectSelector
	}
	// Web fonts settle the layout before the shot (the wait is bounded so a
	// page cannot hold the probe); the shot itself renders a fresh frame.
	return `(async () => {
  const wait = (p, ms) => Promise.race([p, new Promise(r => setTimeout(r, ms))]);
  try { await wait(document.fonts.ready, 3000); } catch (e) {}
  const out = {text: null, selector: null, selectorError: "", links: []};
  const text = ` + js(text) + `, sel = ` + js(sel) + `;
  if (text !== null) out.text = ((document.body && document.body.innerText) || "").includes(text) || (document.title || "").includes(text);
  if (sel !== null) { try { out.selector = document.querySelector(sel) !== null; } catch (e) { out.selectorError = String(e && e.message || e); } }
  if (` + js(links) + `) out.links = Array.from(document.querySelectorAll("a[href]"), a => a.href);
  return out;
})()`
}

// check tests one page in one viewport. It reports whether the page ran
// into its timeout.
func (r *runner) check(t *tab, j job) (res PageResult, links []string, timedOut bool) {
	ref, _ := url.Parse(j.page.Path)
	u := r.base.ResolveReference(ref)
	if r.base.Path != "" && r.base.Path != "/" {
		// A base URL with a path (a preview link) prefixes page paths.
		u.Path = strings.TrimSuffix(r.base.Path, "/") + ref.Path
	}
	res = PageResult{Path: j.page.Path, Viewport: j.viewport.Name, URL: u.String(), LinkedFrom: j.linkedFrom,
		order: j.pageIndex, vpOrder: j.vpIndex}
	c := newCollector(r.opts.CheckFavicon, r.opts.IgnoreRequests)
	c.fence = r.fence
	checkStart := time.Now()
	res.began = checkStart
	defer func() { res.ended = time.Now() }()

	pctx, cancel := context.WithTimeout(t.ctx, r.opts.PageTimeout)
	defer cancel()
	defer t.cur.Store(nil)

	var vpOpts []chromedp.EmulateViewportOption
	if j.viewport.Width < 600 {
		vpOpts = append(vpOpts, chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	if t.vp != j.viewport {
		if err := chromedp.Do(pctx, chromedp.EmulateViewport(int64(j.viewport.Width), int64(j.viewport.Height), vpOpts...)); err != nil {
			c.add(KindHTTPError, "could not set the viewport: "+err.Error(), "")
			res.Findings = c.take()
			return res, nil, errors.Is(err, context.DeadlineExceeded)
		}
		t.vp = j.viewport
	}

	t.cur.Store(c)
	start := time.Now()
	resp, err := chromedp.Run(pctx, chromedp.NavigateResponse(res.URL))
	res.LoadMS = time.Since(start).Milliseconds()
	loaded := err == nil
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		timedOut = true
		c.add(KindSlow, fmt.Sprintf("did not load within %s", r.opts.PageTimeout), res.URL)
	case err != nil:
		c.add(KindHTTPError, "could not load: "+err.Error(), res.URL)
	case resp == nil:
		c.add(KindHTTPError, "no response for the document", res.URL)
	default:
		res.Status = int(resp.Status)
		if resp.Status >= 400 {
			c.add(KindHTTPError, fmt.Sprintf("HTTP %d %s", resp.Status, resp.StatusText), res.URL)
		}
	}
	if loaded {
		if max := j.page.MaxLoadMS; max > 0 && res.LoadMS > int64(max) {
			c.add(KindSlow, fmt.Sprintf("loaded in %d ms, limit %d ms", res.LoadMS, max), res.URL)
		}
		pr, err := chromedp.Run(pctx, chromedp.Evaluate[probe](probeScript(j.page, j.crawl || r.opts.Crawl.MaxPages > 0), chromedp.EvalAwaitPromise))
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			timedOut = true
			c.add(KindSlow, fmt.Sprintf("did not settle within %s", r.opts.PageTimeout), res.URL)
		case err != nil:
			// The page's text could not be read: say so where it matters.
			if j.page.ExpectText != "" {
				c.add(KindMissingText, fmt.Sprintf("could not read the page to find %q: %v", j.page.ExpectText, err), "")
			}
			if j.page.ExpectSelector != "" {
				c.add(KindMissingSelector, fmt.Sprintf("could not query %q: %v", j.page.ExpectSelector, err), "")
			}
		default:
			if pr.Text != nil && !*pr.Text {
				c.add(KindMissingText, fmt.Sprintf("text %q not found", j.page.ExpectText), "")
			}
			if pr.SelectorError != "" {
				c.add(KindMissingSelector, fmt.Sprintf("selector %q is not valid: %s", j.page.ExpectSelector, pr.SelectorError), "")
			} else if pr.Selector != nil && !*pr.Selector {
				c.add(KindMissingSelector, fmt.Sprintf("nothing matches %q", j.page.ExpectSelector), "")
			}
			links = r.sameSite(pr.Links)
		}
	}

	// The shot is taken even after a timeout (it shows what the page was
	// doing), on a short deadline of its own.
	sctx := pctx
	if pctx.Err() != nil {
		var scancel func()
		sctx, scancel = context.WithTimeout(t.ctx, 5*time.Second)
		defer scancel()
		// A navigation still waiting for its document holds the tab: stop
		// it so the shot and the next page do not wait behind it.
		chromedp.Call(sctx, page.StopLoading, cdp.Empty{})
		// A script that never yields holds the renderer: end it.
		r.interruptIfBusy(sctx, t)
	}
	t.cur.Store(nil)
	shotStart := time.Now()
	shot, err := r.takeShot(sctx, j.viewport)
	res.ShotMS = time.Since(shotStart).Milliseconds()
	if err == nil {
		res.Screenshot = shot
	} else if errors.Is(err, context.DeadlineExceeded) {
		timedOut = true
	}
	res.Findings = c.take()
	res.CheckMS = time.Since(checkStart).Milliseconds()
	return res, links, timedOut
}

// sameSite keeps the links a crawl follows: same scheme and host as the
// base, under its path, pages rather than files, without fragments.
func (r *runner) sameSite(links []string) []string {
	var out []string
	basePath := strings.TrimSuffix(r.base.Path, "/")
	for _, l := range links {
		u, err := url.Parse(l)
		if err != nil || u.Scheme != r.base.Scheme || u.Host != r.base.Host {
			continue
		}
		if !strings.HasPrefix(u.Path, basePath+"/") && u.Path != basePath {
			continue
		}
		switch strings.ToLower(path.Ext(u.Path)) {
		case "", ".html", ".htm":
		default:
			continue
		}
		p := strings.TrimPrefix(u.Path, basePath)
		if p == "" {
			p = "/"
		}
		if u.RawQuery != "" {
			p += "?" + u.RawQuery
		}
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// screenshot takes a full-page PNG at the configured scale, halving the
// scale until the image fits the size limit.
func (r *runner) screenshot(ctx context.Context, vp Viewport) (*Shot, error) {
	m, err := chromedp.Call(ctx, page.GetLayoutMetrics, cdp.Empty{})
	if err != nil {
		return nil, err
	}
	w, h := float64(vp.Width), float64(vp.Height)
	if m.CSSLayoutViewport != nil && m.CSSLayoutViewport.ClientWidth > 0 {
		w = float64(m.CSSLayoutViewport.ClientWidth)
	}
	if m.CSSContentSize != nil && m.CSSContentSize.Height > h {
		h = m.CSSContentSize.Height
	}
	h = math.Min(math.Ceil(h), float64(r.opts.MaxScreenshotHeight))
	scale := r.opts.ScreenshotScale
	for try := 0; ; try++ {
		res, err := chromedp.Call(ctx, page.CaptureScreenshot, page.CaptureScreenshotParams{
			Format:                page.CaptureScreenshotFormatPng,
			Clip:                  &page.Viewport{Width: w, Height: h, Scale: scale},
			CaptureBeyondViewport: ptr(true),
			FromSurface:           ptr(true),
			// Faster PNG encoding for somewhat larger files; the size limit
			// above still holds.
			OptimizeForSpeed: ptr(true),
		})
		if err != nil {
			return nil, err
		}
		if len(res.Data) <= r.opts.MaxScreenshotBytes || try == 4 {
			if len(res.Data) > r.opts.MaxScreenshotBytes {
				return nil, fmt.Errorf("screenshot still %d bytes at scale %g", len(res.Data), scale)
			}
			cfg, err := png.DecodeConfig(bytes.NewReader(res.Data))
			if err != nil {
				return nil, fmt.Errorf("screenshot is not a PNG: %w", err)
			}
			sum := sha256.Sum256(res.Data)
			return &Shot{SHA256: hex.EncodeToString(sum[:]), Width: cfg.Width, Height: cfg.Height,
				Bytes: len(res.Data), Scale: scale, PNG: res.Data}, nil
		}
		scale /= 2
	}
}

func ptr[T any](v T) *T { return &v }

// gcAboveRSS is the summed RSS of the browser's processes above which each
// finished page is followed by a garbage collection in its renderer, well
// under the 450 MB the benchmark allows. The JavaScript heap of pages left
// behind is otherwise collected late: on the 20-page benchmark the renderer's
// private memory grew from ~26 to ~70 MB over the run, and the faster the
// run, the higher; with a collection after each page it stayed at ~30 MB.
// Below the threshold no collection is forced, so a small run pays nothing.
// A variable for tests.
var gcAboveRSS int64 = 360 << 20

// collectIfHigh collects the garbage of the tab's renderer when the browser
// holds more memory than r.gcAbove.
func (r *runner) collectIfHigh(t *tab) {
	if r.browser.rss() <= r.gcAbove {
		return
	}
	ctx, cancel := context.WithTimeout(t.ctx, 2*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, heapprofiler.CollectGarbage, cdp.Empty{}); err == nil {
		r.gcs.Add(1)
	}
}

// collector gathers the findings of the page a tab shows now. Its onEvent
// runs on the tab's reading goroutine and must stay quick.
type collector struct {
	checkFavicon bool
	ignore       []string
	// fence tells which failures were its refusals.
	fence *fence.Proxy

	mu       sync.Mutex
	requests map[network.RequestID]string
	document network.RequestID
	findings []Finding
}

func newCollector(checkFavicon bool, ignore []string) *collector {
	return &collector{checkFavicon: checkFavicon, ignore: ignore, requests: map[network.RequestID]string{}}
}

func (c *collector) add(k Kind, msg, resource string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.findings = append(c.findings, Finding{Kind: k, Message: msg, Resource: resource})
}

// take returns the findings ordered by kind, keeping their order within a
// kind.
func (c *collector) take() []Finding {
	c.mu.Lock()
	defer c.mu.Unlock()
	rank := map[Kind]int{}
	for i, k := range AllKinds {
		rank[k] = i
	}
	out := append([]Finding{}, c.findings...)
	sort.SliceStable(out, func(i, j int) bool { return rank[out[i].Kind] < rank[out[j].Kind] })
	return out
}

func (c *collector) ignored(u string) bool {
	if !c.checkFavicon {
		if pu, err := url.Parse(u); err == nil && pu.Path == "/favicon.ico" {
			return true
		}
	}
	for _, p := range c.ignore {
		if strings.HasPrefix(u, p) {
			return true
		}
	}
	return false
}

func (c *collector) onEvent(ev any) {
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		c.mu.Lock()
		// The first document request after the collector is installed is
		// the page itself; its status is checked apart.
		if c.document == "" && ev.Type == network.ResourceTypeDocument {
			c.document = ev.RequestID
		}
		if ev.Request != nil {
			c.requests[ev.RequestID] = ev.Request.URL
		}
		c.mu.Unlock()
	case *network.EventResponseReceived:
		if ev.Response == nil || ev.Response.Status < 400 {
			return
		}
		if ev.Response.Status == 403 && c.refused(ev.Response.URL, ev.Response.Headers) {
			// The document too: a page redirected to a refused address.
			return
		}
		c.mu.Lock()
		_, known := c.requests[ev.RequestID]
		isDoc := ev.RequestID == c.document
		c.mu.Unlock()
		if !known || isDoc || c.ignored(ev.Response.URL) {
			return
		}
		c.add(KindFailedRequest, fmt.Sprintf("HTTP %d %s", ev.Response.Status, ev.Response.StatusText), ev.Response.URL)
	case *network.EventLoadingFailed:
		if ev.Canceled {
			return
		}
		c.mu.Lock()
		u, known := c.requests[ev.RequestID]
		isDoc := ev.RequestID == c.document
		c.mu.Unlock()
		if known && c.refused(u, nil) {
			return
		}
		if !known || isDoc || c.ignored(u) {
			return
		}
		msg := ev.ErrorText
		if ev.BlockedReason != "" {
			msg += " (blocked: " + string(ev.BlockedReason) + ")"
		}
		c.add(KindFailedRequest, msg, u)
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError {
			return
		}
		var parts []string
		for _, a := range ev.Args {
			parts = append(parts, remoteText(a))
		}
		res := ""
		if ev.StackTrace != nil && len(ev.StackTrace.CallFrames) > 0 {
			res = ev.StackTrace.CallFrames[0].URL
		}
		c.add(KindConsoleError, strings.Join(parts, " "), res)
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		if d == nil {
			return
		}
		msg := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg = d.Exception.Description
		}
		// Keep the first line: the stack is long and the URL is apart.
		msg, _, _ = strings.Cut(msg, "\n")
		res := d.URL
		if d.LineNumber > 0 || d.ColumnNumber > 0 {
			res = fmt.Sprintf("%s:%d:%d", d.URL, d.LineNumber+1, d.ColumnNumber+1)
		}
		c.add(KindException, msg, res)
	}
}

// refused adds a blocked_request finding when the fence refused the
// request for u, and tells whether it did. Refusals are never ignored:
// neither ignore prefixes nor the favicon rule apply to them. A 403 that
// carries the fence's header but matches no refusal still counts (its
// refusal was claimed by an earlier request of the same URL).
func (c *collector) refused(u string, headers network.Headers) bool {
	if c.fence == nil {
		return false
	}
	if r, ok := c.fence.Claim(u); ok {
		c.add(KindBlockedRequest, "refused by hoist's browser fence: "+r.Reason, u)
		return true
	}
	if _, ok := headers[fence.Header]; ok {
		c.add(KindBlockedRequest, "refused by hoist's browser fence", u)
		return true
	}
	return false
}

// attributeUnclaimed reports the refusals no tab claimed (a service
// worker's or a WebSocket's request, one that came after its page was
// done): each goes to the pages being checked when it happened, or to the
// last page checked before it. Nothing the fence refused goes unreported.
func (r *runner) attributeUnclaimed(pages []PageResult) {
	if len(pages) == 0 {
		return
	}
	for _, ref := range r.fence.Unclaimed() {
		var during []int
		last := -1
		for i, p := range pages {
			if !ref.At.Before(p.began) && !ref.At.After(p.ended) {
				during = append(during, i)
			}
			if !p.began.After(ref.At) && (last < 0 || p.began.After(pages[last].began)) {
				last = i
			}
		}
		note := " (while this page was checked)"
		if len(during) == 0 {
			if last < 0 {
				last = 0
			}
			during = []int{last}
			note = " (after this page was checked)"
		}
		if len(during) > 1 {
			note = " (while this page and others were checked)"
		}
		for _, i := range during {
			pages[i].Findings = append(pages[i].Findings, Finding{Kind: KindBlockedRequest,
				Message: "refused by hoist's browser fence: " + ref.Reason + note, Resource: ref.URL})
		}
	}
}

// remoteText renders a console argument as DevTools would, briefly.
func remoteText(o *runtime.RemoteObject) string {
	if o == nil {
		return ""
	}
	if len(o.Value) > 0 {
		var s string
		if json.Unmarshal(o.Value, &s) == nil {
			return s
		}
		return string(o.Value)
	}
	if o.UnserializableValue != "" {
		return string(o.UnserializableValue)
	}
	if o.Description != "" {
		return o.Description
	}
	return string(o.Type)
}
