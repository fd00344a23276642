package web

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/rs/zerolog"
	"golang.org/x/oauth2"
)

// AuthOptions configure sign-in with GitHub for one origin (the dashboard
// at public_url, or the preview origin).
type AuthOptions struct {
	// ClientID and ClientSecret are the GitHub App's OAuth credentials.
	ClientID, ClientSecret string
	// SessionKey signs (and encrypts) the session and state cookies.
	SessionKey []byte
	// GitHubWebURL is where people sign in (https://github.com);
	// GitHubAPIURL the REST base (https://api.github.com/).
	GitHubWebURL, GitHubAPIURL string
	// BaseURL is this origin's public address; GitHub sends people back
	// to BaseURL + CallbackPath, which must be a callback URL of the App.
	BaseURL string
	// Cookie names the session cookie (default "hoist_session"; with an
	// https BaseURL the name gets the __Host- prefix).
	Cookie string
	// SessionTTL is how long a sign-in lasts (default 8h); AccessTTL how
	// long what a person may read is remembered (default 1m).
	SessionTTL, AccessTTL time.Duration
	// HTTPClient talks to GitHub (nil: a client with a 30 s timeout).
	HTTPClient *http.Client
	Now        func() time.Time
	Logger     zerolog.Logger
}

// Sign-in routes.
const (
	LoginPath    = "/login"
	CallbackPath = "/login/callback"
	LogoutPath   = "/logout"
)

// Auth signs people in with GitHub's web flow and remembers them in an
// HMAC-signed, encrypted session cookie that also carries their
// user-to-server token, so that any replica can ask GitHub what they may
// read.
type Auth struct {
	opts   AuthOptions
	oauth  *oauth2.Config
	encKey []byte
	macKey []byte
	secure bool
	access *cache[map[string]int64]
}

// Session is a signed-in person.
type Session struct {
	Login string `json:"l"`
	ID    int64  `json:"i"`
	Token string `json:"t"`
	// Exp is when the sign-in ends (Unix seconds).
	Exp int64 `json:"e"`
}

// NewAuth returns sign-in for one origin.
func NewAuth(opts AuthOptions) (*Auth, error) {
	if opts.ClientID == "" || opts.ClientSecret == "" {
		return nil, errors.New("sign-in: client id and secret are required")
	}
	if len(opts.SessionKey) < 32 {
		return nil, fmt.Errorf("sign-in: session key of %d bytes, need at least 32", len(opts.SessionKey))
	}
	base, err := url.Parse(opts.BaseURL)
	if err != nil || base.Host == "" {
		return nil, fmt.Errorf("sign-in: base URL %q is not absolute", opts.BaseURL)
	}
	if opts.Cookie == "" {
		opts.Cookie = "hoist_session"
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 8 * time.Hour
	}
	if opts.AccessTTL <= 0 {
		opts.AccessTTL = time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	opts.BaseURL = strings.TrimSuffix(opts.BaseURL, "/")
	opts.GitHubWebURL = strings.TrimSuffix(opts.GitHubWebURL, "/")
	if !strings.HasSuffix(opts.GitHubAPIURL, "/") {
		opts.GitHubAPIURL += "/"
	}
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, opts.SessionKey)
		m.Write([]byte(label))
		return m.Sum(nil)
	}
	if base.Scheme == "https" {
		// __Host-: only this host over https may set it, so a sibling
		// subdomain cannot plant a session.
		opts.Cookie = "__Host-" + opts.Cookie
	}
	a := &Auth{
		opts: opts,
		oauth: &oauth2.Config{
			ClientID: opts.ClientID, ClientSecret: opts.ClientSecret,
			Endpoint: oauth2.Endpoint{
				AuthURL:  opts.GitHubWebURL + "/login/oauth/authorize",
				TokenURL: opts.GitHubWebURL + "/login/oauth/access_token",
				// GitHub takes the client secret in the form.
				AuthStyle: oauth2.AuthStyleInParams,
			},
			RedirectURL: opts.BaseURL + CallbackPath,
		},
		encKey: derive("hoist session encryption v1")[:32],
		macKey: derive("hoist session mac v1"),
		secure: base.Scheme == "https",
		access: newCache[map[string]int64](opts.AccessTTL, opts.Now),
	}
	return a, nil
}

// Mount adds the sign-in routes to mux.
func (a *Auth) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET "+LoginPath, a.serveLogin)
	mux.HandleFunc("GET "+CallbackPath, a.serveCallback)
	mux.HandleFunc("POST "+LogoutPath, a.serveLogout)
}

