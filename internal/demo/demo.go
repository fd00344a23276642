// Package demo plays hoist's whole flow once on embedded defaults, with no
// credentials: the GitHub emulator, hoist on SQLite with a local folder as
// the deploy target (served through Varnish when it is installed), and a
// sample shop whose site is generated from its catalogue. A content change
// asks for a build; the build pushes pre-staging; hoist smoke-tests the
// candidate in headless Chromium and posts the check run with screenshots;
// staging is fast-forwarded, deployed by diff and purged, and a GitHub
// deployment records it; data that breaks a page is stopped before staging.
// A fleet section follows (fleet.go): instances of a second repository
// launched, changed at run time and upgraded by a release.
// Each step is timed and reported; the demo succeeds only if every step
// did.
package demo

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/examples/varnish"
	"github.com/hoist-dev/hoist/internal/app"
	"github.com/hoist-dev/hoist/internal/deploy"
	"github.com/hoist-dev/hoist/internal/generate"
	"github.com/hoist-dev/hoist/internal/purge"
	"github.com/hoist-dev/hoist/internal/repoconfig"
	"github.com/hoist-dev/hoist/internal/server"
	"github.com/hoist-dev/hoist/internal/varnishd"
	"github.com/hoist-dev/hoist/internal/verify"
	"github.com/hoist-dev/hoist/internal/web"
	"github.com/hoist-dev/hoist/internal/world"
)

//go:embed sample
var sample embed.FS

// Options configure one demo run.
type Options struct {
	// DataDir holds the emulator's repositories, hoist's database, the
	// deployed sites and the artifacts; empty means a fresh temporary
	// folder, removed afterwards unless Keep.
	DataDir string
	// Addr is where hoist listens (loopback by default, on a free port).
	Addr string
	// ChromiumPath overrides the browser found on the machine.
	ChromiumPath string
	// NoEdge serves the deployed folder directly even when Varnish is
	// installed.
	NoEdge bool
	// Keep serves until ctx is cancelled after the flow has run.
	Keep bool
	// Log receives hoist's own logs; the demo's steps go to the report.
	Log zerolog.Logger
	// OnStep is called as each step ends, for live output.
	OnStep func(Step)
}

// Step is one stage of the flow.
type Step struct {
	Name     string            `json:"name"`
	OK       bool              `json:"ok"`
	Millis   int64             `json:"ms"`
	Detail   string            `json:"detail"`
	Links    map[string]string `json:"links,omitempty"`
	ErrorMsg string            `json:"error,omitempty"`
}

