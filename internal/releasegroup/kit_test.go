package releasegroup_test

// Helpers of this package's tests only; the test world is sitetest.Site.

import (
	"context"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/app"
	"github.com/hoist-dev/hoist/internal/sitetest"
)

// groupServerYAML makes acme/site and acme/backend release staging
// together.
const groupServerYAML = `release_groups:
  - { name: web, members: [acme/site, acme/backend], environments: [staging] }
`

// memberYML: dev promotes into staging once "ci / test" passed.
const memberYML = `version: 1
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: true, gates: { checks: ["ci / test"] } }
`

// pair is a release group of two repositories under one installation:
// acme/site (the "frontend") and acme/backend.
type pair struct {
	*sitetest.Site
	front, back *sitetest.Repo
}

// startPair starts hoist with the group web of acme/site and acme/backend.
func startPair(t *testing.T, setup func(*app.Hooks), tweaks ...func(*serverconfig.Server)) *pair {
	t.Helper()
	return startPairOn(t, "", setup, tweaks...)
}

// startPairOn is startPair on the PostgreSQL database at databaseURL
// (empty: SQLite).
func startPairOn(t *testing.T, databaseURL string, setup func(*app.Hooks), tweaks ...func(*serverconfig.Server)) *pair {
	t.Helper()
	var env map[string]string
	if databaseURL != "" {
		env = map[string]string{"HOIST_DATABASE_URL": databaseURL}
	}
	s := sitetest.StartSite(t, sitetest.SiteSpec{ServerYAML: groupServerYAML, RepoYML: memberYML, Repos: []string{"backend"},
		Branches: []string{"main", "dev", "staging"}, Setup: []func(*app.Hooks){setup}, Tweaks: tweaks, Env: env})
	p := &pair{Site: s, front: s.SiteRepo(), back: s.AddRepo("acme/backend", s.UserToken, memberYML, "main", "dev", "staging")}
	// The first pushes are published before the test starts.
	sitetest.Eventually(t, 30*time.Second, func() (bool, string) {
		return len(auditOf(t, p.Site, "acme/backend", "publish")) >= 2, "first pushes of acme/backend not published"
	})
	return p
}

// auditOf are repo's audit entries with action.
func auditOf(t *testing.T, s *sitetest.Site, repo, action string) []string {
	t.Helper()
	entries, err := s.Srv.Store().AuditLog(context.Background(), repo, 200)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.Action == action {
			out = append(out, e.Env+" "+e.SHA+" "+e.Outcome)
		}
	}
	return out
}

// stays checks that branch of r stays at sha for a while.
func stays(t *testing.T, r *sitetest.Repo, branch, sha string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if got := r.Head(branch); got != sha {
			t.Fatalf("%s of %s moved to %s, want it to stay at %s", branch, r.FullName(), got, sha)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