// stateCookie is the sign-in state's cookie: the state GitHub sends back
// must match it, which binds the callback to the browser that started.
func (a *Auth) stateCookie() string { return a.opts.Cookie + "_state" }

func (a *Auth) serveLogin(w http.ResponseWriter, r *http.Request) {
	next := localPath(r.URL.Query().Get("next"))
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		http.Error(w, "cannot start signing in", http.StatusInternalServerError)
		return
	}
	state := base64.RawURLEncoding.EncodeToString(b)
	val, err := a.seal(stateValue{State: state, Next: next, Exp: a.opts.Now().Add(10 * time.Minute).Unix()})
	if err != nil {
		http.Error(w, "cannot start signing in", http.StatusInternalServerError)
		return
	}
	a.setCookie(w, a.stateCookie(), val, 10*time.Minute)
	noStore(w)
	http.Redirect(w, r, a.oauth.AuthCodeURL(state), http.StatusFound)
}

type stateValue struct {
	State string `json:"s"`
	Next  string `json:"n"`
	Exp   int64  `json:"e"`
}

func (a *Auth) serveCallback(w http.ResponseWriter, r *http.Request) {
	log := a.logger(r)
	noStore(w)
	q := r.URL.Query()
	var st stateValue
	c, err := r.Cookie(a.stateCookie())
	if err == nil {
		err = a.open(c.Value, &st)
	}
	if err != nil || st.State == "" || a.opts.Now().Unix() >= st.Exp ||
		!hmac.Equal([]byte(st.State), []byte(q.Get("state"))) {
		log.Warn().Str("audit", "sign-in refused: state").Msg("sign-in callback without this browser's state")
		a.page(w, http.StatusBadRequest, "Sign-in was not started from this browser, or it took too long. Start again.", "")
		return
	}
	a.clearCookie(w, a.stateCookie())
	if e := q.Get("error"); e != "" {
		a.page(w, http.StatusForbidden, "GitHub did not sign you in: "+e, "")
		return
	}
	ctx := context.WithValue(r.Context(), oauth2.HTTPClient, a.opts.HTTPClient)
	tok, err := a.oauth.Exchange(ctx, q.Get("code"))
	if err != nil {
		log.Warn().Err(err).Msg("sign-in: code exchange")
		a.page(w, http.StatusBadGateway, "GitHub did not accept the sign-in code. Start again.", "")
		return
	}
	gc := a.client(ctx, tok.AccessToken)
	u, _, err := gc.Users.Get(ctx, "")
	if err != nil {
		log.Warn().Err(err).Msg("sign-in: read the user")
		a.page(w, http.StatusBadGateway, "Could not read your account from GitHub.", "")
		return
	}
	exp := a.opts.Now().Add(a.opts.SessionTTL)
	if !tok.Expiry.IsZero() && tok.Expiry.Before(exp) {
		exp = tok.Expiry
	}
	s := Session{Login: u.GetLogin(), ID: u.GetID(), Token: tok.AccessToken, Exp: exp.Unix()}
	val, err := a.seal(s)
	if err != nil {
		http.Error(w, "cannot sign in", http.StatusInternalServerError)
		return
	}
	a.setCookie(w, a.opts.Cookie, val, time.Until(exp))
	log.Info().Dict("audit", zerolog.Dict().Str("actor", s.Login).Str("action", "sign_in")).Msg("signed in")
	http.Redirect(w, r, a.opts.BaseURL+st.Next, http.StatusFound)
}

func (a *Auth) serveLogout(w http.ResponseWriter, r *http.Request) {
	a.clearCookie(w, a.opts.Cookie)
	noStore(w)
	a.page(w, http.StatusOK, "You are signed out.", LoginPath)
}

// Session returns the request's signed-in person, if the cookie is
// present, untampered and unexpired.
func (a *Auth) Session(r *http.Request) (*Session, bool) {
	c, err := r.Cookie(a.opts.Cookie)
	if err != nil {
		return nil, false
	}
	var s Session
	if err := a.open(c.Value, &s); err != nil || s.Login == "" || s.Token == "" || a.opts.Now().Unix() >= s.Exp {
		return nil, false
	}
	return &s, true
}