// LinkNames are the step's link names in a stable order.
func (s Step) LinkNames() []string {
	names := make([]string, 0, len(s.Links))
	for k := range s.Links {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Report is the whole run, printed as text or JSON.
type Report struct {
	OK           bool   `json:"ok"`
	HoistURL     string `json:"hoist_url"`
	DashboardURL string `json:"dashboard_url"`
	GitHubURL    string `json:"github_url"`
	SiteURL      string `json:"site_url"`
	DataDir      string `json:"data_dir"`
	Steps        []Step `json:"steps"`
	TotalMS      int64  `json:"total_ms"`
	StartedAt    string `json:"started_at"`
}

const (
	webhookSecret = "demo-webhook-secret"
	// triggerSecret signs the shop's "content changed" requests to hoist.
	triggerSecret = "demo-trigger-secret"
	// stepLimit bounds every wait of the demo.
	stepLimit = 60 * time.Second
)

// Run plays the flow and returns its report. The error is for setup
// failures that prevent a report; a failed step is reported in Report.OK.
func Run(ctx context.Context, o Options) (*Report, error) {
	start := time.Now()
	rep := &Report{StartedAt: start.UTC().Format(time.RFC3339)}
	dataDir := o.DataDir
	if dataDir == "" {
		d, err := os.MkdirTemp("", "hoist-demo-")
		if err != nil {
			return nil, fmt.Errorf("demo: data folder: %w", err)
		}
		dataDir = d
		if !o.Keep {
			defer os.RemoveAll(d)
		}
	}
	rep.DataDir = dataDir
	r := &runner{opts: o, rep: rep, dataDir: dataDir, ctx: ctx}
	defer r.close()

	ok := r.step("start the GitHub emulator", r.startEmulator) &&
		r.step("start the edge in front of the site folder", r.startEdge) &&
		r.step("start hoist on SQLite", r.startServer) &&
		r.step("create acme/site and install hoist", r.createRepo) &&
		r.step("a content change asks for a build", r.contentChanged) &&
		r.step("the build pushes pre-staging", func(s *Step) error { return r.build(s, catalogue, "Build: spring prices") }) &&
		r.step("smoke-test in headless Chromium", r.smokePasses) &&
		r.step("staging fast-forwarded to the candidate", r.stagingPromoted) &&
		r.step("deployed by diff, edge purged", r.deployedAndPurged) &&
		r.step("production waits on its pull request", r.productionPR) &&
		r.step("injected data fails the smoke test", r.injectedData) &&
		r.step("deliver a signed push webhook", r.deliverPush) &&
		r.step("redeliver it: handled once", r.redeliver) &&
		r.step("refuse a forged webhook", r.refuseForged) &&
		r.step("the dashboard shows the environments", r.dashboard) &&
		r.step("a broken deploy is rolled back automatically", r.autoRollback) &&
		r.fleetSteps()
	rep.OK = ok
	rep.TotalMS = time.Since(start).Milliseconds()
	if ok && o.Keep {
		<-ctx.Done()
	}
	return rep, nil
}

type runner struct {
	opts    Options
	rep     *Report
	dataDir string
	ctx     context.Context

	srv    *server.Server
	cancel context.CancelFunc
	done   chan error
	url    string

	ln       net.Listener
	emu      *emulator.Server
	app      *world.App
	alice    *github.Client
	aliceTok string
	work     string

	// sitesDir is the local deploy target; origin serves its staging
	// edition, edge (Varnish) caches the origin when installed.
	sitesDir string
	origin   *http.Server
	edge     *varnishd.Process
	siteURL  string

	installation int64
	initial      string // the commit every branch starts at
	candidate    string // the newest build
	promoted     string // the build staging was promoted to
	delivery     string
	payload      []byte

	fleet fleetState
}

func (r *runner) step(name string, fn func(*Step) error) bool {
	s := Step{Name: name}
	t0 := time.Now()
	err := fn(&s)
	s.Millis = time.Since(t0).Milliseconds()
	s.OK = err == nil
	if err != nil {
		s.ErrorMsg = err.Error()
	}
	r.rep.Steps = append(r.rep.Steps, s)
	if r.opts.OnStep != nil {
		r.opts.OnStep(s)
	}
	return s.OK
}

func (r *runner) close() {
	defer func() {
		if r.emu != nil {
			_ = r.emu.Close()
		}
		if r.edge != nil {
			r.edge.Stop()
		}
		if r.origin != nil {
			_ = r.origin.Close()
		}
	}()
	if r.cancel != nil {
		r.cancel()
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
		}
	}
}

// startEmulator runs the GitHub emulator and registers hoist as an App whose
// webhooks go to hoist's listener, opened first so its address is known.
func (r *runner) startEmulator(s *Step) error {
	addr := r.opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	r.ln = ln
	r.url = "http://" + ln.Addr().String()
	r.rep.HoistURL = r.url
	r.rep.DashboardURL = r.url + "/"
	emu, err := emulator.New(emulator.Options{DataDir: filepath.Join(r.dataDir, "github")})
	if err != nil {
		return err
	}
	if err := emu.Start("127.0.0.1:0"); err != nil {
		return err
	}
	r.emu = emu
	r.rep.GitHubURL = emu.URL()
	r.app, err = world.CreateApp(emu, emulator.AppSpec{Slug: "hoist", WebhookURL: r.url + server.WebhookPath, WebhookSecret: webhookSecret,
		// The dashboard signs people in with the App's OAuth credentials.
		CallbackURLs: []string{r.url + web.CallbackPath}})
	if err != nil {
		return err
	}
	s.Detail = "GitHub's REST API, git smart HTTP and signed webhooks at " + emu.URL()
	return nil
}

// startEdge serves the staging edition of the local deploy folder as a
// web server in front of a bucket would, and puts Varnish with the shipped
// xkey VCL in front of it when varnishd is installed, so that the purge
// after a deploy is real. Without Varnish the folder is served directly.
func (r *runner) startEdge(s *Step) error {
	r.sitesDir = filepath.Join(r.dataDir, "hoist", "sites")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	r.origin = &http.Server{Handler: r.fleetHosts(originHandler(r.sitesDir, stagingEdition)), ReadHeaderTimeout: 10 * time.Second}
	go r.origin.Serve(l)
	originAddr := l.Addr().String()
	r.siteURL = "http://" + originAddr + "/"
	_, lookErr := exec.LookPath(varnishd.Path())
	switch {
	case r.opts.NoEdge:
		s.Detail = "edge off: the staging folder is served directly at " + r.siteURL
	case lookErr != nil:
		s.Detail = "Varnish is not installed (apt-get install varnish varnish-modules): the staging folder is served directly at " + r.siteURL
	default:
		vcl := filepath.Join(r.dataDir, "hoist.vcl")
		if err := os.WriteFile(vcl, varnish.VCL, 0o644); err != nil {
			return err
		}
		v, err := varnishd.Start(vcl, originAddr)
		if err != nil {
			return fmt.Errorf("start Varnish: %w", err)
		}
		r.edge = v
		r.siteURL = "http://" + v.Addr + "/"
		s.Detail = "Varnish with xkey at " + r.siteURL + ", caching the staging folder for an hour; only purges refresh it"
	}
	r.rep.SiteURL = r.siteURL
	return nil
}

// stagingEdition is acme/site's staging: its folder of the local target
// (the default prefix template {owner}/{repo}/ and the prefix staging/)
// and the name its surrogate keys derive from (serverconfig.Edition).
const stagingEdition = "acme/site/staging"

// originHandler serves one edition of the deploy folder: dir/ is
// dir/index.html, and every answer carries the edition's and the path's
// surrogate keys, which the VCL indexes with xkey. hoist's own manifest is
// not served.
func originHandler(root, edition string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		clean := path.Clean("/" + req.URL.Path)
		if strings.HasSuffix(req.URL.Path, "/") && clean != "/" {
			clean += "/"
		}
		p := purge.SitePath(clean)
		if strings.HasPrefix(p, ".hoist/") {
			http.NotFound(w, req)
			return
		}
		b, err := os.ReadFile(filepath.Join(root, edition, filepath.FromSlash(p)))
		if err != nil {
			http.NotFound(w, req)
			return
		}
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = "application/octet-stream"
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("x-amz-meta-"+deploy.MetaSurrogateKey, deploy.EditionKey(edition)+" "+deploy.PathKey(edition, p))
		w.Write(b)
	})
}

