package web_test

import (
	"context"
	"image/color"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/internal/web"
)

// noFollow is a client that shows each answer instead of following it.
func noFollow(c *http.Client) *http.Client {
	cc := *c
	cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cc
}

func fetch(t *testing.T, c *http.Client, method, u string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// Without sign-in the dashboard names nothing and sends the browser to
// GitHub's sign-in, which brings it back to the page it asked for.
func TestDashboardWithoutSignInShowsNoRepository(t *testing.T) {
	w := newWorld(t, holds)
	_, shots := artifacts(t, testPNG(color.RGBA{200, 0, 0, 255}), testPNG(color.RGBA{0, 150, 0, 255}), testPNG(color.RGBA{0, 0, 200, 255}))
	w.fill(shots)
	anon := &http.Client{}
	for _, p := range []string{"/", "/repos/acme/shop", "/repos/acme/nope"} {
		res, body := fetch(t, noFollow(anon), http.MethodGet, w.srv.URL+p)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login?next="+url.QueryEscape(p) {
			t.Errorf("GET %s without sign-in: %d to %q, want 303 to sign in", p, res.StatusCode, res.Header.Get("Location"))
		}
		if strings.Contains(body, "acme/") || strings.Contains(body, "Configure hoist") {
			t.Errorf("GET %s without sign-in names a repository:\n%s", p, body)
		}
		// Followed to the end: GitHub's sign-in page, still no name.
		if res, body := fetch(t, anon, http.MethodGet, w.srv.URL+p); !strings.HasPrefix(res.Request.URL.String(), w.gh.URL()+"/login/oauth/authorize?") || strings.Contains(body, "acme/") {
			t.Errorf("GET %s ends at %s:\n%s", p, res.Request.URL, body)
		}
	}
}

// Two people, two installations, each reading different private
// repositories: each sees only their own, also by direct URL.
func TestDashboardShowsEachPersonOnlyWhatTheyRead(t *testing.T) {
	w := newWorld(t, holds)
	_, shots := artifacts(t, testPNG(color.RGBA{200, 0, 0, 255}), testPNG(color.RGBA{0, 150, 0, 255}), testPNG(color.RGBA{0, 0, 200, 255}))
	s := w.fill(shots)
	ctx := context.Background()

	// bob's own organisation, with its own installation of the App.
	bobTok := w.gh.CreateUser("bob")
	w.gh.CreateRepo("umbrella", "lab", bobTok)
	bob := w.gh.Client(bobTok)
	if _, _, err := bob.Repositories.CreateFile(ctx, "umbrella", "lab", config.RepoConfigPath, &github.RepositoryContentFileOptions{
		Message: github.String("Configure hoist"), Content: []byte(shopConfig), Branch: github.String("main")}); err != nil {
		t.Fatal(err)
	}
	w.gh.Install(w.app.ID, "umbrella/lab")
	// carol reads acme/shop only.
	w.gh.CreateUser("carol")
	if _, _, err := w.alice.Repositories.AddCollaborator(ctx, "acme", "shop", "carol", &github.RepositoryAddCollaboratorOptions{Permission: "pull"}); err != nil {
		t.Fatal(err)
	}
	bobC, carolC := w.signIn("bob"), w.signIn("carol")

	_, alicePage := w.getAs(w.client, "/")
	_, bobPage := w.getAs(bobC, "/")
	_, carolPage := w.getAs(carolC, "/")
	if !strings.Contains(alicePage, `id="acme/shop"`) || strings.Contains(alicePage, "umbrella") {
		t.Errorf("alice's overview: want acme/shop and nothing of umbrella:\n%s", alicePage)
	}
	if !strings.Contains(bobPage, `id="umbrella/lab"`) || strings.Contains(bobPage, "acme") || strings.Contains(bobPage, s.staging[:7]) {
		t.Errorf("bob's overview: want umbrella/lab and nothing of acme:\n%s", bobPage)
	}
	for _, shot := range shots {
		if strings.Contains(bobPage, shot) {
			t.Errorf("bob's overview shows acme/shop's screenshot %s", shot)
		}
	}
	if !strings.Contains(carolPage, `id="acme/shop"`) || strings.Contains(carolPage, "acme/broken") || strings.Contains(carolPage, "umbrella") {
		t.Errorf("carol's overview: want acme/shop only:\n%s", carolPage)
	}
	if !strings.Contains(bobPage, "signed in as bob") {
		t.Errorf("bob's page does not say who is signed in")
	}

	// Direct URLs of the other's repository: answered like a repository
	// that does not exist.
	code, page := w.getAs(bobC, "/repos/acme/shop")
	_, missing := w.getAs(bobC, "/repos/acme/does-not-exist")
	if code != http.StatusNotFound || strings.Contains(page, s.staging[:7]) || strings.Contains(page, "Recent activity") ||
		strings.Replace(page, "acme/shop", "acme/does-not-exist", -1) != missing {
		t.Errorf("bob opens /repos/acme/shop: %d\n%s", code, page)
	}
	if code, page := w.getAs(w.client, "/repos/umbrella/lab"); code != http.StatusNotFound || strings.Contains(page, "Configure hoist") {
		t.Errorf("alice opens /repos/umbrella/lab: %d\n%s", code, page)
	}
	if code, _ := w.getAs(bobC, "/repos/umbrella/lab"); code != http.StatusOK {
		t.Errorf("bob opens his own repository: %d", code)
	}

	// Access is remembered briefly: once carol loses it, she stops seeing
	// the repository when the minute is over.
	if _, err := w.alice.Repositories.RemoveCollaborator(ctx, "acme", "shop", "carol"); err != nil {
		t.Fatal(err)
	}
	w.clock.Add(61 * time.Second)
	if code, page := w.getAs(carolC, "/repos/acme/shop"); code != http.StatusNotFound || strings.Contains(page, s.staging[:7]) {
		t.Errorf("carol, no longer a collaborator, opens /repos/acme/shop after the access TTL: %d", code)
	}
}