// Require returns the signed-in person or, answering itself, sends the
// browser to sign in and back to where it was.
func (a *Auth) Require(w http.ResponseWriter, r *http.Request) (*Session, bool) {
	if s, ok := a.Session(r); ok {
		return s, true
	}
	noStore(w)
	http.Redirect(w, r, LoginPath+"?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	return nil, false
}

// Readable lists the repositories the person can read through the App's
// installations, as GitHub answers with their own token: lower-case
// owner/name → installation id. Remembered for AccessTTL per person.
func (a *Auth) Readable(ctx context.Context, s *Session) (map[string]int64, error) {
	key := fmt.Sprintf("%d:%x", s.ID, sha256.Sum256([]byte(s.Token)))
	return a.access.get(ctx, key, func(ctx context.Context) (map[string]int64, error) {
		gc := a.client(ctx, s.Token)
		out := map[string]int64{}
		opt := &github.ListOptions{PerPage: 100}
		for {
			insts, resp, err := gc.Apps.ListUserInstallations(ctx, opt)
			if err != nil {
				return nil, fmt.Errorf("installations of %s: %w", s.Login, err)
			}
			for _, in := range insts {
				ro := &github.ListOptions{PerPage: 100}
				for {
					list, rresp, err := gc.Apps.ListUserRepos(ctx, in.GetID(), ro)
					if err != nil {
						return nil, fmt.Errorf("repositories of installation %d for %s: %w", in.GetID(), s.Login, err)
					}
					for _, r := range list.Repositories {
						out[strings.ToLower(r.GetFullName())] = in.GetID()
					}
					if rresp.NextPage == 0 {
						break
					}
					ro.Page = rresp.NextPage
				}
			}
			if resp.NextPage == 0 {
				break
			}
			opt.Page = resp.NextPage
		}
		return out, nil
	})
}

// client is a GitHub client acting as the person.
func (a *Auth) client(ctx context.Context, token string) *github.Client {
	hc := &http.Client{Timeout: a.opts.HTTPClient.Timeout, Transport: &oauth2.Transport{
		Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token}), Base: a.opts.HTTPClient.Transport}}
	c := github.NewClient(hc)
	if u, err := url.Parse(a.opts.GitHubAPIURL); err == nil {
		c.BaseURL = u
	}
	return c
}

// seal encrypts v (AES-GCM) and signs the result (HMAC-SHA256):
// base64url(nonce‖ciphertext) "." base64url(mac).
func (a *Auth) seal(v any) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	blk, err := aes.NewCipher(a.encKey)
	if err != nil {
		return "", err
	}
	gcm, err := cipher.NewGCM(blk)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	body := gcm.Seal(nonce, nonce, plain, []byte(a.opts.Cookie))
	m := hmac.New(sha256.New, a.macKey)
	m.Write([]byte(a.opts.Cookie + "\n"))
	m.Write(body)
	return base64.RawURLEncoding.EncodeToString(body) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil)), nil
}

var errBadCookie = errors.New("cookie not signed by this server")

func (a *Auth) open(val string, v any) error {
	b64, sig, ok := strings.Cut(val, ".")
	if !ok {
		return errBadCookie
	}
	body, err1 := base64.RawURLEncoding.DecodeString(b64)
	mac, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil {
		return errBadCookie
	}
	m := hmac.New(sha256.New, a.macKey)
	m.Write([]byte(a.opts.Cookie + "\n"))
	m.Write(body)
	if !hmac.Equal(m.Sum(nil), mac) {
		return errBadCookie
	}
	blk, err := aes.NewCipher(a.encKey)
	if err != nil {
		return err
	}
	gcm, err := cipher.NewGCM(blk)
	if err != nil {
		return err
	}
	if len(body) < gcm.NonceSize() {
		return errBadCookie
	}
	plain, err := gcm.Open(nil, body[:gcm.NonceSize()], body[gcm.NonceSize():], []byte(a.opts.Cookie))
	if err != nil {
		return errBadCookie
	}
	return json.Unmarshal(plain, v)
}

func (a *Auth) setCookie(w http.ResponseWriter, name, val string, ttl time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: val, Path: "/", MaxAge: int(ttl / time.Second),
		HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode})
}

func (a *Auth) clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode})
}

func (a *Auth) logger(r *http.Request) *zerolog.Logger {
	if l := zerolog.Ctx(r.Context()); l.GetLevel() != zerolog.Disabled {
		return l
	}
	return &a.opts.Logger
}

var authPage = template.Must(template.New("auth").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex"><title>hoist</title></head>
<body style="font:14px system-ui,sans-serif;margin:24px">
<p>{{.Msg}}</p>{{with .Link}}<p><a href="{{.}}">Sign in with GitHub</a></p>{{end}}
</body></html>
`))

func (a *Auth) page(w http.ResponseWriter, status int, msg, link string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = authPage.Execute(w, map[string]string{"Msg": msg, "Link": link})
}

func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "private, no-store")
}

// localPath keeps a return address on this origin: a path, never
// "//host" or a scheme (no open redirect).
func localPath(p string) string {
	if p == "" || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "\r\n") {
		return "/"
	}
	return p
}
