package smokegate_test

// The test world of the capabilities: the emulator, hoist serve on it,
// and a working clone (shared by the capability packages' tests).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-github/v60/github"
	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/emulator/emulatortest"
	hoistapp "github.com/hoist-dev/hoist/internal/app"
	"github.com/hoist-dev/hoist/internal/deploy"
	"github.com/hoist-dev/hoist/internal/publish"
	"github.com/hoist-dev/hoist/internal/purge"
	"github.com/hoist-dev/hoist/internal/repoconfig"
	"github.com/hoist-dev/hoist/internal/server"
	"github.com/hoist-dev/hoist/internal/servetest"
	"github.com/hoist-dev/hoist/internal/store"
	"github.com/hoist-dev/hoist/internal/testenv"
	"github.com/rs/zerolog"
)

// The organization's default: staging takes dev's head once "ci / test"
// passed.
const ownerDefaultYML = `version: 1
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: true, gates: { checks: ["ci / test"] } }
`

// The repository's own file asks for another check.
const ownConfigYML = `version: 1
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: true, gates: { checks: ["ci / own"] } }
`

// ownerRig is a rig whose acme/site has no configuration of its own at
// first, while the organization's acme/.github repository (in the same
// installation) has .github/hoist.yml. reads counts the contents API
// requests the emulator served.
type ownerRig struct {
	*rig
	org   *world // a working clone of acme/.github
	reads atomic.Int64
}

