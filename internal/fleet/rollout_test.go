package fleet_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/fleet"
	"github.com/hoist-dev/hoist/internal/fleet/rollout"
	"github.com/hoist-dev/hoist/internal/sitetest"
	"github.com/hoist-dev/hoist/internal/testenv"
)

// TestRolloutEndToEnd brings a release to three instances through hoist
// as `hoist serve` assembles it: instances launched through the API, a
// push to the release branch, and every stage upgraded through its real
// gates (the smoke test in Chromium, the deploy to the bucket). The canary
// goes first and alone, then the two others in one wave; each branch moves
// once, each folder serves the new page with its own settings, and the
// hoist/fleet check run says so. A next release that breaks the page fails
// the canary's smoke test and stops there, deploying nothing.
func TestRolloutEndToEnd(t *testing.T) {
	w := startFleetSpec(t, rolloutSpec(rolloutYML("canaries: [alpha], wave: 2, max_failures: 0%")))
	names := []string{"alpha", "beta", "gamma"}
	w.launchAll(names...)

	start := time.Now()
	puts0, _, _ := w.writes.Snapshot()
	release := w.Commit("public/index.html", rolloutPage("Release 2"), "Release 2")
	w.Push("main")
	run := w.fleetRun(release, "success")
	t.Logf("push of the release to hoist/fleet success for %d instances: %.1fs", len(names), time.Since(start).Seconds())

	if got := run.GetOutput().GetTitle(); got != "3 of 3 upgraded, 0 failed" {
		t.Errorf("check run title %q", got)
	}
	for _, n := range names {
		if row := "| " + n + " | prod | upgraded |"; !strings.Contains(run.GetOutput().GetSummary(), row) {
			t.Errorf("check run summary lacks %q:\n%s", row, run.GetOutput().GetSummary())
		}
	}
	r, insts := w.rolloutOf(release, rollout.RolloutFinished)
	if r.Spec.WaveSize != 2 || r.Spec.MaxFailureShare != 0 || len(r.Spec.Canaries) != 1 {
		t.Errorf("rollout plan %+v, want the template's", r.Spec)
	}
	for _, n := range names {
		if i := insts[n]; i.State != rollout.StateUpgraded || i.Stage != rollout.StageProd {
			t.Errorf("%s: %+v, want upgraded", n, i)
		}
	}
	if insts["alpha"].Wave != 0 || insts["beta"].Wave != 1 || insts["gamma"].Wave != 1 {
		t.Errorf("waves: alpha %d, beta %d, gamma %d; want the canary alone in wave 0", insts["alpha"].Wave, insts["beta"].Wave, insts["gamma"].Wave)
	}
	moves := w.refMoves(release)
	// The canary's production stage moved before any other instance's
	// staging: the next wave waited for it.
	for _, n := range []string{"beta", "gamma"} {
		if len(moves["alpha"]) == 0 || len(moves["dev-"+n]) == 0 || moves["dev-"+n][0] < moves["alpha"][0] {
			t.Errorf("dev-%s moved (push %v) before the canary's production (push %v)", n, moves["dev-"+n], moves["alpha"])
		}
	}
	w.upgradedOnce(names, release, moves, puts0)
	w.rolloutDeployments(release, map[string]string{"dev-alpha": "success", "alpha": "success",
		"dev-beta": "success", "beta": "success", "dev-gamma": "success", "gamma": "success"})

	// A release whose page loses what the smoke test expects fails the
	// canary's staging stage in Chromium; with no failure allowed the
	// rollout stops there: nothing is deployed, no other branch moves.
	broken := w.Commit("public/index.html", strings.ReplaceAll(rolloutPage("Release 3"), "Shop", "Oops"), "Release 3")
	w.Push("main")
	stopped := w.fleetRun(broken, "failure")
	if got := stopped.GetOutput().GetTitle(); got != "Rollout stopped: 1 failed, 0 upgraded, 2 not started" {
		t.Errorf("check run title %q", got)
	}
	_, insts = w.rolloutOf(broken, rollout.RolloutStopped)
	if a := insts["alpha"]; a.State != rollout.StateFailed || a.Stage != rollout.StageDev || !strings.Contains(a.Reason, "smoke test failed") {
		t.Errorf("alpha: %+v, want failed at dev on its smoke test", a)
	}
	heads := map[string]string{"dev-alpha": broken, "alpha": release, "dev-beta": release, "beta": release, "dev-gamma": release, "gamma": release}
	for b, want := range heads {
		if got := w.Head(b); got != want {
			t.Errorf("after the broken release %s is at %s, want %s", b, got, want)
		}
	}
	origin := "http://" + sitetest.BucketOrigin(t, w.bucket, "fleet", "acme/site/dev-alpha/")
	if page := get(t, origin+"/"); !strings.Contains(page, "Release 2") {
		t.Errorf("dev-alpha serves %q after its smoke test failed, want release 2 still", page)
	}
	// The failed stage's deployment says why; the stages the rollout never
	// reached have no deployment of the broken release.
	w.rolloutDeployments(broken, map[string]string{"dev-alpha": "failure: dev-alpha: smoke test failed", "alpha": "",
		"dev-beta": "", "beta": "", "dev-gamma": "", "gamma": ""})
}