func (r *runner) startServer(s *Step) error {
	ln := r.ln
	file := filepath.Join(r.dataDir, "hoist-server.yml")
	cfgText := fmt.Sprintf("generate:\n  repositories:\n    acme/site: { secret: %q }\n", triggerSecret)
	// The dashboard behind sign-in with the emulated App's credentials; the
	// session key is new for every run.
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	cfgText += fmt.Sprintf("dashboard:\n  client_id: %s\n  client_secret: ${DEMO_CLIENT_SECRET}\n  session_key: ${DEMO_SESSION_KEY}\n", r.app.ClientID)
	if r.edge != nil {
		cfgText += fmt.Sprintf("cdns:\n  edge: { type: varnish, nodes: [ %q ], repos: [acme/site] }\n", "http://"+r.edge.Addr)
	}
	if err := os.WriteFile(file, []byte(cfgText), 0o600); err != nil {
		return err
	}
	env := map[string]string{
		"HOIST_ADDR":           ln.Addr().String(),
		"HOIST_PUBLIC_URL":     r.url,
		"HOIST_DATA_DIR":       filepath.Join(r.dataDir, "hoist"),
		"HOIST_APP_ID":         strconv.FormatInt(r.app.ID, 10),
		"HOIST_PRIVATE_KEY":    string(r.app.PrivateKeyPEM),
		"HOIST_WEBHOOK_SECRET": webhookSecret,
		"HOIST_GITHUB_URL":     r.emu.URL() + "/",
		"DEMO_CLIENT_SECRET":   r.app.ClientSecret,
		"DEMO_SESSION_KEY":     hex.EncodeToString(key),
		// The demo's edge is on loopback: its live checks opt in.
		"HOIST_SMOKE_VERIFY_PRIVATE_HOSTS": strings.Trim(strings.TrimPrefix(r.siteURL, "http://"), "/"),
	}
	if r.opts.ChromiumPath != "" {
		env["HOIST_CHROMIUM"] = r.opts.ChromiumPath
	}
	cfg, err := serverconfig.LoadServer(file, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		ln.Close()
		return err
	}
	cfg.Jobs.PollInterval = 50 * time.Millisecond
	if err := r.fleetServerConfig(cfg); err != nil {
		ln.Close()
		return err
	}
	log := r.opts.Log
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := app.New(ctx, cfg, server.Options{Logger: &log, Listener: ln})
	if err != nil {
		cancel()
		ln.Close()
		return err
	}
	r.srv, r.cancel, r.done = srv, cancel, make(chan error, 1)
	go func() { r.done <- srv.Run(ctx) }()
	if err := world.WaitReady(r.url, 20*time.Second); err != nil {
		return fmt.Errorf("hoist did not become ready: %w", err)
	}
	s.Detail = "listening on " + r.url + ", database " + filepath.Join(r.dataDir, "hoist", "hoist.db") + ", deploying to " + r.sitesDir
	s.Links = map[string]string{"dashboard": r.url + "/", "health": r.url + "/readyz", "metrics": r.url + "/metrics"}
	return nil
}

// product is one row of the shop's catalogue, the "database" the site is
// generated from. Descriptions are rich text written in the shop's back
// office, so the generator inserts them as HTML: that is how data can
// break a page, and what the smoke test is there to catch.
type product struct {
	Name        string
	Price       string
	Description template.HTML
}

var catalogue = []product{
	{"Anvil", "€110", "Forged steel, <em>guaranteed</em> to fall straight."},
	{"Rocket skates", "€70", "Twin boosters; brakes sold separately."},
	{"Giant magnet", "€40", "Attracts anything made of iron, and anvils."},
}

// injected is the catalogue after someone pasted a script into a
// description: it removes the product list and throws.
var injected = append(append([]product(nil), catalogue...), product{"Bird seed", "€5",
	`Irresistible.<script>document.querySelector("main").remove(); throw new Error("catalogue script")</script>`})

var pageTemplates = template.Must(template.New("home").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Acme Shop</title><link rel="stylesheet" href="/css/site.css"><link rel="icon" href="data:,"></head>
<body><header><h1>Acme Shop</h1><nav><a href="/">Home</a> <a href="/products/">Products</a> <a href="/about/">About</a></nav></header>
<main><p>Welcome to the Acme Shop: {{len .}} products, generated from the catalogue and promoted by hoist.</p></main></body></html>
`))

var productsTemplate = template.Must(template.New("products").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Products · Acme Shop</title><link rel="stylesheet" href="/css/site.css"><link rel="icon" href="data:,"></head>
<body><header><h1>Products</h1><nav><a href="/">Home</a> <a href="/about/">About</a></nav></header>
<main><ul>
{{range .}}<li class="product"><strong>{{.Name}}</strong> <span class="price">{{.Price}}</span><br>{{.Description}}</li>
{{end}}</ul></main></body></html>
`))

const comingSoon = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Acme Shop</title><link rel="icon" href="data:,"></head>
<body><h1>Acme Shop</h1><p>Coming soon.</p></body></html>
`

// buildWorkflow is what the repository's build-site.yml would do on
// GitHub Actions; the demo plays it itself, since the emulator records
// workflow dispatches without running them.
const buildWorkflow = `name: build site
on:
  workflow_dispatch:
    inputs:
      environment: { required: true }
      reason: { required: false }
      requested_at: { required: false }