func startOwnerRig(t *testing.T, orgYML string) *ownerRig {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	o := &ownerRig{}
	gh := emulatortest.Start(t, emulator.Options{ObserveResponse: func(method, specPath string, status int, header http.Header, body []byte) {
		if method == http.MethodGet && specPath == "/repos/{owner}/{repo}/contents/{path}" {
			o.reads.Add(1)
		}
	}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	hoistURL := "http://" + addr
	app := gh.CreateApp("hoist", hoistURL+server.WebhookPath)
	aliceToken := gh.CreateUser("alice")
	gh.CreateRepo("acme", "site", aliceToken)
	gh.CreateRepo("acme", ".github", aliceToken)
	gh.Install(app.ID, "acme/site", "acme/.github")

	dir := t.TempDir()
	env := map[string]string{
		"HOIST_ADDR": addr, "HOIST_PUBLIC_URL": hoistURL, "HOIST_DATA_DIR": filepath.Join(dir, "data"),
		"HOIST_APP_ID": strconv.FormatInt(app.ID, 10), "HOIST_PRIVATE_KEY": string(app.PrivateKeyPEM),
		"HOIST_WEBHOOK_SECRET": app.WebhookSecret, "HOIST_GITHUB_URL": gh.URL() + "/", "HOIST_LOG_LEVEL": "warn",
	}
	cfg, err := serverconfig.LoadServer("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Jobs.PollInterval = 50 * time.Millisecond
	alice := gh.Client(aliceToken)
	o.rig = &rig{world: &world{t: t, gh: gh, alice: alice, work: filepath.Join(dir, "work")}, addr: addr, cfg: cfg}
	o.org = &world{t: t, gh: gh, alice: alice, work: filepath.Join(dir, "org")}

	// The organization's default first, so that the site's first push
	// already finds it.
	o.org.git("", "clone", "-q", gh.GitURL("acme/.github", aliceToken), o.org.work)
	o.org.git(o.org.work, "config", "user.email", "alice@example.com")
	o.org.git(o.org.work, "config", "user.name", "Alice")
	o.org.commit(".github/hoist.yml", orgYML, "Default hoist configuration of acme")
	o.org.git(o.org.work, "push", "-q", "origin", "HEAD:main")

	o.startHoist(ln)
	t.Cleanup(func() { o.stopHoist() })
	o.git("", "clone", "-q", gh.GitURL("acme/site", aliceToken), o.work)
	o.git(o.work, "config", "user.email", "alice@example.com")
	o.git(o.work, "config", "user.name", "Alice")
	o.commit("public/index.html", "<h1>v1</h1>", "First page")
	o.git(o.work, "push", "-q", "--atomic", "origin", "HEAD:main", "HEAD:dev", "HEAD:staging")
	return o
}

const hoistYML = `version: 1
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: true, deploy: { url: "https://staging.example.com/" },
             gates: { checks: ["ci / test"] } }
  production: { branch: prod, gates: { checks: ["ci / test"] } }
tags: [ { pattern: "web-*", promote: production } ]
`

// world is the emulator with acme/site, a hoist server installed on it, and
// a working clone as alice.
type world struct {
	t     *testing.T
	gh    *emulatortest.Harness
	srv   *server.Server
	app   *emulatortest.TestApp
	alice *github.Client
	work  string
	// url is hoist's address, inst the installation on acme/site, caps the
	// capabilities the server runs.
	url  string
	inst int64
	caps *hoistapp.Capabilities
}

// worldSpec says what a world starts with. The zero value is acme/site
// with hoistYML on main, dev, staging and prod.
type worldSpec struct {
	// ServerYAML is a server configuration file (targets:, cdns:, …).
	ServerYAML string
	// RepoYML is .github/hoist.yml (default hoistYML).
	RepoYML string
	// Env adds to or overrides the HOIST_* settings.
	Env map[string]string
	// Files are written into the first commit besides the config.
	Files map[string]string
	// Branches are pushed at that commit (default main, dev, staging, prod).
	Branches []string
	// Setup changes how the capabilities are built.
	Setup []func(*hoistapp.Hooks)
}

func start(t *testing.T, setup ...func(*hoistapp.Hooks)) *world {
	return startWorld(t, worldSpec{Setup: setup})
}

// startWorld starts the emulator and a hoist server on it, in process, and
// pushes the first commit to the spec's branches.
func startWorld(t *testing.T, spec worldSpec) *world {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	if spec.RepoYML == "" {
		spec.RepoYML = hoistYML
	}
	if spec.Branches == nil {
		spec.Branches = []string{"main", "dev", "staging", "prod"}
	}
	gh := emulatortest.Start(t)
	ln, hoistURL := servetest.Listen(t)
	app := gh.CreateApp("hoist", hoistURL+server.WebhookPath)
	aliceToken := gh.CreateUser("alice")
	gh.CreateRepo("acme", "site", aliceToken)
	inst := gh.Install(app.ID, "acme/site")

	dir := t.TempDir()
	var hooks hoistapp.Hooks
	for _, f := range spec.Setup {
		if f != nil {
			f(&hooks)
		}
	}
	var caps *hoistapp.Capabilities
	srv := servetest.Start(t, servetest.Spec{GitHub: gh, App: app, Listener: ln, ServerYAML: spec.ServerYAML, Env: spec.Env,
		New: func(ctx context.Context, cfg *serverconfig.Server, opts server.Options) (*server.Server, error) {
			srv, c, err := hoistapp.Assemble(ctx, cfg, opts, hooks)
			caps = c
			return srv, err
		}})

	alice := github.NewClient(nil).WithAuthToken(aliceToken)
	alice, _ = alice.WithEnterpriseURLs(gh.URL()+"/", gh.URL()+"/")
	w := &world{t: t, gh: gh, srv: srv, app: app, alice: alice, work: filepath.Join(dir, "work"), url: hoistURL, inst: inst, caps: caps}
	w.git("", "clone", "-q", gh.GitURL("acme/site", aliceToken), w.work)
	w.git(w.work, "config", "user.email", "alice@example.com")
	w.git(w.work, "config", "user.name", "Alice")
	for _, name := range sortedKeys(spec.Files) {
		w.write(name, spec.Files[name])
	}
	w.commit(".github/hoist.yml", spec.RepoYML, "Configure hoist")
	for _, b := range spec.Branches {
		w.git(w.work, "push", "-q", "origin", "HEAD:"+b)
	}
	return w
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (w *world) git(dir string, args ...string) string {
	w.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		w.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func (w *world) commit(path, content, msg string) string {
	w.t.Helper()
	full := filepath.Join(w.work, path)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		w.t.Fatal(err)
	}
	w.git(w.work, "add", "-A")
	w.git(w.work, "commit", "-q", "-m", msg)
	return w.git(w.work, "rev-parse", "HEAD")
}

func (w *world) head(branch string) string {
	w.t.Helper()
	ref, _, err := w.alice.Git.GetRef(context.Background(), "acme", "site", "heads/"+branch)
	if err != nil {
		w.t.Fatalf("head of %s: %v", branch, err)
	}
	return ref.GetObject().GetSHA()
}

func (w *world) status(sha, state string) {
	w.t.Helper()
	_, _, err := w.alice.Repositories.CreateStatus(context.Background(), "acme", "site", sha,
		&github.RepoStatus{State: github.String(state), Context: github.String("ci / test")})
	if err != nil {
		w.t.Fatalf("status %s on %s: %v", state, sha, err)
	}
}

// waitAudit waits until the audit log has an entry for env and sha with
// outcome, which is how the test knows hoist decided (and not merely has
// not yet).
func (w *world) waitAudit(env, sha, outcome string) {
	w.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		entries, err := w.srv.Store().AuditLog(context.Background(), "acme/site", 50)
		if err != nil {
			w.t.Fatal(err)
		}
		for _, e := range entries {
			if e.Env == env && e.SHA == sha && e.Outcome == outcome {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	entries, _ := w.srv.Store().AuditLog(context.Background(), "acme/site", 50)
	w.t.Fatalf("no audit entry %s %s %s; log: %+v", env, sha, outcome, entries)
}

// personPromotesYML: staging is promoted by a person, so hoist keeps a
// promotion pull request dev → staging.
const personPromotesYML = `version: 1
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: false }
`

// pushDelivery waits for the push webhook of ref and returns its id.
func pushDelivery(t *testing.T, gh *emulatortest.Harness, ref string) string {
	t.Helper()
	return gh.WaitForDelivery(func(d emulator.Delivery) bool {
		var ev struct {
			Ref string `json:"ref"`
		}
		return d.Event == "push" && json.Unmarshal(d.Payload, &ev) == nil && ev.Ref == ref
	}).GUID
}

// handledOnce waits until hoist handled the delivery and checks it took
// one attempt: a failure would have left it queued for a retry.
func (r *rig) handledOnce(id string) {
	r.t.Helper()
	var d store.Delivery
	eventually(r.t, 30*time.Second, func() (bool, string) {
		var err error
		if d, err = r.srv.Store().GetDelivery(context.Background(), id); err != nil {
			return false, err.Error()
		}
		return d.Status == store.StatusHandled, fmt.Sprintf("delivery %s is %s (attempt %d: %s)", id, d.Status, d.Attempts, d.Reason)
	})
	if d.Attempts != 1 {
		r.t.Errorf("delivery %s handled after %d attempts, want 1", id, d.Attempts)
	}
}

// rig is the world of kit_test.go with a configuration of the test's
// choosing and a hoist server that can be stopped and started again on the
// same data folder and address, as an operator restarts it.
type rig struct {
	*world
	token string // alice's
	addr  string
	cfg   *serverconfig.Server
	inst  int64 // hoist's installation
	stop  func()
}

func startRig(t *testing.T, hoistYML string) *rig {
	t.Helper()
	return startRigOn(t, hoistYML, "")
}

// startRigOn is startRig with hoist's database at databaseURL (empty:
// SQLite in the data folder); tweaks change the server configuration.
func startRigOn(t *testing.T, hoistYML, databaseURL string, tweaks ...func(*serverconfig.Server)) *rig {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	gh := emulatortest.Start(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	hoistURL := "http://" + addr
	app := gh.CreateApp("hoist", hoistURL+server.WebhookPath)
	aliceToken := gh.CreateUser("alice")
	gh.CreateRepo("acme", "site", aliceToken)
	inst := gh.Install(app.ID, "acme/site")

	dir := t.TempDir()
	env := map[string]string{
		"HOIST_ADDR": addr, "HOIST_PUBLIC_URL": hoistURL, "HOIST_DATA_DIR": filepath.Join(dir, "data"),
		"HOIST_APP_ID": strconv.FormatInt(app.ID, 10), "HOIST_PRIVATE_KEY": string(app.PrivateKeyPEM),
		"HOIST_WEBHOOK_SECRET": app.WebhookSecret, "HOIST_GITHUB_URL": gh.URL() + "/", "HOIST_LOG_LEVEL": "warn",
	}
	if databaseURL != "" {
		env["HOIST_DATABASE_URL"] = databaseURL
	}
	cfg, err := serverconfig.LoadServer("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Jobs.PollInterval = 50 * time.Millisecond
	// GitHub's advised write pace at a twentieth, as servetest sets it.
	cfg.GitHub.WriteInterval, cfg.GitHub.WritesPerMinute = 50*time.Millisecond, 1220
	for _, tweak := range tweaks {
		tweak(cfg)
	}
	alice := gh.Client(aliceToken)
	r := &rig{world: &world{t: t, gh: gh, alice: alice, work: filepath.Join(dir, "work")}, token: aliceToken, addr: addr, cfg: cfg, inst: inst}
	r.startHoist(ln)
	t.Cleanup(func() { r.stopHoist() })

	r.git("", "clone", "-q", gh.GitURL("acme/site", aliceToken), r.work)
	r.git(r.work, "config", "user.email", "alice@example.com")
	r.git(r.work, "config", "user.name", "Alice")
	r.commit(".github/hoist.yml", hoistYML, "Configure hoist")
	// One push for the three branches: with a gateless staging, a push of
	// dev alone would have hoist create staging before the test does.
	r.git(r.work, "push", "-q", "--atomic", "origin", "HEAD:main", "HEAD:dev", "HEAD:staging")
	return r
}

// startHoist runs a hoist server on ln (or a new listener on the rig's
// address) with a fresh hoist serve.
func (r *rig) startHoist(ln net.Listener) {
	t := r.t
	t.Helper()
	if ln == nil {
		var err error
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if ln, err = net.Listen("tcp", r.addr); err == nil || time.Now().After(deadline) {
				break
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	opts := server.Options{Logger: &log, Listener: ln}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := hoistapp.New(ctx, r.cfg, opts)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	r.srv = srv
	r.stop = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("hoist did not stop")
		}
	}
}

func (r *rig) stopHoist() {
	if r.stop != nil {
		r.stop()
		r.stop = nil
	}
}

// eventually polls cond until it holds, failing the test with its last
// explanation after timeout.
func eventually(t *testing.T, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	var why string
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var ok bool
		if ok, why = cond(); ok {
			return
		}
	}
	t.Fatalf("timed out: %s", why)
}

func (r *rig) push(branch string) { r.git(r.work, "push", "-q", "origin", "HEAD:"+branch) }

// openPulls lists the open pull requests head → base.
func (r *rig) openPulls(head, base string) []*github.PullRequest {
	r.t.Helper()
	prs, _, err := r.alice.PullRequests.List(context.Background(), "acme", "site",
		&github.PullRequestListOptions{State: "open", Head: "acme:" + head, Base: base})
	if err != nil {
		r.t.Fatal(err)
	}
	return prs
}

func (r *rig) auditCount(env, sha, outcome string) int {
	r.t.Helper()
	entries, err := r.srv.Store().AuditLog(context.Background(), "acme/site", 500)
	if err != nil {
		r.t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if e.Env == env && e.SHA == sha && e.Outcome == outcome {
			n++
		}
	}
	return n
}

func (r *rig) deployments(env, sha string) []*github.Deployment {
	r.t.Helper()
	deps, _, err := r.alice.Repositories.ListDeployments(context.Background(), "acme", "site",
		&github.DeploymentsListOptions{Environment: env, SHA: sha})
	if err != nil {
		r.t.Fatal(err)
	}
	return deps
}

const manualProductionYML = `version: 1
environments:
  dev:        { branch: dev }
  staging:    { branch: staging, promote_from: dev, auto: true, gates: { checks: ["ci / test"] } }
  production: { branch: main, promote_from: staging, auto: false, gates: { approvals: 1 } }
`

// pushEvent is the part of a push payload the burst test reads.
type pushEvent struct {
	Ref    string `json:"ref"`
	Before string `json:"before"`
	After  string `json:"after"`
	Forced bool   `json:"forced"`
}

func webhooksTwice(t *testing.T, databaseURL string) {
	r := startRigOn(t, `version: 1
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: true, gates: { checks: ["ci / test"] } }
`, databaseURL)
	r.gh.SetFaults(emulator.Faults{WebhookDuplicateRate: 1})
	sha := r.commit("public/index.html", "<h1>twice</h1>", "Once only")
	r.push("dev")
	// Two success statuses (two deliveries), each sent twice with one
	// delivery id.
	r.status(sha, "success")
	r.status(sha, "success")
	r.waitAudit("staging", sha, "promoted")
	time.Sleep(1500 * time.Millisecond)
	if n := r.auditCount("staging", sha, "promoted"); n != 1 {
		t.Errorf("%d promotions of %s recorded, want 1", n, sha[:7])
	}
	if deps := r.deployments("staging", sha); len(deps) != 1 {
		t.Errorf("%d deployments of staging at %s, want 1", len(deps), sha[:7])
	}
	var dups int
	if err := r.srv.Store().QueryRow(context.Background(), `SELECT count(*) FROM deliveries WHERE duplicates > 0`).Scan(&dups); err != nil {
		t.Fatal(err)
	}
	if dups == 0 {
		t.Fatal("hoist saw no duplicated delivery; the test proves nothing")
	}
}

const goodYML = `version: 1
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: true, gates: { checks: ["ci / test"] } }
`

// brokenYML has one mistake, on line 4.
const brokenYML = `version: 1
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: sometimes, gates: { checks: ["ci / test"] } }
`

// configRun waits for the hoist/config check run on sha.
func (r *rig) configRun(sha string) *github.CheckRun {
	r.t.Helper()
	var run *github.CheckRun
	eventually(r.t, 20*time.Second, func() (bool, string) {
		res, _, err := r.alice.Checks.ListCheckRunsForRef(context.Background(), "acme", "site", sha,
			&github.ListCheckRunsOptions{CheckName: github.String(repoconfig.ConfigCheckName)})
		if err != nil {
			return false, err.Error()
		}
		if len(res.CheckRuns) == 0 {
			return false, "no " + repoconfig.ConfigCheckName + " check run on " + sha[:7]
		}
		run = res.CheckRuns[0]
		return run.GetStatus() == "completed", "check run " + run.GetStatus()
	})
	return run
}

func promotionScenarioRequests(t *testing.T, cacheMB int) emulator.RequestStats {
	var stats emulator.RequestStats
	t.Run(fmt.Sprintf("cache_mb=%d", cacheMB), func(t *testing.T) {
		r := startRigOn(t, manualProductionYML, "", func(cfg *serverconfig.Server) {
			if cacheMB != 0 {
				cfg.GitHub.CacheMB = cacheMB
			}
		})
		for i := 1; i <= 4; i++ {
			c := r.commit("public/index.html", fmt.Sprintf("<h1>%d</h1>", i), fmt.Sprintf("Change %d", i))
			r.push("dev")
			r.status(c, "pending")
			r.status(c, "success")
			r.waitAudit("staging", c, "promoted")
			eventually(t, 20*time.Second, func() (bool, string) {
				prs := r.openPulls("staging", "main")
				return len(prs) == 1 && strings.Contains(prs[0].GetBody(), c[:7]), "promotion pull request not up to date with " + c[:7]
			})
		}
		// Let the work the last events started finish.
		time.Sleep(time.Second)
		stats = r.gh.InstallationRequestStats(r.inst)
	})
	return stats
}

// tenant is another account of the same emulator, with its own
// installation of the App and a working clone of its repository.
type tenant struct {
	w      *world
	owner  string
	name   string
	client *github.Client
	work   string
}

// addTenant creates the account owner, its repository owner/site, installs
// the App on it and pushes the configuration yml to branches.
func (w *world) addTenant(owner, yml string, branches ...string) *tenant {
	w.t.Helper()
	token := w.gh.CreateUser(owner)
	w.gh.CreateRepo(owner, "site", token)
	w.gh.Install(w.app.ID, owner+"/site")
	tn := &tenant{w: w, owner: owner, name: "site", client: w.gh.Client(token), work: filepath.Join(w.t.TempDir(), owner)}
	w.git("", "clone", "-q", w.gh.GitURL(owner+"/site", token), tn.work)
	w.git(tn.work, "config", "user.email", owner+"@example.com")
	w.git(tn.work, "config", "user.name", owner)
	tn.commit(".github/hoist.yml", yml, "Configure hoist")
	for _, b := range branches {
		w.git(tn.work, "push", "-q", "origin", "HEAD:"+b)
	}
	return tn
}

func (tn *tenant) commit(path, content, msg string) string {
	tn.w.t.Helper()
	ww := &world{t: tn.w.t, work: tn.work}
	ww.write(path, content)
	tn.w.git(tn.work, "add", "-A")
	tn.w.git(tn.work, "commit", "-q", "-m", msg)
	return tn.w.git(tn.work, "rev-parse", "HEAD")
}

// promote pushes HEAD to dev with a green check, which promotes it into
// staging.
func (tn *tenant) promote() string {
	tn.w.t.Helper()
	sha := tn.w.git(tn.work, "rev-parse", "HEAD")
	tn.w.git(tn.work, "push", "-q", "origin", "HEAD:dev")
	if _, _, err := tn.client.Repositories.CreateStatus(context.Background(), tn.owner, tn.name, sha,
		&github.RepoStatus{State: github.String("success"), Context: github.String("ci / test")}); err != nil {
		tn.w.t.Fatal(err)
	}
	return sha
}

// finished is the final status of the newest deployment of env for sha.
func (tn *tenant) finished(env, sha string) *github.DeploymentStatus {
	tn.w.t.Helper()
	var st *github.DeploymentStatus
	eventually(tn.w.t, 60*time.Second, func() (bool, string) {
		ctx := context.Background()
		deps, _, err := tn.client.Repositories.ListDeployments(ctx, tn.owner, tn.name, &github.DeploymentsListOptions{Environment: env, SHA: sha})
		if err != nil || len(deps) == 0 {
			return false, fmt.Sprintf("no deployment of %s to %s of %s/%s (%v)", sha[:7], env, tn.owner, tn.name, err)
		}
		sts, _, err := tn.client.Repositories.ListDeploymentStatuses(ctx, tn.owner, tn.name, deps[0].GetID(), nil)
		if err != nil || len(sts) == 0 {
			return false, "no status yet"
		}
		st = sts[0]
		switch st.GetState() {
		case "success", "failure", "error", "inactive":
			return true, ""
		}
		return false, "status " + st.GetState()
	})
	return st
}

// configRun waits for the completed hoist/config check run on sha.
func (tn *tenant) configRun(sha string) *github.CheckRun {
	tn.w.t.Helper()
	var run *github.CheckRun
	eventually(tn.w.t, 30*time.Second, func() (bool, string) {
		res, _, err := tn.client.Checks.ListCheckRunsForRef(context.Background(), tn.owner, tn.name, sha,
			&github.ListCheckRunsOptions{CheckName: github.String(repoconfig.ConfigCheckName)})
		if err != nil || len(res.CheckRuns) == 0 {
			return false, fmt.Sprintf("no %s check run on %s (%v)", repoconfig.ConfigCheckName, sha[:7], err)
		}
		run = res.CheckRuns[0]
		return run.GetStatus() == "completed", "check run " + run.GetStatus()
	})
	return run
}

// bucketSnapshot is every object of the bucket with its content.
func bucketSnapshot(t *testing.T, client *s3.Client, bucket string) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	out := map[string][]byte{}
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			g, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(g.Body)
			g.Body.Close()
			out[aws.ToString(o.Key)] = b
		}
	}
	return out
}

func keysOf(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// s3Bucket starts versitygw with a bucket and returns a direct client.
func s3Bucket(t *testing.T, bucket string) (endpoint, key, secret string, client *s3.Client) {
	t.Helper()
	endpoint, key, secret = testenv.VersityGW(t)
	ctx := context.Background()
	direct, err := deploy.NewS3Target(ctx, deploy.TargetConfig{Type: "s3", Bucket: bucket, Endpoint: endpoint, PathStyle: true,
		AccessKeyID: key, SecretAccessKey: secret}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := direct.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	return endpoint, key, secret, direct.Client()
}

const candidateYML = `version: 1
site: { root: public }
environments:
  staging: { branch: staging, gates: { smoke: true } }
candidates:
  - { from: pre-staging, to: staging%s }
smoke:
  pages: [ { path: /, expect_text: "Shop" }, { path: /about/ } ]
`

// smokeWorld is a world whose repository promotes pre-staging into
// staging through the smoke gate, with hoist testing in real Chromium.
type smokeWorld struct {
	*world
}

func startSmoke(t *testing.T, candidateOpts string, extraEnv map[string]string) *smokeWorld {
	return startSmokeWith(t, fmt.Sprintf(candidateYML, candidateOpts), extraEnv)
}

func startSmokeWith(t *testing.T, yml string, extraEnv map[string]string) *smokeWorld {
	t.Helper()
	return startSmokeServer(t, yml, "", extraEnv)
}

// startSmokeServer is startSmokeWith with a server config file as well
// (empty: none).
func startSmokeServer(t *testing.T, yml, serverYML string, extraEnv map[string]string) *smokeWorld {
	t.Helper()
	env := map[string]string{}
	for k, v := range extraEnv {
		env[k] = v
	}
	if env["HOIST_CHROMIUM"] == "" {
		env["HOIST_CHROMIUM"] = testenv.Chromium(t)
	}
	w := startWorld(t, worldSpec{ServerYAML: serverYML, RepoYML: yml, Env: env, Branches: []string{"main", "dev", "staging"}, Files: map[string]string{
		"public/index.html":       `<!doctype html><title>Shop</title><h1>Shop</h1><p>Welcome to the shop, version one.</p><a href="about/">About</a>`,
		"public/about/index.html": `<!doctype html><title>About</title><h1>About the Shop</h1>`,
	}})
	return &smokeWorld{world: w}
}

func (w *world) write(path, content string) {
	w.t.Helper()
	full := filepath.Join(w.work, path)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

// smokeRuns lists hoist/smoke check runs on sha, oldest first.
func (w *smokeWorld) smokeRuns(sha string) []*github.CheckRun {
	w.t.Helper()
	res, _, err := w.alice.Checks.ListCheckRunsForRef(context.Background(), "acme", "site", sha,
		&github.ListCheckRunsOptions{CheckName: github.String("hoist/smoke"), Filter: github.String("all")})
	if err != nil {
		w.t.Fatal(err)
	}
	runs := res.CheckRuns
	for i, j := 0, len(runs)-1; i < j; i, j = i+1, j-1 {
		runs[i], runs[j] = runs[j], runs[i]
	}
	return runs
}

// waitSmoke waits until n hoist/smoke runs on sha have completed.
func (w *smokeWorld) waitSmoke(sha string, n int) []*github.CheckRun {
	w.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		runs := w.smokeRuns(sha)
		completed := 0
		for _, r := range runs {
			if r.GetStatus() == "completed" {
				completed++
			}
		}
		if completed >= n {
			return runs
		}
		time.Sleep(100 * time.Millisecond)
	}
	w.t.Fatalf("fewer than %d completed smoke runs on %s: %+v", n, sha, w.smokeRuns(sha))
	return nil
}

func (w *smokeWorld) get(u string) (*http.Response, []byte) {
	w.t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// checkImage asserts hoist serves a check run image publicly as a PNG.
func (w *smokeWorld) checkImage(img map[string]any) {
	w.t.Helper()
	u, _ := img["image_url"].(string)
	if !strings.HasPrefix(u, w.url+"/artifacts/acme/site/") || !strings.Contains(u, ".png?exp=") {
		w.t.Fatalf("image URL %q is not one of hoist's artifacts", u)
	}
	if alt, _ := img["alt"].(string); alt == "" {
		w.t.Errorf("image %s without alt text", u)
	}
	resp, body := w.get(u)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || !bytes.HasPrefix(body, []byte("\x89PNG")) {
		w.t.Fatalf("GET %s: %d %s", u, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		w.t.Errorf("Cache-Control %q, want immutable", cc)
	}
}

func actionIDs(cr emulator.CheckRun) []string {
	var ids []string
	for _, a := range cr.Actions {
		ids = append(ids, fmt.Sprint(a["identifier"]))
	}
	return ids
}

// startWith is start with a server config file (targets:, cdns:) and the
// repository config given, and hooks for the capabilities.
func startWith(t *testing.T, serverYAML, repoYML string, extraEnv map[string]string, setup func(*hoistapp.Hooks)) *world {
	t.Helper()
	return startWorld(t, worldSpec{ServerYAML: serverYAML, RepoYML: repoYML, Env: extraEnv,
		Branches: []string{"main", "dev", "staging"}, Setup: []func(*hoistapp.Hooks){setup}})
}

// edgeOrigin serves an edition prefix of the bucket at the root of a site,
// as an S3 website endpoint with an origin path would: dir/ is
// dir/index.html, the object's surrogate keys travel in
// x-amz-meta-surrogate-key. The edge caches every page for an hour and
// relies on purges, so Cache-Control is raised for Varnish.
func edgeOrigin(t *testing.T, client *s3.Client, bucket, prefix string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := purge.SitePath(r.URL.Path)
		out, err := client.GetObject(r.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(prefix + p)})
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer out.Body.Close()
		w.Header().Set("Content-Type", aws.ToString(out.ContentType))
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("x-amz-meta-surrogate-key", out.Metadata["surrogate-key"])
		io.Copy(w, out.Body)
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// purgeGate holds purge requests until it is opened, so a test can look at
// the edge between the deploy and the purge; it counts them.
type purgeGate struct {
	fail     atomic.Bool // answer every purge with a network error
	mu       sync.Mutex
	closed   bool
	open     chan struct{}
	waiting  chan struct{}
	requests atomic.Int64
}

func newPurgeGate() *purgeGate {
	return &purgeGate{open: make(chan struct{}), waiting: make(chan struct{}, 100)}
}

func (g *purgeGate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed, g.open = true, make(chan struct{})
}

func (g *purgeGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		close(g.open)
		g.closed = false
	}
}

func (g *purgeGate) RoundTrip(r *http.Request) (*http.Response, error) {
	g.requests.Add(1)
	if g.fail.Load() {
		return nil, fmt.Errorf("connection refused (test)")
	}
	g.mu.Lock()
	closed, open := g.closed, g.open
	g.mu.Unlock()
	if closed {
		g.waiting <- struct{}{}
		select {
		case <-open:
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

func fetch(t *testing.T, addr, p string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + p)
	if err != nil {
		t.Fatalf("GET %s: %v", p, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func shippedVCL() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "examples", "varnish", "hoist.vcl")
}

// waitState waits until the newest deployment of env for sha has the
// status state, and returns its description.
func (w *world) waitState(env, sha, state string) string {
	w.t.Helper()
	ctx := context.Background()
	var last string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		deps, _, err := w.alice.Repositories.ListDeployments(ctx, "acme", "site", &github.DeploymentsListOptions{Environment: env, SHA: sha})
		if err != nil {
			w.t.Fatal(err)
		}
		if len(deps) == 0 {
			continue
		}
		sts, _, err := w.alice.Repositories.ListDeploymentStatuses(ctx, "acme", "site", deps[0].GetID(), nil)
		if err != nil {
			w.t.Fatal(err)
		}
		if len(sts) > 0 {
			last = sts[0].GetState() + " " + sts[0].GetDescription()
			if sts[0].GetState() == state {
				return sts[0].GetDescription()
			}
		}
	}
	w.t.Fatalf("deployment of %s to %s never %s; last %q", sha, env, state, last)
	return ""
}

// waitDeployment waits until the newest deployment of env for sha has a
// final status, and returns the deployment and its statuses (newest first).
func (w *world) waitDeployment(env, sha string) (*github.Deployment, []*github.DeploymentStatus) {
	w.t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		deps, _, err := w.alice.Repositories.ListDeployments(ctx, "acme", "site", &github.DeploymentsListOptions{Environment: env, SHA: sha})
		if err != nil {
			w.t.Fatal(err)
		}
		if len(deps) > 0 {
			sts, _, err := w.alice.Repositories.ListDeploymentStatuses(ctx, "acme", "site", deps[0].GetID(), nil)
			if err != nil {
				w.t.Fatal(err)
			}
			if len(sts) > 0 {
				switch sts[0].GetState() {
				case "success", "failure", "error", "inactive":
					return deps[0], sts
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	w.t.Fatalf("no finished deployment of %s to %s", sha, env)
	return nil, nil
}

func (w *world) deployCheck(sha string) *github.CheckRun {
	w.t.Helper()
	runs, _, err := w.alice.Checks.ListCheckRunsForRef(context.Background(), "acme", "site", sha,
		&github.ListCheckRunsOptions{CheckName: github.String(publish.DeployCheckName)})
	if err != nil {
		w.t.Fatal(err)
	}
	if len(runs.CheckRuns) == 0 {
		w.t.Fatalf("no %s check run on %s", publish.DeployCheckName, sha)
	}
	return runs.CheckRuns[0]
}

// promote pushes the work tree's HEAD to dev with a green check, which
// promotes it into staging.
func (w *world) promote() string {
	w.t.Helper()
	sha := w.git(w.work, "rev-parse", "HEAD")
	w.git(w.work, "push", "-q", "origin", "HEAD:dev")
	w.status(sha, "success")
	w.waitAudit("staging", sha, "promoted")
	return sha
}

const deployRepoYML = `version: 1
site: { root: public }
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: true,
             deploy: { target: site, prefix: staging/, url: "https://staging.example.com/" },
             purge: [ { cdn: edge } ],
             gates: { checks: ["ci / test"] } }
`

// outputOf is the summary of the hoist/deploy check run on sha titled title.
func outputOf(t *testing.T, w *world, sha, title string) string {
	runs, _, err := w.alice.Checks.ListCheckRunsForRef(context.Background(), "acme", "site", sha,
		&github.ListCheckRunsOptions{CheckName: github.String(publish.DeployCheckName), Filter: github.String("all")})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs.CheckRuns {
		if r.GetOutput().GetTitle() == title {
			return r.GetOutput().GetSummary()
		}
	}
	return ""
}

// approvalsYML: production is promoted by a person from staging and needs
// one approval on its promotion pull request.
const approvalsYML = `version: 1
environments:
  dev:        { branch: dev }
  staging:    { branch: staging, promote_from: dev, auto: true, gates: { checks: ["ci / test"] } }
  production: { branch: prod, promote_from: staging, auto: false, gates: { approvals: 1 } }
`

// promotionPull waits for hoist's open pull request head → base.
func (w *cmdWorld) promotionPull(head, base string) *github.PullRequest {
	w.t.Helper()
	var pr *github.PullRequest
	eventually(w.t, 30*time.Second, func() (bool, string) {
		prs, _, err := w.alice.PullRequests.List(context.Background(), "acme", "site",
			&github.PullRequestListOptions{State: "open", Head: "acme:" + head, Base: base})
		if err != nil {
			return false, err.Error()
		}
		if len(prs) != 1 {
			return false, fmt.Sprintf("%d open pull requests %s → %s", len(prs), head, base)
		}
		pr = prs[0]
		return true, ""
	})
	return pr
}

// pullBodySays waits until the pull request's body contains every part.
func (w *cmdWorld) pullBodySays(number int, parts ...string) {
	w.t.Helper()
	eventually(w.t, 30*time.Second, func() (bool, string) {
		pr, _, err := w.alice.PullRequests.Get(context.Background(), "acme", "site", number)
		if err != nil {
			return false, err.Error()
		}
		for _, p := range parts {
			if !strings.Contains(pr.GetBody(), p) {
				return false, fmt.Sprintf("body lacks %q:\n%s", p, pr.GetBody())
			}
		}
		return true, ""
	})
}

func (w *cmdWorld) review(who *github.Client, number int, event, sha string) *github.PullRequestReview {
	w.t.Helper()
	req := &github.PullRequestReviewRequest{Event: github.String(event), CommitID: github.String(sha)}
	if event != "APPROVE" {
		req.Body = github.String("a remark")
	}
	rv, _, err := who.PullRequests.CreateReview(context.Background(), "acme", "site", number, req)
	if err != nil {
		w.t.Fatalf("review %s: %v", event, err)
	}
	return rv
}

// commandsYML: staging waits for a person, production follows staging
// automatically; both need the CI check.
const commandsYML = `version: 1
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: false, deploy: { url: "https://staging.example.com/" },
             gates: { checks: ["ci / test"] } }
  production: { branch: prod, promote_from: staging, auto: true, permission: maintain,
                gates: { checks: ["ci / test"] } }
`

// cmdWorld is the world with commandsYML on the default branch, an open
// pull request and two more people: bob (write) and rita (read).
type cmdWorld struct {
	*world
	pr   int
	bob  *github.Client
	rita *github.Client
}

func startCommands(t *testing.T, setup ...func(*hoistapp.Hooks)) *cmdWorld {
	t.Helper()
	return startCommandsSpec(t, worldSpec{Setup: setup})
}

// startCommandsSpec is startCommands with server settings.
func startCommandsSpec(t *testing.T, spec worldSpec) *cmdWorld {
	t.Helper()
	w := startWorld(t, spec)
	w.commit(".github/hoist.yml", commandsYML, "Commands configuration")
	w.git(w.work, "push", "-q", "origin", "HEAD:main")
	// A pull request to comment on: one commit on a feature branch.
	w.commit("public/feature.html", "feature", "Feature")
	w.git(w.work, "push", "-q", "origin", "HEAD:feature")
	w.git(w.work, "reset", "-q", "--hard", "HEAD~1")
	ctx := context.Background()
	pr, _, err := w.alice.PullRequests.Create(ctx, "acme", "site", &github.NewPullRequest{
		Title: github.String("Feature"), Head: github.String("feature"), Base: github.String("main")})
	if err != nil {
		t.Fatal(err)
	}
	cw := &cmdWorld{world: w, pr: pr.GetNumber()}
	cw.bob = cw.person("bob", "push")
	cw.rita = cw.person("rita", "pull")
	return cw
}

// person creates a user with a role on acme/site and returns their client.
func (w *cmdWorld) person(login, permission string) *github.Client {
	w.t.Helper()
	tok := w.gh.CreateUser(login)
	if _, _, err := w.alice.Repositories.AddCollaborator(context.Background(), "acme", "site", login,
		&github.RepositoryAddCollaboratorOptions{Permission: permission}); err != nil {
		w.t.Fatalf("add %s: %v", login, err)
	}
	return w.gh.Client(tok)
}

// say posts a comment on the pull request and returns its id.
func (w *cmdWorld) say(who *github.Client, body string) int64 {
	w.t.Helper()
	c, _, err := who.Issues.CreateComment(context.Background(), "acme", "site", w.pr, &github.IssueComment{Body: github.String(body)})
	if err != nil {
		w.t.Fatalf("comment %q: %v", body, err)
	}
	return c.GetID()
}

// answered waits until hoist has answered line of comment and returns the reply.
func (w *cmdWorld) answered(comment int64, line int) string {
	w.t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		run, err := w.srv.Store().CommandRun(ctx, comment, line)
		if err == nil && run.Status == store.CommandDone {
			for _, r := range w.replies() {
				if r.GetID() == run.ReplyID {
					return r.GetBody()
				}
			}
			w.t.Fatalf("command %d:%d done with reply %d, which is not on the pull request", comment, line, run.ReplyID)
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			w.t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	w.t.Fatalf("comment %d line %d was not answered", comment, line)
	return ""
}

// replies are hoist's comments on the pull request.
func (w *cmdWorld) replies() []*github.IssueComment {
	w.t.Helper()
	cs, _, err := w.alice.Issues.ListComments(context.Background(), "acme", "site", w.pr, &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}})
	if err != nil {
		w.t.Fatal(err)
	}
	var out []*github.IssueComment
	for _, c := range cs {
		if c.GetUser().GetLogin() == "hoist[bot]" {
			out = append(out, c)
		}
	}
	return out
}

func (w *cmdWorld) reactions(comment int64) []string {
	w.t.Helper()
	rs, _, err := w.alice.Reactions.ListIssueCommentReactions(context.Background(), "acme", "site", comment, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	var out []string
	for _, r := range rs {
		if r.GetUser().GetLogin() == "hoist[bot]" {
			out = append(out, r.GetContent())
		}
	}
	return out
}

// handled waits until hoist has handled the webhook of a comment event.
func (w *cmdWorld) handled(comment int64, action string) emulator.Delivery {
	w.t.Helper()
	d := w.gh.WaitForDelivery(func(d emulator.Delivery) bool {
		var p struct {
			Comment struct{ ID int64 } `json:"comment"`
		}
		return d.Event == "issue_comment" && d.Action == action && d.Decode(&p) == nil && p.Comment.ID == comment
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		got, err := w.srv.Store().GetDelivery(context.Background(), d.GUID)
		if err == nil && got.Status == store.StatusHandled {
			return d
		}
		time.Sleep(50 * time.Millisecond)
	}
	w.t.Fatalf("delivery %s of comment %d was not handled", d.GUID, comment)
	return d
}

// commandJobsDone waits until no command job is left to run.
func (w *cmdWorld) commandJobsDone() {
	w.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var n int
		if err := w.srv.Store().QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'hoist_pr_command'
			AND state NOT IN ('completed', 'cancelled', 'discarded')`).Scan(&n); err != nil {
			w.t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("%d command jobs still to run", n)
		}
	}
}

// greenOnDev pushes a new commit to dev with a passing check.
func (w *cmdWorld) greenOnDev(name string) string {
	w.t.Helper()
	sha := w.commit("public/"+name+".html", name, "Change "+name)
	w.git(w.work, "push", "-q", "origin", "HEAD:dev")
	w.status(sha, "success")
	return sha
}

func contains(t *testing.T, what, s string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Fatalf("%s does not say %q:\n%s", what, p, s)
		}
	}
}

// countDescribed counts the deployments whose description mentions word.
func countDescribed(deps []*github.Deployment, word string) int {
	n := 0
	for _, d := range deps {
		if strings.Contains(d.GetDescription(), word) {
			n++
		}
	}
	return n
}