// TestRolloutResumesAfterARestart stops hoist in the middle of a rollout
// (one instance upgraded, the next one's staging branch moved and its
// gates not yet decided) and starts it again on
// the same PostgreSQL database: the rollout finishes, and no instance is
// upgraded twice (each branch moved once, each page uploaded once).
func TestRolloutResumesAfterARestart(t *testing.T) {
	spec := rolloutSpec(rolloutYML("wave: 1, max_failures: 0%"))
	spec.env = map[string]string{"HOIST_DATABASE_URL": testenv.Postgres(t)}
	spec.tweaks = []func(*serverconfig.Server){func(cfg *serverconfig.Server) { cfg.Jobs.ShutdownGrace = 200 * time.Millisecond }}
	w := startFleetSpec(t, spec)
	names := []string{"alpha", "beta", "gamma"}
	w.launchAll(names...)

	puts0, _, _ := w.writes.Snapshot()
	release := w.Commit("public/index.html", rolloutPage("Release 2"), "Release 2")
	w.Push("main")
	// Stop once the first instance is upgraded and the second is in its
	// gates: its staging branch moved, its outcome not yet recorded.
	var seen string
	w.until(60*time.Second, func() (bool, string) {
		r, err := w.Caps.Rollouts.Find(context.Background(), "acme/site", release)
		if err != nil {
			return false, err.Error()
		}
		_, insts, err := w.Caps.Rollouts.Rollout(context.Background(), r.ID)
		if err != nil {
			return false, err.Error()
		}
		upgraded, gating := 0, 0
		moves := w.refMoves(release)
		var states []string
		for _, i := range insts {
			states = append(states, fmt.Sprintf("%s:%s/%s", i.Name, i.Stage, i.State))
			switch {
			case i.State == rollout.StateUpgraded:
				upgraded++
			case i.State == rollout.StateRunning && i.Stage == rollout.StageDev && len(moves["dev-"+i.Name]) > 0:
				gating++
			}
		}
		seen = strings.Join(states, " ")
		return upgraded >= 1 && gating >= 1, "rollout at " + seen
	})
	w.StopHoist()
	t.Logf("stopped hoist with the rollout at %s", seen)
	w.StartHoist(nil)

	run := w.fleetRun(release, "success")
	if got := run.GetOutput().GetTitle(); got != "3 of 3 upgraded, 0 failed" {
		t.Errorf("check run title %q", got)
	}
	// The resumed pass may ask GitHub again to move a branch it had moved
	// (a no-op); what counts is that each moved once.
	patches := map[string]int{}
	for _, r := range w.GH.RequestLog() {
		if b, ok := strings.CutPrefix(r.Path, "/repos/acme/site/git/refs/heads/"); ok && r.Method == "PATCH" {
			patches[b]++
		}
	}
	t.Logf("ref update requests by branch: %v", patches)
	w.upgradedOnce(names, release, w.refMoves(release), puts0)
	// The stage in its gates when hoist stopped had its deployment made
	// already: the resumed pass found it rather than making another.
	want := map[string]string{}
	for _, n := range names {
		want["dev-"+n], want[n] = "success", "success"
	}
	w.rolloutDeployments(release, want)
}