concurrency: { group: "build-${{ inputs.environment }}", cancel-in-progress: false }
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with: { ref: "${{ inputs.environment }}" }
      - run: ./generate-site --out public
      - run: |
          git add public && git commit -m "Build: ${{ inputs.reason }}"
          # pre-<env> holds only the newest candidate, built on <env>: a
          # failed build leaves it ahead of <env>, so the next one replaces it.
          git push --force origin HEAD:pre-${{ inputs.environment }}
`

func (r *runner) demoConfig() string { return r.demoConfigWith(false) }

// demoConfigWith is the demo's configuration; verified adds post-deploy
// verification with automatic rollback to staging.
func (r *runner) demoConfigWith(verified bool) string {
	purgeLine := ""
	if r.edge != nil {
		purgeLine = ",\n               purge: [ { cdn: edge } ]"
	}
	if verified {
		purgeLine += ",\n                verify: { auto_rollback: true }"
	}
	return fmt.Sprintf(`version: 1
site: { root: public }
environments:
  staging:    { branch: staging, auto: true, gates: { smoke: true },
                deploy: { target: local, url: %q }%s }
  production: { branch: main, promote_from: staging, auto: false, permission: maintain,
                gates: { smoke: true }, deploy: { target: local } }
candidates:
  - { from: pre-staging, to: staging }
smoke:
  viewports: [ { name: desktop, width: 1280, height: 800 }, { name: mobile, width: 390, height: 844 } ]
  pages:
    - { path: /, expect_text: "Acme Shop" }
    - { path: /products/, expect_selector: ".product" }
    - { path: /about/, expect_text: "About" }
  crawl: { max_pages: 10 }
