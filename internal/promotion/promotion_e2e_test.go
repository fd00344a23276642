package promotion_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/internal/pipeline"
	"github.com/hoist-dev/hoist/internal/sitetest"
	"github.com/hoist-dev/hoist/internal/testenv"
)

func TestManualProductionKeepsOnePromotionPullRequestAndItsMergeMovesMain(t *testing.T) {
	r := startRig(t, manualProductionYML)
	ctx := context.Background()
	mainBefore := r.Head("main")

	c1 := r.Commit("public/index.html", "<h1>one</h1>", "First feature")
	r.Push("dev")
	r.Status(c1, "success")
	r.WaitAudit("staging", c1, "promoted")

	// staging moved (by hoist): production is promoted by a person, so
	// hoist opens the promotion pull request staging → main.
	var pr *github.PullRequest
	sitetest.Eventually(t, 20*time.Second, func() (bool, string) {
		prs := openPulls(r, "staging", "main")
		if len(prs) != 1 {
			return false, fmt.Sprintf("%d open pull requests staging → main, want 1", len(prs))
		}
		pr = prs[0]
		return strings.Contains(pr.GetBody(), c1[:7]), "pull request body lacks " + c1[:7] + ":\n" + pr.GetBody()
	})
	if pr.GetTitle() != "Promote staging → production" {
		t.Errorf("title = %q", pr.GetTitle())
	}
	if pr.GetUser().GetLogin() != "hoist[bot]" {
		t.Errorf("author = %q, want hoist's bot", pr.GetUser().GetLogin())
	}
	if env, src, ok := pipeline.ParsePromotionMarker(pr.GetBody()); !ok || env != "production" || src != "staging" {
		t.Errorf("marker = %q %q %v", env, src, ok)
	}
	for _, want := range []string{"First feature", "Alice", "approvals", "0 of 1", "⏳"} {
		if !strings.Contains(pr.GetBody(), want) {
			t.Errorf("pull request body lacks %q:\n%s", want, pr.GetBody())
		}
	}
	// hoist's own promotion of staging was published once, by the
	// promotion itself, not again for the push it made.
	time.Sleep(300 * time.Millisecond)
	if deps := deployments(r, "staging", c1); len(deps) != 1 {
		entries, _ := r.Srv.Store().AuditLog(context.Background(), "acme/site", 50)
		t.Errorf("deployments of staging at %s: %d, want 1; audit %+v", c1[:7], len(deps), entries)
	}

	// Another push to the source: the same pull request, brought up to date.
	c2 := r.Commit("public/about.html", "<h1>about</h1>", "Second feature")
	r.Push("dev")
	r.Status(c2, "success")
	r.WaitAudit("staging", c2, "promoted")
	sitetest.Eventually(t, 20*time.Second, func() (bool, string) {
		prs := openPulls(r, "staging", "main")
		if len(prs) != 1 || prs[0].GetNumber() != pr.GetNumber() {
			return false, fmt.Sprintf("open pull requests staging → main: %d, want #%d alone", len(prs), pr.GetNumber())
		}
		body := prs[0].GetBody()
		return strings.Contains(body, c2[:7]) && strings.Contains(body, "Second feature") && strings.Contains(body, "2 commits"),
			"pull request body not updated for " + c2[:7] + ":\n" + body
	})

	// An approval passes the approvals gate: the pull request says ready.
	_, _, err := r.Alice.PullRequests.CreateReview(ctx, "acme", "site", pr.GetNumber(),
		&github.PullRequestReviewRequest{Event: github.String("APPROVE"), CommitID: github.String(c2)})
	if err != nil {
		t.Fatal(err)
	}
	sitetest.Eventually(t, 20*time.Second, func() (bool, string) {
		got, _, err := r.Alice.PullRequests.Get(ctx, "acme", "site", pr.GetNumber())
		if err != nil {
			return false, err.Error()
		}
		return strings.Contains(got.GetBody(), "**Ready**") && strings.Contains(got.GetBody(), `1 of 1 \(alice\)`),
			"pull request not ready after the approval:\n" + got.GetBody()
	})
	if r.Head("main") != mainBefore {
		t.Fatal("main moved without a person: production is auto: false")
	}

	// A person's edit of the description is overwritten with the state.
	if _, _, err := r.Alice.PullRequests.Edit(ctx, "acme", "site", pr.GetNumber(), &github.PullRequest{Body: github.String("ship it!")}); err != nil {
		t.Fatal(err)
	}
	sitetest.Eventually(t, 20*time.Second, func() (bool, string) {
		got, _, err := r.Alice.PullRequests.Get(ctx, "acme", "site", pr.GetNumber())
		if err != nil {
			return false, err.Error()
		}
		return strings.Contains(got.GetBody(), "**Ready**"), "description not restored:\n" + got.GetBody()
	})

	// A person merges it: that is the promotion.
	res, _, err := r.Alice.PullRequests.Merge(ctx, "acme", "site", pr.GetNumber(), "", &github.PullRequestOptions{MergeMethod: "merge"})
	if err != nil || !res.GetMerged() {
		t.Fatalf("merge: %v %+v", err, res)
	}
	merged := res.GetSHA()
	if got := r.Head("main"); got != merged {
		t.Fatalf("main = %s, want the merge %s", got, merged)
	}
	r.Git(r.Work, "fetch", "-q", "origin")
	r.Git(r.Work, "merge-base", "--is-ancestor", c2, "origin/main")
	r.Git(r.Work, "merge-base", "--is-ancestor", mainBefore, "origin/main")
	// hoist records the merge as the promotion, publishes main once as a
	// merge, and opens no new pull request: production is up to date.
	r.WaitAudit("production", merged, "merged")
	r.WaitAudit("production", merged, "merge")
	sitetest.Eventually(t, 10*time.Second, func() (bool, string) {
		deps := deployments(r, "production", merged)
		return len(deps) == 1, fmt.Sprintf("%d deployments of production at the merge, want 1", len(deps))
	})
	time.Sleep(500 * time.Millisecond)
	if prs := openPulls(r, "staging", "main"); len(prs) != 0 {
		t.Errorf("%d promotion pull requests open after the merge, want none", len(prs))
	}
	if deps := deployments(r, "production", merged); len(deps) != 1 {
		t.Errorf("%d deployments of production at the merge, want 1", len(deps))
	}
}

