package fleet_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/internal/testenv"
)

// TestLaunchSurvivesKill9 runs the hoist binary as `hoist serve` on the
// fleet's configuration (SQLite, the emulator, versitygw, Chromium),
// launches an instance through the API and kills the process with
// SIGKILL once the launch is past its first steps and not done. Started
// again, hoist completes the launch from the step it was at, and nothing
// is done twice: each branch created once, one GitHub deployment per
// stage, one DNS record per hostname, each stage's settings file written
// once.
func TestLaunchSurvivesKill9(t *testing.T) {
	bin := buildHoist(t)
	w := startFleet(t)
	// The binary runs on the site's address and data in place of the
	// in-process hoist.
	w.StopHoist()
	file, env := w.Settings()
	first := startServe(t, bin, file, env)

	code, out := w.call("POST", "/api/fleets/acme/site/instances", opsToken,
		map[string]any{"name": "shop", "plan": "paid", "settings": map[string]any{"colour": "#112233"}})
	if code != 202 {
		t.Fatalf("launch: %d %v", code, out)
	}
	// Kill once the staging stage's branch and deployment are done: the
	// launch is then in its smoke test or deploy, real work that takes
	// seconds.
	var steps []string
	w.until(60*time.Second, func() (bool, string) {
		_, in := w.call("GET", "/api/fleets/acme/site/instances/shop", opsToken, nil)
		if in["state"] != "launching" {
			t.Fatalf("the launch ended before it could be killed: %v", in)
		}
		steps = steps[:0]
		for _, s := range asList(in["steps"]) {
			steps = append(steps, fmt.Sprint(s))
		}
		return slices.Contains(steps, "staging.deployment"), fmt.Sprintf("launch steps done: %v", steps)
	})
	first.kill()
	t.Logf("killed hoist with the launch's steps %v done", steps)

	second := startServe(t, bin, file, env)
	w.waitState("shop", "live", 90*time.Second)
	defer second.stop()

	release := w.Head("main")
	for _, b := range []string{"shop", "dev-shop"} {
		if got := w.Head(b); got != release {
			t.Errorf("branch %s at %s, want the release %s", b, got, release)
		}
	}
	// Each branch was created once: one create event and one successful
	// POST git/refs per branch.
	created := map[string]int{}
	for _, d := range w.GH.Deliveries() {
		if d.Event != "create" {
			continue
		}
		var p struct {
			Ref     string `json:"ref"`
			RefType string `json:"ref_type"`
		}
		if err := json.Unmarshal(d.Payload, &p); err != nil {
			t.Fatal(err)
		}
		if p.RefType == "branch" {
			created[p.Ref]++
		}
	}
	posts := 0
	for _, r := range w.GH.RequestLog() {
		if r.Method == "POST" && r.Path == "/repos/acme/site/git/refs" {
			posts++
		}
	}
	if created["shop"] != 1 || created["dev-shop"] != 1 || posts != 2 {
		t.Errorf("branches created: %v by %d POST git/refs, want shop and dev-shop once each", created, posts)
	}
	// One GitHub deployment per stage, successful.
	for env, url := range map[string]string{"dev-shop": "https://stg-shop.example.com/", "shop": "https://shop.example.com/"} {
		deps, _, err := w.Alice.Repositories.ListDeployments(context.Background(), "acme", "site", &github.DeploymentsListOptions{Environment: env})
		if err != nil || len(deps) != 1 {
			t.Errorf("%d deployments of %s (%v), want 1", len(deps), env, err)
			continue
		}
		_, sts := w.WaitDeployment(env, release)
		if sts[0].GetState() != "success" || sts[0].GetEnvironmentURL() != url {
			t.Errorf("deployment of %s: %s %s", env, sts[0].GetState(), sts[0].GetEnvironmentURL())
		}
	}
	// One DNS record per hostname, none twice.
	if got := w.cf.created(); len(got) != 2 || got[0] != "stg-shop.example.com" || got[1] != "shop.example.com" {
		t.Errorf("DNS records created: %v, want one per hostname", got)
	}
	// Each stage's settings file written once; no object written twice.
	puts, _, _ := w.writes.Snapshot()
	written := map[string]int{}
	for _, k := range testenv.SiteObjects(puts) {
		written[k]++
	}
	for _, stage := range []string{"dev-shop", "shop"} {
		if n := written["fleet/acme/site/"+stage+"/hoist-settings.json"]; n != 1 {
			t.Errorf("%s/hoist-settings.json written %d times, want once", stage, n)
		}
		if s := w.object("acme/site/" + stage + "/hoist-settings.json"); !strings.Contains(s, "#112233") {
			t.Errorf("%s/hoist-settings.json = %q", stage, s)
		}
		if p := w.object("acme/site/" + stage + "/p19/index.html"); !strings.Contains(p, "Page 19") {
			t.Errorf("%s/p19/index.html = %q", stage, p)
		}
	}
	for k, n := range written {
		if n > 1 {
			t.Errorf("%s written %d times", k, n)
		}
	}
	_, in := w.call("GET", "/api/fleets/acme/site/instances/shop", opsToken, nil)
	if got := len(asList(in["steps"])); got != 12 {
		t.Errorf("%d launch steps recorded, want 12: %v", got, in["steps"])
	}
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}
