package flow_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/emulator/emulatortest"
	"github.com/hoist-dev/hoist/internal/server"
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
	cfg, err := config.LoadServer("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
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

func TestOwnerDefaultConfigPromotesARepositoryWithoutItsOwn(t *testing.T) {
	r := startOwnerRig(t, ownerDefaultYML)
	orgHead := r.org.git(r.org.work, "rev-parse", "HEAD")

	// The hoist/config check of the site's default branch says which
	// configuration is in force and where it came from.
	run := r.configRun(r.head("main"))
	if run.GetConclusion() != "success" || !strings.Contains(run.GetOutput().GetSummary(), "acme/.github") ||
		!strings.Contains(run.GetOutput().GetSummary(), orgHead[:7]) {
		t.Fatalf("hoist/config on main: %s: %s\n%s", run.GetConclusion(), run.GetOutput().GetTitle(), run.GetOutput().GetSummary())
	}

	// Promoted by the organization's rules.
	sha := r.commit("public/index.html", "<h1>v2</h1>", "Second page")
	r.push("dev")
	r.status(sha, "success")
	r.waitAudit("staging", sha, "promoted")
	if got := r.head("staging"); got != sha {
		t.Fatalf("staging = %s, want %s", got[:7], sha[:7])
	}

	// Another evaluation under the same commits reads no configuration
	// again: a red build is refused without a contents request.
	before := r.reads.Load()
	red := r.commit("public/index.html", "<h1>red</h1>", "Red build")
	r.push("dev")
	r.status(red, "failure")
	r.waitAudit("staging", red, "refuse")
	if n := r.reads.Load() - before; n != 0 {
		t.Errorf("%d contents requests while neither default branch moved, want none", n)
	}
}

func TestOwnConfigReplacesTheOwnerDefaultOnceItIsPushed(t *testing.T) {
	r := startOwnerRig(t, ownerDefaultYML)
	r.configRun(r.head("main")) // the first push has been handled

	// The site gets a file of its own on its default branch: from now on
	// staging wants "ci / own", and "ci / test" alone no longer promotes.
	own := r.commit(".github/hoist.yml", ownConfigYML, "Configure hoist for the site")
	r.push("main")
	if run := r.configRun(own); run.GetConclusion() != "success" || !strings.Contains(run.GetOutput().GetSummary(), "acme/site") {
		t.Fatalf("hoist/config on the site's own file: %s: %s", run.GetConclusion(), run.GetOutput().GetSummary())
	}
	sha := r.commit("public/index.html", "<h1>v2</h1>", "Second page")
	r.push("dev")
	r.status(sha, "success") // "ci / test": the organization's gate
	time.Sleep(500 * time.Millisecond)
	if got := r.head("staging"); got == sha {
		t.Fatal("staging was promoted by the organization's gate although the site has its own configuration")
	}
	_, _, err := r.alice.Repositories.CreateStatus(context.Background(), "acme", "site", sha,
		&github.RepoStatus{State: github.String("success"), Context: github.String("ci / own")})
	if err != nil {
		t.Fatal(err)
	}
	r.waitAudit("staging", sha, "promoted")
	if got := r.head("staging"); got != sha {
		t.Fatalf("staging = %s, want %s", got[:7], sha[:7])
	}
}

func TestBrokenOwnerDefaultIsReportedOnTheRepositorysCheck(t *testing.T) {
	r := startOwnerRig(t, brokenYML)
	_, perr := config.LoadRepoConfig("acme/.github/"+config.RepoConfigPath, []byte(brokenYML))
	var errs config.RepoConfigErrors
	if !errors.As(perr, &errs) || len(errs) != 1 {
		t.Fatalf("the broken file should have one mistake: %v", perr)
	}
	run := r.configRun(r.head("main"))
	summary := run.GetOutput().GetSummary()
	if run.GetConclusion() != "failure" || !strings.Contains(summary, fmt.Sprintf("%s:%d:%d", errs[0].File, errs[0].Line, errs[0].Column)) ||
		!strings.Contains(summary, "owner's default") {
		t.Fatalf("hoist/config with a broken owner default: %s\n%s", run.GetConclusion(), summary)
	}
	// The file is not the repository's: no annotation points into it.
	anns, _, err := r.alice.Checks.ListCheckRunAnnotations(context.Background(), "acme", "site", run.GetID(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(anns) != 0 {
		t.Errorf("%d annotations on a file of another repository, want none", len(anns))
	}
}