func TestBurstOfTwentyPushesEndsAtTheNewestHeadByFastForwards(t *testing.T) {
	r := startRig(t, `version: 1
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: true }
`)
	start := r.Head("staging")
	var pushed []string
	for i := range 20 {
		pushed = append(pushed, r.Commit("public/n.txt", strconv.Itoa(i), fmt.Sprintf("Change %d", i)))
		r.Push("dev")
	}
	newest := pushed[len(pushed)-1]
	sitetest.Eventually(t, 60*time.Second, func() (bool, string) {
		got := r.Head("staging")
		return got == newest, fmt.Sprintf("staging = %s, want the newest %s", got[:7], newest[:7])
	})
	// Let any evaluation still queued finish: none may move staging again.
	time.Sleep(time.Second)
	if got := r.Head("staging"); got != newest {
		t.Fatalf("staging moved on to %s after the newest head", got)
	}

	// Every update of staging the emulator saw was a fast-forward, each
	// from where the previous one left it, in the order of dev's history.
	index := map[string]int{start: -1}
	for i, sha := range pushed {
		index[sha] = i
	}
	prev, last := start, -1
	moves := 0
	for _, d := range r.GH.Deliveries() {
		if d.Event != "push" {
			continue
		}
		var ev pushEvent
		if err := d.Decode(&ev); err != nil {
			t.Fatal(err)
		}
		if ev.Ref != "refs/heads/staging" || ev.Before == "0000000000000000000000000000000000000000" {
			continue
		}
		moves++
		i, ok := index[ev.After]
		switch {
		case ev.Forced:
			t.Errorf("staging %s → %s was forced", ev.Before[:7], ev.After[:7])
		case ev.Before != prev:
			t.Errorf("staging update from %s, but it was at %s", ev.Before[:7], prev[:7])
		case !ok || i <= last:
			t.Errorf("staging moved to %s, out of dev's order", ev.After[:7])
		}
		prev, last = ev.After, i
		r.Git(r.Work, "merge-base", "--is-ancestor", ev.Before, ev.After)
	}
	if moves == 0 || prev != newest {
		t.Fatalf("%d staging updates seen, ending at %s, want the newest %s", moves, prev[:7], newest[:7])
	}
	t.Logf("20 pushes, %d promotions of staging", moves)
	// The pushes to dev were people's: dev's newest head is published once.
	sitetest.Eventually(t, 10*time.Second, func() (bool, string) {
		deps := deployments(r, "dev", newest)
		return len(deps) == 1 && auditCount(r, "dev", newest, "push") == 1,
			fmt.Sprintf("%d deployments of dev at the newest push, want 1", len(deps))
	})
	// No pushed commit is missing from staging's first-parent history.
	r.Git(r.Work, "fetch", "-q", "origin")
	history := r.Git(r.Work, "rev-list", "--first-parent", "origin/staging")
	for _, sha := range pushed {
		if !strings.Contains(history, sha) {
			t.Errorf("commit %s is not in staging's first-parent history", sha[:7])
		}
	}
}

