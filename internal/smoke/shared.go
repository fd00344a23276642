package smoke

import (
	"context"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Tabs sharing one renderer process share its main thread: a page whose
// script never yields stalls every tab, and a page that merely keeps the
// thread busy for a while makes the other tab's page look slow. The runner
// keeps the results honest:
//
//   - A page that ran into its timeout interrupts the script that holds the
//     renderer (Runtime.terminateExecution ends whichever script runs now,
//     in any tab), so the renderer serves the other tabs again.
//   - A page whose result another tab may have spoiled is checked again
//     alone, with no other page in the renderer: one that loaded later than
//     its max_load_ms, and every page that was in flight when a script was
//     interrupted, the one whose timeout did it included (that script may
//     have been the page's own, which would then have loaded as if it were
//     fine). The result of the check alone is the one reported.

// sharedRenderer tells whether the run's tabs share one renderer process.
func (r *runner) sharedRenderer() bool {
	return (r.opts.ShareRenderer || !r.opts.RendererPerTab) && r.opts.Concurrency > 1
}

// interruptIfBusy ends the script that holds the renderer's main thread,
// when the tab's page does not answer within a second. It tells whether it
// did.
func (r *runner) interruptIfBusy(ctx context.Context, t *tab) bool {
	qctx, cancel := context.WithTimeout(ctx, time.Second)
	_, err := chromedp.Run(qctx, chromedp.Evaluate[int]("1"))
	cancel()
	if err == nil || ctx.Err() != nil {
		return false
	}
	// The command is served off the main thread, so it works while a
	// script holds it.
	if _, err := chromedp.Call(ctx, runtime.TerminateExecution, cdp.Empty{}); err != nil {
		return false
	}
	r.interrupts.Add(1)
	return true
}

// mayBeSpoiled tells whether a page's result may come from another tab's
// use of the shared main thread rather than from the page: it loaded later
// than its max_load_ms. A page that ran out of time is not: if the renderer
// did not answer then, a script was interrupted and the pages in flight are
// checked again anyway; if it answered, the page had itself to blame (a
// document that never came, say), and checking it again alone would only
// make a site that is down take twice as long to fail.
func mayBeSpoiled(res PageResult, timedOut bool) bool {
	if timedOut {
		return false
	}
	for _, f := range res.Findings {
		if f.Kind == KindSlow {
			return true
		}
	}
	return false
}

// takeShot takes the page's screenshot, one tab at a time when the tabs
// share a renderer: a full-page shot resizes the page and renders all of
// it, and two at once on one main thread cost more memory and time than
// one after the other (measured on the 20-page benchmark: peak browser
// memory 10-25 MB lower at the same pace, CPU time no higher). The wait for
// the other tab's shot, a few tens of milliseconds, counts against the
// page's deadline.
func (r *runner) takeShot(ctx context.Context, vp Viewport) (*Shot, error) {
	if r.shotSlot != nil {
		select {
		case r.shotSlot <- struct{}{}:
			defer func() { <-r.shotSlot }()
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return r.screenshot(ctx, vp)
}
