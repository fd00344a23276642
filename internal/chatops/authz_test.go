package chatops_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/hoist-dev/hoist/internal/sitetest"
)

// An approval counts only from someone with write access, and the same
// approvals are read whichever way the promotion is asked for: a read-only
// user's approval does not pass the gate, nor does their request for
// changes block it; a writer's approval stands through a later comment,
// and a dismissal removes it; /promote reads the promotion pull request's
// reviews and promotes.
func TestApprovalsCountWritersOnlyAndCommandsReadThem(t *testing.T) {
	w := startCommands(t)
	w.Commit(".github/hoist.yml", approvalsYML, "Production needs an approval")
	w.Git(w.Work, "push", "-q", "origin", "HEAD:main")
	prodBefore := w.Head("prod")
	sha := w.greenOnDev("v2")
	w.WaitAudit("staging", sha, "promoted")
	pr := w.promotionPull("staging", "prod")
	n := pr.GetNumber()

	// rita may only read: her approval is not counted, and says why.
	w.review(w.rita, n, "APPROVE", sha)
	w.pullBodySays(n, `0 of 1; not counted\: rita \(read access\)`)
	waiting := w.answered(w.say(w.Alice, "/promote production"), 1)
	contains(t, "the reply while only rita approved", waiting, "cannot be promoted to `production` yet", "0 of 1")
	if got := w.Head("prod"); got != prodBefore {
		t.Fatalf("production moved to %s on a read-only user's approval", got)
	}

	// bob may write: his approval counts; dismissed, it no longer does.
	first := w.review(w.bob, n, "APPROVE", sha)
	w.pullBodySays(n, "**Ready**", `1 of 1 \(bob\)`)
	if _, _, err := w.Alice.PullRequests.DismissReview(context.Background(), "acme", "site", n, first.GetID(),
		&github.PullRequestReviewDismissalRequest{Message: github.String("not that one")}); err != nil {
		t.Fatal(err)
	}
	w.pullBodySays(n, "⏳", "approvals | ⏳ pending | 0 of 1")

	// Approved again, then a comment (which changes no standing), then a
	// read-only user's request for changes (which blocks nothing): the
	// command promotes.
	w.review(w.bob, n, "APPROVE", sha)
	w.review(w.bob, n, "COMMENT", sha)
	w.review(w.rita, n, "REQUEST_CHANGES", sha)
	done := w.answered(w.say(w.Alice, "/promote production"), 1)
	contains(t, "the reply after bob's approval", done, "`/promote production` is done", "Promoted `production` to `"+sha[:7]+"`")
	if got := w.Head("prod"); got != sha {
		t.Fatalf("production = %s, want %s", got, sha)
	}
}

// A check gate that names its app is passed only by that app's check run:
// a run of the same name by another app, or anyone's commit status, is
// ignored and shown as ignored.
func TestCheckGateNamingAnAppIgnoresOtherReporters(t *testing.T) {
	w := startCommands(t)
	w.Commit(".github/hoist.yml", `version: 1
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: true, gates: { checks: [ { name: "ci / test", app: github-actions } ] } }
`, "CI must be GitHub Actions")
	w.Git(w.Work, "push", "-q", "origin", "HEAD:main")
	before := w.Head("staging")
	sha := w.Commit("public/v2.html", "v2", "Change v2")
	w.Git(w.Work, "push", "-q", "origin", "HEAD:dev")
	ctx := context.Background()
	green := github.CreateCheckRunOptions{Name: "ci / test", HeadSHA: sha, Status: github.String("completed"), Conclusion: github.String("success")}

	// Anyone who can write may post a commit status; any installed app may
	// post a check run of that name.
	w.Status(sha, "success")
	imp := w.GH.CreateApp("impostor", "")
	if _, _, err := w.GH.InstallationClient(imp, w.GH.Install(imp.ID, "acme/site")).Checks.CreateCheckRun(ctx, "acme", "site", green); err != nil {
		t.Fatal(err)
	}
	waiting := w.answered(w.say(w.Alice, "/promote staging"), 1)
	contains(t, "the reply to the impostors' checks", waiting, "not reported yet", "ci / test from app impostor ignored", "ci / test status by alice ignored")
	if got := w.Head("staging"); got != before {
		t.Fatalf("staging moved to %s on another app's check run", got)
	}

	actions := w.GH.CreateApp("github-actions", "")
	if _, _, err := w.GH.InstallationClient(actions, w.GH.Install(actions.ID, "acme/site")).Checks.CreateCheckRun(ctx, "acme", "site", green); err != nil {
		t.Fatal(err)
	}
	// The right app's check run promotes: staging is automatic, so the
	// check_run event itself may move it before a /promote would.
	w.WaitAudit("staging", sha, "promoted")
	if got := w.Head("staging"); got != sha {
		t.Fatalf("staging = %s, want %s", got, sha)
	}
}

