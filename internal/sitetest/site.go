// Package sitetest starts hoist in process on a site repository (acme/site
// in the emulator, with a working clone) for the capability packages' tests.
// It builds on hoisttest; it is its own package because it imports
// internal/app, which the tests inside internal/gh or internal/jobs cannot.
package sitetest

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/internal/app"
	"github.com/hoist-dev/hoist/internal/hoisttest"
	"github.com/hoist-dev/hoist/internal/server"
	"github.com/hoist-dev/hoist/internal/servetest"
)

// HoistYML is the repository configuration a site starts with unless its
// spec says otherwise: dev promotes into staging once "ci / test" passed,
// production takes web-* tags.
const HoistYML = `version: 1
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: true, deploy: { url: "https://staging.example.com/" },
             gates: { checks: ["ci / test"] } }
  production: { branch: prod, gates: { checks: ["ci / test"] } }
tags: [ { pattern: "web-*", promote: production } ]
`

// Site is the world of the capability tests: the emulator with acme/site
// (and any other repositories of the spec), hoist serve installed on it
// and running in process, and a working clone of acme/site as alice.
type Site struct {
	*hoisttest.World
	T testing.TB
	// Srv is the running hoist server; Caps are the capabilities it runs.
	Srv  *server.Server
	Caps *app.Capabilities
	// Alice is go-github acting as the user who owns acme.
	Alice *github.Client
	// Work is the working clone of acme/site.
	Work string
	// URL is hoist's address.
	URL string

	serve servetest.Spec
	stop  func()
}

// SiteSpec says what a site starts with. The zero value is acme/site with
// HoistYML on main, dev, staging and prod.
type SiteSpec struct {
	// ServerYAML is a server configuration file (targets:, cdns:, …).
	ServerYAML string
	// RepoYML is .github/hoist.yml (default HoistYML).
	RepoYML string
	// Env adds to or overrides the HOIST_* settings.
	Env map[string]string
	// Files are written into the first commit besides the config.
	Files map[string]string
	// Branches are pushed at that commit (default main, dev, staging, prod).
	Branches []string
	// Setup changes how the capabilities are built.
	Setup []func(*app.Hooks)
	// Tweaks change the server configuration after it is loaded.
	Tweaks []func(*serverconfig.Server)
	// Emulator are the emulator's options (observers, faults).
	Emulator emulator.Options
	// Repos are more repositories of acme, created and installed with
	// acme/site.
	Repos []string
	// Before runs once the repositories exist, before hoist starts.
	Before func(*Site)
	// Bare leaves acme/site empty: no first commit, nothing pushed.
	Bare bool
	// Dashboard turns on the dashboard with GitHub sign-in on the emulator.
	Dashboard bool
}

// StartSite starts the emulator and a hoist server on it, in process, and
// pushes the first commit to the spec's branches.
func StartSite(t testing.TB, spec SiteSpec) *Site {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	if spec.RepoYML == "" {
		spec.RepoYML = HoistYML
	}
	if spec.Branches == nil {
		spec.Branches = []string{"main", "dev", "staging", "prod"}
	}
	ln, hoistURL := servetest.Listen(t)
	w := hoisttest.Start(t, hoisttest.Spec{Emulator: spec.Emulator, App: emulator.AppSpec{WebhookURL: hoistURL + server.WebhookPath},
		Repos: append([]string{"site"}, spec.Repos...)})
	s := &Site{World: w, T: t, Alice: w.User(), Work: filepath.Join(t.TempDir(), "work"), URL: hoistURL}
	if spec.Before != nil {
		spec.Before(s)
	}

	var hooks app.Hooks
	for _, f := range spec.Setup {
		if f != nil {
			f(&hooks)
		}
	}
	s.serve = servetest.Spec{GitHub: w.GH, App: w.App, ServerYAML: spec.ServerYAML, Env: spec.Env, DataDir: t.TempDir(), Dashboard: spec.Dashboard,
		New: func(ctx context.Context, cfg *serverconfig.Server, opts server.Options) (*server.Server, error) {
			for _, tweak := range spec.Tweaks {
				tweak(cfg)
			}
			srv, caps, err := app.Assemble(ctx, cfg, opts, hooks)
			s.Caps = caps
			return srv, err
		}}
	s.StartHoist(ln)
	t.Cleanup(s.StopHoist)

	s.Clone("acme/site", s.Work)
	if spec.Bare {
		return s
	}
	for _, name := range sortedKeys(spec.Files) {
		s.Write(name, spec.Files[name])
	}
	s.Commit(".github/hoist.yml", spec.RepoYML, "Configure hoist")
	for _, b := range spec.Branches {
		s.Git(s.Work, "push", "-q", "origin", "HEAD:"+b)
	}
	return s
}

