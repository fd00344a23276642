package app_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/emulator/emulatortest"
	"github.com/hoist-dev/hoist/internal/server"
	"github.com/hoist-dev/hoist/internal/servetest"
)

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	res, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func noFollow() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// Without a dashboard section there is no dashboard and no sign-in: the
// public address serves the webhook, health, and signed artifacts only.
func TestDashboardIsOffUnlessConfigured(t *testing.T) {
	gh := emulatortest.Start(t)
	ln, hoistURL := servetest.Listen(t)
	app := gh.CreateApp("hoist", hoistURL+server.WebhookPath)
	alice := gh.CreateUser("alice")
	gh.CreateRepo("acme", "site", alice)
	gh.Install(app.ID, "acme/site")
	servetest.Start(t, servetest.Spec{GitHub: gh, App: app, Listener: ln, Env: map[string]string{"HOIST_CHROMIUM": "/nonexistent"}})
	for _, p := range []string{"/", "/repos/acme/site", "/login", "/login/callback?code=x&state=y"} {
		if res, body := get(t, noFollow(), hoistURL+p); res.StatusCode != http.StatusNotFound || strings.Contains(body, "acme") {
			t.Errorf("GET %s without a dashboard section: %d\n%s", p, res.StatusCode, body)
		}
	}
	for _, p := range []string{"/healthz", "/metrics"} {
		if res, _ := get(t, noFollow(), hoistURL+p); res.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", p, res.StatusCode)
		}
	}
}

