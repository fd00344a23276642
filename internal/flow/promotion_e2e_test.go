package flow_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/emulator/emulatortest"
	"github.com/hoist-dev/hoist/internal/flow"
	"github.com/hoist-dev/hoist/internal/pipeline"
	"github.com/hoist-dev/hoist/internal/server"
	"github.com/hoist-dev/hoist/internal/testenv"
)

// rig is the world of flow_test.go with a configuration of the test's
// choosing and a hoist server that can be stopped and started again on the
// same data folder and address, as an operator restarts it.
type rig struct {
	*world
	token string // alice's
	addr  string
	cfg   *config.Server
	inst  int64 // hoist's installation
	stop  func()
}

func startRig(t *testing.T, hoistYML string) *rig {
	t.Helper()
	return startRigOn(t, hoistYML, "")
}

// startRigOn is startRig with hoist's database at databaseURL (empty:
// SQLite in the data folder); tweaks change the server configuration.
func startRigOn(t *testing.T, hoistYML, databaseURL string, tweaks ...func(*config.Server)) *rig {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	gh := emulatortest.Start(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	hoistURL := "http://" + addr
	app := gh.CreateApp("hoist", hoistURL+server.WebhookPath)
	aliceToken := gh.CreateUser("alice")
	gh.CreateRepo("acme", "site", aliceToken)
	inst := gh.Install(app.ID, "acme/site")

	dir := t.TempDir()
	env := map[string]string{
		"HOIST_ADDR": addr, "HOIST_PUBLIC_URL": hoistURL, "HOIST_DATA_DIR": filepath.Join(dir, "data"),
		"HOIST_APP_ID": strconv.FormatInt(app.ID, 10), "HOIST_PRIVATE_KEY": string(app.PrivateKeyPEM),
		"HOIST_WEBHOOK_SECRET": app.WebhookSecret, "HOIST_GITHUB_URL": gh.URL() + "/", "HOIST_LOG_LEVEL": "warn",
	}
	if databaseURL != "" {
		env["HOIST_DATABASE_URL"] = databaseURL
	}
	cfg, err := config.LoadServer("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Jobs.PollInterval = 50 * time.Millisecond
	for _, tweak := range tweaks {
		tweak(cfg)
	}
	alice := gh.Client(aliceToken)
	r := &rig{world: &world{t: t, gh: gh, alice: alice, work: filepath.Join(dir, "work")}, token: aliceToken, addr: addr, cfg: cfg, inst: inst}
	r.startHoist(ln)
	t.Cleanup(func() { r.stopHoist() })

	r.git("", "clone", "-q", gh.GitURL("acme/site", aliceToken), r.work)
	r.git(r.work, "config", "user.email", "alice@example.com")
	r.git(r.work, "config", "user.name", "Alice")
	r.commit(".github/hoist.yml", hoistYML, "Configure hoist")
	// One push for the three branches: with a gateless staging, a push of
	// dev alone would have hoist create staging before the test does.
	r.git(r.work, "push", "-q", "--atomic", "origin", "HEAD:main", "HEAD:dev", "HEAD:staging")
	return r
}

// startHoist runs a hoist server on ln (or a new listener on the rig's
// address) with a fresh flow.Service.
func (r *rig) startHoist(ln net.Listener) {
	t := r.t
	t.Helper()
	if ln == nil {
		var err error
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if ln, err = net.Listen("tcp", r.addr); err == nil || time.Now().After(deadline) {
				break
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	opts := server.Options{Logger: &log, Listener: ln}
	promotions := flow.New()
	promotions.Attach(&opts)
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, r.cfg, opts)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	promotions.Start(srv)
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	r.srv = srv
	r.stop = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("hoist did not stop")
		}
	}
}

func (r *rig) stopHoist() {
	if r.stop != nil {
		r.stop()
		r.stop = nil
	}
}

// eventually polls cond until it holds, failing the test with its last
// explanation after timeout.
func eventually(t *testing.T, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	var why string
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var ok bool
		if ok, why = cond(); ok {
			return
		}
	}
	t.Fatalf("timed out: %s", why)
}