// A session cookie that this server did not sign, or signed and then
// altered, is no session; an OAuth callback that this browser did not
// start signs nobody in.
func TestDashboardRefusesForgedSessionsAndState(t *testing.T) {
	w := newWorld(t, nil)
	base, _ := url.Parse(w.srv.URL)
	var session *http.Cookie
	for _, c := range w.client.Jar.Cookies(base) {
		if c.Name == "hoist_session" {
			session = c
		}
	}
	if session == nil {
		t.Fatal("no session cookie after signing in")
	}
	get := func(value string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, w.srv.URL+"/", nil)
		req.AddCookie(&http.Cookie{Name: "hoist_session", Value: value})
		res, err := noFollow(&http.Client{}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	if res := get(session.Value); res.StatusCode != http.StatusOK {
		t.Fatalf("the genuine cookie: %d", res.StatusCode)
	}
	flip := []byte(session.Value)
	flip[10] ^= 1
	b64, mac, _ := strings.Cut(session.Value, ".")
	for name, v := range map[string]string{
		"a flipped byte":       string(flip),
		"no signature":         b64,
		"another body":         "eyJsIjoiYWxpY2UiLCJpIjoxLCJ0IjoiZ2hwX3giLCJlIjo5OTk5OTk5OTk5fQ." + mac,
		"empty":                "",
		"the name as a value ": "alice",
	} {
		if res := get(v); res.StatusCode != http.StatusSeeOther {
			t.Errorf("%s: %d, want a redirect to sign in", name, res.StatusCode)
		}
	}
	// bob's callback, caught before his browser reaches it: the code and
	// the state GitHub sent back for him.
	w.gh.CreateUser("bob")
	bobC := w.gh.SignedInClient("bob")
	var callback string
	bobC.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if req.URL.Path == web.CallbackPath {
			callback = req.URL.String()
			return http.ErrUseLastResponse
		}
		return nil
	}
	if res, _ := fetch(t, bobC, http.MethodGet, w.srv.URL+web.LoginPath); callback == "" {
		t.Fatalf("bob's sign-in never reached the callback: %d", res.StatusCode)
	}
	// Another browser (none of bob's state cookie), and one that started
	// its own sign-in (a state of its own): neither is signed in as bob.
	started := &http.Client{Jar: newJar(t)}
	fetch(t, noFollow(started), http.MethodGet, w.srv.URL+web.LoginPath)
	for name, c := range map[string]*http.Client{"a fresh browser": {Jar: newJar(t)}, "a browser that started its own sign-in": started} {
		res, body := fetch(t, noFollow(c), http.MethodGet, callback)
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "not started from this browser") {
			t.Errorf("%s given bob's callback: %d %s", name, res.StatusCode, body)
		}
		for _, ck := range res.Cookies() {
			if ck.Name == "hoist_session" && ck.Value != "" {
				t.Errorf("%s was given a session from bob's callback", name)
			}
		}
	}
	// bob's own browser completes it once.
	bobC.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if res, _ := fetch(t, bobC, http.MethodGet, callback); res.StatusCode != http.StatusFound {
		t.Errorf("bob's own callback: %d", res.StatusCode)
	}

	// The address to return to stays on this origin.
	for _, next := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example"} {
		c := w.gh.SignedInClient("bob")
		// Follow the flow up to the callback's answer, and no further.
		c.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), w.gh.URL()+"/") || req.URL.Host == base.Host && req.URL.Path == web.CallbackPath {
				return nil
			}
			return http.ErrUseLastResponse
		}
		res, _ := fetch(t, c, http.MethodGet, w.srv.URL+web.LoginPath+"?next="+url.QueryEscape(next))
		if res.StatusCode != http.StatusFound || res.Header.Get("Location") != w.srv.URL+"/" {
			t.Errorf("sign in with next=%s: %d to %q, want back to %s/", next, res.StatusCode, res.Header.Get("Location"), w.srv.URL)
		}
	}

	// Sign-out ends the session in that browser.
	if res, _ := fetch(t, w.client, http.MethodPost, w.srv.URL+web.LogoutPath); res.StatusCode != http.StatusOK {
		t.Fatalf("sign out: %d", res.StatusCode)
	}
	if res, _ := fetch(t, noFollow(w.client), http.MethodGet, w.srv.URL+"/"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("after signing out: %d, want a redirect to sign in", res.StatusCode)
	}
}

