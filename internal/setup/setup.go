// Package setup registers hoist's GitHub App with GitHub's App manifest flow
// (docs.github.com: "Registering a GitHub App from a manifest") and writes
// the server configuration `hoist serve` reads: a local page posts the
// manifest built from app.yml to GitHub, GitHub sends the browser back with
// a one-time code, and the code is exchanged for the App's id, private key,
// webhook secret and OAuth credentials.
package setup

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/rs/zerolog"
	"gopkg.in/yaml.v3"
)

// Options say which App to register where, and where its credentials go.
type Options struct {
	// ManifestPath is the App manifest in YAML (the repository's app.yml).
	ManifestPath string
	// Name replaces the manifest's name: App names are unique on GitHub.
	Name string
	// PublicURL is where GitHub and people reach hoist; the webhook URL and
	// the sign-in callback are built from it.
	PublicURL string
	// WebURL is GitHub's web address (https://github.com, or a GitHub
	// Enterprise Server's https://HOST); APIURL its REST API, derived from
	// WebURL when empty.
	WebURL, APIURL string
	// Org registers the App for this organization instead of the person
	// signed in.
	Org string
	// Addr is where the local page listens; 127.0.0.1:0 picks a port.
	Addr string
	// ConfigPath and KeyPath are the files written; existing ones are
	// refused unless Force. KeyPath defaults to a file beside ConfigPath.
	ConfigPath, KeyPath string
	Force               bool
	// HTTPClient exchanges the code; nil means a client with a timeout.
	HTTPClient *http.Client
	Logger     zerolog.Logger
	// Ready receives the local page's address once it listens.
	Ready func(pageURL string)
}

// Result is the registered App and the files written.
type Result struct {
	AppID      int64
	Slug       string
	HTMLURL    string
	ConfigPath string
	KeyPath    string
}

// InstallURL is where the App is installed on repositories.
func (r *Result) InstallURL() string {
	return strings.TrimSuffix(r.HTMLURL, "/") + "/installations/new"
}

// DefaultKeyName is the private key's file name beside the config file.
const DefaultKeyName = "hoist-app.private-key.pem"

// manifestKeys are the fields GitHub's manifest accepts; anything else in
// app.yml is a typo GitHub would silently drop.
var manifestKeys = map[string]bool{
	"name": true, "url": true, "description": true, "hook_attributes": true, "redirect_url": true,
	"callback_urls": true, "setup_url": true, "public": true, "default_events": true,
	"default_permissions": true, "request_oauth_on_install": true, "setup_on_update": true,
}

// URLs derives the API and upload addresses from GitHub's web address:
// github.com's live on their own hosts, GitHub Enterprise Server's under
// /api/v3/ and /api/uploads/ of its host.
func URLs(webURL string) (apiURL, uploadURL string, err error) {
	u, err := url.Parse(webURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", "", fmt.Errorf("setup: %q is not an absolute http(s) URL", webURL)
	}
	if strings.EqualFold(u.Host, "github.com") {
		return "https://api.github.com/", "https://uploads.github.com/", nil
	}
	base := strings.TrimSuffix(u.String(), "/")
	return base + "/api/v3/", base + "/api/uploads/", nil
}

// Run serves the local page, waits for GitHub's redirect, exchanges the
// code and writes the key and the config. It returns when the files are
// written, when the exchange fails, or when ctx ends.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	for _, p := range []string{opts.ConfigPath, opts.KeyPath} {
		if _, err := os.Stat(p); err == nil && !opts.Force {
			return nil, fmt.Errorf("setup: %s exists; move it away or pass --force to replace it", p)
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("setup: %w", err)
		}
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("setup: listen on %s: %w", opts.Addr, err)
	}
	pageURL := "http://" + ln.Addr().String() + "/"
	manifest, err := buildManifest(opts, pageURL+"callback")
	if err != nil {
		ln.Close()
		return nil, err
	}
	f := &flow{opts: opts, manifest: manifest, state: randomHex(32), done: make(chan struct{})}
	f.action = strings.TrimSuffix(opts.WebURL, "/") + "/settings/apps/new"
	if opts.Org != "" {
		f.action = strings.TrimSuffix(opts.WebURL, "/") + "/organizations/" + url.PathEscape(opts.Org) + "/settings/apps/new"
	}
	f.action += "?state=" + url.QueryEscape(f.state)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", f.page)
	mux.HandleFunc("GET /callback", f.callback)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	opts.Logger.Info().Str("page", pageURL).Str("github", opts.WebURL).Msg("waiting for the App to be created in the browser")
	if opts.Ready != nil {
		opts.Ready(pageURL)
	}
	select {
	case <-f.done:
		return f.result, f.err
	case <-ctx.Done():
		return nil, fmt.Errorf("setup: no App was created: %w", ctx.Err())
	}
}

