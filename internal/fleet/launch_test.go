package fleet_test

import (
	"context"
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/deploy"
	"github.com/hoist-dev/hoist/internal/purge"
	"github.com/hoist-dev/hoist/internal/testenv"
)

// TestLaunchEndToEnd launches an instance of a 20-page site through the
// API: both branches at the release, both folders deployed with the
// settings file, smoke-tested in Chromium, DNS records made at the
// Cloudflare stand-in, a GitHub deployment per stage; it prints the time
// from request to live. Then a settings change writes one object and
// purges one path per stage, and a rollback restores the first settings.
func TestLaunchEndToEnd(t *testing.T) {
	w := startFleet(t)
	main := w.Head("main")

	start := time.Now()
	code, out := w.call("POST", "/api/fleets/acme/site/instances", opsToken,
		map[string]any{"name": "shop", "plan": "trial", "settings": map[string]any{"colour": "#112233"}})
	if code != 202 || out["state"] != "launching" {
		t.Fatalf("launch: %d %v", code, out)
	}
	live := w.waitState("shop", "live", 60*time.Second)
	elapsed := time.Since(start)
	t.Logf("launch of a 20-page site, request to live: %.1fs (goal ≤ 30s)", elapsed.Seconds())
	steps, _ := w.Caps.Fleet.Store().Steps(context.Background(), "acme/site", "shop")
	prev := start
	for _, st := range steps {
		t.Logf("  %-22s +%.1fs", st.Name, st.DoneAt.Sub(prev).Seconds())
		prev = st.DoneAt
	}
	// The machine is shared; the figure is printed, and only a launch far
	// past the goal fails the test.
	if elapsed > 90*time.Second {
		t.Errorf("launch took %s, far over the 30s goal", elapsed)
	}

	// Both branches at the release commit.
	for _, b := range []string{"shop", "dev-shop"} {
		if got := w.Head(b); got != main {
			t.Errorf("branch %s at %s, want the release %s", b, got, main)
		}
	}
	// Both folders hold the site and the settings file (with defaults).
	for _, prefix := range []string{"acme/site/shop/", "acme/site/dev-shop/"} {
		if body := w.object(prefix + "p19/index.html"); !strings.Contains(body, "Page 19") {
			t.Errorf("%sp19/index.html = %q", prefix, body)
		}
		var settings map[string]any
		if err := json.Unmarshal([]byte(w.object(prefix+"hoist-settings.json")), &settings); err != nil ||
			settings["colour"] != "#112233" || settings["contact"] != "help@example.com" {
			t.Errorf("%shoist-settings.json = %v (%v)", prefix, settings, err)
		}
	}
	// One DNS record per hostname.
	if got := w.cf.created(); len(got) != 2 || got[0] != "stg-shop.example.com" || got[1] != "shop.example.com" {
		t.Errorf("DNS records created: %v", got)
	}
	// A successful GitHub deployment per stage, with the hostname.
	for env, url := range map[string]string{"dev-shop": "https://stg-shop.example.com/", "shop": "https://shop.example.com/"} {
		dep, sts := w.WaitDeployment(env, main)
		if sts[0].GetState() != "success" || sts[0].GetEnvironmentURL() != url {
			t.Errorf("deployment %s: %s %s", env, sts[0].GetState(), sts[0].GetEnvironmentURL())
		}
		_ = dep
	}
	if urls := live["urls"].(map[string]any); urls["production"] != "https://shop.example.com/" {
		t.Errorf("urls: %v", urls)
	}

	// Each stage's deploy purged what it wrote on the stage's CDN: a name
	// launched again, or a stage upgraded by a rollout, must not be served
	// from what the cache kept.
	launchPurges := strings.Join(w.edge.seen(), "\n")
	for _, env := range []string{"dev-shop", "shop"} {
		edition := serverconfig.Edition("acme/site", env)
		for _, p := range []string{"/hoist-settings.json", "/p19/"} {
			if key := deploy.PathKey(edition, purge.SitePath(p)); !strings.Contains(launchPurges, key) {
				t.Errorf("the launch's deploy of %s did not purge %s (%s); the edge saw:\n%s", env, p, key, launchPurges)
			}
		}
	}

	// A second launch of the same name is refused and changes nothing.
	puts0, _, _ := w.writes.Snapshot()
	code, out = w.call("POST", "/api/fleets/acme/site/instances", opsToken, map[string]any{"name": "shop", "settings": map[string]any{"colour": "#000000"}})
	if code != 409 || !strings.Contains(out["error"].(string), "exists already") {
		t.Fatalf("second launch: %d %v", code, out)
	}

	// A settings change: one object per stage, one purge per stage.
	edge0 := len(w.edge.seen())
	code, out = w.call("PATCH", "/api/fleets/acme/site/instances/shop/settings", opsToken, map[string]any{"patch": map[string]any{"colour": "#445566"}})
	if code != 200 || out["version"].(float64) != 2 {
		t.Fatalf("settings change: %d %v", code, out)
	}
	puts1, _, _ := w.writes.Snapshot()
	written := testenv.SiteObjects(puts1[len(puts0):])
	sort.Strings(written)
	if len(written) != 2 || written[0] != "fleet/acme/site/dev-shop/hoist-settings.json" || written[1] != "fleet/acme/site/shop/hoist-settings.json" {
		t.Fatalf("settings change wrote %v, want the settings file of each stage", written)
	}
	purges := w.edge.seen()[edge0:]
	t.Logf("settings change: %d S3 writes %v, %d purge requests %v", len(written), written, len(purges), purges)
	if len(purges) != 2 {
		t.Fatalf("settings change sent %d purge requests, want one per stage: %v", len(purges), purges)
	}
	if !strings.Contains(w.object("acme/site/shop/hoist-settings.json"), "#445566") {
		t.Fatalf("settings file not rewritten")
	}
	// Settings the schema refuses: a clear error, nothing written.
	code, out = w.call("PATCH", "/api/fleets/acme/site/instances/shop/settings", opsToken, map[string]any{"patch": map[string]any{"colour": "red"}})
	if code != 422 || !strings.Contains(out["error"].(string), "/colour") {
		t.Fatalf("bad settings: %d %v", code, out)
	}
	if puts2, _, _ := w.writes.Snapshot(); len(puts2) != len(puts1) {
		t.Fatalf("refused settings wrote %v", puts2[len(puts1):])
	}
	// Roll back to the launch settings; the history keeps all three.
	code, out = w.call("PATCH", "/api/fleets/acme/site/instances/shop/settings", opsToken, map[string]any{"rollback_to": 1})
	if code != 200 || out["version"].(float64) != 3 || !strings.Contains(w.object("acme/site/dev-shop/hoist-settings.json"), "#112233") {
		t.Fatalf("rollback: %d %v", code, out)
	}
	_, hist := w.call("GET", "/api/fleets/acme/site/instances/shop/settings", opsToken, nil)
	if h := hist["history"].([]any); len(h) != 3 || h[1].(map[string]any)["changed_by"] != "token:ops" {
		t.Fatalf("history: %v", hist)
	}
	log, err := w.Srv.Store().AuditLog(context.Background(), "acme/site", 50)
	if err != nil {
		t.Fatal(err)
	}
	changes := 0
	for _, e := range log {
		if e.Action == "fleet.settings" {
			changes++
			if e.Actor != "token:ops" || e.Detail["before"] == nil || e.Detail["after"] == nil {
				t.Errorf("audit row without who/before/after: %+v", e)
			}
		}
	}
	if changes != 2 {
		t.Errorf("%d settings audit rows, want 2", changes)
	}
	lifecycle(t, w, main)
}

