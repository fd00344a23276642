package flow_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/emulator/emulatortest"
	"github.com/hoist-dev/hoist/internal/store"
)

// personPromotesYML: staging is promoted by a person, so hoist keeps a
// promotion pull request dev → staging.
const personPromotesYML = `version: 1
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: false }
`

// A promotion of 300 commits says 300, not the 100 or 250 one page of
// compare holds.
func TestPromotionPullRequestCountsEveryCommit(t *testing.T) {
	r := startRig(t, personPromotesYML)
	head := r.gh.PushCommits("acme/site", r.token, "dev", 300)
	eventually(t, 60*time.Second, func() (bool, string) {
		prs := r.openPulls("dev", "staging")
		if len(prs) != 1 {
			return false, fmt.Sprintf("%d open pull requests dev → staging, want 1", len(prs))
		}
		body := prs[0].GetBody()
		return strings.Contains(body, "### 300 commits from dev") && strings.Contains(body, head[:7]),
			"pull request body does not count 300 commits up to " + head[:7] + ":\n" + body
	})
}

// pushDelivery waits for the push webhook of ref and returns its id.
func pushDelivery(t *testing.T, gh *emulatortest.Harness, ref string) string {
	t.Helper()
	return gh.WaitForDelivery(func(d emulator.Delivery) bool {
		var ev struct {
			Ref string `json:"ref"`
		}
		return d.Event == "push" && json.Unmarshal(d.Payload, &ev) == nil && ev.Ref == ref
	}).GUID
}

// handledOnce waits until hoist handled the delivery and checks it took
// one attempt: a failure would have left it queued for a retry.
func (r *rig) handledOnce(id string) {
	r.t.Helper()
	var d store.Delivery
	eventually(r.t, 30*time.Second, func() (bool, string) {
		var err error
		if d, err = r.srv.Store().GetDelivery(context.Background(), id); err != nil {
			return false, err.Error()
		}
		return d.Status == store.StatusHandled, fmt.Sprintf("delivery %s is %s (attempt %d: %s)", id, d.Status, d.Attempts, d.Reason)
	})
	if d.Attempts != 1 {
		r.t.Errorf("delivery %s handled after %d attempts, want 1", id, d.Attempts)
	}
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
	r.git(r.work, "checkout", "-q", "--orphan", "rewrite")
	own := r.commit(".github/hoist.yml", personPromotesYML+"# rewritten\n", "A history of its own")
	r.git(r.work, "push", "-q", "origin", "HEAD:rewrite")
	r.handledOnce(pushDelivery(t, r.gh, "refs/heads/rewrite"))
	if run := r.configRun(own); run.GetConclusion() != "success" {
		t.Errorf("hoist/config on the unrelated branch: %s", run.GetConclusion())
	}

	// The same history pushed over dev: staging cannot be promoted from it.
	unrelated := r.commit("public/index.html", "<h1>new start</h1>", "Start over")
	r.git(r.work, "push", "-q", "--force", "origin", "HEAD:dev")
	r.handledOnce(pushDelivery(t, r.gh, "refs/heads/dev"))
	r.waitAudit("staging", unrelated, "refuse")
	entries, err := r.srv.Store().AuditLog(ctx, "acme/site", 50)
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
	entries, err = r.srv.Store().AuditLog(ctx, "acme/site", 50)
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
	if prs := r.openPulls("dev", "staging"); len(prs) != 0 {
		t.Errorf("%d promotion pull requests between unrelated histories, want none", len(prs))
	}
}
