package verify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/internal/sitetest"
)

// TestPromotionAfterRollbackRejoins: staging is promoted from main (dev)
// and rolled back automatically after a broken change; the rollback commit
// exists only on staging. Once the fix lands on main and a person says
// /unhold, the usual promotion carries the fix into staging with no manual
// git: a new commit with exactly the fix's tree whose parents are the
// rollback and the fix, moved with compare-and-swap, gated on the fix's own
// checks, deployed and verified, with the rollback kept in the history.
// The next change promotes the same way; a person's commit on staging
// stops it, as before.
func TestPromotionAfterRollbackRejoins(t *testing.T) {
	w := startWorld(t, nil)
	ctx := context.Background()
	if run := w.verifyRun(w.Head("staging")); run.GetConclusion() != "success" {
		t.Fatalf("first deploy verification = %s", run.GetConclusion())
	}

	// staging is promoted from main once "ci / test" passed.
	w.Git(w.Work, "fetch", "-q", "origin", "main")
	w.Git(w.Work, "checkout", "-q", "-B", "main", "origin/main")
	cfg := w.Commit(".github/hoist.yml", fmt.Sprintf(`version: 1
site: { root: public }
environments:
  dev: { branch: main }
  staging: { branch: staging, promote_from: dev, auto: true, gates: { checks: ["ci / test"] },
             deploy: { target: site, prefix: staging/, url: "http://%s/" },
             purge: [ { cdn: edge } ],
             verify: { auto_rollback: true } }
smoke:
  pages: [ { path: /, expect_selector: ".product" } ]
`, w.edge.addr), "Promote staging from main")
	w.Push("main")
	w.Status(cfg, "success")
	w.WaitAudit("staging", cfg, "promoted")
	if run := w.verifyRun(cfg); run.GetConclusion() != "success" {
		t.Fatalf("verification of %s = %s", cfg[:7], run.GetConclusion())
	}

	// A broken change reaches staging and is rolled back.
	bad := w.Commit("public/index.html", `<!doctype html><title>Shop</title><p>Coming soon</p>`, "Redesign")
	w.Push("main")
	w.Status(bad, "success")
	w.WaitAudit("staging", bad, "promoted")
	if run := w.verifyRun(bad); run.GetConclusion() != "failure" {
		t.Fatalf("verification of the broken change = %s", run.GetConclusion())
	}
	var rollback string
	sitetest.Eventually(t, 60*time.Second, func() (bool, string) {
		rollback = w.Head("staging")
		return rollback != bad, "staging still at the broken change"
	})
	if run := w.verifyRun(rollback); run.GetConclusion() != "success" {
		t.Fatalf("verification of the rollback = %s", run.GetConclusion())
	}

	// The fix lands on main; staging is held until a person resumes.
	fixPage := `<!doctype html><title>Shop</title><h1>Shop</h1><p>New look</p><ul><li class="product">Tea</li><li class="product">Coffee</li></ul>`
	fix := w.Commit("public/index.html", fixPage, "Redesign, with the products")
	w.Push("main")
	issue, _, err := w.Alice.Issues.Create(ctx, "acme", "site", &github.IssueRequest{Title: github.String("Resume staging")})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.Alice.Issues.CreateComment(ctx, "acme", "site", issue.GetNumber(), &github.IssueComment{Body: github.String("/unhold staging")}); err != nil {
		t.Fatal(err)
	}
	w.WaitAudit("staging", "", "released")
	// The gate reads the fix's own checks: without them nothing moves.
	time.Sleep(2 * time.Second)
	if head := w.Head("staging"); head != rollback {
		t.Fatalf("staging moved to %s before the fix's checks passed", head)
	}
	w.Status(fix, "success")
	w.WaitAudit("staging", fix, "promoted")

	joined := w.Head("staging")
	c, _, err := w.Alice.Git.GetCommit(ctx, "acme", "site", joined)
	if err != nil {
		t.Fatal(err)
	}
	f, _, err := w.Alice.Git.GetCommit(ctx, "acme", "site", fix)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Parents) != 2 || c.Parents[0].GetSHA() != rollback || c.Parents[1].GetSHA() != fix || c.GetTree().GetSHA() != f.GetTree().GetSHA() {
		t.Fatalf("staging at %s: parents %v, tree %s; want parents [%s %s] and the fix's tree %s", joined, c.Parents, c.GetTree().GetSHA(), rollback, fix, f.GetTree().GetSHA())
	}
	if run := w.verifyRun(joined); run.GetConclusion() != "success" {
		t.Fatalf("verification of the promoted fix = %s: %s", run.GetConclusion(), run.GetOutput().GetSummary())
	}
	sitetest.Eventually(t, 30*time.Second, func() (bool, string) {
		_, body := w.edge.get(t, "/")
		return strings.Contains(body, "New look"), "the edge serves " + body
	})
	// The deployment names the commit deployed and the candidate promoted.
	deps, _, err := w.Alice.Repositories.ListDeployments(ctx, "acme", "site", &github.DeploymentsListOptions{Environment: "staging", SHA: joined})
	if err != nil || len(deps) != 1 {
		t.Fatalf("deployments of %s: %d, %v", joined[:7], len(deps), err)
	}
	var payload map[string]any
	if err := json.Unmarshal(deps[0].Payload, &payload); err != nil || payload["candidate"] != fix {
		t.Fatalf("deployment payload = %#v; want candidate %s", deps[0].Payload, fix)
	}
	// The rollback and the broken change stay in staging's history.
	w.Git(w.Work, "fetch", "-q", "origin", "staging")
	for _, sha := range []string{rollback, bad} {
		w.Git(w.Work, "merge-base", "--is-ancestor", sha, "origin/staging")
	}

	// The usual path goes on: the next change promotes the same way.
	next := w.Commit("public/about.html", `<!doctype html><title>About</title><p class="product">About</p>`, "About page")
	w.Push("main")
	w.Status(next, "success")
	w.WaitAudit("staging", next, "promoted")
	c, _, err = w.Alice.Git.GetCommit(ctx, "acme", "site", w.Head("staging"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Parents) != 2 || c.Parents[0].GetSHA() != joined || c.Parents[1].GetSHA() != next {
		t.Fatalf("staging after the next change: parents %v; want [%s %s]", c.Parents, joined, next)
	}
	if run := w.verifyRun(c.GetSHA()); run.GetConclusion() != "success" {
		t.Fatalf("verification of the next change = %s", run.GetConclusion())
	}

	// A person's commit on staging is not hoist's: the next promotion is
	// refused as diverged, never rejoined over it.
	w.Git(w.Work, "fetch", "-q", "origin", "staging")
	w.Git(w.Work, "checkout", "-q", "-B", "hotfix", "origin/staging")
	hot := w.Commit("public/hotfix.txt", "fixed by hand", "Hotfix on staging")
	w.Push("staging")
	w.Git(w.Work, "checkout", "-q", "main")
	later := w.Commit("public/later.txt", "later", "Later change")
	w.Push("main")
	w.Status(later, "success")
	w.WaitAudit("staging", later, "refuse")
	if head := w.Head("staging"); head != hot {
		t.Fatalf("staging = %s, want the hotfix %s left alone", head, hot)
	}
}
