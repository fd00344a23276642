package setup_test

import (
	"context"
	"errors"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/emulator/emulatortest"
	"github.com/hoist-dev/hoist/internal/setup"
)

type running struct {
	page string
	done chan struct{}
	res  *setup.Result
	err  error
}

// start runs setup against the emulator until the test ends or it
// finishes.
func start(t *testing.T, opts setup.Options) *running {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	r := &running{done: make(chan struct{})}
	ready := make(chan string, 1)
	opts.Ready = func(u string) { ready <- u }
	go func() {
		defer close(r.done)
		r.res, r.err = setup.Run(ctx, opts)
	}()
	select {
	case r.page = <-ready:
	case <-r.done:
		t.Fatalf("setup ended before serving its page: %v", r.err)
	}
	t.Cleanup(func() { cancel(); <-r.done })
	return r
}

func (r *running) wait(t *testing.T) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(time.Minute):
		t.Fatal("setup did not finish")
	}
}

var (
	formAction    = regexp.MustCompile(`<form id="manifest" method="post" action="([^"]+)"`)
	manifestField = regexp.MustCompile(`name="manifest" value="([^"]*)"`)
)

// submitManifest does what the browser does with setup's page: load it and
// post its form to GitHub. It returns GitHub's redirect, not followed.
func submitManifest(t *testing.T, browser *http.Client, page string) *url.URL {
	t.Helper()
	resp, err := browser.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	action, manifest := formAction.FindSubmatch(body), manifestField.FindSubmatch(body)
	if resp.StatusCode != http.StatusOK || action == nil || manifest == nil {
		t.Fatalf("setup page: status %d, no manifest form:\n%s", resp.StatusCode, body)
	}
	noFollow := *browser
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err = noFollow.PostForm(html.UnescapeString(string(action[1])), url.Values{"manifest": {html.UnescapeString(string(manifest[1]))}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("GitHub's answer to the manifest: status %d, want a redirect: %s", resp.StatusCode, body)
	}
	to, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return to
}

func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// hoist setup against the emulator: the browser posts app.yml as a manifest,
// the emulator registers the App and sends the browser back with a code;
// a forged redirect with another state is refused; the config written
// loads with the server's loader and its key authenticates as the App.
func TestSetupAgainstEmulator(t *testing.T) {
	gh := emulatortest.Start(t)
	gh.CreateUser("alice")
	browser := gh.SignedInClient("alice")
	dir := t.TempDir()
	opts := setup.Options{
		ManifestPath: "../../app.yml",
		Name:         "hoist test",
		PublicURL:    "https://hoist.example.com",
		WebURL:       gh.URL(),
		ConfigPath:   filepath.Join(dir, "conf", "hoist-server.yml"),
		Logger:       zerolog.New(zerolog.NewTestWriter(t)),
	}
	run := start(t, opts)
	back := submitManifest(t, browser, run.page)
	if !strings.HasPrefix(back.String(), run.page+"callback?") || back.Query().Get("code") == "" {
		t.Fatalf("GitHub sent the browser to %s, want %scallback with a code", back, run.page)
	}

	// A redirect carrying the right code but a state this setup did not
	// send is refused and spends nothing.
	forged := *back
	q := forged.Query()
	q.Set("state", "attacker")
	forged.RawQuery = q.Encode()
	if status, body := get(t, browser, forged.String()); status != http.StatusBadRequest || !strings.Contains(body, "state") {
		t.Errorf("redirect with a wrong state: status %d %q, want 400", status, body)
	}
	q.Del("state")
	forged.RawQuery = q.Encode()
	if status, _ := get(t, browser, forged.String()); status != http.StatusBadRequest {
		t.Errorf("redirect without a state: status %d, want 400", status)
	}

	status, body := get(t, browser, back.String())
	if status != http.StatusOK || !strings.Contains(body, "hoist-test") {
		t.Fatalf("redirect with the right state: status %d\n%s", status, body)
	}
	run.wait(t)
	if run.err != nil {
		t.Fatal(run.err)
	}

	// The code is spent: exchanging it again is refused.
	resp, err := http.Post(gh.URL()+"/app-manifests/"+back.Query().Get("code")+"/conversions", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("code exchanged a second time: status %d, want 404", resp.StatusCode)
	}

	for _, p := range []string{opts.ConfigPath, run.res.KeyPath} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", p, fi.Mode().Perm())
		}
	}
	cfg, err := serverconfig.LoadServer(opts.ConfigPath, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("the written config does not load: %v", err)
	}
	if cfg.GitHub.AppID != run.res.AppID || cfg.PublicURL != opts.PublicURL || !cfg.Dashboard.Enabled() {
		t.Errorf("config: app %d public_url %s dashboard %v; setup said app %d", cfg.GitHub.AppID, cfg.PublicURL, cfg.Dashboard.Enabled(), run.res.AppID)
	}
	if got := cfg.GitHubWebURL(); got != gh.URL() {
		t.Errorf("sign-in goes to %s, want the emulator %s", got, gh.URL())
	}
	clientID, clientSecret, err := gh.AppCredentials(cfg.GitHub.AppID)
	if err != nil || cfg.Dashboard.ClientID != clientID || cfg.Dashboard.ClientSecret != clientSecret {
		t.Errorf("dashboard credentials do not match the App's (%v)", err)
	}

	// The key authenticates as the App, against the API URL written.
	key, err := cfg.PrivateKeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	app := &emulatortest.TestApp{ID: cfg.GitHub.AppID, PrivateKeyPEM: key}
	c := gh.Client(app.JWT())
	c.BaseURL, _ = url.Parse(cfg.GitHub.URL)
	me, _, err := c.Apps.Get(context.Background(), "")
	if err != nil || me.GetID() != cfg.GitHub.AppID || me.GetSlug() != "hoist-test" {
		t.Fatalf("GET /app with the written key: %+v %v", me, err)
	}
	if me.GetPermissions().GetContents() != "write" || len(me.Events) == 0 {
		t.Errorf("the App lacks app.yml's permissions or events: %+v %v", me.GetPermissions(), me.Events)
	}

	// A second run refuses to replace the files; --force replaces them.
	if _, err := setup.Run(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("second setup over existing files: %v, want a refusal", err)
	}
	forced := opts
	forced.Force = true
	forced.Name = "hoist test two"
	run2 := start(t, forced)
	if status, _ := get(t, browser, submitManifest(t, browser, run2.page).String()); status != http.StatusOK {
		t.Fatalf("forced setup: status %d", status)
	}
	run2.wait(t)
	if run2.err != nil {
		t.Fatal(run2.err)
	}
	cfg2, err := serverconfig.LoadServer(opts.ConfigPath, func(string) (string, bool) { return "", false })
	if err != nil || cfg2.GitHub.AppID == cfg.GitHub.AppID {
		t.Errorf("forced setup: config %v app %d, want a new app", err, cfg2.GitHub.AppID)
	}
}