func (r *rig) push(branch string) { r.git(r.work, "push", "-q", "origin", "HEAD:"+branch) }

// openPulls lists the open pull requests head → base.
func (r *rig) openPulls(head, base string) []*github.PullRequest {
	r.t.Helper()
	prs, _, err := r.alice.PullRequests.List(context.Background(), "acme", "site",
		&github.PullRequestListOptions{State: "open", Head: "acme:" + head, Base: base})
	if err != nil {
		r.t.Fatal(err)
	}
	return prs
}

func (r *rig) auditCount(env, sha, outcome string) int {
	r.t.Helper()
	entries, err := r.srv.Store().AuditLog(context.Background(), "acme/site", 500)
	if err != nil {
		r.t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if e.Env == env && e.SHA == sha && e.Outcome == outcome {
			n++
		}
	}
	return n
}

func (r *rig) deployments(env, sha string) []*github.Deployment {
	r.t.Helper()
	deps, _, err := r.alice.Repositories.ListDeployments(context.Background(), "acme", "site",
		&github.DeploymentsListOptions{Environment: env, SHA: sha})
	if err != nil {
		r.t.Fatal(err)
	}
	return deps
}

const manualProductionYML = `version: 1
environments:
  dev:        { branch: dev }
  staging:    { branch: staging, promote_from: dev, auto: true, gates: { checks: ["ci / test"] } }
  production: { branch: main, promote_from: staging, auto: false, gates: { approvals: 1 } }
`