// lifecycle runs the trial of shop out: warned, suspended (maintenance
// page, nothing deleted), upgraded to paid and resumed, then deleted with
// confirmation and purged after the grace period.
func lifecycle(t *testing.T, w *world, release string) {
	ctx := context.Background()
	svc := w.Caps.Fleet
	now := time.Now().UTC()
	if err := svc.Daily(ctx, now.Add(12*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	in, _ := svc.Store().Get(ctx, "acme/site", "shop")
	if in.WarnedAt == nil || in.State != "live" {
		t.Fatalf("12 days in, the trial was not warned: %+v", in)
	}
	if err := svc.Daily(ctx, now.Add(15*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	in, _ = svc.Store().Get(ctx, "acme/site", "shop")
	if in.State != "suspended" {
		t.Fatalf("15 days in, the trial is %s, want suspended", in.State)
	}
	for _, prefix := range []string{"acme/site/shop/", "acme/site/dev-shop/"} {
		for _, page := range []string{"index.html", "p7/index.html"} {
			if body := w.object(prefix + page); !strings.Contains(body, "The trial of this site has ended.") {
				t.Errorf("suspended %s%s = %q, want the maintenance page", prefix, page, body)
			}
		}
		if !strings.Contains(w.object(prefix+"hoist-settings.json"), "#112233") {
			t.Errorf("suspension lost %shoist-settings.json", prefix)
		}
	}
	if w.Head("shop") != release || w.Head("dev-shop") != release {
		t.Errorf("suspension moved a branch")
	}
	code, out := w.call("POST", "/api/fleets/acme/site/instances/shop/resume", opsToken, nil)
	if code != 409 || !strings.Contains(out["error"].(string), "upgrade it to paid") {
		t.Fatalf("resume of an ended trial: %d %v", code, out)
	}
	code, out = w.call("POST", "/api/fleets/acme/site/instances/shop/upgrade", opsToken, nil)
	if code != 200 || out["plan"] != "paid" || out["state"] != "live" {
		t.Fatalf("upgrade: %d %v", code, out)
	}
	if body := w.object("acme/site/shop/p7/index.html"); !strings.Contains(body, "Page 7") {
		t.Fatalf("resumed p7 = %q", body)
	}

	code, out = w.call("DELETE", "/api/fleets/acme/site/instances/shop", opsToken, nil)
	if code != 412 || !strings.Contains(out["error"].(string), "confirm") {
		t.Fatalf("delete without confirmation: %d %v", code, out)
	}
	code, out = w.call("DELETE", "/api/fleets/acme/site/instances/shop?confirm=shop", opsToken, nil)
	if code != 200 || out["state"] != "deleted" {
		t.Fatalf("delete: %d %v", code, out)
	}
	for _, b := range []string{"shop", "dev-shop"} {
		if _, _, err := w.Alice.Git.GetRef(ctx, "acme", "site", "heads/"+b); err == nil {
			t.Errorf("branch %s kept after delete", b)
		}
	}
	w.cf.mu.Lock()
	left := len(w.cf.records)
	w.cf.mu.Unlock()
	if left != 0 {
		t.Errorf("%d DNS records kept after delete", left)
	}
	// Within the grace period the folder and the rows stay.
	if err := svc.Daily(ctx, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if w.object("acme/site/shop/hoist-settings.json") == "" {
		t.Fatalf("the folder went before the grace period ended")
	}
	if err := svc.Daily(ctx, time.Now().Add(8*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if w.object("acme/site/shop/p7/index.html") != "" || w.object("acme/site/dev-shop/index.html") != "" {
		t.Errorf("folders kept after the grace period")
	}
	if _, err := svc.Store().Get(ctx, "acme/site", "shop"); err == nil {
		t.Errorf("rows kept after the grace period")
	}
}

// TestBadInputChangesNothing: an invalid or reserved name, settings the
// schema refuses, a repository without a fleet and callers without a
// token, with an unknown one or one for other repositories each get a
// clear error, and nothing is stored, branched or written.
func TestBadInputChangesNothing(t *testing.T) {
	w := startFleet(t)
	// acme/other has a configuration without a fleet.
	other := t.TempDir() + "/other"
	w.Clone("acme/other", other)
	w.Git(other, "checkout", "-q", "-b", "main")
	if err := os.MkdirAll(other+"/.github", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other+"/.github/hoist.yml", []byte("version: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w.Git(other, "add", "-A")
	w.Git(other, "commit", "-q", "-m", "Configure hoist")
	w.Git(other, "push", "-q", "origin", "HEAD:main")
	good := map[string]any{"name": "shop", "settings": map[string]any{"colour": "#112233"}}
	cases := []struct {
		name, path, token string
		body              map[string]any
		code              int
		want              string
	}{
		{"no token", "/api/fleets/acme/site/instances", "", good, 401, "Bearer"},
		{"unknown token", "/api/fleets/acme/site/instances", "nope-nope-nope-nope", good, 401, "unknown token"},
		{"token of other repos", "/api/fleets/acme/site/instances", otherToken, good, 403, "may not act on acme/site"},
		{"upper case", "/api/fleets/acme/site/instances", opsToken, map[string]any{"name": "Shop", "settings": good["settings"]}, 422, "DNS label"},
		{"reserved", "/api/fleets/acme/site/instances", opsToken, map[string]any{"name": "admin", "settings": good["settings"]}, 422, "reserved"},
		{"dev- prefix", "/api/fleets/acme/site/instances", opsToken, map[string]any{"name": "dev-shop", "settings": good["settings"]}, 422, "reserved"},
		{"too long", "/api/fleets/acme/site/instances", opsToken, map[string]any{"name": strings.Repeat("a", 64), "settings": good["settings"]}, 422, "63"},
		{"schema: pattern", "/api/fleets/acme/site/instances", opsToken, map[string]any{"name": "shop", "settings": map[string]any{"colour": "blue"}}, 422, "/colour"},
		{"schema: required", "/api/fleets/acme/site/instances", opsToken, map[string]any{"name": "shop", "settings": map[string]any{}}, 422, "colour"},
		{"schema: type", "/api/fleets/acme/site/instances", opsToken, map[string]any{"name": "shop", "settings": map[string]any{"colour": "#112233", "features": map[string]any{"chat": "yes"}}}, 422, "/features/chat"},
		{"bad plan", "/api/fleets/acme/site/instances", opsToken, map[string]any{"name": "shop", "plan": "gold", "settings": good["settings"]}, 422, "plan"},
		{"unknown field", "/api/fleets/acme/site/instances", opsToken, map[string]any{"name": "shop", "colour": "#112233"}, 400, "unknown field"},
		{"no fleet", "/api/fleets/acme/other/instances", opsToken, good, 404, "has no fleet"},
		{"unknown instance", "/api/fleets/acme/site/instances/nope", opsToken, nil, 404, "no instance"},
	}
	for _, c := range cases {
		method := "POST"
		if c.body == nil {
			method = "GET"
		}
		code, out := w.call(method, c.path, c.token, c.body)
		msg, _ := out["error"].(string)
		if code != c.code || !strings.Contains(msg, c.want) {
			t.Errorf("%s: %d %q, want %d with %q", c.name, code, msg, c.code, c.want)
		}
	}
	_, list := w.call("GET", "/api/fleets/acme/site/instances", opsToken, nil)
	if n := len(list["instances"].([]any)); n != 0 {
		t.Errorf("%d instances stored after refusals", n)
	}
	puts, copies, deletes := w.writes.Snapshot()
	if len(puts)+len(copies)+deletes != 0 {
		t.Errorf("refusals wrote to S3: %v %v %d", puts, copies, deletes)
	}
	if _, _, err := w.Alice.Git.GetRef(context.Background(), "acme", "site", "heads/shop"); err == nil {
		t.Errorf("a refused launch created a branch")
	}
	if len(w.cf.created()) != 0 {
		t.Errorf("refusals made DNS records: %v", w.cf.created())
	}
}

// TestLaunchResumesAfterAStop stops hoist while the launch waits for
// Cloudflare's answer to the first DNS record (which Cloudflare made), and
// starts it again: the launch completes from the step it was at, making no
// second record, no second deployment and writing no object twice.
func TestLaunchResumesAfterAStop(t *testing.T) {
	w := startFleet(t, func(cfg *serverconfig.Server) { cfg.Jobs.ShutdownGrace = 200 * time.Millisecond })
	w.cf.mu.Lock()
	w.cf.hold = true
	w.cf.mu.Unlock()
	code, out := w.call("POST", "/api/fleets/acme/site/instances", opsToken,
		map[string]any{"name": "shop", "plan": "paid", "settings": map[string]any{"colour": "#112233"}})
	if code != 202 {
		t.Fatalf("launch: %d %v", code, out)
	}
	select {
	case <-w.cf.held:
	case <-time.After(60 * time.Second):
		t.Fatal("the launch never reached the DNS step")
	}
	steps, err := w.Caps.Fleet.Store().Steps(context.Background(), "acme/site", "shop")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range steps {
		names = append(names, s.Name)
	}
	t.Logf("stopped after steps %v", names)
	puts0, _, _ := w.writes.Snapshot()
	w.StopHoist()
	w.StartHoist(nil)
	w.waitState("shop", "live", 60*time.Second)

	if got := w.cf.created(); len(got) != 2 {
		t.Errorf("DNS records created: %v, want one per hostname", got)
	}
	puts, _, _ := w.writes.Snapshot()
	seen := map[string]int{}
	for _, k := range testenv.SiteObjects(puts) {
		seen[k]++
	}
	for k, n := range seen {
		if n > 1 {
			t.Errorf("%s written %d times", k, n)
		}
	}
	if len(testenv.SiteObjects(puts[len(puts0):])) != 21 {
		t.Errorf("after the restart %d objects were written, want production's 21 only: %v", len(testenv.SiteObjects(puts[len(puts0):])), testenv.SiteObjects(puts[len(puts0):]))
	}
	for _, env := range []string{"dev-shop", "shop"} {
		deps, _, err := w.Alice.Repositories.ListDeployments(context.Background(), "acme", "site", &github.DeploymentsListOptions{Environment: env})
		if err != nil || len(deps) != 1 {
			t.Errorf("%d deployments of %s (%v), want 1", len(deps), env, err)
		}
	}
	steps, _ = w.Caps.Fleet.Store().Steps(context.Background(), "acme/site", "shop")
	if len(steps) != 12 {
		t.Errorf("%d steps recorded, want 12", len(steps))
	}
}

// TestLaunchFailsOnItsSmokeGate: a release whose page breaks the smoke
// test is never published: the launch ends failed with the reason, the
// staging deployment is a failure and no object is written.
func TestLaunchFailsOnItsSmokeGate(t *testing.T) {
	w := startFleet(t)
	w.Commit("public/p3/index.html", `<!doctype html><title>Broken</title><h1>Oops</h1>`, "Break page 3")
	w.Push("main")
	broken := w.Head("main")
	code, out := w.call("POST", "/api/fleets/acme/site/instances", opsToken, map[string]any{"name": "shop", "settings": map[string]any{"colour": "#112233"}})
	if code != 202 {
		t.Fatalf("launch: %d %v", code, out)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		_, out = w.call("GET", "/api/fleets/acme/site/instances/shop", opsToken, nil)
		if out["state"] == "failed" || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out["state"] != "failed" || !strings.Contains(out["reason"].(string), "smoke test of stage staging failed") {
		t.Fatalf("launch of a broken release: %v", out)
	}
	if puts, copies, _ := w.writes.Snapshot(); len(testenv.SiteObjects(puts))+len(copies) != 0 {
		t.Errorf("a launch that failed its smoke gate wrote %v", puts)
	}
	_, sts := w.WaitDeployment("dev-shop", broken)
	if sts[0].GetState() != "failure" || !strings.Contains(sts[0].GetDescription(), "smoke") {
		t.Errorf("staging deployment: %s %q", sts[0].GetState(), sts[0].GetDescription())
	}
}