// The cookies' attributes: HttpOnly, SameSite=Lax, Secure on https.
func TestSessionCookieAttributes(t *testing.T) {
	for _, base := range []string{"http://127.0.0.1:1", "https://hoist.example"} {
		a, err := web.NewAuth(web.AuthOptions{ClientID: "x", ClientSecret: "y", SessionKey: sessionKey, BaseURL: base, GitHubWebURL: "https://github.com"})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		a.Mount(mux)
		rec := httptestRecorder(mux, http.MethodGet, web.LoginPath)
		if rec.Code != http.StatusFound || !strings.HasPrefix(rec.Header().Get("Location"), "https://github.com/login/oauth/authorize?") {
			t.Fatalf("%s: GET /login = %d %q", base, rec.Code, rec.Header().Get("Location"))
		}
		ck := rec.Result().Cookies()
		https := strings.HasPrefix(base, "https")
		if len(ck) != 1 || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteLaxMode || ck[0].Secure != https ||
			strings.HasPrefix(ck[0].Name, "__Host-") != https || ck[0].Path != "/" || ck[0].Domain != "" {
			t.Errorf("%s: state cookie %+v", base, ck)
		}
		loc, _ := url.Parse(rec.Header().Get("Location"))
		if loc.Query().Get("redirect_uri") != base+web.CallbackPath || loc.Query().Get("state") == "" {
			t.Errorf("%s: authorize URL %s", base, loc)
		}
	}
}

func newJar(t *testing.T) http.CookieJar {
	j, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func httptestRecorder(h http.Handler, method, path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec
}
