package web_test

import (
	"context"
	"html"
	"image/color"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/internal/store"
	"github.com/hoist-dev/hoist/internal/web"
)

// scenario fills the world with what the dashboard shows: environments
// at different commits, a candidate awaiting promotion whose smoke test
// failed, deployments, smoke runs with screenshots (and another app's run
// of the same name), promotions and refusals in the audit log, a hold.
type scenario struct {
	dev, staging, main, candidate string
	shots                         []string
	ourRun                        int64
}

const evilSubject = `<script>alert("dev")</script> Add the products page`

// fill sets the scenario up; readme picks friendlier words for the
// README's picture than the hostile ones the tests check escaping with.
func (w *world) fill(shots []string, readme ...bool) scenario {
	w.t.Helper()
	nice := len(readme) > 0 && readme[0]
	subject, because := evilSubject, `check "ci / test" failed <b>on purpose</b>`
	if nice {
		subject = "Add the products page"
	}
	var s scenario
	s.main = w.head("main")
	w.branch("dev", s.main)
	s.dev = w.put("shop", "dev", "public/products/index.html", "<h1>Products</h1>", subject+"\n\nThe body is not shown.")
	w.branch("staging", s.dev)
	s.staging = s.dev
	w.branch("pre-staging", s.dev)
	s.candidate = w.put("shop", "pre-staging", "public/index.html", "<h1>Shop</h1><p>42 products</p>", "Generated site: price list imported")

	w.deploy("staging", s.staging, "success", "https://staging.shop.example/")
	w.deploy("production", s.main, "success", "https://shop.example/")

	s.shots = shots
	s.ourRun = w.smokeRun(w.bot.Client, s.staging, "success", "6/6 pages OK in 1.2 s", map[string]string{"/ (desktop)": shots[0], "/products/ (mobile)": shots[1]})
	// Another app's run of the same name, newer: not hoist's verdict.
	other := w.gh.CreateApp("impostor", "")
	otherInst := w.gh.Install(other.ID, "acme/shop")
	w.smokeRun(w.gh.InstallationClient(other, otherInst), s.staging, "failure", "impostor says no", nil)
	w.smokeRun(w.bot.Client, s.candidate, "failure", "2 of 6 pages failed: / (desktop) console error", map[string]string{"/ (desktop)": shots[2]})

	if nice {
		because = `check "ci / test" failed on ` + s.staging[:7]
	}
	w.audit(store.AuditEntry{Actor: "hoist", Action: "promote", Env: "staging", SHA: s.staging, Outcome: "promoted",
		Detail: map[string]any{"from": s.main, "route": "dev → staging"}})
	w.audit(store.AuditEntry{Actor: "carol", Action: "promote", Env: "production", SHA: s.staging, Outcome: "refuse",
		Detail: map[string]any{"reasons": []string{because, "hoist/smoke has not passed"}}})
	w.audit(store.AuditEntry{Actor: "api", Action: "generate", Env: "staging", Outcome: "scheduled", Detail: map[string]any{"reason": "noise"}})
	w.audit(store.AuditEntry{Actor: "hoist", Action: "generate", Env: "staging", Outcome: "dispatched", Detail: map[string]any{"reason": "price list imported"}})
	return s
}

var holds = holdList{{Env: "production", Actor: "bob", Reason: `<img src=x onerror=alert(1)> launch freeze`, Since: time.Now().Add(-time.Hour)}}