// rolloutDeployments checks the GitHub deployments of sha that rollouts
// made, by environment: want maps an environment to the final state of
// its one deployment ("success", or "failure: " and the start of the
// reason), or to "" for none at all.
func (w *world) rolloutDeployments(sha string, want map[string]string) {
	w.T.Helper()
	ctx := context.Background()
	for env, state := range want {
		deps, _, err := w.Alice.Repositories.ListDeployments(ctx, "acme", "site", &github.DeploymentsListOptions{Environment: env, SHA: sha})
		if err != nil {
			w.T.Fatal(err)
		}
		var ours []*github.Deployment
		for _, d := range deps {
			if strings.Contains(string(d.Payload), fleet.RolloutDeployment) {
				ours = append(ours, d)
			}
		}
		if state == "" {
			if len(ours) != 0 {
				w.T.Errorf("%d rollout deployments of %s to %s, want none", len(ours), sha[:7], env)
			}
			continue
		}
		if len(ours) != 1 {
			w.T.Errorf("%d rollout deployments of %s to %s, want exactly one", len(ours), sha[:7], env)
			continue
		}
		d := ours[0]
		stage := `"stage":"production"`
		if strings.HasPrefix(env, "dev-") {
			stage = `"stage":"staging"`
		}
		if !strings.Contains(string(d.Payload), stage) {
			w.T.Errorf("deployment to %s: payload %s, want %s", env, d.Payload, stage)
		}
		sts, _, err := w.Alice.Repositories.ListDeploymentStatuses(ctx, "acme", "site", d.GetID(), nil)
		if err != nil {
			w.T.Fatal(err)
		}
		var seen []string
		for i := len(sts) - 1; i >= 0; i-- {
			seen = append(seen, sts[i].GetState())
		}
		if len(sts) < 2 || sts[len(sts)-1].GetState() != "in_progress" {
			w.T.Errorf("deployment to %s: statuses %v (oldest first), want in_progress first", env, seen)
			continue
		}
		last := sts[0]
		wantState, reason, _ := strings.Cut(state, ": ")
		if last.GetState() != wantState {
			w.T.Errorf("deployment to %s: statuses %v (oldest first), want %s last", env, seen, wantState)
			continue
		}
		host := strings.Replace(env, "dev-", "stg-", 1) + ".example.com"
		switch wantState {
		case "success":
			if got := last.GetEnvironmentURL(); got != "https://"+host+"/" {
				w.T.Errorf("deployment to %s: success with URL %q, want the stage's https://%s/", env, got, host)
			}
		case "failure":
			if !strings.HasPrefix(last.GetDescription(), reason) {
				w.T.Errorf("deployment to %s: failure %q, want the reason %q", env, last.GetDescription(), reason)
			}
		}
	}
}

// upgradedOnce checks that every instance is at release once: each of its
// branches moved there once, each folder's page uploaded once since puts0,
// and each folder serves the release's page with the instance's own
// settings.
func (w *world) upgradedOnce(names []string, release string, moves map[string][]int64, puts0 []string) {
	w.T.Helper()
	puts, _, _ := w.writes.Snapshot()
	uploaded := map[string]int{}
	for _, k := range testenv.SiteObjects(puts[len(puts0):]) {
		uploaded[k]++
	}
	for _, n := range names {
		for _, b := range []string{"dev-" + n, n} {
			if got := w.Head(b); got != release {
				w.T.Errorf("branch %s at %s, want the release %s", b, got, release)
			}
			if len(moves[b]) != 1 {
				w.T.Errorf("branch %s moved to the release %d times, want once", b, len(moves[b]))
			}
			if k := "fleet/acme/site/" + b + "/index.html"; uploaded[k] != 1 {
				w.T.Errorf("%s uploaded %d times by the rollout, want once", k, uploaded[k])
			}
			origin := "http://" + sitetest.BucketOrigin(w.T, w.bucket, "fleet", "acme/site/"+b+"/")
			if page := get(w.T, origin+"/"); !strings.Contains(page, "Release 2") {
				w.T.Errorf("%s/ serves %q, want the release", b, page)
			}
			if s := get(w.T, origin+"/hoist-settings.json"); !strings.Contains(s, colourOf(n)) {
				w.T.Errorf("%s/hoist-settings.json = %q, want colour %s", b, s, colourOf(n))
			}
		}
	}
	var keys []string
	for k, c := range uploaded {
		if c > 1 {
			keys = append(keys, fmt.Sprintf("%s ×%d", k, c))
		}
	}
	sort.Strings(keys)
	if len(keys) > 0 {
		w.T.Errorf("objects uploaded more than once: %v", keys)
	}
}