// StartSiteWith is StartSite with a server config file (targets:, cdns:),
// the repository config, more settings and hooks for the capabilities, on
// main, dev and staging.
func StartSiteWith(t testing.TB, serverYAML, repoYML string, env map[string]string, setup func(*app.Hooks)) *Site {
	t.Helper()
	return StartSite(t, SiteSpec{ServerYAML: serverYAML, RepoYML: repoYML, Env: env,
		Branches: []string{"main", "dev", "staging"}, Setup: []func(*app.Hooks){setup}})
}

// StartHoist runs a fresh hoist serve on the site's data, on ln or (nil)
// on a new listener at the site's address, as an operator restarts it.
func (s *Site) StartHoist(ln net.Listener) {
	s.T.Helper()
	if ln == nil {
		addr := strings.TrimPrefix(s.URL, "http://")
		// The old listener's port may take a moment to be free again.
		var err error
		hoisttest.WaitFor(s.T, 5*time.Second, "listening on "+addr, func() bool {
			ln, err = net.Listen("tcp", addr)
			return err == nil
		})
	}
	spec := s.serve
	spec.Listener = ln
	s.Srv, s.stop = servetest.Run(s.T, spec)
}

// StopHoist stops hoist and waits until it has stopped.
func (s *Site) StopHoist() {
	if s.stop != nil {
		s.stop()
		s.stop = nil
	}
}

// Clone clones the repository fullName into dir as alice.
func (s *Site) Clone(fullName, dir string) {
	s.T.Helper()
	s.Git("", "clone", "-q", s.GH.GitURL(fullName, s.UserToken), dir)
	s.Git(dir, "config", "user.email", "alice@example.com")
	s.Git(dir, "config", "user.name", "Alice")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Git runs git in dir and returns its trimmed output.
func (s *Site) Git(dir string, args ...string) string {
	s.T.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.T.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// Write writes a file of the working clone.
func (s *Site) Write(path, content string) {
	s.T.Helper()
	full := filepath.Join(s.Work, path)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		s.T.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		s.T.Fatal(err)
	}
}

// Commit writes a file and commits every change of the working clone; it
// returns the new commit.
func (s *Site) Commit(path, content, msg string) string {
	s.T.Helper()
	s.Write(path, content)
	s.Git(s.Work, "add", "-A")
	s.Git(s.Work, "commit", "-q", "-m", msg)
	return s.Git(s.Work, "rev-parse", "HEAD")
}

// Push pushes the working clone's HEAD to branch.
func (s *Site) Push(branch string) { s.Git(s.Work, "push", "-q", "origin", "HEAD:"+branch) }

// Head is the commit branch of acme/site points at.
func (s *Site) Head(branch string) string {
	s.T.Helper()
	ref, _, err := s.Alice.Git.GetRef(context.Background(), "acme", "site", "heads/"+branch)
	if err != nil {
		s.T.Fatalf("head of %s: %v", branch, err)
	}
	return ref.GetObject().GetSHA()
}

// Status sets the "ci / test" status of sha.
func (s *Site) Status(sha, state string) {
	s.T.Helper()
	_, _, err := s.Alice.Repositories.CreateStatus(context.Background(), "acme", "site", sha,
		&github.RepoStatus{State: github.String(state), Context: github.String("ci / test")})
	if err != nil {
		s.T.Fatalf("status %s on %s: %v", state, sha, err)
	}
}

// Promote pushes the work tree's HEAD to dev with a green check, which
// promotes it into staging, and waits until it has.
func (s *Site) Promote() string {
	s.T.Helper()
	sha := s.Git(s.Work, "rev-parse", "HEAD")
	s.Git(s.Work, "push", "-q", "origin", "HEAD:dev")
	s.Status(sha, "success")
	s.WaitAudit("staging", sha, "promoted")
	return sha
}

// DeployRepoYML deploys staging to the target "site" under staging/ and
// purges the CDN "edge" after.
const DeployRepoYML = `version: 1
site: { root: public }
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: true,
             deploy: { target: site, prefix: staging/, url: "https://staging.example.com/" },
             purge: [ { cdn: edge } ],
             gates: { checks: ["ci / test"] } }
`

// BrokenYML has one mistake, on line 4.
const BrokenYML = `version: 1
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: sometimes, gates: { checks: ["ci / test"] } }
`