func TestDashboardShowsEnvironmentsFromGitHubAndTheAuditLog(t *testing.T) {
	w := newWorld(t, holds)
	_, shots := artifacts(t, testPNG(color.RGBA{200, 0, 0, 255}), testPNG(color.RGBA{0, 150, 0, 255}), testPNG(color.RGBA{0, 0, 200, 255}))
	s := w.fill(shots)

	code, page := w.get("/")
	if code != http.StatusOK {
		t.Fatalf("GET / = %d\n%s", code, page)
	}
	mustContain := func(what, sub string) {
		t.Helper()
		if !strings.Contains(page, sub) {
			t.Errorf("%s: page lacks %q", what, sub)
		}
	}
	mustLack := func(what, sub string) {
		t.Helper()
		if strings.Contains(page, sub) {
			t.Errorf("%s: page contains %q", what, sub)
		}
	}
	repoURL := w.gh.URL() + "/acme/shop"
	mustContain("repository with its GitHub link", `href="`+repoURL+`"`)
	mustContain("repository page link", `href="/repos/acme/shop"`)
	mustLack("repository without .github/hoist.yml", "acme/plain")
	mustContain("broken configuration is reported", "acme/broken")
	mustContain("broken configuration names the key", "brnch")

	// Each environment: its head commit, linked to GitHub.
	for env, sha := range map[string]string{"dev": s.dev, "staging": s.staging, "production": s.main} {
		row := envRow(t, page, "acme/shop/"+env)
		if !strings.Contains(row, `href="`+repoURL+`/commit/`+sha+`"`) || !strings.Contains(row, sha[:7]) {
			t.Errorf("%s row does not link its head %s:\n%s", env, sha[:7], row)
		}
	}
	staging := envRow(t, page, "acme/shop/staging")
	// The commit message is the user's: escaped, first line only.
	mustLack("raw commit message", "<script>")
	if !strings.Contains(staging, html.EscapeString(`<script>alert("dev")</script> Add the products page`)) &&
		!strings.Contains(staging, "&lt;script&gt;alert(&#34;dev&#34;)&lt;/script&gt; Add the products page") {
		t.Errorf("staging row lacks the escaped subject:\n%s", staging)
	}
	mustLack("commit body", "The body is not shown")
	// Last deployment: state and URL.
	if !strings.Contains(staging, `href="https://staging.shop.example/"`) || !strings.Contains(staging, ">success<") {
		t.Errorf("staging row lacks its successful deployment with the URL:\n%s", staging)
	}
	if !strings.Contains(staging, `href="`+repoURL+`/deployments/staging"`) {
		t.Errorf("staging row does not link the deployment on GitHub:\n%s", staging)
	}
	// Last smoke result: hoist's run (not the impostor's newer one), with
	// its title and the screenshots as thumbnails.
	if !strings.Contains(staging, "6/6 pages OK in 1.2 s") || strings.Contains(staging, "impostor") {
		t.Errorf("staging row does not show hoist's own smoke run:\n%s", staging)
	}
	for _, u := range shots[:2] {
		if !strings.Contains(staging, `<img src="`+u+`"`) {
			t.Errorf("staging row lacks the thumbnail %s:\n%s", u, staging)
		}
	}
	// The candidate awaiting promotion, with its failed smoke test.
	cand := sectionAfter(page, `id="acme/shop/staging"`, `id="acme/shop/production"`)
	for _, want := range []string{"pre-staging", s.candidate[:7], "Generated site: price list imported", "not promoted yet",
		"2 of 6 pages failed: / (desktop) console error", `<img src="` + shots[2] + `"`, ">failure<"} {
		if !strings.Contains(cand, want) {
			t.Errorf("candidate row lacks %q:\n%s", want, cand)
		}
	}
	// The hold, escaped, and the held environment marked.
	if prod := envRow(t, page, "acme/shop/production"); !strings.Contains(prod, ">held<") {
		t.Errorf("production is held but its row does not say so:\n%s", prod)
	}
	mustContain("hold reason, escaped", "&lt;img src=x onerror=alert(1)&gt; launch freeze")
	mustLack("raw hold reason", "<img src=x")
	// A hold without an end lasts until someone lifts it; the wording must
	// not read as if it had been lifted already.
	mustContain("open-ended hold", "<small>someone lifts it</small>")
	mustLack("past-tense hold end", "lifted by hand")
	// Recent activity: the promotion and the refusal with its reasons,
	// escaped; the coalesced trigger's noise left out.
	mustContain("promotion", ">promoted<")
	mustContain("refusal", ">refused<")
	mustContain("refusal reasons", "check &#34;ci / test&#34; failed &lt;b&gt;on purpose&lt;/b&gt;; hoist/smoke has not passed")
	mustContain("dispatched generation", ">dispatched<")
	mustLack("coalescing noise", ">noise<")
	// No secret of the App on the page.
	mustLack("webhook secret", w.app.WebhookSecret)
	mustLack("private key", "PRIVATE KEY")
}

