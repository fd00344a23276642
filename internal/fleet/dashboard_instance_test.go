package fleet_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/internal/fleet"
)

// TestLaunchStepsStates: the steps of a launch in the order it runs them,
// done as recorded, the next one running (or failed with the reason), the
// rest pending.
func TestLaunchStepsStates(t *testing.T) {
	cfg, err := config.LoadRepoConfig("", []byte(`version: 1
fleet:
  release: { branch: main }
  target: instances
  staging: { host: "stg-{name}.example.com", gates: { smoke: true } }
  production: { host: "{name}.example.com" }
`))
	if err != nil {
		t.Fatal(err)
	}
	done := []fleet.Step{{Name: "staging.branch"}, {Name: "staging.deployment", Detail: `{"deployment":7}`}}
	in := fleet.Instance{Name: "shop", State: fleet.StateLaunching}
	var got []string
	for _, st := range fleet.LaunchSteps(cfg.Fleet, true, in, done) {
		got = append(got, st.Stage+"."+st.Step+"="+st.State)
	}
	want := []string{"staging.branch=done", "staging.deployment=done", "staging.smoke=running", "staging.deploy=pending", "staging.dns=pending",
		"staging.live=pending", "production.branch=pending", "production.deployment=pending", "production.deploy=pending",
		"production.dns=pending", "production.live=pending"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("steps\n%v\nwant\n%v", got, want)
	}
	in.State, in.Reason = fleet.StateFailed, "the smoke test of stage staging failed"
	steps := fleet.LaunchSteps(cfg.Fleet, false, in, done)
	if steps[1].Detail != "deployment 7" || steps[2].State != "failed" || steps[2].Detail != in.Reason || steps[3].State != "pending" || len(steps) != 9 {
		t.Fatalf("failed launch: %+v", steps)
	}
}

// page is a dashboard answer: status, body and the address it ended at
// after redirects.
type page struct {
	code int
	body string
	url  *url.URL
	csp  string
}

func getPage(t *testing.T, c *http.Client, u string) page {
	t.Helper()
	res, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return page{res.StatusCode, string(b), res.Request.URL, res.Header.Get("Content-Security-Policy")}
}