func TestManualProductionKeepsOnePromotionPullRequestAndItsMergeMovesMain(t *testing.T) {
	r := startRig(t, manualProductionYML)
	ctx := context.Background()
	mainBefore := r.head("main")

	c1 := r.commit("public/index.html", "<h1>one</h1>", "First feature")
	r.push("dev")
	r.status(c1, "success")
	r.waitAudit("staging", c1, "promoted")

	// staging moved (by hoist): production is promoted by a person, so
	// hoist opens the promotion pull request staging → main.
	var pr *github.PullRequest
	eventually(t, 20*time.Second, func() (bool, string) {
		prs := r.openPulls("staging", "main")
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
	if deps := r.deployments("staging", c1); len(deps) != 1 {
		entries, _ := r.srv.Store().AuditLog(context.Background(), "acme/site", 50)
		t.Errorf("deployments of staging at %s: %d, want 1; audit %+v", c1[:7], len(deps), entries)
	}

	// Another push to the source: the same pull request, brought up to date.
	c2 := r.commit("public/about.html", "<h1>about</h1>", "Second feature")
	r.push("dev")
	r.status(c2, "success")
	r.waitAudit("staging", c2, "promoted")
	eventually(t, 20*time.Second, func() (bool, string) {
		prs := r.openPulls("staging", "main")
		if len(prs) != 1 || prs[0].GetNumber() != pr.GetNumber() {
			return false, fmt.Sprintf("open pull requests staging → main: %d, want #%d alone", len(prs), pr.GetNumber())
		}
		body := prs[0].GetBody()
		return strings.Contains(body, c2[:7]) && strings.Contains(body, "Second feature") && strings.Contains(body, "2 commits"),
			"pull request body not updated for " + c2[:7] + ":\n" + body
	})

	// An approval passes the approvals gate: the pull request says ready.
	_, _, err := r.alice.PullRequests.CreateReview(ctx, "acme", "site", pr.GetNumber(),
		&github.PullRequestReviewRequest{Event: github.String("APPROVE"), CommitID: github.String(c2)})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() (bool, string) {
		got, _, err := r.alice.PullRequests.Get(ctx, "acme", "site", pr.GetNumber())
		if err != nil {
			return false, err.Error()
		}
		return strings.Contains(got.GetBody(), "**Ready**") && strings.Contains(got.GetBody(), `1 of 1 \(alice\)`),
			"pull request not ready after the approval:\n" + got.GetBody()
	})
	if r.head("main") != mainBefore {
		t.Fatal("main moved without a person: production is auto: false")
	}

	// A person's edit of the description is overwritten with the state.
	if _, _, err := r.alice.PullRequests.Edit(ctx, "acme", "site", pr.GetNumber(), &github.PullRequest{Body: github.String("ship it!")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() (bool, string) {
		got, _, err := r.alice.PullRequests.Get(ctx, "acme", "site", pr.GetNumber())
		if err != nil {
			return false, err.Error()
		}
		return strings.Contains(got.GetBody(), "**Ready**"), "description not restored:\n" + got.GetBody()
	})

	// A person merges it: that is the promotion.
	res, _, err := r.alice.PullRequests.Merge(ctx, "acme", "site", pr.GetNumber(), "", &github.PullRequestOptions{MergeMethod: "merge"})
	if err != nil || !res.GetMerged() {
		t.Fatalf("merge: %v %+v", err, res)
	}
	merged := res.GetSHA()
	if got := r.head("main"); got != merged {
		t.Fatalf("main = %s, want the merge %s", got, merged)
	}
	r.git(r.work, "fetch", "-q", "origin")
	r.git(r.work, "merge-base", "--is-ancestor", c2, "origin/main")
	r.git(r.work, "merge-base", "--is-ancestor", mainBefore, "origin/main")
	// hoist records the merge as the promotion, publishes main once as a
	// merge, and opens no new pull request: production is up to date.
	r.waitAudit("production", merged, "merged")
	r.waitAudit("production", merged, "merge")
	eventually(t, 10*time.Second, func() (bool, string) {
		deps := r.deployments("production", merged)
		return len(deps) == 1, fmt.Sprintf("%d deployments of production at the merge, want 1", len(deps))
	})
	time.Sleep(500 * time.Millisecond)
	if prs := r.openPulls("staging", "main"); len(prs) != 0 {
		t.Errorf("%d promotion pull requests open after the merge, want none", len(prs))
	}
	if deps := r.deployments("production", merged); len(deps) != 1 {
		t.Errorf("%d deployments of production at the merge, want 1", len(deps))
	}
}

// pushEvent is the part of a push payload the burst test reads.
type pushEvent struct {
	Ref    string `json:"ref"`
	Before string `json:"before"`
	After  string `json:"after"`
	Forced bool   `json:"forced"`
}

func TestBurstOfTwentyPushesEndsAtTheNewestHeadByFastForwards(t *testing.T) {
	r := startRig(t, `version: 1
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: true }
`)
	start := r.head("staging")
	var pushed []string
	for i := range 20 {
		pushed = append(pushed, r.commit("public/n.txt", strconv.Itoa(i), fmt.Sprintf("Change %d", i)))
		r.push("dev")
	}
	newest := pushed[len(pushed)-1]
	eventually(t, 60*time.Second, func() (bool, string) {
		got := r.head("staging")
		return got == newest, fmt.Sprintf("staging = %s, want the newest %s", got[:7], newest[:7])
	})
	// Let any evaluation still queued finish: none may move staging again.
	time.Sleep(time.Second)
	if got := r.head("staging"); got != newest {
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
	for _, d := range r.gh.Deliveries() {
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
		r.git(r.work, "merge-base", "--is-ancestor", ev.Before, ev.After)
	}
	if moves == 0 || prev != newest {
		t.Fatalf("%d staging updates seen, ending at %s, want the newest %s", moves, prev[:7], newest[:7])
	}
	t.Logf("20 pushes, %d promotions of staging", moves)
	// The pushes to dev were people's: dev's newest head is published once.
	eventually(t, 10*time.Second, func() (bool, string) {
		deps := r.deployments("dev", newest)
		return len(deps) == 1 && r.auditCount("dev", newest, "push") == 1,
			fmt.Sprintf("%d deployments of dev at the newest push, want 1", len(deps))
	})
	// No pushed commit is missing from staging's first-parent history.
	r.git(r.work, "fetch", "-q", "origin")
	history := r.git(r.work, "rev-list", "--first-parent", "origin/staging")
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

func webhooksTwice(t *testing.T, databaseURL string) {
	r := startRigOn(t, `version: 1
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: true, gates: { checks: ["ci / test"] } }
`, databaseURL)
	r.gh.SetFaults(emulator.Faults{WebhookDuplicateRate: 1})
	sha := r.commit("public/index.html", "<h1>twice</h1>", "Once only")
	r.push("dev")
	// Two success statuses (two deliveries), each sent twice with one
	// delivery id.
	r.status(sha, "success")
	r.status(sha, "success")
	r.waitAudit("staging", sha, "promoted")
	time.Sleep(1500 * time.Millisecond)
	if n := r.auditCount("staging", sha, "promoted"); n != 1 {
		t.Errorf("%d promotions of %s recorded, want 1", n, sha[:7])
	}
	if deps := r.deployments("staging", sha); len(deps) != 1 {
		t.Errorf("%d deployments of staging at %s, want 1", len(deps), sha[:7])
	}
	var dups int
	if err := r.srv.Store().QueryRow(context.Background(), `SELECT count(*) FROM deliveries WHERE duplicates > 0`).Scan(&dups); err != nil {
		t.Fatal(err)
	}
	if dups == 0 {
		t.Fatal("hoist saw no duplicated delivery; the test proves nothing")
	}
}

func TestSoakTimerSurvivesARestart(t *testing.T) {
	r := startRig(t, `version: 1
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: true, gates: { soak: 8s } }
`)
	before := r.head("staging")
	// Commit just after a second starts: commit times have whole seconds,
	// so this leaves hoist nearly the whole soak to be stopped in.
	now := time.Now()
	time.Sleep(time.Until(now.Truncate(time.Second).Add(time.Second + 20*time.Millisecond)))
	sha := r.commit("public/index.html", "<h1>soaked</h1>", "Let it soak")
	r.push("dev")
	committed, err := strconv.ParseInt(r.git(r.work, "log", "-1", "--format=%ct"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	// The soak is long enough for a loaded machine to evaluate the push
	// and store the timer well before it ends.
	soakEnds := time.Unix(committed, 0).Add(8 * time.Second)

	// The evaluation waits for the soak with a durable timer.
	eventually(t, time.Until(soakEnds)-time.Second, func() (bool, string) {
		var n int
		err := r.srv.Store().QueryRow(context.Background(),
			`SELECT count(*) FROM river_job WHERE kind = 'hoist_evaluate_promotion' AND state = 'scheduled'`).Scan(&n)
		return err == nil && n > 0, fmt.Sprintf("no scheduled re-evaluation (%v)", err)
	})
	r.stopHoist()
	if got := r.head("staging"); got != before {
		t.Fatalf("staging moved to %s before the soak ended (the machine was too slow to stop hoist in time)", got[:7])
	}
	// The soak ends while hoist is down; nothing else happens in the
	// repository, so only the stored timer can promote.
	time.Sleep(time.Until(soakEnds) + 300*time.Millisecond)
	r.startHoist(nil)
	r.waitAudit("staging", sha, "promoted")
	if got := r.head("staging"); got != sha {
		t.Fatalf("staging = %s, want %s", got[:7], sha[:7])
	}
	entries, err := r.srv.Store().AuditLog(context.Background(), "acme/site", 50)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Env == "staging" && e.SHA == sha && e.Outcome == "promoted" && e.At.Before(soakEnds) {
			t.Errorf("promoted at %s, before the soak ended at %s", e.At, soakEnds)
		}
	}
}

const goodYML = `version: 1
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: true, gates: { checks: ["ci / test"] } }
`

// brokenYML has one mistake, on line 4.
const brokenYML = `version: 1
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: sometimes, gates: { checks: ["ci / test"] } }
`

// configRun waits for the hoist/config check run on sha.
func (r *rig) configRun(sha string) *github.CheckRun {
	r.t.Helper()
	var run *github.CheckRun
	eventually(r.t, 20*time.Second, func() (bool, string) {
		res, _, err := r.alice.Checks.ListCheckRunsForRef(context.Background(), "acme", "site", sha,
			&github.ListCheckRunsOptions{CheckName: github.String(flow.ConfigCheckName)})
		if err != nil {
			return false, err.Error()
		}
		if len(res.CheckRuns) == 0 {
			return false, "no " + flow.ConfigCheckName + " check run on " + sha[:7]
		}
		run = res.CheckRuns[0]
		return run.GetStatus() == "completed", "check run " + run.GetStatus()
	})
	return run
}

func TestBrokenConfigFailsItsCheckAndTheLastGoodStaysInForce(t *testing.T) {
	r := startRig(t, goodYML)
	ctx := context.Background()
	good := r.head("main")
	if run := r.configRun(good); run.GetConclusion() != "success" {
		t.Fatalf("hoist/config on the good file: %s", run.GetConclusion())
	}

	// The mistake the test expects is the one LoadRepoConfig names.
	_, perr := config.LoadRepoConfig(config.RepoConfigPath, []byte(brokenYML))
	var errs config.RepoConfigErrors
	if !errors.As(perr, &errs) || len(errs) != 1 || errs[0].Line != 4 {
		t.Fatalf("the broken file should have one mistake on line 4: %v", perr)
	}
	want := errs[0]

	// On another branch (a pull request's), the mistake is reported before
	// the merge, and nothing changes in force.
	r.git(r.work, "checkout", "-q", "-b", "try")
	trial := r.commit(".github/hoist.yml", brokenYML+"# trial\n", "Try a change")
	r.push("try")
	r.git(r.work, "checkout", "-q", "-")
	if run := r.configRun(trial); run.GetConclusion() != "failure" || !strings.Contains(run.GetOutput().GetSummary(), "default branch") ||
		!strings.Contains(run.GetOutput().GetSummary(), fmt.Sprintf(":%d:%d", want.Line, want.Column)) {
		t.Errorf("hoist/config on a branch: %s: %s", run.GetConclusion(), run.GetOutput().GetSummary())
	}

	broken := r.commit(".github/hoist.yml", brokenYML, "Make staging sometimes automatic")
	r.push("main")
	run := r.configRun(broken)
	if run.GetConclusion() != "failure" {
		t.Fatalf("hoist/config on the broken file: %s", run.GetConclusion())
	}
	summary := run.GetOutput().GetSummary()
	for _, s := range []string{fmt.Sprintf("%s:%d:%d", want.File, want.Line, want.Column), "last good configuration stays in force", good[:7]} {
		if !strings.Contains(summary, s) {
			t.Errorf("summary lacks %q:\n%s", s, summary)
		}
	}
	anns, _, err := r.alice.Checks.ListCheckRunAnnotations(ctx, "acme", "site", run.GetID(), nil)
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
	red := r.commit("public/index.html", "<h1>red</h1>", "Red build")
	r.push("dev")
	r.status(red, "failure")
	r.waitAudit("staging", red, "refuse")
	green := r.commit("public/index.html", "<h1>green</h1>", "Green build")
	r.push("dev")
	r.status(green, "success")
	r.waitAudit("staging", green, "promoted")
	if got := r.head("staging"); got != green {
		t.Fatalf("staging = %s, want %s", got[:7], green[:7])
	}

	// Fixing the file turns the check green.
	fixed := r.commit(".github/hoist.yml", goodYML+"# fixed\n", "Fix the configuration")
	r.push("main")
	if run := r.configRun(fixed); run.GetConclusion() != "success" {
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
	sha := r.commit("public/index.html", "<h1>two checks</h1>", "Needs two checks")
	r.push("dev")
	post := func(name string) {
		_, _, err := r.alice.Repositories.CreateStatus(context.Background(), "acme", "site", sha,
			&github.RepoStatus{State: github.String("success"), Context: github.String(name)})
		if err != nil {
			t.Fatal(err)
		}
	}
	post("ci / test")
	// Wait until the evaluation of the first status has finished.
	eventually(t, 10*time.Second, func() (bool, string) {
		var n int
		err := r.srv.Store().QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'hoist_evaluate_promotion'
			AND state = 'completed' AND json_extract(args, '$.trigger') = 'event' AND json_extract(args, '$.actor') = 'alice'`).Scan(&n)
		return err == nil && n > 0, fmt.Sprintf("no completed evaluation of the first status (%v)", err)
	})
	post("ci / lint")
	r.waitAudit("staging", sha, "promoted")
}
