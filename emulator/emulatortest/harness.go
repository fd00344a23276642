// Package emulatortest is the test kit of the GitHub emulator: a harness
// whose helpers fail the test on error, and a checker of the emulator's
// answers and webhooks against GitHub's published OpenAPI description.
// The hoist binary links neither; only tests import this package.
package emulatortest

import (
	"testing"

	"net/http"
	"net/http/cookiejar"
	"net/url"
	"time"

	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/internal/world"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v60/github"
)

// Harness is the emulator for other packages' tests: every helper fails
// the test on error, so end-to-end tests stay short.
//
//	gh := emulatortest.Start(t)
//	alice := gh.CreateUser("alice")
//	app := gh.CreateApp("hoist", hookURL)
//	gh.CreateRepo("acme", "site", alice)
//	inst := gh.Install(app.ID, "acme/site")
//	d := gh.WaitForDelivery(func(d emulator.Delivery) bool { return d.Event == "push" })
type Harness struct {
	*emulator.Server
	t testing.TB
}

// TestApp is an app registered by the harness with a fresh RSA key.
type TestApp = world.App

// Start runs an emulator on a loopback port with its data in t.TempDir(),
// closed when the test ends. Options may set observers, faults seed etc.;
// DataDir is filled in when empty.
func Start(t testing.TB, opts ...emulator.Options) *Harness {
	t.Helper()
	var o emulator.Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	if o.WebhookBackoff == 0 {
		o.WebhookBackoff = 20 * time.Millisecond
	}
	s, err := emulator.New(o)
	if err != nil {
		t.Fatalf("emulator: %v", err)
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("emulator: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return &Harness{Server: s, t: t}
}

// Wrap is the harness around an emulator started elsewhere (a world).
func Wrap(t testing.TB, s *emulator.Server) *Harness { return &Harness{Server: s, t: t} }

// CreateUser adds a user and returns its token.
func (h *Harness) CreateUser(login string) string {
	h.t.Helper()
	_, tok, err := h.Server.CreateUser(login)
	if err != nil {
		h.t.Fatalf("emulator: %v", err)
	}
	return tok
}

// CreateApp registers an app with a new 2048-bit key, posting its
// webhooks to webhookURL ("" records deliveries without sending them).
func (h *Harness) CreateApp(slug, webhookURL string) *TestApp {
	h.t.Helper()
	app, err := world.CreateApp(h.Server, emulator.AppSpec{Slug: slug, WebhookURL: webhookURL})
	if err != nil {
		h.t.Fatalf("emulator: %v", err)
	}
	return app
}

// SetCallbackURLs registers where the app's sign-in may return.
func (h *Harness) SetCallbackURLs(appID int64, urls ...string) {
	h.t.Helper()
	if err := h.Server.SetCallbackURLs(appID, urls...); err != nil {
		h.t.Fatalf("emulator: %v", err)
	}
}

// SignedInClient is a browser-like client (cookie jar, redirects
// followed) that the emulator knows as login: the sign-in web flow signs
// it in as that user without asking.
func (h *Harness) SignedInClient(login string) *http.Client {
	h.t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	ck, err := h.Server.BrowserSession(login)
	if err != nil {
		h.t.Fatalf("emulator: %v", err)
	}
	base, _ := url.Parse(h.URL())
	jar.SetCookies(base, []*http.Cookie{ck})
	return c
}

// CreateRepo creates owner/name (default branch main) administered by the
// user of ownerToken.
func (h *Harness) CreateRepo(owner, name, ownerToken string) *emulator.Repo {
	h.t.Helper()
	r, err := h.Server.CreateRepo(emulator.RepoSpec{Owner: owner, Name: name, OwnerToken: ownerToken})
	if err != nil {
		h.t.Fatalf("emulator: %v", err)
	}
	return r
}

// Install installs an app on repositories and returns the installation id.
func (h *Harness) Install(appID int64, repos ...string) int64 {
	h.t.Helper()
	id, err := h.Server.Install(appID, repos...)
	if err != nil {
		h.t.Fatalf("emulator: %v", err)
	}
	return id
}

// InstallationToken issues a token for an installation.
func (h *Harness) InstallationToken(installationID int64) string {
	h.t.Helper()
	tok, err := h.Server.InstallationToken(installationID)
	if err != nil {
		h.t.Fatalf("emulator: %v", err)
	}
	return tok
}

// GitURL is the clone URL of a repository with a token in it.
func (h *Harness) GitURL(fullName, token string) string {
	u, _ := url.Parse(h.URL() + "/" + fullName + ".git")
	u.User = url.UserPassword("x-access-token", token)
	return u.String()
}

// WaitForDelivery waits up to ten seconds for a finished delivery that
// matches, failing the test otherwise.
func (h *Harness) WaitForDelivery(match func(emulator.Delivery) bool) emulator.Delivery {
	h.t.Helper()
	d, err := h.WaitDelivery(10*time.Second, match)
	if err != nil {
		h.t.Fatalf("emulator: %v", err)
	}
	return d
}

// Client is go-github, authenticated with a user's or installation's
// token, aimed at the emulator (enterprise URLs: /api/v3/).
func (h *Harness) Client(token string) *github.Client {
	h.t.Helper()
	c, err := github.NewClient(nil).WithAuthToken(token).WithEnterpriseURLs(h.URL()+"/", h.URL()+"/")
	if err != nil {
		h.t.Fatalf("emulator: %v", err)
	}
	return c
}

// InstallationClient is go-github authenticated as an app installation
// through ghinstallation, the way hoist authenticates.
func (h *Harness) InstallationClient(app *TestApp, installationID int64) *github.Client {
	h.t.Helper()
	atr, err := ghinstallation.NewAppsTransport(http.DefaultTransport, app.ID, app.PrivateKeyPEM)
	if err != nil {
		h.t.Fatalf("emulator: %v", err)
	}
	atr.BaseURL = h.URL() + "/api/v3"
	itr := ghinstallation.NewFromAppsTransport(atr, installationID)
	itr.BaseURL = atr.BaseURL
	c, err := github.NewClient(&http.Client{Transport: itr}).WithEnterpriseURLs(h.URL()+"/", h.URL()+"/")
	if err != nil {
		h.t.Fatalf("emulator: %v", err)
	}
	return c
}
