package verify_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/sitetest"
)

// TestPushDuringRollbackIsNotLost: a person pushes a fix to staging after
// hoist created its rollback commit and before it moves the branch; the
// compare-and-swap refuses, the rollback stands down and releases its
// hold, and the fix is deployed and verified.
func TestPushDuringRollbackIsNotLost(t *testing.T) {
	var once sync.Once
	pushed := make(chan string, 1)
	w := startWorld(t, func(w *world) {
		once.Do(func() {
			w.fetchStaging()
			fix := w.Commit("public/index.html", `<!doctype html><title>Shop</title><ul><li class="product">Coffee</li></ul>`, "Fix the home page")
			w.Push("staging")
			pushed <- fix
		})
	})
	ctx := context.Background()
	good := w.Head("staging")
	if run := w.verifyRun(good); run.GetConclusion() != "success" {
		t.Fatalf("first deploy verification = %s", run.GetConclusion())
	}
	bad := w.Commit("public/index.html", `<!doctype html><title>Shop</title><p>Empty</p>`, "Break the home page")
	w.Push("staging")
	if run := w.verifyRun(bad); run.GetConclusion() != "failure" {
		t.Fatalf("bad push verification = %s", run.GetConclusion())
	}
	var fix string
	select {
	case fix = <-pushed:
	case <-time.After(90 * time.Second):
		t.Fatal("the rollback never came to move the branch")
	}
	w.WaitAudit("staging", fix, "superseded")
	if head := w.Head("staging"); head != fix {
		t.Fatalf("staging is at %s, want the pushed fix %s", head, fix)
	}
	if run := w.verifyRun(fix); run.GetConclusion() != "success" {
		t.Fatalf("fix verification = %s", run.GetConclusion())
	}
	sitetest.Eventually(t, 30*time.Second, func() (bool, string) {
		_, body := w.edge.get(t, "/")
		return strings.Contains(body, "Coffee"), body
	})
	holds, err := w.Srv.Store().EnvHolds(ctx, "acme/site", "staging", time.Now())
	if err != nil || len(holds) != 0 {
		t.Fatalf("holds after the rollback stood down: %+v %v", holds, err)
	}
}
