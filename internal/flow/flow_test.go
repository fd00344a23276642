package flow_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/emulator/emulatortest"
	"github.com/hoist-dev/hoist/internal/flow"
	"github.com/hoist-dev/hoist/internal/server"
	"github.com/hoist-dev/hoist/internal/servetest"
)

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
	// url is hoist's address, inst the installation on acme/site, svc the
	// flow service the server runs.
	url  string
	inst int64
	svc  *flow.Service
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
	// Setup runs on the flow service before it is attached.
	Setup []func(*flow.Service)
}

func start(t *testing.T, setup ...func(*flow.Service)) *world {
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
	svc := flow.New()
	for _, f := range spec.Setup {
		if f != nil {
			f(svc)
		}
	}
	// The flow alone, without the rest of hoist serve.
	srv := servetest.Start(t, servetest.Spec{GitHub: gh, App: app, Listener: ln, ServerYAML: spec.ServerYAML, Env: spec.Env,
		New: func(ctx context.Context, cfg *config.Server, opts server.Options) (*server.Server, error) {
			svc.Attach(&opts)
			srv, err := server.New(ctx, cfg, opts)
			if err == nil {
				svc.Start(srv)
			}
			return srv, err
		}})

	alice := github.NewClient(nil).WithAuthToken(aliceToken)
	alice, _ = alice.WithEnterpriseURLs(gh.URL()+"/", gh.URL()+"/")
	w := &world{t: t, gh: gh, srv: srv, app: app, alice: alice, work: filepath.Join(dir, "work"), url: hoistURL, inst: inst, svc: svc}
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

func TestGreenChecksFastForwardStagingAndRecordADeployment(t *testing.T) {
	w := start(t)
	before := w.head("staging")
	sha := w.commit("public/index.html", "<h1>v2</h1>", "New home page")
	w.git(w.work, "push", "-q", "origin", "HEAD:dev")

	// No check yet: the gate is pending and staging stays.
	w.status(sha, "pending")
	time.Sleep(300 * time.Millisecond)
	if got := w.head("staging"); got != before {
		t.Fatalf("staging moved to %s before its check passed", got)
	}

	w.status(sha, "success")
	w.waitAudit("staging", sha, "promoted")
	if got := w.head("staging"); got != sha {
		t.Fatalf("staging = %s, want %s", got, sha)
	}
	// The promotion was a fast-forward: the old head is an ancestor.
	w.git(w.work, "fetch", "-q", "origin")
	w.git(w.work, "merge-base", "--is-ancestor", before, "origin/staging")

	// The deployment is recorded right after the ref moves and the audit
	// (the push that created the branch was published before it).
	var deps []*github.Deployment
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		all, _, err := w.alice.Repositories.ListDeployments(context.Background(), "acme", "site", &github.DeploymentsListOptions{Environment: "staging", SHA: sha})
		if err != nil {
			t.Fatal(err)
		}
		if deps = all; len(deps) > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(deps) != 1 || deps[0].GetSHA() != sha {
		t.Fatalf("deployments of staging = %+v, want one of %s", deps, sha)
	}
	var sts []*github.DeploymentStatus
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var err error
		sts, _, err = w.alice.Repositories.ListDeploymentStatuses(context.Background(), "acme", "site", deps[0].GetID(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(sts) > 0 {
			break
		}
	}
	if len(sts) == 0 || sts[0].GetState() != "success" || sts[0].GetEnvironmentURL() != "https://staging.example.com/" {
		t.Fatalf("deployment statuses = %+v, want success with the environment URL", sts)
	}
}

func TestRedCheckRefusesAndStagingStays(t *testing.T) {
	w := start(t)
	before := w.head("staging")
	sha := w.commit("public/index.html", "<h1>broken</h1>", "Break the home page")
	w.git(w.work, "push", "-q", "origin", "HEAD:dev")
	w.status(sha, "failure")
	w.waitAudit("staging", sha, "refuse")
	if got := w.head("staging"); got != before {
		t.Fatalf("staging moved to %s past a failed check", got)
	}
}

func TestDivergedTargetIsNeverForced(t *testing.T) {
	w := start(t)
	// Someone commits straight to staging: dev no longer contains it.
	w.git(w.work, "checkout", "-q", "-b", "hotfix")
	hotfix := w.commit("public/hotfix.html", "fix", "Hotfix on staging")
	w.git(w.work, "push", "-q", "origin", "HEAD:staging")
	w.git(w.work, "checkout", "-q", "-")
	sha := w.commit("public/index.html", "<h1>v3</h1>", "Next feature")
	w.git(w.work, "push", "-q", "origin", "HEAD:dev")
	w.status(sha, "success")
	w.waitAudit("staging", sha, "refuse")
	if got := w.head("staging"); got != hotfix {
		t.Fatalf("staging = %s, want the hotfix %s kept", got, hotfix)
	}
}

func TestMatchingTagPromotesTheTaggedCommit(t *testing.T) {
	w := start(t)
	sha := w.commit("public/index.html", "<h1>release</h1>", "Release")
	w.git(w.work, "push", "-q", "origin", "HEAD:dev")
	w.status(sha, "success")
	// An annotated tag: the push names the tag object, hoist promotes the
	// commit it points at.
	w.git(w.work, "tag", "-a", "web-1.2.0", "-m", "Release 1.2.0")
	w.git(w.work, "push", "-q", "origin", "web-1.2.0")
	w.waitAudit("production", sha, "promoted")
	if got := w.head("prod"); got != sha {
		t.Fatalf("prod = %s, want the tagged commit %s", got, sha)
	}
}
