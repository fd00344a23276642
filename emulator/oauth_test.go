package emulator_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"
	"golang.org/x/oauth2"
)

// The sign-in web flow as an App's server drives it (with x/oauth2), and
// what the user-to-server token then sees: only the installations and
// repositories the person has a role on.
func TestSignInWebFlowAndUserInstallations(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	bob := e.gh.CreateUser("bob")
	e.gh.CreateRepo("umbrella", "lab", bob) // bob's, installed below
	e.gh.CreateRepo("acme", "secret", e.alice)
	e.gh.CreateRepo("acme", "uninstalled", e.alice)
	other := e.gh.Install(e.app.ID, "umbrella/lab")
	// acme/secret joins alice's installation.
	e.gh.Install(e.app.ID, "acme/site", "acme/secret")

	type got struct{ code, state string }
	codes := make(chan got, 4)
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		codes <- got{r.URL.Query().Get("code"), r.URL.Query().Get("state")}
	}))
	t.Cleanup(cb.Close)
	cfg := &oauth2.Config{ClientID: e.app.ClientID, ClientSecret: e.app.ClientSecret, RedirectURL: cb.URL + "/login/callback",
		Endpoint: oauth2.Endpoint{AuthURL: e.gh.URL() + "/login/oauth/authorize", TokenURL: e.gh.URL() + "/login/oauth/access_token", AuthStyle: oauth2.AuthStyleInParams}}

	// Not registered: GitHub refuses to send the browser anywhere.
	browser := e.gh.SignedInClient("alice")
	if resp, err := browser.Get(cfg.AuthCodeURL("s1")); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("authorize with an unregistered callback: %v %v", resp, err)
	}
	e.gh.SetCallbackURLs(e.app.ID, cb.URL+"/login/callback")

	// Nobody signed in: the page asks who, naming each user.
	resp, err := http.Get(cfg.AuthCodeURL("s1"))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), ">alice</a>") || !strings.Contains(string(page), ">bob</a>") {
		t.Fatalf("sign-in page: %d %s", resp.StatusCode, page)
	}

	signIn := func(c *http.Client, state string) *oauth2.Token {
		t.Helper()
		resp, err := c.Get(cfg.AuthCodeURL(state))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("authorize: %v %v", resp, err)
		}
		resp.Body.Close()
		g := <-codes
		if g.state != state || g.code == "" {
			t.Fatalf("callback got %+v, want state %q", g, state)
		}
		tok, err := cfg.Exchange(ctx, g.code)
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		if !strings.HasPrefix(tok.AccessToken, "ghu_") {
			t.Fatalf("token %q, want a user-to-server token", tok.AccessToken)
		}
		// A code works once.
		if _, err := cfg.Exchange(ctx, g.code); err == nil {
			t.Fatal("a code was exchanged twice")
		}
		return tok
	}
	aliceTok := signIn(browser, "s-alice")

	// The query parameter chooses the person too.
	u, _ := url.Parse(cfg.AuthCodeURL("s-bob"))
	q := u.Query()
	q.Set("login", "bob")
	u.RawQuery = q.Encode()
	if resp, err := http.Get(u.String()); err != nil || resp.StatusCode != 200 {
		t.Fatalf("authorize as bob: %v %v", resp, err)
	}
	g := <-codes
	wrong := *cfg
	wrong.ClientSecret = "not-the-secret"
	if _, err := wrong.Exchange(ctx, g.code); err == nil || !strings.Contains(err.Error(), "incorrect_client_credentials") {
		t.Fatalf("exchange with a wrong secret: %v", err)
	}
	bobTok, err := cfg.Exchange(ctx, g.code)
	if err != nil {
		t.Fatal(err)
	}

	client := func(tok *oauth2.Token) *github.Client {
		c := github.NewClient(cfg.Client(ctx, tok))
		c.BaseURL, _ = url.Parse(e.gh.URL() + "/")
		return c
	}
	names := func(c *github.Client) map[int64][]string {
		t.Helper()
		insts, _, err := c.Apps.ListUserInstallations(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		out := map[int64][]string{}
		for _, in := range insts {
			list, _, err := c.Apps.ListUserRepos(ctx, in.GetID(), nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range list.Repositories {
				out[in.GetID()] = append(out[in.GetID()], r.GetFullName())
			}
			sort.Strings(out[in.GetID()])
		}
		return out
	}
	ac, bc := client(aliceTok), client(bobTok)
	if me, _, err := ac.Users.Get(ctx, ""); err != nil || me.GetLogin() != "alice" {
		t.Fatalf("GET /user as alice: %v %v", me, err)
	}
	if got := names(ac); len(got) != 1 || strings.Join(got[e.inst], ",") != "acme/secret,acme/site" {
		t.Errorf("alice sees %v, want acme/secret and acme/site in installation %d", got, e.inst)
	}
	if got := names(bc); len(got) != 1 || strings.Join(got[other], ",") != "umbrella/lab" {
		t.Errorf("bob sees %v, want umbrella/lab only", got)
	}
	// Another's installation, even by its id: not found.
	if _, resp, err := bc.Apps.ListUserRepos(ctx, e.inst, nil); err == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("bob lists alice's installation: %v", err)
	}
	// The token acts through the App: a repository it is not installed
	// on is out of reach, even the person's own.
	if _, resp, err := ac.Repositories.Get(ctx, "acme", "uninstalled"); err == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("alice's user-to-server token read a repository without the App: %v", err)
	}
	if _, _, err := ac.Repositories.Get(ctx, "acme", "secret"); err != nil {
		t.Errorf("alice reads acme/secret through the App: %v", err)
	}
	// An installation token is not a person.
	if _, resp, err := e.gh.InstallationClient(e.app, e.inst).Users.Get(ctx, ""); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /user with an installation token: %v", err)
	}
}