func TestDashboardRepositoryPage(t *testing.T) {
	w := newWorld(t, nil)
	_, shots := artifacts(t, testPNG(color.RGBA{1, 2, 3, 255}), testPNG(color.RGBA{4, 5, 6, 255}), testPNG(color.RGBA{7, 8, 9, 255}))
	w.fill(shots)
	for i := range 60 {
		w.audit(store.AuditEntry{Actor: "hoist", Action: "promote", Env: "staging", Outcome: "refuse",
			Detail: map[string]any{"reasons": []string{"waiting " + string(rune('A'+i%26))}}})
	}
	code, page := w.get("/repos/acme/shop")
	if code != http.StatusOK || !strings.Contains(page, "<title>acme/shop · hoist</title>") {
		t.Fatalf("GET /repos/acme/shop = %d\n%s", code, page)
	}
	if strings.Contains(page, "acme/broken") || strings.Contains(page, ">held<") {
		t.Errorf("repository page shows another repository or a hold without a hold source")
	}
	if n := strings.Count(page, `<span class="badge bad">refused</span>`); n != 50 {
		t.Errorf("repository page shows %d activity rows, want the newest 50", n)
	}
	_, overview := w.get("/")
	if n := strings.Count(overview, `<span class="badge bad">refused</span>`); n != 8 {
		t.Errorf("overview shows %d activity rows of acme/shop, want 8", n)
	}
	for _, path := range []string{"/repos/acme/plain", "/repos/acme/nothing"} {
		code, page := w.get(path)
		if code != http.StatusNotFound || !strings.Contains(page, "is not a repository of this hoist") {
			t.Errorf("GET %s = %d, want 404 with a reason\n%s", path, code, page)
		}
	}
	if code, _ := w.get("/repos/ACME/Shop"); code != http.StatusOK {
		t.Errorf("GET /repos/ACME/Shop = %d: GitHub's names are case-insensitive", code)
	}
}

func TestDashboardReusesWhatItReadWithinTheTTL(t *testing.T) {
	w := newWorld(t, nil)
	_, shots := artifacts(t, testPNG(color.RGBA{1, 2, 3, 255}), testPNG(color.RGBA{4, 5, 6, 255}), testPNG(color.RGBA{7, 8, 9, 255}))
	s := w.fill(shots)
	w.get("/")
	first := w.calls.Load()
	if first == 0 {
		t.Fatal("the first view read nothing from GitHub")
	}
	// Within the TTL: no GitHub call at all, but the audit log is live.
	w.audit(store.AuditEntry{Actor: "dave", Action: "promote", Env: "production", SHA: s.staging, Outcome: "promoted"})
	_, page := w.get("/")
	_, _ = w.get("/repos/acme/shop")
	if n := w.calls.Load() - first; n != 0 {
		t.Errorf("views within the TTL made %d GitHub requests, want 0", n)
	}
	if !strings.Contains(page, ">dave<") {
		t.Errorf("the audit log entry written after the first view is not shown")
	}
	// A change on GitHub shows once the TTL has passed.
	sha := w.put("shop", "dev", "public/new.html", "new", "A newer dev commit")
	_, page = w.get("/")
	if strings.Contains(envRow(t, page, "acme/shop/dev"), sha[:7]) {
		t.Fatalf("dev's new head shown within the TTL: the cache is not used")
	}
	w.clock.Add(16 * time.Second)
	_, page = w.get("/")
	if !strings.Contains(envRow(t, page, "acme/shop/dev"), sha[:7]) {
		t.Errorf("dev's new head %s not shown after the TTL", sha[:7])
	}
	t.Logf("first view: %d GitHub requests for 3 repositories, 3 environments", first)
}

func TestDashboardWithoutStoreAndClientsAnswers503(t *testing.T) {
	d := web.NewDashboard(web.DashboardOptions{Access: fixedAccess{}})
	mux := http.NewServeMux()
	d.Mount(mux)
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "/", nil)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "hoist is starting") {
		t.Fatalf("without store and clients: %d %s", rec.Code, rec.Body.String())
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
}

