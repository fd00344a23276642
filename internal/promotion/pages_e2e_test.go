package promotion_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/sitetest"
)

// A promotion of 300 commits says 300, not the 100 or 250 one page of
// compare holds.
func TestPromotionPullRequestCountsEveryCommit(t *testing.T) {
	r := startRig(t, personPromotesYML)
	head := r.GH.PushCommits("acme/site", r.UserToken, "dev", 300)
	sitetest.Eventually(t, 60*time.Second, func() (bool, string) {
		prs := openPulls(r, "dev", "staging")
		if len(prs) != 1 {
			return false, fmt.Sprintf("%d open pull requests dev → staging, want 1", len(prs))
		}
		body := prs[0].GetBody()
		return strings.Contains(body, "### 300 commits from dev") && strings.Contains(body, head[:7]),
			"pull request body does not count 300 commits up to " + head[:7] + ":\n" + body
	})
}

// A source branch whose history shares nothing with the environment is
// reported as such (refused, with the reason in the audit trail) and the
// work ends there: no failed job retried for hours, no pull request GitHub
// would refuse.
func TestUnrelatedHistoryIsReportedOnceNotRetried(t *testing.T) {
	r := startRig(t, personPromotesYML)
	ctx := context.Background()

	// A branch of its own history that carries a hoist.yml: its config
	// is checked, once.
	r.Git(r.Work, "checkout", "-q", "--orphan", "rewrite")
	own := r.Commit(".github/hoist.yml", personPromotesYML+"# rewritten\n", "A history of its own")
	r.Git(r.Work, "push", "-q", "origin", "HEAD:rewrite")
	handledOnce(r, pushDelivery(t, r.GH, "refs/heads/rewrite"))
	if run := r.ConfigRun(own); run.GetConclusion() != "success" {
		t.Errorf("hoist/config on the unrelated branch: %s", run.GetConclusion())
	}

	// The same history pushed over dev: staging cannot be promoted from it.
	unrelated := r.Commit("public/index.html", "<h1>new start</h1>", "Start over")
	r.Git(r.Work, "push", "-q", "--force", "origin", "HEAD:dev")
	handledOnce(r, pushDelivery(t, r.GH, "refs/heads/dev"))
	r.WaitAudit("staging", unrelated, "refuse")
	entries, err := r.Srv.Store().AuditLog(ctx, "acme/site", 50)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Env == "staging" && e.SHA == unrelated && !strings.Contains(fmt.Sprint(e.Detail["reasons"]), "no common ancestor") {
			t.Errorf("refusal does not say the histories are unrelated: %v", e.Detail["reasons"])
		}
	}
	// Each event that asks (the push, the publication of dev) is answered
	// once; a failed evaluation would be retried and answered again.
	time.Sleep(2 * time.Second)
	entries, err = r.Srv.Store().AuditLog(ctx, "acme/site", 50)
	if err != nil {
		t.Fatal(err)
	}
	perTrigger := map[string]int{}
	for _, e := range entries {
		if e.Env == "staging" && e.SHA == unrelated && e.Outcome == "refuse" {
			perTrigger[fmt.Sprint(e.Detail["trigger"])]++
		}
	}
	if perTrigger["push"] != 1 {
		t.Errorf("refusals of staging at %s by trigger: %v, want one for the push", unrelated[:7], perTrigger)
	}
	for trigger, n := range perTrigger {
		if n != 1 {
			t.Errorf("%d refusals of staging at %s for the trigger %s, want 1", n, unrelated[:7], trigger)
		}
	}
	if prs := openPulls(r, "dev", "staging"); len(prs) != 0 {
		t.Errorf("%d promotion pull requests between unrelated histories, want none", len(prs))
	}
}
