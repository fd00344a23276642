package emulator

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// The web flow an App's users sign in with (GitHub's "Authorizing users
// with a GitHub App"): GET /login/oauth/authorize shows who signs in and
// sends the browser back to the App's callback URL with a code; POST
// /login/oauth/access_token exchanges that code for a user-to-server token
// (ghu_…, 8 hours) that acts as the user through the App.
//
// github.com knows who the browser belongs to from its own session; the
// emulator has no passwords, so the person is chosen on the authorize page
// (a link per user) or by the query parameter login=<user>, and remembered
// in the emulator's cookie ghemu_user for later visits.

const emuUserCookie = "ghemu_user"

// oauthCode is a code handed to the callback, good once for ten minutes.
type oauthCode struct {
	app      int64
	login    string
	redirect string
	expires  time.Time
}

// SetCallbackURLs registers the app's OAuth callback URLs: the authorize
// page sends browsers only to one of them (or a path below one), as GitHub
// does.
func (s *Server) SetCallbackURLs(appID int64, urls ...string) error {
	for _, u := range urls {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return fmt.Errorf("callback URL %q is not an absolute http(s) URL", u)
		}
	}
	s.mu.Lock()
	app := s.appByID(appID)
	if app == nil {
		s.mu.Unlock()
		return fmt.Errorf("no app with id %d", appID)
	}
	app.CallbackURLs = append([]string(nil), urls...)
	s.mu.Unlock()
	s.saveLogged()
	return nil
}

// BrowserSession signs a browser in to the emulator as login (what
// github.com's own session does): set the cookie on the emulator's
// address, and the sign-in web flow then asks nothing.
func (s *Server) BrowserSession(login string) (*http.Cookie, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.user(login)
	if u == nil || u.Type != "User" {
		return nil, fmt.Errorf("no user %q", login)
	}
	sess := newToken("")
	if s.webSessions == nil {
		s.webSessions = map[string]string{}
	}
	s.webSessions[sess] = u.Login
	return &http.Cookie{Name: emuUserCookie, Value: sess, Path: "/"}, nil
}

// AppCredentials returns the app's OAuth client id and secret.
func (s *Server) AppCredentials(appID int64) (clientID, clientSecret string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	app := s.appByID(appID)
	if app == nil {
		return "", "", fmt.Errorf("no app with id %d", appID)
	}
	return app.ClientID, app.ClientSecret, nil
}

// callbackAllowed is GitHub's rule: the redirect_uri's scheme, host and
// port equal a registered callback URL's and its path is that path or
// below it.
func callbackAllowed(app *App, redirect string) bool {
	r, err := url.Parse(redirect)
	if err != nil {
		return false
	}
	for _, c := range app.CallbackURLs {
		cu, err := url.Parse(c)
		if err != nil {
			continue
		}
		if cu.Scheme == r.Scheme && strings.EqualFold(cu.Host, r.Host) &&
			(r.Path == cu.Path || strings.HasPrefix(r.Path, strings.TrimSuffix(cu.Path, "/")+"/")) {
			return true
		}
	}
	return false
}

