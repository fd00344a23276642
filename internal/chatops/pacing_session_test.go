package chatops_test

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/sitetest"
	"github.com/hoist-dev/hoist/internal/store"
	"github.com/hoist-dev/hoist/internal/testenv"
)

const sessionYML = `version: 1
site: { root: public }
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: false, deploy: { url: "https://staging.example.com/" },
             gates: { checks: ["ci / test"] } }
  production: { branch: prod, promote_from: staging, auto: true, permission: maintain,
                gates: { checks: ["ci / test"], smoke: true } }
smoke:
  pages: [ { path: /, expect_text: "Shop" } ]
`

// patient wraps a test-side client in hoist's own rate-limit middleware,
// so that the people of the test ride out the injected secondary limits
// as hoist must.
func patient(c *github.Client) *github.Client {
	rl := gh.RateLimit(gh.RateLimitOptions{Logger: zerolog.Nop(), SecondaryWait: 20 * time.Millisecond, MaxRetries: 20,
		Pace: gh.PaceOptions{Interval: time.Millisecond, PerWindow: 1 << 20}})
	p := github.NewClient(&http.Client{Transport: rl(c.Client().Transport)})
	p.BaseURL, p.UploadURL = c.BaseURL, c.UploadURL
	return p
}

// A session with the emulator answering a tenth of the writes with a
// secondary limit without Retry-After, and slow answers: a promotion by
// command and the automatic one after it behind a smoke check run in
// Chromium, a pull-request update and thirty slash-commands all complete, nothing is posted or promoted twice, and
// the emulator's log shows hoist's writes one at a time, within the token
// bucket (a burst of 20, then one per write_interval), under the cap.
func TestPacedSessionUnderSecondaryLimits(t *testing.T) {
	const (
		interval = 50 * time.Millisecond
		burst    = 20
		// The default proportions (1s, 80 a minute: a burst of 20) at a
		// twentieth of the interval.
		perMinute = int(time.Minute/interval) + burst
	)
	w := startCommandsSpec(t, sitetest.SiteSpec{
		ServerYAML: fmt.Sprintf("github: { write_interval: %s, writes_per_minute: %d, secondary_wait: 100ms }\n", interval, perMinute),
		Env:        map[string]string{"HOIST_CHROMIUM": testenv.Chromium(t)},
		Files:      map[string]string{"public/index.html": `<!doctype html><title>Shop</title><h1>Shop</h1><p>Welcome to the shop.</p>`},
	})
	// commandsYML, with production behind the smoke gate as well.
	w.Commit(".github/hoist.yml", sessionYML, "Smoke-test production")
	w.Git(w.Work, "push", "-q", "origin", "HEAD:main")
	ctx := context.Background()
	bob := patient(w.bob)
	sha := w.greenOnDev("v2")
	w.WaitAudit("staging", sha, "ready")
	start := time.Now()

	w.GH.SetFaults(emulator.Faults{Seed: 13, Routes: []emulator.RouteFault{
		{Path: "/repos/*", Writes: true, SecondaryRateLimitNoRetryRate: 0.1},
		{Path: "/repos/*", LatencyMS: 10},
	}})
	promote := w.say(bob, "/promote staging")
	// The pull request is brought up to date while the command runs.
	w.Git(w.Work, "checkout", "-q", "-b", "feature-2", "origin/feature")
	w.Commit("public/feature.html", "feature, updated", "Update the feature")
	w.Git(w.Work, "push", "-q", "origin", "HEAD:feature")
	updated := w.Head("feature")
	var comments []int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			body := "/status"
			if i%3 == 1 {
				body = "/hoist help"
			}
			c, _, err := bob.Issues.CreateComment(ctx, "acme", "site", w.pr, &github.IssueComment{Body: github.String(body)})
			if err != nil {
				t.Errorf("comment %d: %v", i, err)
				return
			}
			mu.Lock()
			comments = append(comments, c.GetID())
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	// Every command answered; a busy machine gets more than answered's
	// 30 s per comment.
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		done := 0
		for _, c := range append([]int64{promote}, comments...) {
			if run, err := w.Srv.Store().CommandRun(ctx, c, 1); err == nil && run.Status == store.CommandDone {
				done++
			}
		}
		if done == len(comments)+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d commands answered", done, len(comments)+1)
		}
	}
	reply := w.answered(promote, 1)
	if got := w.Head("staging"); got != sha {
		t.Fatalf("staging = %s after /promote, want %s; reply:\n%s", got, sha, reply)
	}
	w.WaitAudit("staging", sha, "promoted")
	w.WaitAudit("production", sha, "promoted")
	smoke := w.WaitSmoke(sha, 1)
	if len(smoke) != 1 || smoke[0].GetConclusion() != "success" {
		t.Fatalf("%d smoke check runs on %s (want 1), first %s %q", len(smoke), sha[:7], smoke[0].GetConclusion(), smoke[0].GetOutput().GetTitle())
	}
	sitetest.Eventually(t, 30*time.Second, func() (bool, string) {
		pr, _, err := w.Alice.PullRequests.Get(ctx, "acme", "site", w.pr)
		return err == nil && pr.GetHead().GetSHA() == updated, "the pull request's head is not the update"
	})
	w.commandJobsDone()
	w.GH.SetFaults(emulator.Faults{})
	elapsed := time.Since(start)

	// Nothing twice: one reply per command, one promotion per environment.
	if n := len(w.replies()); n != 31 {
		t.Errorf("%d replies to 31 commands", n)
	}
	entries, err := w.Srv.Store().AuditLog(ctx, "acme/site", 500)
	if err != nil {
		t.Fatal(err)
	}
	promotions := map[string]int{}
	for _, e := range entries {
		if e.Action == "promote" && e.Outcome == "promoted" {
			promotions[e.Env]++
		}
	}
	if promotions["staging"] != 1 || promotions["production"] != 1 {
		t.Errorf("promotions %v, want one of staging and one of production", promotions)
	}
	deps, _, err := w.Alice.Repositories.ListDeployments(ctx, "acme", "site", &github.DeploymentsListOptions{SHA: sha, ListOptions: github.ListOptions{PerPage: 100}})
	if err != nil {
		t.Fatal(err)
	}
	byEnv := map[string]int{}
	for _, d := range deps {
		byEnv[d.GetEnvironment()]++
	}
	for env, n := range byEnv {
		if n != 1 {
			t.Errorf("%d deployments of %s to %s, want 1", n, sha[:7], env)
		}
	}

	// The pacing, from the emulator's side.
	var writes []emulator.LoggedRequest
	refused := 0
	for _, r := range w.GH.RequestLog() {
		if r.Installation != w.InstallationID || r.Method == http.MethodGet || r.Method == http.MethodHead || r.At.Before(start) {
			continue
		}
		writes = append(writes, r)
		if r.Status == http.StatusForbidden {
			refused++
		}
	}
	sort.Slice(writes, func(i, j int) bool { return writes[i].At.Before(writes[j].At) })
	t.Logf("%d writes of the installation in %s, %d refused by the injected secondary limit", len(writes), elapsed.Round(time.Millisecond), refused)
	if refused == 0 || len(writes) < 60 {
		t.Fatalf("%d writes, %d refused: the session did not exercise the pacing", len(writes), refused)
	}
	// slack covers the time between the client's clock reading and the
	// request's arrival.
	const slack = 10 * time.Millisecond
	for i := 1; i < len(writes); i++ {
		if writes[i].At.Before(writes[i-1].Done.Add(-slack)) {
			t.Errorf("write %s %s arrived before the previous write %s %s was answered: not one at a time",
				writes[i].Method, writes[i].Path, writes[i-1].Method, writes[i-1].Path)
		}
	}
	for i := range writes {
		for j := i + 1; j < len(writes); j++ {
			span := writes[j].At.Sub(writes[i].At)
			if allowed := burst + int((span+slack)/interval); j-i+1 > allowed {
				t.Fatalf("writes %d..%d: %d within %s, want at most %d (a burst of %d, then one per %s)", i, j, j-i+1, span, allowed, burst, interval)
			}
			if span < time.Minute && j-i+1 > perMinute {
				t.Fatalf("%d writes within a minute, want at most %d", j-i+1, perMinute)
			}
		}
	}
}