func (o *Options) defaults() error {
	if o.ManifestPath == "" {
		o.ManifestPath = "app.yml"
	}
	if o.WebURL == "" {
		o.WebURL = "https://github.com"
	}
	api, _, err := URLs(o.WebURL)
	if err != nil {
		return err
	}
	if o.APIURL == "" {
		o.APIURL = api
	}
	if !strings.HasSuffix(o.APIURL, "/") {
		o.APIURL += "/"
	}
	if u, err := url.Parse(o.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("setup: the public URL %q is not an absolute http(s) URL (where GitHub reaches hoist)", o.PublicURL)
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.ConfigPath == "" {
		o.ConfigPath = "hoist-server.yml"
	}
	if o.KeyPath == "" {
		o.KeyPath = filepath.Join(filepath.Dir(o.ConfigPath), DefaultKeyName)
	}
	// The config names the key by an absolute path: hoist serve may run
	// from another directory.
	if o.KeyPath, err = filepath.Abs(o.KeyPath); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	return nil
}

// buildManifest reads app.yml and points it at this hoist: the webhook and
// sign-in callback at PublicURL, the redirect at the local page.
func buildManifest(opts Options, redirect string) (string, error) {
	raw, err := os.ReadFile(opts.ManifestPath)
	if err != nil {
		return "", fmt.Errorf("setup: read the App manifest: %w", err)
	}
	m := map[string]any{}
	if err := yaml.Unmarshal(raw, &m); err != nil {
		return "", fmt.Errorf("setup: %s: %w", opts.ManifestPath, err)
	}
	for k := range m {
		if !manifestKeys[k] {
			return "", fmt.Errorf("setup: %s: %q is not a field of a GitHub App manifest", opts.ManifestPath, k)
		}
	}
	if opts.Name != "" {
		m["name"] = opts.Name
	}
	if name, _ := m["name"].(string); strings.TrimSpace(name) == "" {
		return "", fmt.Errorf("setup: %s has no name (or pass --name)", opts.ManifestPath)
	}
	public := strings.TrimSuffix(opts.PublicURL, "/")
	hook, _ := m["hook_attributes"].(map[string]any)
	if hook == nil {
		hook = map[string]any{}
	}
	hook["url"] = public + "/api/github/hook"
	m["hook_attributes"] = hook
	m["callback_urls"] = []string{public + "/login/callback"}
	m["redirect_url"] = redirect
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("setup: %s: %w", opts.ManifestPath, err)
	}
	return string(b), nil
}

// flow is one run's page and callback.
type flow struct {
	opts     Options
	manifest string
	state    string
	action   string

	mu     sync.Mutex
	used   bool // a code with the right state arrived; later ones are refused
	done   chan struct{}
	result *Result
	err    error
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Create the GitHub App · hoist setup</title><link rel="icon" href="data:,"></head>
<body>
<h1>Create hoist's GitHub App</h1>
<p>GitHub will ask you to confirm the App{{if .Org}} for the organization {{.Org}}{{end}}, then send you back here.</p>
<form id="manifest" method="post" action="{{.Action}}">
<input type="hidden" name="manifest" value="{{.Manifest}}">
<button type="submit">Create the GitHub App on {{.Web}}</button>
</form>
</body></html>
`))

var donePage = template.Must(template.New("done").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>GitHub App created · hoist setup</title><link rel="icon" href="data:,"></head>
<body>
<h1>The GitHub App {{.Slug}} is created</h1>
<p>Its credentials are in {{.ConfigPath}} (key: {{.KeyPath}}). Next, <a href="{{.InstallURL}}">install it on your repositories</a>,
then start <code>hoist serve --config {{.ConfigPath}}</code>. You can close this page.</p>
</body></html>
`))

func (f *flow) page(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	_ = pageTmpl.Execute(w, map[string]string{"Action": f.action, "Manifest": f.manifest, "Org": f.opts.Org, "Web": f.opts.WebURL})
}