// envRow is the <tr> of one environment.
func envRow(t testing.TB, page, id string) string {
	t.Helper()
	re := regexp.MustCompile(`(?s)<tr class="env" id="` + regexp.QuoteMeta(id) + `">.*?</tr>`)
	row := re.FindString(page)
	if row == "" {
		t.Fatalf("no row for %s in\n%s", id, page)
	}
	return row
}

// sectionAfter is the page between two markers.
func sectionAfter(page, from, to string) string {
	i := strings.Index(page, from)
	if i < 0 {
		return ""
	}
	rest := page[i:]
	if j := strings.Index(rest, to); j >= 0 {
		return rest[:j]
	}
	return rest
}

// imageStore is an ImageSource over what a smoke service recorded.
type imageStore map[int64][]web.Image

func (s imageStore) CheckRunImages(_ context.Context, _ string, id int64) ([]web.Image, error) {
	return s[id], nil
}

func TestDashboardTakesScreenshotsFromAnImageSource(t *testing.T) {
	w := newWorld(t, nil)
	_, shots := artifacts(t, testPNG(color.RGBA{1, 2, 3, 255}), testPNG(color.RGBA{4, 5, 6, 255}), testPNG(color.RGBA{7, 8, 9, 255}))
	s := w.fill(shots)
	_, extra := artifacts(t, testPNG(color.RGBA{9, 9, 9, 255}))
	dash := web.NewDashboard(web.DashboardOptions{Images: imageStore{s.ourRun: {{Alt: "from the report", URL: extra[0]}}},
		Access: fixedAccess{"acme/shop": w.inst}, Audit: w.st, Clients: w.cc})
	mux := http.NewServeMux()
	dash.Mount(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	staging := envRow(t, rec.Body.String(), "acme/shop/staging")
	if !strings.Contains(staging, `<img src="`+extra[0]+`" alt="from the report"`) || strings.Contains(staging, shots[0]) {
		t.Errorf("staging row does not show the image source's screenshot instead of the summary's:\n%s", staging)
	}
}

func TestDashboardSaysWhenGitHubFails(t *testing.T) {
	w := newWorld(t, nil)
	w.gh.SetFaults(emulator.Faults{Routes: []emulator.RouteFault{{Path: "/repos/acme/shop/deployments", ErrorRate: 1, ErrorStatus: 500}}})
	code, page := w.get("/")
	if code != http.StatusOK {
		t.Fatalf("GET / = %d with one failing GitHub route\n%s", code, page)
	}
	if !strings.Contains(page, `<td colspan="4" class="error">deployments of dev:`) {
		t.Errorf("the failed read is not reported in the environment:\n%s", page)
	}
	if !strings.Contains(envRow(t, page, "acme/shop/production"), "Configure hoist") {
		t.Errorf("what could be read is not shown")
	}

	w.gh.SetFaults(emulator.Faults{Routes: []emulator.RouteFault{{Path: "/app/installations", ErrorRate: 1, ErrorStatus: 500}}})
	w.clock.Add(time.Minute) // past the cached list
	code, page = w.get("/")
	if code != http.StatusBadGateway || !strings.Contains(page, "could not list the App&#39;s repositories on GitHub") {
		t.Errorf("GET / with GitHub down = %d\n%s", code, page)
	}
}

// A broken file with a last good configuration before it: the dashboard
// shows what promotions follow (the last good configuration's
// environments) together with the mistakes, as the hoist/config check
// does.
func TestDashboardShowsTheLastGoodConfigurationBesideTheMistakes(t *testing.T) {
	w := newWorld(t, nil)
	good := "version: 1\nenvironments:\n  dev: { branch: dev }\n  live: { branch: live, promote_from: dev }\n"
	if err := w.st.SaveRepoConfig(context.Background(), store.RepoConfig{Repo: "acme/broken", SHA: strings.Repeat("b", 40), Content: []byte(good)}); err != nil {
		t.Fatal(err)
	}
	code, page := w.get("/repos/acme/broken")
	if code != http.StatusOK {
		t.Fatalf("GET /repos/acme/broken = %d\n%s", code, page)
	}
	for _, want := range []string{"brnch", "The last good configuration stays in force", `id="acme/broken/live"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q\n%s", want, page)
		}
	}
}