generate: { dispatch_type: content-changed, workflow: build-site.yml, debounce: 1s }
`, r.siteURL, purgeLine)
}

// createRepo makes acme/site with hoist installed: main (production) and
// staging start at a "coming soon" page, with .github/hoist.yml and the
// build workflow. Pushing the branches publishes them; the demo waits for
// staging's deployment and reads the page once through the edge, so the
// edge holds the old page until a purge.
func (r *runner) createRepo(s *Step) error {
	_, tok, err := r.emu.CreateUser("alice")
	if err != nil {
		return err
	}
	r.aliceTok = tok
	if _, err := r.emu.CreateRepo(emulator.RepoSpec{Owner: "acme", Name: "site", OwnerToken: tok}); err != nil {
		return err
	}
	inst, err := r.emu.Install(r.app.ID, "acme/site")
	if err != nil {
		return err
	}
	r.installation = inst
	c, err := github.NewClient(nil).WithAuthToken(tok).WithEnterpriseURLs(r.emu.URL()+"/", r.emu.URL()+"/")
	if err != nil {
		return err
	}
	r.alice = c
	u, _ := url.Parse(r.emu.URL() + "/acme/site.git")
	u.User = url.UserPassword("x-access-token", tok)
	r.work = filepath.Join(r.dataDir, "work")
	if err := git("", "clone", "-q", u.String(), r.work); err != nil {
		return err
	}
	for _, args := range [][]string{{"config", "user.email", "alice@example.com"}, {"config", "user.name", "Alice"}} {
		if err := git(r.work, args...); err != nil {
			return err
		}
	}
	files := map[string]string{
		".github/hoist.yml":                r.demoConfig(),
		".github/workflows/build-site.yml": buildWorkflow,
		"public/index.html":                comingSoon,
	}
	for name, content := range files {
		if err := writeFile(filepath.Join(r.work, filepath.FromSlash(name)), content); err != nil {
			return err
		}
	}
	if err := commitAll(r.work, "Configure hoist: pre-staging is smoke-tested, then promoted to staging"); err != nil {
		return err
	}
	if r.initial, err = gitOut(r.work, "rev-parse", "HEAD"); err != nil {
		return err
	}
	for _, b := range []string{"main", "staging"} {
		if err := git(r.work, "push", "-q", "origin", "HEAD:"+b); err != nil {
			return err
		}
	}
	if _, err := r.waitDeployment("staging", r.initial); err != nil {
		return err
	}
	code, body, err := get(r.siteURL)
	if err != nil || code != http.StatusOK || !strings.Contains(body, "Coming soon") {
		return fmt.Errorf("the edge serves %d %q (%v), want the coming-soon page", code, clip(body), err)
	}
	s.Detail = fmt.Sprintf("branches main (production) and staging at %.7s with .github/hoist.yml; staging deployed and cached at the edge", r.initial)
	s.Links = map[string]string{"repository": r.emu.URL() + "/acme/site", "hoist.yml": r.emu.URL() + "/repos/acme/site/contents/.github/hoist.yml"}
	return nil
}

// contentChanged is the shop's database telling hoist that the catalogue
// changed: a signed POST, coalesced for the debounce window, then one
// workflow dispatch of the build.
func (r *runner) contentChanged(s *Step) error {
	body := []byte(`{"environment":"staging","reason":"spring prices"}`)
	// Three changes in a burst, as a bulk price update sends them.
	var answers []string
	for i := 0; i < 3; i++ {
		req, err := http.NewRequest(http.MethodPost, r.url+"/api/generate/acme/site", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		generate.Sign(req, triggerSecret, body, time.Now())
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		var ans generate.Response
		err = json.NewDecoder(res.Body).Decode(&ans)
		res.Body.Close()
		if err != nil || res.StatusCode/100 != 2 {
			return fmt.Errorf("trigger answered %d %+v (%v)", res.StatusCode, ans, err)
		}
		answers = append(answers, ans.Status)
	}
	var ds []emulator.WorkflowDispatch
	if err := world.WaitFor(stepLimit, func() bool { ds = r.emu.WorkflowDispatches(); return len(ds) > 0 }); err != nil {
		return fmt.Errorf("no workflow dispatched: %w", err)
	}
	// Nothing more arrives after the window.
	time.Sleep(300 * time.Millisecond)
	if ds = r.emu.WorkflowDispatches(); len(ds) != 1 {
		return fmt.Errorf("%d workflow dispatches for one burst, want 1", len(ds))
	}
	d := ds[0]
	s.Detail = fmt.Sprintf("3 signed changes (%s) → one dispatch of %s on %s with environment=%v", strings.Join(answers, ", "), d.Workflow, d.Ref, d.Inputs["environment"])
	return nil
}

// build plays the dispatched workflow: the site generated from the
// catalogue, committed on top of staging and pushed to pre-staging.
func (r *runner) build(s *Step, products []product, msg string) error {
	if err := git(r.work, "fetch", "-q", "origin"); err != nil {
		return err
	}
	if err := git(r.work, "checkout", "-q", "-B", "pre-staging", "origin/staging"); err != nil {
		return err
	}
	out := filepath.Join(r.work, "public")
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	n, err := generateSite(out, products)
	if err != nil {
		return err
	}
	if err := commitAll(r.work, msg); err != nil {
		return err
	}
	sha, err := gitOut(r.work, "rev-parse", "HEAD")
	if err != nil {
		return err
	}
	if err := git(r.work, "push", "-q", "--force", "origin", "HEAD:pre-staging"); err != nil {
		return err
	}
	r.candidate = sha
	s.Detail = fmt.Sprintf("%d files generated from %d products, pushed to pre-staging as %.7s", n, len(products), sha)
	return nil
}

// generateSite writes the site: static files from the sample, the home
// and product pages from the catalogue.
func generateSite(dir string, products []product) (int, error) {
	n := 0
	err := fs.WalkDir(sample, "sample", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, strings.TrimPrefix(p, "sample"))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := sample.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		return 0, fmt.Errorf("write the static files: %w", err)
	}
	for name, t := range map[string]*template.Template{"index.html": pageTemplates, "products/index.html": productsTemplate} {
		var b bytes.Buffer
		if err := t.Execute(&b, products); err != nil {
			return 0, fmt.Errorf("render %s: %w", name, err)
		}
		if err := writeFile(filepath.Join(dir, filepath.FromSlash(name)), b.String()); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}

// smokeRun waits for the hoist/smoke check run on sha to complete.
func (r *runner) smokeRun(sha string) (*github.CheckRun, error) {
	var run *github.CheckRun
	err := world.WaitFor(stepLimit, func() bool {
		res, _, err := r.alice.Checks.ListCheckRunsForRef(r.ctx, "acme", "site", sha, &github.ListCheckRunsOptions{CheckName: github.String("hoist/smoke")})
		if err != nil || len(res.CheckRuns) == 0 {
			return false
		}
		run = res.CheckRuns[0]
		return run.GetStatus() == "completed"
	})
	if err != nil {
		return nil, fmt.Errorf("hoist/smoke on %.7s did not complete: %w", sha, err)
	}
	return run, nil
}

// smokeLinks lists the check run's screenshots (the images GitHub shows
// in it, served publicly by hoist) and its report page.
func (r *runner) smokeLinks(run *github.CheckRun) map[string]string {
	links := map[string]string{"check run": run.GetHTMLURL(), "report": run.GetDetailsURL()}
	if st, ok := r.emu.CheckRunState(run.GetID()); ok {
		for i, img := range st.Output.Images {
			u, _ := img["image_url"].(string)
			alt, _ := img["alt"].(string)
			if alt == "" {
				alt = strconv.Itoa(i + 1)
			}
			links["screenshot "+alt] = u
		}
	}
	return links
}

func (r *runner) smokePasses(s *Step) error {
	run, err := r.smokeRun(r.candidate)
	if err != nil {
		return err
	}
	s.Links = r.smokeLinks(run)
	s.Detail = fmt.Sprintf("hoist/smoke on %.7s: %s (%s), the site served on a private loopback listener", r.candidate, run.GetOutput().GetTitle(), run.GetConclusion())
	if run.GetConclusion() != "success" {
		return fmt.Errorf("smoke test concluded %s: %s", run.GetConclusion(), run.GetOutput().GetTitle())
	}
	if len(s.Links) < 3 {
		return errors.New("the check run shows no screenshot")
	}
	return nil
}

func (r *runner) stagingPromoted(s *Step) error {
	var head string
	if err := world.WaitFor(stepLimit, func() bool {
		ref, _, err := r.alice.Git.GetRef(r.ctx, "acme", "site", "heads/staging")
		if err == nil {
			head = ref.GetObject().GetSHA()
		}
		return head == r.candidate
	}); err != nil {
		return fmt.Errorf("staging is at %.7s, not %.7s: %w", head, r.candidate, err)
	}
	r.promoted = r.candidate
	s.Detail = fmt.Sprintf("staging fast-forwarded %.7s → %.7s once the smoke gate passed (compare-and-swap, never forced)", r.initial, r.candidate)
	s.Links = map[string]string{"staging": r.emu.URL() + "/repos/acme/site/git/ref/heads/staging"}
	return nil
}

// waitDeployment waits for the deployment of sha to env to end, and
// returns its final status; a failure is an error.
func (r *runner) waitDeployment(env, sha string) (*github.DeploymentStatus, error) {
	var last *github.DeploymentStatus
	err := world.WaitFor(stepLimit, func() bool {
		deps, _, err := r.alice.Repositories.ListDeployments(r.ctx, "acme", "site", &github.DeploymentsListOptions{Environment: env, SHA: sha})
		if err != nil || len(deps) == 0 {
			return false
		}
		sts, _, err := r.alice.Repositories.ListDeploymentStatuses(r.ctx, "acme", "site", deps[0].GetID(), nil)
		if err != nil || len(sts) == 0 {
			return false
		}
		last = sts[0]
		switch last.GetState() {
		case "success", "failure", "error":
			return true
		}
		return false
	})
	if err != nil {
		return nil, fmt.Errorf("the deployment of %.7s to %s did not finish: %w", sha, env, err)
	}
	if last.GetState() != "success" {
		return last, fmt.Errorf("the deployment of %.7s to %s ended %s: %s", sha, env, last.GetState(), last.GetDescription())
	}
	return last, nil
}

func (r *runner) deployedAndPurged(s *Step) error {
	st, err := r.waitDeployment("staging", r.candidate)
	if err != nil {
		return err
	}
	summary := ""
	res, _, err := r.alice.Checks.ListCheckRunsForRef(r.ctx, "acme", "site", r.candidate, &github.ListCheckRunsOptions{CheckName: github.String("hoist/deploy")})
	if err == nil && len(res.CheckRuns) > 0 {
		summary = res.CheckRuns[0].GetOutput().GetTitle()
	}
	code, body, err := get(r.siteURL + "products/")
	if err != nil || code != http.StatusOK || !strings.Contains(body, "Rocket skates") {
		return fmt.Errorf("the site serves %d %q (%v), want the generated products page", code, clip(body), err)
	}
	code, body, err = get(r.siteURL)
	if err != nil || code != http.StatusOK || strings.Contains(body, "Coming soon") {
		return fmt.Errorf("the site still serves %d %q (%v): the home page was not purged", code, clip(body), err)
	}
	edge := "served from the folder"
	if r.edge != nil {
		edge = "Varnish purged by surrogate key and serves the new pages"
	}
	s.Detail = fmt.Sprintf("deployment %s: %s; hoist/deploy: %s; %s", st.GetState(), st.GetDescription(), summary, edge)
	s.Links = map[string]string{"site": st.GetEnvironmentURL(), "deployments": r.emu.URL() + "/repos/acme/site/deployments?environment=staging"}
	return nil
}

// productionPR: production takes no automatic promotion; hoist keeps a
// pull request staging → main for a person to merge or /promote.
func (r *runner) productionPR(s *Step) error {
	var pr *github.PullRequest
	if err := world.WaitFor(stepLimit, func() bool {
		prs, _, err := r.alice.PullRequests.List(r.ctx, "acme", "site", &github.PullRequestListOptions{State: "open"})
		if err != nil {
			return false
		}
		for _, p := range prs {
			if p.GetBase().GetRef() == "main" && p.GetHead().GetRef() == "staging" {
				pr = p
				return true
			}
		}
		return false
	}); err != nil {
		return fmt.Errorf("no promotion pull request staging → main: %w", err)
	}
	s.Detail = fmt.Sprintf("#%d %q keeps the commits and the gates; merging it or commenting /promote production deploys main", pr.GetNumber(), pr.GetTitle())
	s.Links = map[string]string{"pull request": pr.GetHTMLURL()}
	return nil
}

// injectedData: a script pasted into a product description breaks the
// products page. The smoke test fails, staging is left alone, and the
// check run shows the broken page.
func (r *runner) injectedData(s *Step) error {
	good := r.promoted
	var b Step
	if err := r.build(&b, injected, "Build: new product"); err != nil {
		return err
	}
	run, err := r.smokeRun(r.candidate)
	if err != nil {
		return err
	}
	if run.GetConclusion() != "failure" {
		return fmt.Errorf("smoke test of the injected catalogue concluded %s (%s), want failure", run.GetConclusion(), run.GetOutput().GetTitle())
	}
	// The gate is evaluated when the check run completes; give it the
	// time it takes to promote, which it must not.
	time.Sleep(time.Second)
	ref, _, err := r.alice.Git.GetRef(r.ctx, "acme", "site", "heads/staging")
	if err != nil {
		return err
	}
	if head := ref.GetObject().GetSHA(); head != good {
		return fmt.Errorf("staging moved to %.7s after a failed smoke test", head)
	}
	s.Links = r.smokeLinks(run)
	s.Detail = fmt.Sprintf("%.7s: %s; staging stays at %.7s", r.candidate, run.GetOutput().GetTitle(), good)
	return nil
}

// dashboard reads hoist's dashboard, which shows the environments as
// GitHub has them.
func (r *runner) dashboard(s *Step) error {
	// Signed out, the dashboard names nothing and sends the browser to
	// GitHub's sign-in.
	anon := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := anon.Get(r.url + "/repos/acme/site")
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("the dashboard answered %d without sign-in, want a redirect to sign in", res.StatusCode)
	}
	// alice signs in through the emulator's GitHub sign-in.
	jar, _ := cookiejar.New(nil)
	ck, err := r.emu.BrowserSession("alice")
	if err != nil {
		return err
	}
	eu, _ := url.Parse(r.emu.URL())
	jar.SetCookies(eu, []*http.Cookie{ck})
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	res, err = browser.Get(r.url + "/repos/acme/site")
	if err != nil {
		return err
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK {
		return fmt.Errorf("dashboard answered %d after signing in (%v)", res.StatusCode, err)
	}
	body := string(b)
	if !strings.Contains(body, r.promoted[:7]) || !strings.Contains(body, "signed in as alice") {
		return fmt.Errorf("the dashboard does not show staging at %.7s to alice", r.promoted)
	}
	s.Detail = "signed in as alice through GitHub's sign-in (the emulator's page asks who you are): environments with their commit, deployment and smoke test, and the audit log"
	s.Links = map[string]string{"dashboard": r.url + "/", "acme/site": r.url + "/repos/acme/site"}
	return nil
}

func get(u string) (int, string, error) {
	res, err := http.Get(u)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res.StatusCode, string(b), err
}

func clip(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}

func git(dir string, args ...string) error {
	_, err := gitOut(dir, args...)
	return err
}

func gitOut(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", args[0], err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

func commitAll(dir, msg string) error {
	if err := git(dir, "add", "-A"); err != nil {
		return err
	}
	return git(dir, "commit", "-q", "-m", msg)
}

func writeFile(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(content), 0o644)
}

func (r *runner) deliverPush(s *Step) error {
	r.delivery = newUUID()
	r.payload = pushPayload(r.installation)
	code, err := r.post(r.delivery, "push", r.payload, emulator.Sign(webhookSecret, r.payload))
	if err != nil {
		return err
	}
	if code != http.StatusAccepted {
		return fmt.Errorf("hoist answered %d, want 202", code)
	}
	var status string
	if err := world.WaitFor(20*time.Second, func() bool {
		d, err := r.srv.Store().GetDelivery(context.Background(), r.delivery)
		status = d.Status
		return err == nil && d.Status == "handled"
	}); err != nil {
		return fmt.Errorf("delivery %s not handled (status %q): %w", r.delivery, status, err)
	}
	s.Detail = "202 Accepted after the delivery was persisted; a worker handled it (delivery " + r.delivery + ")"
	return nil
}

func (r *runner) redeliver(s *Step) error {
	code, err := r.post(r.delivery, "push", r.payload, emulator.Sign(webhookSecret, r.payload))
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("redelivery answered %d, want 200", code)
	}
	d, err := r.srv.Store().GetDelivery(context.Background(), r.delivery)
	if err != nil {
		return err
	}
	if d.Duplicates != 1 || d.Status != "handled" {
		return fmt.Errorf("after redelivery: status %q, duplicates %d", d.Status, d.Duplicates)
	}
	s.Detail = "200 OK, recorded as a duplicate; the handler did not run again"
	return nil
}

func (r *runner) refuseForged(s *Step) error {
	id := newUUID()
	code, err := r.post(id, "push", r.payload, emulator.Sign("not-the-secret", r.payload))
	if err != nil {
		return err
	}
	if code != http.StatusUnauthorized {
		return fmt.Errorf("forged webhook answered %d, want 401", code)
	}
	if _, err := r.srv.Store().GetDelivery(context.Background(), id); err == nil {
		return errors.New("forged webhook was stored")
	}
	s.Detail = "401 Unauthorized, nothing stored"
	return nil
}

func (r *runner) post(id, event string, body []byte, signature string) (int, error) {
	req, err := http.NewRequest(http.MethodPost, r.url+server.WebhookPath, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", id)
	req.Header.Set("X-Hub-Signature-256", signature)
	req.Header.Set("User-Agent", "GitHub-Hookshot/hoist-demo")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, nil
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// pushPayload is a push to a branch no environment reads, shaped as GitHub
// sends it, so the handler has nothing to promote.
func pushPayload(installation int64) []byte {
	sha := strings.Repeat("a1", 20)
	p := map[string]any{
		"ref": "refs/heads/notes", "before": strings.Repeat("0", 40), "after": sha,
		"created": true, "deleted": false, "forced": false,
		"repository": map[string]any{"id": 1, "name": "site", "full_name": "acme/site",
			"owner": map[string]any{"login": "acme", "id": 1}, "default_branch": "main"},
		"sender":       map[string]any{"login": "site-builder", "id": 2, "type": "User"},
		"installation": map[string]any{"id": installation},
		"head_commit":  map[string]any{"id": sha, "message": "Meeting notes"},
		"commits":      []any{},
	}
	b, _ := json.Marshal(p)
	return b
}

// Text renders the report for a terminal.
func (rep *Report) Text() string {
	var b strings.Builder
	for i, s := range rep.Steps {
		mark := "ok  "
		if !s.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(&b, "%s %2d. %-42s %6d ms  %s\n", mark, i+1, s.Name, s.Millis, s.Detail)
		if s.ErrorMsg != "" {
			fmt.Fprintf(&b, "        error: %s\n", s.ErrorMsg)
		}
		for _, k := range s.LinkNames() {
			fmt.Fprintf(&b, "        %s: %s\n", k, s.Links[k])
		}
	}
	verdict := "every step succeeded"
	if !rep.OK {
		verdict = "a step failed"
	}
	fmt.Fprintf(&b, "\n%s in %d ms; hoist at %s\n", verdict, rep.TotalMS, rep.HoistURL)
	return b.String()
}

// autoRollback turns on post-deploy verification for staging, deploys a
// change that passes, then one whose products page lost its products: the
// live check through the edge fails, and hoist rolls staging back by
// itself, as a new commit restoring the verified tree, deploys and purges
// it, checks it again and holds staging.
func (r *runner) autoRollback(s *Step) error {
	if err := git(r.work, "fetch", "-q", "origin"); err != nil {
		return err
	}
	if err := git(r.work, "checkout", "-q", "-B", "main", "origin/main"); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(r.work, ".github", "hoist.yml"), r.demoConfigWith(true)); err != nil {
		return err
	}
	if err := commitAll(r.work, "Verify staging after each deploy and roll it back when it fails"); err != nil {
		return err
	}
	cfgSHA, err := gitOut(r.work, "rev-parse", "HEAD")
	if err != nil {
		return err
	}
	if err := git(r.work, "push", "-q", "origin", "HEAD:main"); err != nil {
		return err
	}
	if _, err := r.checkRun(cfgSHA, repoconfig.ConfigCheckName); err != nil {
		return err
	}
	// A change that passes: the deployment hoist will go back to.
	if err := git(r.work, "checkout", "-q", "-B", "staging", "origin/staging"); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(r.work, "public", "robots.txt"), "User-agent: *\nAllow: /\n"); err != nil {
		return err
	}
	if err := commitAll(r.work, "Add robots.txt"); err != nil {
		return err
	}
	good, err := gitOut(r.work, "rev-parse", "HEAD")
	if err != nil {
		return err
	}
	if err := git(r.work, "push", "-q", "origin", "HEAD:staging"); err != nil {
		return err
	}
	if run, err := r.checkRun(good, verify.CheckName); err != nil || run.GetConclusion() != "success" {
		return fmt.Errorf("hoist/verify on %.7s: %v %s", good, err, run.GetOutput().GetTitle())
	}
	// A change that breaks the live products page.
	if err := writeFile(filepath.Join(r.work, "public", "products", "index.html"), "<!doctype html><title>Products</title><h1>Products</h1><p>Back soon.</p>"); err != nil {
		return err
	}
	if err := commitAll(r.work, "Simplify the products page"); err != nil {
		return err
	}
	bad, err := gitOut(r.work, "rev-parse", "HEAD")
	if err != nil {
		return err
	}
	if err := git(r.work, "push", "-q", "origin", "HEAD:staging"); err != nil {
		return err
	}
	failed, err := r.checkRun(bad, verify.CheckName)
	if err != nil {
		return err
	}
	if failed.GetConclusion() != "failure" {
		return fmt.Errorf("hoist/verify on the broken %.7s concluded %s", bad, failed.GetConclusion())
	}
	var head string
	if err := world.WaitFor(stepLimit, func() bool {
		ref, _, err := r.alice.Git.GetRef(r.ctx, "acme", "site", "heads/staging")
		if err == nil {
			head = ref.GetObject().GetSHA()
		}
		return head != "" && head != bad
	}); err != nil {
		return fmt.Errorf("staging was not rolled back from %.7s: %w", bad, err)
	}
	restored, err := r.checkRun(head, verify.CheckName)
	if err != nil {
		return err
	}
	if restored.GetConclusion() != "success" {
		return fmt.Errorf("hoist/verify on the rollback %.7s concluded %s", head, restored.GetConclusion())
	}
	code, body, err := get(r.siteURL + "products/")
	if err != nil || code != http.StatusOK || !strings.Contains(body, "Rocket skates") {
		return fmt.Errorf("after the rollback the site serves %d %q (%v), want the products again", code, clip(body), err)
	}
	holds, err := r.srv.Store().EnvHolds(r.ctx, "acme/site", "staging", time.Now())
	if err != nil || len(holds) == 0 {
		return fmt.Errorf("staging is not held after the rollback (%v)", err)
	}
	s.Detail = fmt.Sprintf("hoist/verify failed on %.7s (%s); hoist committed %.7s restoring the tree of %.7s, deployed and purged it, verified it (%s) and holds staging: %s",
		bad, failed.GetOutput().GetTitle(), head, good, restored.GetOutput().GetTitle(), holds[0].Reason)
	s.Links = map[string]string{"failed check": failed.GetHTMLURL(), "restored check": restored.GetHTMLURL(), "site": r.siteURL + "products/",
		"deployments": r.emu.URL() + "/repos/acme/site/deployments?environment=staging"}
	return nil
}

// checkRun waits for the completed check run name on sha.
func (r *runner) checkRun(sha, name string) (*github.CheckRun, error) {
	var run *github.CheckRun
	err := world.WaitFor(2*stepLimit, func() bool {
		res, _, err := r.alice.Checks.ListCheckRunsForRef(r.ctx, "acme", "site", sha, &github.ListCheckRunsOptions{CheckName: github.String(name)})
		if err != nil || len(res.CheckRuns) == 0 {
			return false
		}
		run = res.CheckRuns[0]
		return run.GetStatus() == "completed"
	})
	if err != nil {
		return nil, fmt.Errorf("%s on %.7s did not complete: %w", name, sha, err)
	}
	return run, nil
}