// The Promote button of a smoke check run is a command by other means: a
// writer outside the environment's teams is refused (and the refusal is
// audited), a member of the team promotes.
func TestSmokePromoteButtonHonoursTeams(t *testing.T) {
	w := sitetest.StartSmokeWith(t, strings.Replace(fmt.Sprintf(sitetest.CandidateYML, ", auto: false"), "branch: staging,", "branch: staging, teams: [release],", 1), nil)
	ctx := context.Background()
	for _, login := range []string{"bob", "carol"} {
		w.GH.CreateUser(login)
		if _, _, err := w.Alice.Repositories.AddCollaborator(ctx, "acme", "site", login,
			&github.RepositoryAddCollaboratorOptions{Permission: "push"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.GH.SetTeam("acme", "release", "carol"); err != nil {
		t.Fatal(err)
	}
	sha := w.Commit("public/index.html", `<!doctype html><title>Shop</title><h1>Shop</h1><p>New arrivals.</p>`, "Regenerate")
	w.Git(w.Work, "push", "-q", "origin", "HEAD:pre-staging")
	cr := w.WaitSmoke(sha, 1)[0]
	w.WaitAudit("staging", sha, "ready")
	click := func(user string) {
		t.Helper()
		resp, err := http.Post(w.GH.URL()+fmt.Sprintf("/_emulator/check-runs/%d/request-action", cr.GetID()), "application/json",
			strings.NewReader(`{"identifier":"promote","user":"`+user+`"}`))
		if err != nil || resp.StatusCode != http.StatusNoContent {
			t.Fatalf("%s clicks Promote: %v %v", user, resp, err)
		}
	}
	click("bob")
	w.WaitAudit("staging", sha, "refused")
	entries, _ := w.Srv.Store().AuditLog(ctx, "acme/site", 50)
	for _, e := range entries {
		if e.Outcome == "refused" && (e.Actor != "bob" || !strings.Contains(fmt.Sprint(e.Detail["reason"]), "limited to members of the team `release`")) {
			t.Errorf("refusal %+v, want bob's, for the team", e)
		}
	}
	if got := w.Head("staging"); got == sha {
		t.Fatal("a writer outside the environment's team promoted staging with the button")
	}
	click("carol")
	w.WaitAudit("staging", sha, "promoted")
	entries, _ = w.Srv.Store().AuditLog(ctx, "acme/site", 50)
	for _, e := range entries {
		if e.Outcome == "promoted" && e.Actor != "carol" {
			t.Errorf("promotion attributed to %q, want carol", e.Actor)
		}
	}
}

// A tag promotes through the approvals gate too: the tagged commit is
// approved on the environment's promotion pull request, by a writer.
func TestTagPromotionReadsTheApprovalsOfThePromotionPullRequest(t *testing.T) {
	w := startCommands(t)
	w.Commit(".github/hoist.yml", approvalsYML+`tags: [ { pattern: "web-*", promote: production } ]
`, "Tags promote production, with an approval")
	w.Git(w.Work, "push", "-q", "origin", "HEAD:main")
	prodBefore := w.Head("prod")
	sha := w.greenOnDev("v2")
	w.WaitAudit("staging", sha, "promoted")
	pr := w.promotionPull("staging", "prod")

	// Only rita (read) approved: the tag waits.
	w.review(w.rita, pr.GetNumber(), "APPROVE", sha)
	w.pullBodySays(pr.GetNumber(), `not counted\: rita`)
	w.Git(w.Work, "tag", "web-1")
	w.Git(w.Work, "push", "-q", "origin", "web-1")
	// Wait until hoist evaluated the tag's promotion.
	sitetest.Eventually(t, 30*time.Second, func() (bool, string) {
		var n int
		err := w.Srv.Store().QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'hoist_evaluate_promotion'
			AND state = 'completed' AND json_extract(args, '$.trigger') = 'tag'`).Scan(&n)
		return err == nil && n > 0, fmt.Sprintf("no evaluation of the tag yet (%v)", err)
	})
	if got := w.Head("prod"); got != prodBefore {
		t.Fatalf("production moved to %s by a tag with a read-only user's approval", got)
	}

	// bob (write) approves; the next tag of that commit promotes it.
	w.review(w.bob, pr.GetNumber(), "APPROVE", sha)
	w.pullBodySays(pr.GetNumber(), `1 of 1 \(bob\)`)
	w.Git(w.Work, "tag", "web-2")
	w.Git(w.Work, "push", "-q", "origin", "web-2")
	w.WaitAudit("production", sha, "promoted")
	if got := w.Head("prod"); got != sha {
		t.Fatalf("production = %s, want the tagged commit %s", got, sha)
	}
}
