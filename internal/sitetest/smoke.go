package sitetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/internal/testenv"
	"github.com/hoist-dev/hoist/internal/world"
)

// CandidateYML promotes pre-staging into staging through the smoke gate;
// the %s takes more options of the candidate (", auto: false").
const CandidateYML = `version: 1
site: { root: public }
environments:
  staging: { branch: staging, gates: { smoke: true } }
candidates:
  - { from: pre-staging, to: staging%s }
smoke:
  pages: [ { path: /, expect_text: "Shop" }, { path: /about/ } ]
`

// StartSmokeWith starts a site whose repository config is yml and whose
// first commit has a two-page shop, with hoist testing in real Chromium.
func StartSmokeWith(t testing.TB, yml string, env map[string]string) *Site {
	t.Helper()
	return StartSmokeServer(t, yml, "", env)
}

// StartSmokeServer is StartSmokeWith with a server config file as well
// (empty: none).
func StartSmokeServer(t testing.TB, yml, serverYML string, extraEnv map[string]string) *Site {
	t.Helper()
	env := map[string]string{}
	for k, v := range extraEnv {
		env[k] = v
	}
	if env["HOIST_CHROMIUM"] == "" {
		env["HOIST_CHROMIUM"] = testenv.Chromium(t)
	}
	return StartSite(t, SiteSpec{ServerYAML: serverYML, RepoYML: yml, Env: env, Branches: []string{"main", "dev", "staging"}, Files: map[string]string{
		"public/index.html":       `<!doctype html><title>Shop</title><h1>Shop</h1><p>Welcome to the shop, version one.</p><a href="about/">About</a>`,
		"public/about/index.html": `<!doctype html><title>About</title><h1>About the Shop</h1>`,
	}})
}

// SmokeRuns lists hoist/smoke check runs on sha, oldest first.
func (s *Site) SmokeRuns(sha string) []*github.CheckRun {
	s.T.Helper()
	res, _, err := s.Alice.Checks.ListCheckRunsForRef(context.Background(), "acme", "site", sha,
		&github.ListCheckRunsOptions{CheckName: github.String("hoist/smoke"), Filter: github.String("all")})
	if err != nil {
		s.T.Fatal(err)
	}
	runs := res.CheckRuns
	for i, j := 0, len(runs)-1; i < j; i, j = i+1, j-1 {
		runs[i], runs[j] = runs[j], runs[i]
	}
	return runs
}

// WaitSmoke waits until n hoist/smoke runs on sha have completed.
func (s *Site) WaitSmoke(sha string, n int) []*github.CheckRun {
	s.T.Helper()
	var runs []*github.CheckRun
	done := func() bool {
		runs = s.SmokeRuns(sha)
		completed := 0
		for _, r := range runs {
			if r.GetStatus() == "completed" {
				completed++
			}
		}
		return completed >= n
	}
	if world.WaitFor(60*time.Second, done) != nil {
		s.T.Fatalf("fewer than %d completed smoke runs on %s: %+v", n, sha, s.SmokeRuns(sha))
	}
	return runs
}
