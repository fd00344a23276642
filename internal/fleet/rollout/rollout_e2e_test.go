package rollout_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/internal/fleet/rollout"
	"github.com/hoist-dev/hoist/internal/sitetest"
)

// brokenSettings have no theme: the page's script fails on them, and so
// does the instance's smoke test.
func brokenSettings(name string) string { return fmt.Sprintf(`{"name":%q}`, name) }

// A release rolls out to 20 instances: the canary first, then waves of
// five. One instance's smoke test fails on its settings: 19 are upgraded,
// it is listed with the reason, its production branch stays where it was.
// A reader's /upgrade retry is refused; after the fix, a writer's retry
// upgrades it. A second release that breaks more instances than the share
// allows stops after the wave where it happened, leaving the later waves
// untouched, and the Retry failed button resumes it.
func TestReleaseRollsOutInWaves(t *testing.T) {
	w := startFleet(t, 20, false, rollout.Fleet{Canaries: []string{"c01"}, WaveSize: 5, MaxFailureShare: 0.1})
	ctx := context.Background()
	before := w.heads()
	w.gates.setSettings("c07", brokenSettings("c07"))
	sha := w.release("v1")
	pr, _, err := w.Alice.PullRequests.Create(ctx, "acme", "site", &github.NewPullRequest{
		Title: github.String("Release v1"), Head: github.String("release"), Base: github.String("main")})
	if err != nil {
		t.Fatal(err)
	}

	r, insts := w.rolloutOf(sha, rollout.RolloutFinished)
	upgraded := 0
	for _, i := range insts {
		if i.State == rollout.StateUpgraded {
			upgraded++
		}
	}
	c07 := insts["c07"]
	if upgraded != 19 || c07.State != rollout.StateFailed || c07.Stage != rollout.StageDev ||
		!strings.Contains(c07.Reason, "dev-c07: smoke:") || !strings.Contains(c07.Reason, "colour") {
		t.Fatalf("%d upgraded, c07 %+v; want 19 and c07 failed at dev on its smoke test", upgraded, c07)
	}
	heads := w.heads()
	for _, n := range w.instances {
		wantProd := sha
		if n == "c07" {
			wantProd = before["c07"]
		}
		if heads["dev-"+n] != sha || heads[n] != wantProd {
			t.Errorf("%s: dev at %s, prod at %s; want %s and %s", n, heads["dev-"+n], heads[n], sha, wantProd)
		}
	}
	// Waves: the canary alone first, then never more than a wave at once,
	// and each stage checked once.
	checks := w.gates.checksOf(sha)
	if len(checks) != 39 {
		t.Errorf("%d stage checks, want 39 (two for each upgraded instance, one for c07)", len(checks))
	}
	seen := map[string]bool{}
	for _, c := range checks {
		key := c.Instance + "/" + string(c.Stage)
		if seen[key] {
			t.Errorf("%s checked twice", key)
		}
		seen[key] = true
		if c.Instance != "c01" && !c.At.After(checksAt(checks, "c01", rollout.StageProd)) {
			t.Errorf("%s was checked before the canary passed", key)
		}
	}
	if w.gates.peak > 5 {
		t.Errorf("%d instances were checked at once, more than a wave of 5", w.gates.peak)
	}
	run := w.fleetRun(sha, "failure")
	sum := run.GetOutput().GetSummary()
	for _, want := range []string{"| Instance | Stage | State | Link | Screenshot |", `| c07 | dev | failed\: dev\-c07\: smoke\: console\_error`, "| c12 | prod | upgraded |", "`/upgrade retry`"} {
		if !strings.Contains(sum, want) {
			t.Errorf("check run summary lacks %q:\n%s", want, sum)
		}
	}
	if strings.Index(sum, "| c07 |") > strings.Index(sum, "| c01 |") {
		t.Error("the failed instance is not listed first")
	}
	if got := run.GetOutput().GetTitle(); got != "19 of 20 upgraded, 1 failed" {
		t.Errorf("title %q", got)
	}

	// A reader may not retry; nothing moves.
	rita := w.person("rita", "pull")
	bob := w.person("bob", "push")
	refused := w.say(rita, pr.GetNumber(), "/upgrade retry c07")
	if body := w.answered(pr.GetNumber(), refused); !strings.Contains(body, "**write**") {
		t.Fatalf("reply to rita's retry: %s", body)
	}
	if _, insts := w.rolloutOf(sha, rollout.RolloutFinished); insts["c07"].State != rollout.StateFailed || insts["c07"].Attempt != 0 {
		t.Fatalf("c07 after a refused retry: %+v", insts["c07"])
	}

	// Fixed, a writer's retry upgrades it, in a new check run.
	w.gates.setSettings("c07", `{"name":"c07","theme":{"colour":"plum"}}`)
	ok := w.say(bob, pr.GetNumber(), "/upgrade retry c07")
	if body := w.answered(pr.GetNumber(), ok); !strings.Contains(body, "Upgrading c07 again") {
		t.Fatalf("reply to bob's retry: %s", body)
	}
	sitetest.Eventually(t, 2*time.Minute, func() (bool, string) {
		_, insts := w.rolloutOf(sha, rollout.RolloutFinished)
		return insts["c07"].State == rollout.StateUpgraded, fmt.Sprintf("c07 is %s", insts["c07"].State)
	})
	if h := w.heads(); h["c07"] != sha {
		t.Fatalf("c07 is at %s after the retry, want %s", h["c07"], sha)
	}
	if run2 := w.fleetRun(sha, "success"); run2.GetID() == run.GetID() || run2.GetOutput().GetTitle() != "20 of 20 upgraded, 0 failed" {
		t.Fatalf("check run after the retry: %d %q", run2.GetID(), run2.GetOutput().GetTitle())
	}
	_ = r

	// Release 2 breaks three instances of the first wave after the
	// canary (c02…c06): more than 10% of 20, so the rollout stops there.
	for _, n := range []string{"c03", "c04", "c05"} {
		w.gates.setSettings(n, brokenSettings(n))
	}
	sha2 := w.release("v2")
	_, insts = w.rolloutOf(sha2, rollout.RolloutStopped)
	count := map[rollout.State][]string{}
	for _, i := range insts {
		count[i.State] = append(count[i.State], i.Name)
	}
	slices.Sort(count[rollout.StateFailed])
	if !slices.Equal(count[rollout.StateFailed], []string{"c03", "c04", "c05"}) || len(count[rollout.StateUpgraded]) != 3 || len(count[rollout.StateSkipped]) != 14 {
		t.Fatalf("stopped rollout: %v", count)
	}
	heads = w.heads()
	for _, n := range count[rollout.StateSkipped] {
		if heads["dev-"+n] != sha || heads[n] != sha {
			t.Errorf("skipped %s moved: dev %s prod %s, want both still at %s", n, heads["dev-"+n], heads[n], sha)
		}
	}
	stopped := w.fleetRun(sha2, "failure")
	if !strings.HasPrefix(stopped.GetOutput().GetTitle(), "Rollout stopped: 3 failed") || !strings.Contains(stopped.GetOutput().GetSummary(), `more than the 10% allowed \(2\)`) {
		t.Fatalf("stopped check run: %q\n%s", stopped.GetOutput().GetTitle(), stopped.GetOutput().GetSummary())
	}

	// Fixed, the Retry failed button resumes the rollout to the end.
	for _, n := range []string{"c03", "c04", "c05"} {
		w.gates.setSettings(n, fmt.Sprintf(`{"name":%q,"theme":{"colour":"navy"}}`, n))
	}
	resp, err := http.Post(w.GH.URL()+fmt.Sprintf("/_emulator/check-runs/%d/request-action", stopped.GetID()), "application/json",
		strings.NewReader(`{"identifier":"`+rollout.RetryAction.Identifier+`","user":"alice"}`))
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("alice clicks Retry failed: %v %v", resp, err)
	}
	_, insts = w.rolloutOf(sha2, rollout.RolloutFinished)
	for _, i := range insts {
		if i.State != rollout.StateUpgraded {
			t.Errorf("%s is %s (%s) after Retry failed", i.Name, i.State, i.Reason)
		}
	}
	w.fleetRun(sha2, "success")
}

func checksAt(cs []check, instance string, stage rollout.Stage) time.Time {
	for _, c := range cs {
		if c.Instance == instance && c.Stage == stage {
			return c.At
		}
	}
	return time.Time{}
}
