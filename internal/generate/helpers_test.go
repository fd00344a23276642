package generate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/emulator/emulatortest"
	"github.com/hoist-dev/hoist/handlers"
	"github.com/hoist-dev/hoist/internal/generate"
	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/hoisttest"
	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/repoconfig"
	"github.com/hoist-dev/hoist/internal/store"
)

const siteConfig = `version: 1
environments:
  staging: { branch: staging }
  production: { branch: main }
candidates:
  - { from: pre-staging, to: staging }
generate: { dispatch_type: content-changed, workflow: build-site.yml, debounce: %DEBOUNCE% }
`

// noGenerateConfig is a repository that uses hoist but not generation.
const noGenerateConfig = `version: 1
environments:
  staging: { branch: staging }
`

var secrets = map[string]string{
	"acme/site":  "site-secret-0123456789",
	"acme/blog":  "blog-secret-0123456789",
	"acme/other": "other-secret-0123456789",
}

// world is the emulated GitHub (behind a gate that can hold workflow
// dispatches), a repository acme/site configured for generation, acme/blog
// configured without it, acme/other without the App, and hoist's side: a
// store and job engine on one SQLite file, which restart reopens.
type world struct {
	t      testing.TB
	gh     *emulatortest.Harness
	app    *emulatortest.TestApp
	inst   int64
	gate   *gate
	cc     githubapp.ClientCreator
	dbPath string

	st     *store.Store
	engine *jobs.Engine
	svc    *generate.Service
	api    *httptest.Server
	// current receives the emulator's webhooks (swapped on restart).
	current atomic.Pointer[generate.Service]
}

