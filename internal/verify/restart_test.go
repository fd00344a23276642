package verify_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRollbackResumesAfterACrash: hoist dies after creating the rollback
// commit and before moving the branch; restarted, it moves the branch to
// that same commit (creating no second one), deploys and verifies it.
func TestRollbackResumesAfterACrash(t *testing.T) {
	var commits atomic.Int64
	var once sync.Once
	crashed := make(chan struct{})
	w := startWorldWith(t, func(w *world) {
		first := false
		once.Do(func() { first = true })
		if first {
			close(crashed)
			panic("hoist dies before moving the branch")
		}
	}, func(method, path string, status int) {
		if method == "POST" && path == "/repos/{owner}/{repo}/git/commits" && status == 201 {
			commits.Add(1)
		}
	})
	ctx := context.Background()
	good := w.Head("staging")
	if run := w.verifyRun(good); run.GetConclusion() != "success" {
		t.Fatalf("first deploy verification = %s", run.GetConclusion())
	}
	bad := w.Commit("public/index.html", `<!doctype html><title>Shop</title><p>Empty</p>`, "Break the home page")
	w.Push("staging")
	select {
	case <-crashed:
	case <-time.After(120 * time.Second):
		t.Fatal("the rollback never came to move the branch")
	}
	w.StopHoist()
	if head := w.Head("staging"); head != bad {
		t.Fatalf("staging moved to %s before the restart", head)
	}
	w.StartHoist(nil)

	var head string
	deadline := time.Now().Add(120 * time.Second)
	for head = w.Head("staging"); head == bad && time.Now().Before(deadline); head = w.Head("staging") {
		time.Sleep(200 * time.Millisecond)
	}
	if head == bad {
		t.Fatal("staging was not rolled back after the restart")
	}
	c, _, err := w.Alice.Git.GetCommit(ctx, "acme", "site", head)
	if err != nil {
		t.Fatal(err)
	}
	g, _, err := w.Alice.Git.GetCommit(ctx, "acme", "site", good)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Parents) != 1 || c.Parents[0].GetSHA() != bad || c.GetTree().GetSHA() != g.GetTree().GetSHA() {
		t.Fatalf("rollback commit %s: parents %v tree %s", head, c.Parents, c.GetTree().GetSHA())
	}
	if n := commits.Load(); n != 1 {
		t.Fatalf("%d commits created through the API, want the one rollback commit", n)
	}
	if run := w.verifyRun(head); run.GetConclusion() != "success" {
		t.Fatalf("verification of the rollback = %s", run.GetConclusion())
	}
}