func (f *flow) callback(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	q := r.URL.Query()
	// A code arriving with another state was not asked for by this run
	// (a forged link, or a stale tab): refuse it and keep waiting.
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.state)) != 1 {
		f.opts.Logger.Warn().Str("audit", "setup_state_mismatch").Str("remote", r.RemoteAddr).Msg("refused a manifest redirect whose state this setup did not send")
		http.Error(w, "This redirect does not belong to this hoist setup (state does not match). Start again from the setup page.", http.StatusBadRequest)
		return
	}
	code := q.Get("code")
	if code == "" {
		http.Error(w, "GitHub sent no code.", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	if f.used {
		f.mu.Unlock()
		http.Error(w, "This setup has already received its code.", http.StatusConflict)
		return
	}
	f.used = true
	f.mu.Unlock()

	// The exchange finishes even if the browser goes away: the code is
	// good only once.
	res, err := f.exchange(context.WithoutCancel(r.Context()), code)
	f.result, f.err = res, err
	defer close(f.done)
	if err != nil {
		f.opts.Logger.Error().Err(err).Msg("setup failed")
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = donePage.Execute(w, map[string]any{"Slug": res.Slug, "ConfigPath": res.ConfigPath, "KeyPath": res.KeyPath, "InstallURL": res.InstallURL()})
}

// exchange trades the code for the App's credentials and writes them.
func (f *flow) exchange(ctx context.Context, code string) (*Result, error) {
	client := github.NewClient(f.opts.HTTPClient)
	base, err := url.Parse(f.opts.APIURL)
	if err != nil {
		return nil, fmt.Errorf("setup: API URL: %w", err)
	}
	client.BaseURL = base
	// Nothing is uploaded during setup, but the client is complete for
	// GitHub Enterprise Server all the same.
	if _, upload, err := URLs(f.opts.WebURL); err == nil {
		if u, err := url.Parse(upload); err == nil {
			client.UploadURL = u
		}
	}
	app, _, err := client.Apps.CompleteAppManifest(ctx, code)
	if err != nil {
		return nil, fmt.Errorf("setup: exchange the manifest code with %s: %w", f.opts.APIURL, err)
	}
	if app.GetID() == 0 || app.GetPEM() == "" || app.GetWebhookSecret() == "" {
		return nil, fmt.Errorf("setup: GitHub's answer lacks the App id, key or webhook secret")
	}
	res := &Result{AppID: app.GetID(), Slug: app.GetSlug(), HTMLURL: app.GetHTMLURL(), ConfigPath: f.opts.ConfigPath, KeyPath: f.opts.KeyPath}
	if err := writeSecretFile(f.opts.KeyPath, []byte(app.GetPEM()), f.opts.Force); err != nil {
		return nil, err
	}
	cfg, err := f.config(app)
	if err != nil {
		return nil, err
	}
	if err := writeSecretFile(f.opts.ConfigPath, cfg, f.opts.Force); err != nil {
		return nil, err
	}
	f.opts.Logger.Info().Str("audit", "setup_app_created").Int64("app", res.AppID).Str("slug", res.Slug).
		Str("config", res.ConfigPath).Str("key", res.KeyPath).Msg("GitHub App created and its credentials written")
	return res, nil
}

// serverConfig is the part of the server configuration setup writes.
type serverConfig struct {
	PublicURL string `yaml:"public_url"`
	GitHub    struct {
		URL            string `yaml:"url"`
		AppID          int64  `yaml:"app_id"`
		PrivateKeyFile string `yaml:"private_key_file"`
		WebhookSecret  string `yaml:"webhook_secret"`
	} `yaml:"github"`
	Dashboard struct {
		ClientID     string `yaml:"client_id"`
		ClientSecret string `yaml:"client_secret"`
		SessionKey   string `yaml:"session_key"`
		GitHubWebURL string `yaml:"github_web_url,omitempty"`
	} `yaml:"dashboard"`
}

func (f *flow) config(app *github.AppConfig) ([]byte, error) {
	var c serverConfig
	c.PublicURL = f.opts.PublicURL
	c.GitHub.URL = f.opts.APIURL
	c.GitHub.AppID = app.GetID()
	c.GitHub.PrivateKeyFile = f.opts.KeyPath
	c.GitHub.WebhookSecret = app.GetWebhookSecret()
	c.Dashboard.ClientID = app.GetClientID()
	c.Dashboard.ClientSecret = app.GetClientSecret()
	c.Dashboard.SessionKey = randomHex(32)
	// Sign-in goes to the web address the server derives from github.url
	// unless told otherwise; say it only when the derivation would miss.
	if api, _, err := URLs(f.opts.WebURL); err != nil || api != f.opts.APIURL {
		c.Dashboard.GitHubWebURL = strings.TrimSuffix(f.opts.WebURL, "/")
	}
	body, err := yaml.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("setup: config: %w", err)
	}
	head := fmt.Sprintf("# hoist server configuration, written by `hoist setup` for the GitHub App %s (%s).\n"+
		"# It holds secrets: keep it private. Install the App: %s/installations/new\n"+
		"# Other settings (data_dir, database_url, targets, cdns, smoke, ...): docs/server.md\n",
		app.GetSlug(), app.GetHTMLURL(), strings.TrimSuffix(app.GetHTMLURL(), "/"))
	return append([]byte(head), body...), nil
}

// writeSecretFile writes data readable by its owner only. Without force an
// existing file is refused (O_EXCL), so a concurrent run cannot be
// overwritten either.
func writeSecretFile(path string, data []byte, force bool) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	fh, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return fmt.Errorf("setup: write %s: %w", path, err)
	}
	// A replaced file keeps its old mode; the key must not stay readable.
	if err := fh.Chmod(0o600); err != nil {
		fh.Close()
		return fmt.Errorf("setup: %s: %w", path, err)
	}
	if _, err := fh.Write(data); err != nil {
		fh.Close()
		return fmt.Errorf("setup: write %s: %w", path, err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("setup: write %s: %w", path, err)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