func newWorld(t testing.TB, debounce string) *world {
	t.Helper()
	w := &world{t: t, gate: newGate(), dbPath: filepath.Join(t.TempDir(), "hoist.db")}
	hook := httptest.NewServer(http.HandlerFunc(w.receiveWebhook))
	t.Cleanup(hook.Close)
	ws := hoisttest.Start(t, hoisttest.Spec{App: emulator.AppSpec{WebhookURL: hook.URL},
		Repos: []string{"site", "blog", "other"}, Installed: []string{"site", "blog"}})
	w.gh, w.app, w.inst = ws.GH, ws.App, ws.InstallationID
	putFile := func(repo, path, body string) { ws.Put(repo, path, body, "add "+path) }
	put := func(repo, body string) { putFile(repo, config.RepoConfigPath, body) }
	put("site", strings.ReplaceAll(siteConfig, "%DEBOUNCE%", debounce))
	putFile("site", ".github/workflows/build-site.yml", generate.DispatchTrigger)
	put("blog", noGenerateConfig)
	put("other", noGenerateConfig)

	// hoist reaches GitHub through a proxy that can hold workflow
	// dispatches, to keep a generation "running" as long as a test needs.
	target, _ := url.Parse(w.gh.URL())
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(w.gate.wrap(proxy))
	t.Cleanup(front.Close)
	cfg := &serverconfig.Server{GitHub: serverconfig.GitHub{URL: front.URL + "/api/v3/", AppID: w.app.ID,
		PrivateKey: string(w.app.PrivateKeyPEM), Timeout: time.Minute}}
	cc, err := gh.NewClientCreator(cfg, gh.RateLimitOptions{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	w.cc = cc
	w.start()
	t.Cleanup(w.stop)
	return w
}

// start opens the store and engine on the database file and starts a
// fresh service on them, as a process start does.
func (w *world) start() {
	t := w.t
	t.Helper()
	ctx := context.Background()
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	st, err := store.Open(ctx, store.Options{SQLitePath: w.dbPath, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	engine, err := jobs.New(ctx, jobs.Options{Store: st, Logger: log, ClientID: "generate-test", Config: serverconfig.Jobs{
		Workers: 4, MaxAttempts: 5, Timeout: 30 * time.Second, RescueAfter: time.Minute,
		ShutdownGrace: 5 * time.Second, PollInterval: 50 * time.Millisecond,
	}})
	if err != nil {
		t.Fatal(err)
	}
	installations, err := generate.AppInstallations(w.cc)
	if err != nil {
		t.Fatal(err)
	}
	repos := generate.ClientRepos(w.cc)
	svc := generate.New(generate.Deps{
		Engine: engine, Store: st, RepoFor: repos, InstallationFor: installations, Settings: generate.RepoConfigSettings(repos, repoconfig.New(repoconfig.Deps{Clients: w.cc, Store: st})),
		Secret: func(owner, repo string) (string, bool) {
			s, ok := secrets[strings.ToLower(owner+"/"+repo)]
			return s, ok
		},
		Logger: log,
	})
	svc.RegisterWorkers(engine)
	if err := engine.Start(ctx); err != nil {
		t.Fatal(err)
	}
	w.st, w.engine, w.svc = st, engine, svc
	w.api = httptest.NewServer(svc.HTTPHandler())
	w.current.Store(svc)
}

// stop ends the process: the HTTP server, the workers and the store.
func (w *world) stop() {
	if w.st == nil {
		return
	}
	w.api.Close()
	w.gate.release()
	if err := w.engine.Stop(context.Background(), 5*time.Second); err != nil {
		w.t.Errorf("stop engine: %v", err)
	}
	w.st.Close()
	w.st = nil
}

func (w *world) restart() {
	w.stop()
	w.start()
}

// receiveWebhook is hoist's intake in miniature: verify the signature,
// hand the event to the repository_dispatch handler.
func (w *world) receiveWebhook(rw http.ResponseWriter, r *http.Request) {
	body, err := github.ValidatePayload(r, []byte(w.app.WebhookSecret))
	if err != nil {
		http.Error(rw, err.Error(), http.StatusUnauthorized)
		return
	}
	if github.WebHookType(r) != "repository_dispatch" {
		rw.WriteHeader(http.StatusAccepted)
		return
	}
	h := handlers.NewGenerationHandler(handlers.Deps{}, w.current.Load())
	if err := h.Handle(r.Context(), "repository_dispatch", github.DeliveryID(r), body); err != nil {
		w.t.Errorf("repository_dispatch handler: %v", err)
		http.Error(rw, err.Error(), http.StatusInternalServerError)
		return
	}
	rw.WriteHeader(http.StatusAccepted)
}

// repositoryDispatch sends a repository_dispatch through the emulator's
// API and waits until hoist's webhook receiver handled it.
func (w *world) repositoryDispatch(eventType string, payload map[string]any) {
	w.t.Helper()
	before := len(w.gh.Deliveries())
	c := w.gh.Client(w.gh.InstallationToken(w.inst))
	raw, _ := json.Marshal(payload)
	msg := json.RawMessage(raw)
	if _, _, err := c.Repositories.Dispatch(context.Background(), "acme", "site",
		github.DispatchRequestOptions{EventType: eventType, ClientPayload: &msg}); err != nil {
		w.t.Fatal(err)
	}
	hoisttest.WaitFor(w.t, 10*time.Second, "repository_dispatch delivered", func() bool {
		ds := w.gh.Deliveries()
		for _, d := range ds[before:] {
			if d.Event == "repository_dispatch" && !d.Pending() {
				if d.StatusCode != http.StatusAccepted {
					w.t.Fatalf("repository_dispatch answered %d: %s", d.StatusCode, d.ResponseBody)
				}
				return true
			}
		}
		return false
	})
}

// post sends a signed trigger; secret "" leaves the signature out.
func (w *world) post(repo, secret string, body []byte) (int, generate.Response) {
	w.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, w.api.URL+generate.Path+repo, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		generate.Sign(req, secret, body, time.Now())
	}
	return do(w.t, req)
}

func do(t testing.TB, req *http.Request) (int, generate.Response) {
	t.Helper()
	// Errorf, not Fatalf: bursts call this from several goroutines; the
	// caller fails on the zero status.
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0, generate.Response{}
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out generate.Response
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Errorf("answer %d is not JSON: %q", res.StatusCode, raw)
	}
	return res.StatusCode, out
}

// dispatches are the workflow dispatches GitHub recorded for acme/site.
func (w *world) dispatches() []emulator.WorkflowDispatch {
	var out []emulator.WorkflowDispatch
	for _, d := range w.gh.WorkflowDispatches() {
		if d.Repo == "acme/site" {
			out = append(out, d)
		}
	}
	return out
}

// pendingJobs counts generation jobs that still stand for work to come.
func (w *world) pendingJobs() int {
	w.t.Helper()
	var n int
	err := w.st.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind IN (?, ?)
		AND state NOT IN ('completed', 'cancelled', 'discarded')`, generate.WindowKind, generate.DispatchKind).Scan(&n)
	if err != nil {
		w.t.Fatal(err)
	}
	return n
}

// allJobs counts generation jobs in any state.
func (w *world) allJobs() int {
	w.t.Helper()
	var n int
	if err := w.st.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind IN (?, ?)`,
		generate.WindowKind, generate.DispatchKind).Scan(&n); err != nil {
		w.t.Fatal(err)
	}
	return n
}

// settle waits until no generation job is left to run, then returns the
// dispatches: what happened is final.
func (w *world) settle() []emulator.WorkflowDispatch {
	w.t.Helper()
	hoisttest.WaitFor(w.t, 30*time.Second, "generation jobs finished", func() bool { return w.pendingJobs() == 0 })
	return w.dispatches()
}

func (w *world) audit() []store.AuditEntry {
	w.t.Helper()
	entries, err := w.st.AuditLog(context.Background(), "", 1000)
	if err != nil {
		w.t.Fatal(err)
	}
	return entries
}

func countOutcomes(entries []store.AuditEntry) map[string]int {
	m := map[string]int{}
	for _, e := range entries {
		if e.Action == "generate" {
			m[e.Outcome]++
		}
	}
	return m
}

// gate holds workflow dispatch requests while closed.
type gate struct {
	mu      sync.Mutex
	closed  bool
	open    chan struct{}
	waiting atomic.Int32
}

func newGate() *gate { g := &gate{open: make(chan struct{})}; close(g.open); return g }

func (g *gate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.closed {
		g.closed, g.open = true, make(chan struct{})
	}
}

func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		g.closed = false
		close(g.open)
	}
}

func (g *gate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/dispatches") && strings.Contains(r.URL.Path, "/actions/workflows/") {
			g.mu.Lock()
			open := g.open
			g.mu.Unlock()
			g.waiting.Add(1)
			<-open
			g.waiting.Add(-1)
		}
		next.ServeHTTP(w, r)
	})
}
