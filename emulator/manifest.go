package emulator

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// GitHub's App manifest flow
// (docs.github.com: "Registering a GitHub App from a manifest"): a page
// posts a form field "manifest" (JSON) to /settings/apps/new?state=… or
// /organizations/{org}/settings/apps/new?state=…; GitHub registers the App
// once the signed-in person confirms and redirects to the manifest's
// redirect_url with ?code=…&state=…; the code, usable once within an hour,
// is exchanged anonymously with POST /app-manifests/{code}/conversions for
// the App's credentials. The emulator confirms on the person's behalf.

// manifestCodeTTL is how long a manifest code can be exchanged.
const manifestCodeTTL = time.Hour

type manifestCode struct {
	app     int64
	pem     string
	expires time.Time
}

// appManifest is the part of GitHub's manifest the emulator acts on.
type appManifest struct {
	Name           string `json:"name"`
	URL            string `json:"url"`
	Description    string `json:"description"`
	HookAttributes struct {
		URL    string `json:"url"`
		Active *bool  `json:"active"`
	} `json:"hook_attributes"`
	RedirectURL        string            `json:"redirect_url"`
	CallbackURLs       []string          `json:"callback_urls"`
	Public             bool              `json:"public"`
	DefaultEvents      []string          `json:"default_events"`
	DefaultPermissions map[string]string `json:"default_permissions"`
}

var orgManifestPath = regexp.MustCompile(`^/organizations/([A-Za-z0-9-]+)/settings/apps/new$`)

// isManifestPath says whether p is where a manifest is posted.
func isManifestPath(p string) bool {
	return p == "/settings/apps/new" || orgManifestPath.MatchString(p)
}

func manifestError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><title>GitHub emulator</title><p>%s</p>\n", html.EscapeString(msg))
}

// serveManifest registers the App a manifest describes, owned by the
// organization in the path or else by the signed-in person, and redirects
// to the manifest's redirect_url with a one-time code and the state.
func (s *Server) serveManifest(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		manifestError(w, http.StatusBadRequest, "unreadable form: "+err.Error())
		return
	}
	var m appManifest
	if err := json.Unmarshal([]byte(r.PostForm.Get("manifest")), &m); err != nil {
		manifestError(w, http.StatusUnprocessableEntity, "Invalid GitHub App configuration: the manifest is not JSON: "+err.Error())
		return
	}
	if msg := checkManifest(&m); msg != "" {
		manifestError(w, http.StatusUnprocessableEntity, "Invalid GitHub App configuration: "+msg)
		return
	}
	owner := ""
	if g := orgManifestPath.FindStringSubmatch(r.URL.Path); g != nil {
		s.mu.Lock()
		org := s.user(g[1])
		s.mu.Unlock()
		if org == nil || org.Type != "Organization" {
			manifestError(w, http.StatusNotFound, "no organization "+g[1])
			return
		}
		owner = org.Login
	} else if c, err := r.Cookie(emuUserCookie); err == nil {
		s.mu.Lock()
		owner = s.webSessions[c.Value]
		s.mu.Unlock()
	}

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		manifestError(w, http.StatusInternalServerError, "key: "+err.Error())
		return
	}
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	hook := m.HookAttributes.URL
	if m.HookAttributes.Active != nil && !*m.HookAttributes.Active {
		hook = "" // deliveries are recorded, not sent
	}
	events := m.DefaultEvents
	if events == nil {
		events = []string{}
	}
	perms := m.DefaultPermissions
	if perms == nil {
		perms = map[string]string{"metadata": "read"}
	}
	app, err := s.CreateApp(AppSpec{
		Slug: manifestSlug(m.Name), Name: m.Name, Owner: owner,
		PublicKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})),
		WebhookURL:   hook, WebhookSecret: newToken(""),
		Permissions: perms, Events: events, CallbackURLs: m.CallbackURLs,
	})
	if err != nil {
		manifestError(w, http.StatusUnprocessableEntity, "Invalid GitHub App configuration: "+err.Error())
		return
	}
	code := newToken("")[:20]
	s.mu.Lock()
	if s.manifestCodes == nil {
		s.manifestCodes = map[string]manifestCode{}
	}
	s.manifestCodes[code] = manifestCode{
		app:     app.ID,
		pem:     string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})),
		expires: s.now().Add(manifestCodeTTL),
	}
	s.mu.Unlock()
	s.log.Info().Int64("app", app.ID).Str("slug", app.Slug).Str("owner", owner).Msg("app registered from a manifest")

	to, _ := url.Parse(m.RedirectURL)
	q := to.Query()
	q.Set("code", code)
	if st := r.URL.Query().Get("state"); st != "" {
		q.Set("state", st)
	}
	to.RawQuery = q.Encode()
	http.Redirect(w, r, to.String(), http.StatusFound)
}

// checkManifest returns what GitHub would refuse in m, or "".
func checkManifest(m *appManifest) string {
	absolute := func(raw string) bool {
		u, err := url.Parse(raw)
		return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
	}
	switch {
	case strings.TrimSpace(m.Name) == "":
		return "name can't be blank"
	case !absolute(m.URL):
		return "url must be an absolute http(s) URL"
	case (m.HookAttributes.Active == nil || *m.HookAttributes.Active) && !absolute(m.HookAttributes.URL):
		return "hook_attributes.url must be an absolute http(s) URL when the webhook is active"
	case !absolute(m.RedirectURL):
		// GitHub shows the new App's page without one; the emulator has
		// no such page, so the flow needs somewhere to send the code.
		return "redirect_url must be an absolute http(s) URL"
	}
	for _, cb := range m.CallbackURLs {
		if !absolute(cb) {
			return fmt.Sprintf("callback_urls: %q is not an absolute http(s) URL", cb)
		}
	}
	for _, ev := range m.DefaultEvents {
		if ev == "installation" || ev == "installation_repositories" {
			return "Default events unsupported: " + ev
		}
	}
	return ""
}

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

// manifestSlug derives the App's slug from its name, as GitHub does.
func manifestSlug(name string) string {
	return strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(name), "-"), "-")
}

// convertManifest exchanges a manifest code, once, for the App and its
// credentials.
func convertManifest(c *call) {
	code := c.param("code")
	c.s.mu.Lock()
	mc, ok := c.s.manifestCodes[code]
	if ok {
		delete(c.s.manifestCodes, code)
	}
	var app *App
	if ok && c.s.now().Before(mc.expires) {
		app = c.s.appByID(mc.app)
	}
	if app == nil {
		c.s.mu.Unlock()
		c.notFound()
		return
	}
	body := c.s.appJSON(app)
	c.s.mu.Unlock()
	body["client_id"] = app.ClientID // the OAuth client id sign-in uses
	body["client_secret"] = app.ClientSecret
	body["webhook_secret"] = app.WebhookSecret
	body["pem"] = mc.pem
	c.json(http.StatusCreated, body)
}