// postForm posts a form as a browser on origin would (no origin: none
// sent; "cross-site": only Sec-Fetch-Site, as a browser that sends no
// Origin would).
func postForm(t *testing.T, c *http.Client, u string, form url.Values, origin string) page {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	switch origin {
	case "":
	case "cross-site":
		req.Header.Set("Sec-Fetch-Site", "cross-site")
	default:
		req.Header.Set("Origin", origin)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return page{res.StatusCode, string(b), res.Request.URL, res.Header.Get("Content-Security-Policy")}
}

// hostile are setting and reason values that would run script in a page
// that did not escape them.
const (
	hostileContact = `"><script>alert(1)</script><p x="`
	hostileReason  = `</p><img src=x onerror=alert(2)>`
)

// TestDashboardInstance drives one instance from its page: the launch's
// progress refreshed while it runs, the settings form (prefilled; schema
// problems shown next to their fields; hostile values escaped in the page
// and in the settings file), a rollback from the history, suspend, resume,
// upgrade and a delete confirmed by typing the name, each audited as
// alice. Before that, the attacks: a reader sees no forms and each of his
// posts is refused, a cross-site post is refused, and an instance cannot
// be reached through another repository's fleet, even by its maintainer;
// nothing changes.
func TestDashboardInstance(t *testing.T) {
	w := startFleetWith(t, true)
	ctx := context.Background()
	// acme/other has a fleet of its own, and bob maintains it; on
	// acme/site he only reads.
	w.AddRepo("acme/other", w.UserToken, "version: 1\nfleet:\n  release: { branch: main }\n  target: instances\n", "main")
	w.GH.CreateUser("bob")
	for repo, perm := range map[string]string{"site": "pull", "other": "maintain"} {
		if _, _, err := w.Alice.Repositories.AddCollaborator(ctx, "acme", repo, "bob", &github.RepositoryAddCollaboratorOptions{Permission: perm}); err != nil {
			t.Fatal(err)
		}
	}
	alice, bob := w.GH.SignedInClient("alice"), w.GH.SignedInClient("bob")
	getPage(t, bob, w.URL+"/fleets/acme/site")
	inst := w.URL + "/fleets/acme/site/instances/shop"

	// The launch form leads to the instance's page, refreshed while the
	// launch runs.
	getPage(t, alice, w.URL+"/fleets/acme/site")
	p := postForm(t, alice, w.URL+"/fleets/acme/site", url.Values{"name": {"shop"}, "plan": {"trial"}, "s.colour": {"#112233"},
		"s.contact": {hostileContact}}, w.URL)
	if p.code != 200 || p.url.Path != "/fleets/acme/site/instances/shop" || !strings.Contains(p.body, `<meta http-equiv="refresh" content="2">`) ||
		!strings.Contains(p.body, `data-state="running"`) || !strings.Contains(p.body, "Launch started") {
		t.Fatalf("after the launch form: %d %s\n%s", p.code, p.url, p.body)
	}
	var running []string
	deadline := time.Now().Add(90 * time.Second)
	for {
		p = getPage(t, alice, inst)
		if !strings.Contains(p.body, `http-equiv="refresh"`) {
			break
		}
		if i := strings.Index(p.body, `data-state="running"`); i >= 0 {
			step := p.body[strings.LastIndex(p.body[:i], `data-step="`)+len(`data-step="`):]
			step = step[:strings.Index(step, `"`)]
			if len(running) == 0 || running[len(running)-1] != step {
				running = append(running, step)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("launch still running after 90 s:\n%s", p.body)
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Logf("steps seen running: %v", running)
	// The page runs no script: the dashboard's policy allows none.
	if !strings.Contains(p.csp, "default-src 'none'") || strings.Contains(p.csp, "script-src") || strings.Contains(p.body, "<script") {
		t.Fatalf("instance page policy %q", p.csp)
	}
	if len(running) < 2 || !strings.Contains(p.body, `id="state">live`) || strings.Contains(p.body, `data-state="running"`) ||
		strings.Contains(p.body, `data-state="pending"`) || strings.Count(p.body, `data-state="done"`) != 12 {
		t.Fatalf("launched instance's page (steps seen running %v):\n%s", running, p.body)
	}
	// Escaped in the page (html/template) and in the settings file
	// (encoding/json escapes <, > and & too); the value itself intact.
	if strings.Contains(p.body, "<script>alert") || !strings.Contains(p.body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Fatalf("hostile setting not escaped in the page:\n%s", p.body)
	}
	file := w.object("acme/site/shop/hoist-settings.json")
	var served map[string]any
	if strings.Contains(file, "<script>") || json.Unmarshal([]byte(file), &served) != nil || served["contact"] != hostileContact {
		t.Fatalf("settings file: %s", file)
	}

	// The reader: the page without a form, and every post refused.
	p = getPage(t, bob, inst)
	if p.code != 200 || !strings.Contains(p.body, `data-instance="shop"`) || strings.Contains(p.body, "<form") ||
		!strings.Contains(p.body, "needs maintain permission") {
		t.Fatalf("bob's instance page: %d\n%s", p.code, p.body)
	}
	actions := map[string]url.Values{
		"settings": {"s.colour": {"#666666"}}, "rollback": {"version": {"1"}}, "suspend": {"reason": {"bob"}},
		"resume": {}, "upgrade": {}, "delete": {"confirm": {"shop"}},
	}
	snapshot := func() string {
		in, err := w.Caps.Fleet.Store().Get(ctx, "acme/site", "shop")
		if err != nil {
			t.Fatal(err)
		}
		log, err := w.Srv.Store().AuditLog(ctx, "acme/site", 500)
		if err != nil {
			t.Fatal(err)
		}
		puts, _, _ := w.writes.Snapshot()
		b, _ := json.Marshal(map[string]any{"state": in.State, "plan": in.Plan, "version": in.SettingsVersion, "settings": in.Settings,
			"audit": len(log), "writes": len(puts), "file": w.object("acme/site/shop/hoist-settings.json"), "dev": w.Head("dev-shop")})
		return string(b)
	}
	before := snapshot()
	for action, form := range actions {
		if p := postForm(t, bob, inst+"/"+action, form, w.URL); p.code != 403 || !strings.Contains(p.body, "needs maintain permission") {
			t.Errorf("bob's %s: %d %s", action, p.code, p.body)
		}
		// Through the fleet bob maintains, shop is not there.
		if p := postForm(t, bob, w.URL+"/fleets/acme/other/instances/shop/"+action, form, w.URL); p.code != 404 {
			t.Errorf("bob's %s through acme/other: %d %s", action, p.code, p.body)
		}
		// A page of another site, with alice's cookie.
		for _, origin := range []string{"https://evil.example", "cross-site"} {
			if p := postForm(t, alice, inst+"/"+action, form, origin); p.code != 403 || !strings.Contains(p.body, "cross-origin") {
				t.Errorf("%s %s with alice's session: %d %s", origin, action, p.code, p.body)
			}
		}
	}
	// Names that are not acme/site's instance.
	for _, path := range []string{"/fleets/acme/other/instances/shop", "/fleets/acme/site/instances/nosuch", "/fleets/acme/site/instances/..%2Fother"} {
		if p := postForm(t, alice, w.URL+path+"/delete", url.Values{"confirm": {"shop"}}, w.URL); p.code != 404 {
			t.Errorf("alice's delete of %s: %d %s", path, p.code, p.body)
		}
	}
	if after := snapshot(); after != before {
		t.Fatalf("refused posts changed something:\nbefore %s\nafter  %s", before, after)
	}

	// alice's settings form, prefilled with the current settings.
	p = getPage(t, alice, inst)
	for _, want := range []string{`id="settings"`, `name="s.colour" value="#112233"`, `name="s.contact" value="&#34;&gt;&lt;script&gt;`,
		`id="suspend"`, `id="upgrade"`, `id="delete"`} {
		if !strings.Contains(p.body, want) {
			t.Fatalf("alice's instance page lacks %s:\n%s", want, p.body)
		}
	}
	// Problems next to their fields, the values sent shown again, nothing
	// changed.
	before = snapshot()
	p = postForm(t, alice, inst+"/settings", url.Values{"s.colour": {"red"}, "s.contact": {"x"}}, w.URL)
	if p.code != 422 || !strings.Contains(p.body, `name="s.colour" value="red"`) ||
		!strings.Contains(p.body, `<span class="error" data-field="colour">&#39;red&#39; does not match pattern`) {
		t.Fatalf("bad colour: %d\n%s", p.code, p.body)
	}
	p = postForm(t, alice, inst+"/settings", url.Values{"s.colour": {""}}, w.URL)
	if p.code != 422 || !strings.Contains(p.body, `<span class="error" data-field="colour">required</span>`) {
		t.Fatalf("no colour: %d\n%s", p.code, p.body)
	}
	if after := snapshot(); after != before {
		t.Fatalf("refused settings changed something:\nbefore %s\nafter  %s", before, after)
	}
	// A change: the empty contact falls back to its default.
	p = postForm(t, alice, inst+"/settings", url.Values{"s.colour": {"#445566"}, "s.contact": {""}, "s.features.chat": {"on"}}, w.URL)
	in, _ := w.Caps.Fleet.Store().Get(ctx, "acme/site", "shop")
	if p.code != 200 || p.url.RawQuery != "done=settings" || in.SettingsVersion != 2 || in.Settings["colour"] != "#445566" ||
		in.Settings["contact"] != "help@example.com" || in.Settings["features"].(map[string]any)["chat"] != true ||
		!strings.Contains(w.object("acme/site/dev-shop/hoist-settings.json"), "#445566") {
		t.Fatalf("settings change: %d %s %+v\n%s", p.code, p.url, in, p.body)
	}
	// Roll back to the launch's settings from the history.
	if !strings.Contains(p.body, `<input type="hidden" name="version" value="1"><button>Roll back to this version</button>`) {
		t.Fatalf("history without a rollback button:\n%s", p.body)
	}
	p = postForm(t, alice, inst+"/rollback", url.Values{"version": {"1"}}, w.URL)
	in, _ = w.Caps.Fleet.Store().Get(ctx, "acme/site", "shop")
	if p.code != 200 || in.SettingsVersion != 3 || in.Settings["contact"] != hostileContact || !strings.Contains(p.body, "rollback to 1") {
		t.Fatalf("rollback: %d %+v\n%s", p.code, in, p.body)
	}

	// Suspend with a reason that is shown escaped, resume, upgrade.
	p = postForm(t, alice, inst+"/suspend", url.Values{"reason": {hostileReason}}, w.URL)
	if p.code != 200 || !strings.Contains(p.body, `id="state">suspended: &lt;/p&gt;&lt;img src=x onerror=alert(2)&gt;`) || !strings.Contains(p.body, `id="resume"`) {
		t.Fatalf("suspend: %d\n%s", p.code, p.body)
	}
	if page := w.object("acme/site/shop/index.html"); !strings.Contains(page, "&lt;img src=x") || strings.Contains(page, "<img") {
		t.Fatalf("maintenance page: %s", page)
	}
	p = postForm(t, alice, inst+"/resume", nil, w.URL)
	if p.code != 200 || !strings.Contains(p.body, `id="state">live`) || !strings.Contains(w.object("acme/site/shop/index.html"), "<h1>Shop</h1>") {
		t.Fatalf("resume: %d\n%s", p.code, p.body)
	}
	p = postForm(t, alice, inst+"/upgrade", nil, w.URL)
	if p.code != 200 || !strings.Contains(p.body, `id="plan">paid`) || strings.Contains(p.body, `id="upgrade"`) {
		t.Fatalf("upgrade: %d\n%s", p.code, p.body)
	}

	// Delete: refused unless the name is typed.
	p = postForm(t, alice, inst+"/delete", url.Values{"confirm": {"shop2"}}, w.URL)
	if p.code != 412 || !strings.Contains(p.body, "confirm with its name") || !strings.Contains(p.body, `id="state">live`) {
		t.Fatalf("delete without confirmation: %d\n%s", p.code, p.body)
	}
	p = postForm(t, alice, inst+"/delete", url.Values{"confirm": {"shop"}}, w.URL)
	if p.code != 200 || !strings.Contains(p.body, `id="state">deleted`) || strings.Contains(p.body, "<form") {
		t.Fatalf("delete: %d\n%s", p.code, p.body)
	}
	if _, _, err := w.Alice.Git.GetRef(ctx, "acme", "site", "heads/shop"); err == nil {
		t.Fatal("branch shop still there after the delete")
	}

	// Each change is audited as the API audits it, with alice as the actor.
	log, err := w.Srv.Store().AuditLog(ctx, "acme/site", 500)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, e := range log {
		if strings.HasPrefix(e.Action, "fleet.") && e.Actor == "alice" {
			seen[e.Action]++
		}
		if e.Action == "fleet.settings" && (e.Detail["before"] == nil || e.Detail["after"] == nil) {
			t.Errorf("settings audit row without before/after: %+v", e)
		}
	}
	want := map[string]int{"fleet.create": 1, "fleet.settings": 2, "fleet.suspend": 1, "fleet.resume": 1, "fleet.upgrade": 1, "fleet.delete": 1}
	if !reflect.DeepEqual(seen, want) {
		t.Fatalf("alice's audit rows %v, want %v", seen, want)
	}
}