func TestWebhooksDeliveredTwicePromoteOnce(t *testing.T) { webhooksTwice(t, "") }

// On PostgreSQL the evaluations of one environment take turns through an
// advisory lock, as replicas would.
func TestWebhooksDeliveredTwicePromoteOncePostgres(t *testing.T) {
	webhooksTwice(t, testenv.Postgres(t))
}

func TestSoakTimerSurvivesARestart(t *testing.T) {
	r := startRig(t, `version: 1
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: true, gates: { soak: 8s } }
`)
	before := r.Head("staging")
	// Commit just after a second starts: commit times have whole seconds,
	// so this leaves hoist nearly the whole soak to be stopped in.
	now := time.Now()
	time.Sleep(time.Until(now.Truncate(time.Second).Add(time.Second + 20*time.Millisecond)))
	sha := r.Commit("public/index.html", "<h1>soaked</h1>", "Let it soak")
	r.Push("dev")
	committed, err := strconv.ParseInt(r.Git(r.Work, "log", "-1", "--format=%ct"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	// The soak is long enough for a loaded machine to evaluate the push
	// and store the timer well before it ends.
	soakEnds := time.Unix(committed, 0).Add(8 * time.Second)

	// The evaluation waits for the soak with a durable timer.
	sitetest.Eventually(t, time.Until(soakEnds)-time.Second, func() (bool, string) {
		var n int
		err := r.Srv.Store().QueryRow(context.Background(),
			`SELECT count(*) FROM river_job WHERE kind = 'hoist_evaluate_promotion' AND state = 'scheduled'`).Scan(&n)
		return err == nil && n > 0, fmt.Sprintf("no scheduled re-evaluation (%v)", err)
	})
	r.StopHoist()
	if got := r.Head("staging"); got != before {
		t.Fatalf("staging moved to %s before the soak ended (the machine was too slow to stop hoist in time)", got[:7])
	}
	// The soak ends while hoist is down; nothing else happens in the
	// repository, so only the stored timer can promote.
	time.Sleep(time.Until(soakEnds) + 300*time.Millisecond)
	r.StartHoist(nil)
	r.WaitAudit("staging", sha, "promoted")
	if got := r.Head("staging"); got != sha {
		t.Fatalf("staging = %s, want %s", got[:7], sha[:7])
	}
	entries, err := r.Srv.Store().AuditLog(context.Background(), "acme/site", 50)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Env == "staging" && e.SHA == sha && e.Outcome == "promoted" && e.At.Before(soakEnds) {
			t.Errorf("promoted at %s, before the soak ended at %s", e.At, soakEnds)
		}
	}
}

func TestBrokenConfigFailsItsCheckAndTheLastGoodStaysInForce(t *testing.T) {
	r := startRig(t, goodYML)
	ctx := context.Background()
	good := r.Head("main")
	if run := r.ConfigRun(good); run.GetConclusion() != "success" {
		t.Fatalf("hoist/config on the good file: %s", run.GetConclusion())
	}

	// The mistake the test expects is the one LoadRepoConfig names.
	_, perr := config.LoadRepoConfig(config.RepoConfigPath, []byte(sitetest.BrokenYML))
	var errs config.RepoConfigErrors
	if !errors.As(perr, &errs) || len(errs) != 1 || errs[0].Line != 4 {
		t.Fatalf("the broken file should have one mistake on line 4: %v", perr)
	}
	want := errs[0]

	// On another branch (a pull request's), the mistake is reported before
	// the merge, and nothing changes in force.
	r.Git(r.Work, "checkout", "-q", "-b", "try")
	trial := r.Commit(".github/hoist.yml", sitetest.BrokenYML+"# trial\n", "Try a change")
	r.Push("try")
	r.Git(r.Work, "checkout", "-q", "-")
	if run := r.ConfigRun(trial); run.GetConclusion() != "failure" || !strings.Contains(run.GetOutput().GetSummary(), "default branch") ||
		!strings.Contains(run.GetOutput().GetSummary(), fmt.Sprintf(":%d:%d", want.Line, want.Column)) {
		t.Errorf("hoist/config on a branch: %s: %s", run.GetConclusion(), run.GetOutput().GetSummary())
	}

	broken := r.Commit(".github/hoist.yml", sitetest.BrokenYML, "Make staging sometimes automatic")
	r.Push("main")
	run := r.ConfigRun(broken)
	if run.GetConclusion() != "failure" {
		t.Fatalf("hoist/config on the broken file: %s", run.GetConclusion())
	}
	summary := run.GetOutput().GetSummary()
	for _, s := range []string{fmt.Sprintf("%s:%d:%d", want.File, want.Line, want.Column), "last good configuration stays in force", good[:7]} {
		if !strings.Contains(summary, s) {
			t.Errorf("summary lacks %q:\n%s", s, summary)
		}
	}
	anns, _, err := r.Alice.Checks.ListCheckRunAnnotations(ctx, "acme", "site", run.GetID(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(anns) != 1 || anns[0].GetPath() != config.RepoConfigPath || anns[0].GetStartLine() != want.Line ||
		anns[0].GetStartColumn() != want.Column || anns[0].GetAnnotationLevel() != "failure" || anns[0].GetMessage() != want.Message {
		b, _ := json.Marshal(anns)
		t.Errorf("annotations = %s, want one failure at line %d column %d: %s", b, want.Line, want.Column, want.Message)
	}

	// Promotions go on under the last good configuration: its gate still
	// holds (a red check refuses) and a green one promotes.
	red := r.Commit("public/index.html", "<h1>red</h1>", "Red build")
	r.Push("dev")
	r.Status(red, "failure")
	r.WaitAudit("staging", red, "refuse")
	green := r.Commit("public/index.html", "<h1>green</h1>", "Green build")
	r.Push("dev")
	r.Status(green, "success")
	r.WaitAudit("staging", green, "promoted")
	if got := r.Head("staging"); got != green {
		t.Fatalf("staging = %s, want %s", got[:7], green[:7])
	}

	// Fixing the file turns the check green.
	fixed := r.Commit(".github/hoist.yml", goodYML+"# fixed\n", "Fix the configuration")
	r.Push("main")
	if run := r.ConfigRun(fixed); run.GetConclusion() != "success" {
		t.Fatalf("hoist/config on the fixed file: %s: %s", run.GetConclusion(), run.GetOutput().GetSummary())
	}
}

// Two required checks finishing one after the other: the second event's
// evaluation has the same arguments as the first, already completed one,
// and must run all the same.
func TestSecondCheckOfTheSameCommitStillPromotes(t *testing.T) {
	r := startRig(t, `version: 1
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: true, gates: { checks: ["ci / test", "ci / lint"] } }
`)
	sha := r.Commit("public/index.html", "<h1>two checks</h1>", "Needs two checks")
	r.Push("dev")
	post := func(name string) {
		_, _, err := r.Alice.Repositories.CreateStatus(context.Background(), "acme", "site", sha,
			&github.RepoStatus{State: github.String("success"), Context: github.String(name)})
		if err != nil {
			t.Fatal(err)
		}
	}
	post("ci / test")
	// Wait until the evaluation of the first status has finished.
	sitetest.Eventually(t, 10*time.Second, func() (bool, string) {
		var n int
		err := r.Srv.Store().QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'hoist_evaluate_promotion'
			AND state = 'completed' AND json_extract(args, '$.trigger') = 'event' AND json_extract(args, '$.actor') = 'alice'`).Scan(&n)
		return err == nil && n > 0, fmt.Sprintf("no completed evaluation of the first status (%v)", err)
	})
	post("ci / lint")
	r.WaitAudit("staging", sha, "promoted")
}