var signInPage = template.Must(template.New("signin").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in to {{.App}} · GitHub emulator</title><link rel="icon" href="data:,"></head>
<body style="font:14px system-ui,sans-serif;margin:24px">
<h1 style="font-size:20px">Sign in to {{.App}}</h1>
<p>The GitHub emulator has no passwords: choose who you are.</p>
<ul>{{range .Users}}<li><a href="{{.URL}}">{{.Login}}</a></li>{{end}}</ul>
</body></html>
`))

func oauthError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintln(w, msg)
}

func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	var app *App
	for _, a := range s.st.Apps {
		if a.ClientID != "" && a.ClientID == q.Get("client_id") {
			app = a
		}
	}
	if app == nil {
		s.mu.Unlock()
		oauthError(w, http.StatusNotFound, "no application with this client_id")
		return
	}
	redirect := q.Get("redirect_uri")
	if redirect == "" && len(app.CallbackURLs) > 0 {
		redirect = app.CallbackURLs[0]
	}
	if !callbackAllowed(app, redirect) {
		s.mu.Unlock()
		oauthError(w, http.StatusBadRequest, "The redirect_uri is not associated with this application.")
		return
	}
	login := q.Get("login")
	if login == "" {
		if c, err := r.Cookie(emuUserCookie); err == nil {
			login = s.webSessions[c.Value]
		}
	}
	u := s.user(login)
	if u == nil || u.Type != "User" {
		// Who is signing in? A link per person.
		var users []map[string]string
		for _, x := range s.st.Users {
			if x.Type != "User" {
				continue
			}
			qq := url.Values{}
			for k, v := range q {
				qq[k] = v
			}
			qq.Set("login", x.Login)
			users = append(users, map[string]string{"Login": x.Login, "URL": "?" + qq.Encode()})
		}
		name := app.Name
		s.mu.Unlock()
		sort.Slice(users, func(i, j int) bool { return users[i]["Login"] < users[j]["Login"] })
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = signInPage.Execute(w, map[string]any{"App": name, "Users": users})
		return
	}
	code := newToken("")[:20]
	if s.oauthCodes == nil {
		s.oauthCodes = map[string]oauthCode{}
	}
	now := s.now()
	for k, c := range s.oauthCodes {
		if now.After(c.expires) {
			delete(s.oauthCodes, k)
		}
	}
	s.oauthCodes[code] = oauthCode{app: app.ID, login: u.Login, redirect: q.Get("redirect_uri"), expires: now.Add(10 * time.Minute)}
	if q.Get("login") != "" {
		sess := newToken("")
		if s.webSessions == nil {
			s.webSessions = map[string]string{}
		}
		s.webSessions[sess] = u.Login
		http.SetCookie(w, &http.Cookie{Name: emuUserCookie, Value: sess, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	}
	s.mu.Unlock()
	back, _ := url.Parse(redirect)
	bq := back.Query()
	bq.Set("code", code)
	if st := q.Get("state"); st != "" {
		bq.Set("state", st)
	}
	back.RawQuery = bq.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// serveAccessToken exchanges a code. Like GitHub it answers 200 with an
// "error" field for a bad code or client, as JSON when asked for
// (Accept: application/json) and form-encoded otherwise.
func (s *Server) serveAccessToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "bad form")
		return
	}
	answer := func(v map[string]any) {
		if strings.Contains(r.Header.Get("Accept"), "application/json") {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_ = json.NewEncoder(w).Encode(v)
			return
		}
		f := url.Values{}
		for k, x := range v {
			f.Set(k, fmt.Sprint(x))
		}
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		_, _ = w.Write([]byte(f.Encode()))
	}
	id, secret := r.Form.Get("client_id"), r.Form.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok && id == "" {
		id, secret = u, p
	}
	s.mu.Lock()
	var app *App
	for _, a := range s.st.Apps {
		if a.ClientID != "" && a.ClientID == id {
			app = a
		}
	}
	if app == nil || subtle.ConstantTimeCompare([]byte(app.ClientSecret), []byte(secret)) != 1 {
		s.mu.Unlock()
		answer(map[string]any{"error": "incorrect_client_credentials", "error_description": "The client_id and/or client_secret passed are incorrect."})
		return
	}
	code := r.Form.Get("code")
	c, ok := s.oauthCodes[code]
	delete(s.oauthCodes, code) // a code works once
	now := s.now()
	if !ok || c.app != app.ID || now.After(c.expires) || (r.Form.Get("redirect_uri") != "" && c.redirect != "" && r.Form.Get("redirect_uri") != c.redirect) {
		s.mu.Unlock()
		answer(map[string]any{"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."})
		return
	}
	tok := newToken("ghu_")
	s.st.Tokens[tok] = &Token{Login: c.login, AppID: app.ID, ExpiresAt: now.Add(8 * time.Hour)}
	s.mu.Unlock()
	s.saveLogged()
	answer(map[string]any{"access_token": tok, "token_type": "bearer", "scope": "", "expires_in": 28800})
}

// publicUserJSON is a public-user (GET /user). Callers hold s.mu.
func (s *Server) publicUserJSON(u *User) obj {
	o := s.userJSON(u)
	for _, k := range []string{"name", "company", "location", "email", "hireable", "bio"} {
		o[k] = nil
	}
	o["blog"] = ""
	o["public_repos"], o["public_gists"], o["followers"], o["following"] = 0, 0, 0, 0
	o["created_at"], o["updated_at"] = u.CreatedAt, u.CreatedAt
	o["user_view_type"] = "public"
	return o
}

func getAuthenticatedUser(c *call) {
	if c.actor.user == nil || c.actor.inst != nil {
		c.fail(http.StatusUnauthorized, "Requires authentication", nil)
		return
	}
	c.s.mu.Lock()
	body := c.s.publicUserJSON(c.actor.user)
	c.s.mu.Unlock()
	c.json(http.StatusOK, body)
}

// explicitRepos are the repositories of an installation the user has an
// explicit role on (owner or collaborator), as /user/installations counts
// them. Callers hold s.mu.
func (s *Server) explicitRepos(login string, in *Installation) []*Repo {
	var out []*Repo
	for _, full := range in.Repos {
		r := s.st.Repos[strings.ToLower(full)]
		if r == nil {
			continue
		}
		if _, collab := r.Collaborators[strings.ToLower(login)]; collab || strings.EqualFold(r.Owner, login) {
			out = append(out, r)
		}
	}
	return out
}

// userInstallations are the installations a user token sees: of its app
// (every app for a personal token) with a repository the user may read.
// Callers hold s.mu.
func (c *call) userInstallations() []*Installation {
	var list []*Installation
	for _, in := range c.s.st.Installations {
		if c.actor.via != 0 && in.AppID != c.actor.via {
			continue
		}
		if len(c.s.explicitRepos(c.actor.user.Login, in)) > 0 {
			list = append(list, in)
		}
	}
	sortByID(list, func(x *Installation) int64 { return x.ID })
	return list
}

func (c *call) userToken() bool {
	if c.actor.user == nil || c.actor.inst != nil {
		c.fail(http.StatusUnauthorized, "Requires authentication", nil)
		return false
	}
	return true
}

func listUserInstallations(c *call) {
	if !c.userToken() {
		return
	}
	c.s.mu.Lock()
	out := []obj{}
	for _, in := range c.userInstallations() {
		out = append(out, c.s.installationJSON(in))
	}
	c.s.mu.Unlock()
	c.json(http.StatusOK, obj{"total_count": len(out), "installations": pageOf(c, out)})
}

func listUserInstallationRepos(c *call) {
	if !c.userToken() {
		return
	}
	id, ok := c.intParam("installation_id")
	if !ok {
		return
	}
	c.s.mu.Lock()
	var in *Installation
	for _, x := range c.userInstallations() {
		if x.ID == id {
			in = x
		}
	}
	if in == nil {
		c.s.mu.Unlock()
		c.notFound()
		return
	}
	list := []obj{}
	for _, r := range c.s.explicitRepos(c.actor.user.Login, in) {
		list = append(list, c.s.repoJSON(r))
	}
	c.s.mu.Unlock()
	c.json(http.StatusOK, obj{"total_count": len(list), "repositories": pageOf(c, list), "repository_selection": "selected"})
}