// The whole of hoist serve with a dashboard, a preview origin and a
// metrics address: each listener serves only its own part; a preview
// opens only for a signed-in writer and only on the preview origin.
func TestListenersSignInAndPreviewsForWriters(t *testing.T) {
	ctx := context.Background()
	gh := emulatortest.Start(t)
	ln, hoistURL := servetest.Listen(t)
	pln, mln := listen(t), listen(t)
	// Another host name than public_url's, so that cookies are not shared.
	previewURL := fmt.Sprintf("http://localhost:%d", pln.Addr().(*net.TCPAddr).Port)
	metricsURL := "http://" + mln.Addr().String()
	app := gh.CreateApp("hoist", hoistURL+server.WebhookPath)

	aliceTok := gh.CreateUser("alice")
	gh.CreateRepo("acme", "site", aliceTok)
	alice := gh.Client(aliceTok)
	for _, f := range []struct{ path, body string }{
		{".github/hoist.yml", "version: 1\nsite: { root: public }\nenvironments:\n  production: { branch: main }\n"},
		{"public/index.html", "<!doctype html><title>Shop</title><h1>Preview me</h1>"},
	} {
		if _, _, err := alice.Repositories.CreateFile(ctx, "acme", "site", f.path, &github.RepositoryContentFileOptions{
			Message: github.String("Add " + f.path), Content: []byte(f.body), Branch: github.String("main")}); err != nil {
			t.Fatal(err)
		}
	}
	gh.CreateUser("bob")
	if _, _, err := alice.Repositories.AddCollaborator(ctx, "acme", "site", "bob", &github.RepositoryAddCollaboratorOptions{Permission: "pull"}); err != nil {
		t.Fatal(err)
	}
	gh.CreateUser("carol")
	gh.Install(app.ID, "acme/site")
	head, _, err := alice.Repositories.GetBranch(ctx, "acme", "site", "main", 0)
	if err != nil {
		t.Fatal(err)
	}
	sha := head.GetCommit().GetSHA()

	servetest.Start(t, servetest.Spec{GitHub: gh, App: app, Listener: ln, MetricsListener: mln, PreviewListener: pln, Dashboard: true,
		Env: map[string]string{"HOIST_PREVIEW_URL": previewURL, "HOIST_CHROMIUM": "/nonexistent"}})

	// Metrics only on their own address.
	if res, _ := get(t, noFollow(), hoistURL+"/metrics"); res.StatusCode == http.StatusOK {
		t.Errorf("GET /metrics on the public address: %d, want none", res.StatusCode)
	}
	if res, body := get(t, noFollow(), metricsURL+"/metrics"); res.StatusCode != http.StatusOK || !strings.Contains(body, "go_goroutines") {
		t.Errorf("GET /metrics on metrics_addr: %d", res.StatusCode)
	}
	for _, u := range []string{metricsURL + "/", metricsURL + "/healthz", previewURL + "/metrics", previewURL + "/repos/acme/site", metricsURL + "/repos/acme/site"} {
		if res, body := get(t, noFollow(), u); res.StatusCode != http.StatusNotFound || strings.Contains(body, "acme") {
			t.Errorf("GET %s: %d, want 404", u, res.StatusCode)
		}
	}

	// The dashboard: bob reads acme/site, carol does not.
	bobDash, carolDash := gh.SignedInClient("bob"), gh.SignedInClient("carol")
	if res, body := get(t, bobDash, hoistURL+"/repos/acme/site"); res.StatusCode != http.StatusOK || !strings.Contains(body, "production") {
		t.Errorf("bob's view of acme/site: %d\n%s", res.StatusCode, body)
	}
	if res, body := get(t, carolDash, hoistURL+"/repos/acme/site"); res.StatusCode != http.StatusNotFound || strings.Contains(body, sha[:7]) {
		t.Errorf("carol's view of acme/site: %d\n%s", res.StatusCode, body)
	}
	if _, body := get(t, carolDash, hoistURL+"/"); strings.Contains(body, `id="acme/site"`) {
		t.Errorf("carol's overview lists acme/site:\n%s", body)
	}
	for _, p := range []string{"/artifacts/acme/site/" + strings.Repeat("0", 64) + ".png", "/smoke/runs/" + strings.Repeat("0", 32)} {
		if res, _ := get(t, carolDash, hoistURL+p); res.StatusCode != http.StatusNotFound {
			t.Errorf("carol GET %s: %d, want 404", p, res.StatusCode)
		}
	}

	// Previews: the page that opens one, on the preview origin.
	open := previewURL + "/open/acme/site/" + sha
	if res, _ := get(t, noFollow(), open); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login?next=") {
		t.Errorf("anonymous open: %d %q, want a redirect to sign in", res.StatusCode, res.Header.Get("Location"))
	}
	for _, who := range []string{"bob", "carol"} {
		res, body := get(t, gh.SignedInClient(who), open)
		if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "need write access") || strings.Contains(body, "Preview me") {
			t.Errorf("%s (no write access) opens the preview: %d at %s\n%s", who, res.StatusCode, res.Request.URL, body)
		}
	}
	aliceBrowser := gh.SignedInClient("alice")
	res, body := get(t, aliceBrowser, open)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "Preview me") ||
		!strings.HasPrefix(res.Request.URL.String(), previewURL+"/preview/acme/site/"+sha+"/") {
		t.Fatalf("alice opens the preview: %d at %s\n%s", res.StatusCode, res.Request.URL, body)
	}
	link := res.Request.URL
	// The signed link works on the preview origin only.
	if res, body := get(t, noFollow(), hoistURL+link.Path); res.StatusCode != http.StatusNotFound || strings.Contains(body, "Preview me") {
		t.Errorf("the preview link on hoist's public address: %d", res.StatusCode)
	}
	if res, body := get(t, noFollow(), link.String()); res.StatusCode != http.StatusOK || !strings.Contains(body, "Preview me") {
		t.Errorf("the signed link without a session (a writer may share it while it lasts): %d", res.StatusCode)
	}
	// The preview origin's cookies are its own: none for hoist's host.
	hu, _ := url.Parse(hoistURL)
	for _, c := range aliceBrowser.Jar.Cookies(hu) {
		if strings.HasPrefix(c.Name, "hoist") {
			t.Errorf("signing in on the preview origin set %s for hoist's host", c.Name)
		}
	}
}
