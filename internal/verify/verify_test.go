package verify_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/internal/sitetest"
	"github.com/hoist-dev/hoist/internal/verify"
)

// TestFailedVerificationRollsBackOnce: a merge whose live page lacks what
// the checks require fails hoist/verify and is rolled back automatically
// as a new commit restoring the verified tree; Varnish serves the earlier
// page again, staging is held, the deployments and the pull request say
// what happened; a second failure while held is not rolled back again.
func TestFailedVerificationRollsBackOnce(t *testing.T) {
	w := startWorld(t, nil)
	ctx := context.Background()
	good := w.Head("staging")
	if run := w.verifyRun(good); run.GetConclusion() != "success" {
		t.Fatalf("first deploy verification = %s: %s", run.GetConclusion(), run.GetOutput().GetSummary())
	}
	if _, body := w.edge.get(t, "/"); !strings.Contains(body, `class="product"`) {
		t.Fatalf("edge serves %q", body)
	}
	sitetest.Eventually(t, 30*time.Second, func() (bool, string) {
		sts := w.statuses(good)
		return hasState(sts, "success", "verified"), strings.Join(sts, " | ")
	})

	// A pull request into staging drops the product list.
	w.Git(w.Work, "checkout", "-q", "-b", "redesign")
	w.Commit("public/index.html", `<!doctype html><title>Shop</title><h1>Shop</h1><p>Coming soon</p>`, "Redesign the home page")
	w.Push("redesign")
	pr, _, err := w.Alice.PullRequests.Create(ctx, "acme", "site", &github.NewPullRequest{Title: github.String("Redesign"),
		Head: github.String("redesign"), Base: github.String("staging")})
	if err != nil {
		t.Fatal(err)
	}
	merged, _, err := w.Alice.PullRequests.Merge(ctx, "acme", "site", pr.GetNumber(), "", nil)
	if err != nil || !merged.GetMerged() {
		t.Fatalf("merge: %v %+v", err, merged)
	}
	bad := merged.GetSHA()

	run := w.verifyRun(bad)
	if sum := run.GetOutput().GetSummary(); run.GetConclusion() != "failure" || !strings.Contains(sum, ".product") || !strings.Contains(sum, "the live site of `"+bad[:7]+"` in **staging**") {
		t.Fatalf("verification of the bad merge = %s %q", run.GetConclusion(), sum)
	}

	// The rollback: a new commit on staging, child of the bad one, with the
	// good tree.
	var rollback string
	sitetest.Eventually(t, 60*time.Second, func() (bool, string) {
		head := w.Head("staging")
		if head == bad {
			return false, "staging still at the bad merge"
		}
		rollback = head
		return true, ""
	})
	c, _, err := w.Alice.Git.GetCommit(ctx, "acme", "site", rollback)
	if err != nil {
		t.Fatal(err)
	}
	g, _, err := w.Alice.Git.GetCommit(ctx, "acme", "site", good)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Parents) != 1 || c.Parents[0].GetSHA() != bad || c.GetTree().GetSHA() != g.GetTree().GetSHA() {
		t.Fatalf("rollback commit %s: parents %v, tree %s; want parent %s and the tree %s of %s", rollback, c.Parents, c.GetTree().GetSHA(), bad, g.GetTree().GetSHA(), good)
	}
	if run := w.verifyRun(rollback); run.GetConclusion() != "success" {
		t.Fatalf("verification of the rollback = %s: %s", run.GetConclusion(), run.GetOutput().GetSummary())
	}
	if _, body := w.edge.get(t, "/"); !strings.Contains(body, `class="product"`) {
		t.Fatalf("after the rollback the edge serves %q", body)
	}

	// Deployments: the failed one failure with the reason, the restored
	// one success.
	if sts := w.statuses(bad); !hasState(sts, "failure", "verification failed") || !hasState(sts, "failure", ".product") {
		t.Fatalf("statuses of the failed deployment: %v", sts)
	}
	sitetest.Eventually(t, 30*time.Second, func() (bool, string) {
		sts := w.statuses(rollback)
		return hasState(sts, "success", "verified") && strings.HasPrefix(sts[len(sts)-1], "success"), strings.Join(sts, " | ")
	})

	// Held, with the reason.
	holds, err := w.Srv.Store().EnvHolds(ctx, "acme/site", "staging", time.Now())
	if err != nil || len(holds) != 1 || !strings.Contains(holds[0].Reason, "verification of "+bad[:7]+" failed") || holds[0].By != "hoist" {
		t.Fatalf("holds = %+v, %v", holds, err)
	}
	// The pull request that caused it is told.
	sitetest.Eventually(t, 30*time.Second, func() (bool, string) {
		cs, _, err := w.Alice.Issues.ListComments(ctx, "acme", "site", pr.GetNumber(), nil)
		if err != nil {
			return false, err.Error()
		}
		for _, c := range cs {
			if strings.Contains(c.GetBody(), "rolled back automatically") && strings.Contains(c.GetBody(), rollback) && strings.Contains(c.GetBody(), "/unhold staging") {
				return true, ""
			}
		}
		return false, "no rollback comment on the pull request"
	})
	// /status shows the verification, the rollback and the hold.
	if _, _, err := w.Alice.Issues.CreateComment(ctx, "acme", "site", pr.GetNumber(), &github.IssueComment{Body: github.String("/status")}); err != nil {
		t.Fatal(err)
	}
	sitetest.Eventually(t, 60*time.Second, func() (bool, string) {
		cs, _, err := w.Alice.Issues.ListComments(ctx, "acme", "site", pr.GetNumber(), nil)
		if err != nil {
			return false, err.Error()
		}
		for _, c := range cs {
			b := c.GetBody()
			if strings.Contains(b, "`/status` is done") {
				return strings.Contains(b, "| Verified |") && strings.Contains(b, "success "+rollback[:7]+" (automatic rollback restored as "+rollback[:7]+")") &&
					strings.Contains(b, "verification of "+bad[:7]+" failed"), b
			}
		}
		return false, "no reply to /status"
	})
	sitetest.Eventually(t, 10*time.Second, func() (bool, string) {
		k := w.alerts.kinds()
		return slices.Contains(k, verify.AlertVerifyFailed) && slices.Contains(k, verify.AlertRolledBack), strings.Join(k, ",")
	})

	// A second failure while staging is held: verified, failed, alerted,
	// and not rolled back again.
	w.fetchStaging()
	again := w.Commit("public/index.html", `<!doctype html><title>Shop</title><p>Still coming soon</p>`, "Try again")
	w.Push("staging")
	if run := w.verifyRun(again); run.GetConclusion() != "failure" {
		t.Fatalf("second bad push verification = %s", run.GetConclusion())
	}
	w.WaitAudit("staging", again, "not_repeated")
	time.Sleep(2 * time.Second)
	if head := w.Head("staging"); head != again {
		t.Fatalf("staging moved to %s after a second failure; want it left at %s", head, again)
	}
	if k := w.alerts.kinds(); !slices.Contains(k, verify.AlertHeld) || slices.Index(k, verify.AlertRolledBack) != slices.IndexFunc(k, func(s string) bool { return s == verify.AlertRolledBack }) {
		t.Fatalf("alerts = %v", k)
	}
	want := []string{
		"acme/site staging verify true " + good[:7],
		"acme/site staging verify false " + bad[:7],
		"acme/site staging verify true " + rollback[:7],
		"acme/site staging rollback true " + rollback[:7],
		"acme/site staging verify false " + again[:7],
	}
	if got := w.outcomes.all(); !slices.Equal(got, want) {
		t.Fatalf("outcomes:\n got %v\nwant %v", got, want)
	}
}