// With --org the App is registered for the organization.
func TestSetupForOrganization(t *testing.T) {
	gh := emulatortest.Start(t)
	owner := gh.CreateUser("alice")
	gh.CreateRepo("acme", "site", owner) // creates the organization acme
	browser := gh.SignedInClient("alice")
	run := start(t, setup.Options{
		ManifestPath: "../../app.yml", PublicURL: "https://hoist.example.com", WebURL: gh.URL(), Org: "acme",
		ConfigPath: filepath.Join(t.TempDir(), "hoist-server.yml"), Logger: zerolog.Nop(),
	})
	if status, body := get(t, browser, submitManifest(t, browser, run.page).String()); status != http.StatusOK {
		t.Fatalf("status %d %s", status, body)
	}
	run.wait(t)
	if run.err != nil {
		t.Fatal(run.err)
	}
	cfg, err := serverconfig.LoadServer(run.res.ConfigPath, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	key, _ := cfg.PrivateKeyPEM()
	c := gh.Client((&emulatortest.TestApp{ID: cfg.GitHub.AppID, PrivateKeyPEM: key}).JWT())
	me, _, err := c.Apps.Get(context.Background(), "")
	if err != nil || me.GetOwner().GetLogin() != "acme" {
		t.Errorf("owner %q (%v), want acme", me.GetOwner().GetLogin(), err)
	}
}

// Nothing is written when the manifest is unusable.
func TestSetupRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "app.yml")
	os.WriteFile(bad, []byte("name: x\nhook_atributes: {url: https://x}\n"), 0o600)
	for name, o := range map[string]setup.Options{
		"typo in manifest": {ManifestPath: bad, PublicURL: "https://h.example.com"},
		"no public url":    {ManifestPath: "../../app.yml"},
		"relative web url": {ManifestPath: "../../app.yml", PublicURL: "https://h.example.com", WebURL: "github.example.com"},
	} {
		o.ConfigPath = filepath.Join(dir, "out.yml")
		if _, err := setup.Run(context.Background(), o); err == nil {
			t.Errorf("%s: setup ran", name)
		}
		if _, err := os.Stat(o.ConfigPath); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: a config was written", name)
		}
	}
}

func TestURLs(t *testing.T) {
	for web, want := range map[string][2]string{
		"https://github.com":       {"https://api.github.com/", "https://uploads.github.com/"},
		"https://ghe.example.com/": {"https://ghe.example.com/api/v3/", "https://ghe.example.com/api/uploads/"},
		"http://127.0.0.1:8080":    {"http://127.0.0.1:8080/api/v3/", "http://127.0.0.1:8080/api/uploads/"},
	} {
		api, upload, err := setup.URLs(web)
		if err != nil || api != want[0] || upload != want[1] {
			t.Errorf("URLs(%s) = %s, %s, %v; want %v", web, api, upload, err, want)
		}
	}
}
