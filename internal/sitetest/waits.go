package sitetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/internal/repoconfig"
	"github.com/hoist-dev/hoist/internal/world"
)

// Eventually polls cond until it holds, failing the test with its last
// explanation after timeout.
func Eventually(t testing.TB, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	var why string
	if err := world.WaitFor(timeout, func() bool {
		var ok bool
		ok, why = cond()
		return ok
	}); err != nil {
		t.Fatalf("timed out: %s", why)
	}
}

// WaitAudit waits until the audit log has an entry for env and sha with
// outcome, which is how the test knows hoist decided (and not merely has
// not yet).
func (s *Site) WaitAudit(env, sha, outcome string) {
	s.T.Helper()
	found := func() bool {
		entries, err := s.Srv.Store().AuditLog(context.Background(), "acme/site", 50)
		if err != nil {
			s.T.Fatal(err)
		}
		for _, e := range entries {
			if e.Env == env && e.SHA == sha && e.Outcome == outcome {
				return true
			}
		}
		return false
	}
	if world.WaitFor(30*time.Second, found) != nil {
		entries, _ := s.Srv.Store().AuditLog(context.Background(), "acme/site", 50)
		s.T.Fatalf("no audit entry %s %s %s; log: %+v", env, sha, outcome, entries)
	}
}

// WaitDeployment waits until the newest deployment of env for sha has a
// final status, and returns the deployment and its statuses (newest first).
func (s *Site) WaitDeployment(env, sha string) (*github.Deployment, []*github.DeploymentStatus) {
	s.T.Helper()
	ctx := context.Background()
	var dep *github.Deployment
	var sts []*github.DeploymentStatus
	final := func() bool {
		deps, _, err := s.Alice.Repositories.ListDeployments(ctx, "acme", "site", &github.DeploymentsListOptions{Environment: env, SHA: sha})
		if err != nil {
			s.T.Fatal(err)
		}
		if len(deps) == 0 {
			return false
		}
		if sts, _, err = s.Alice.Repositories.ListDeploymentStatuses(ctx, "acme", "site", deps[0].GetID(), nil); err != nil {
			s.T.Fatal(err)
		}
		dep = deps[0]
		if len(sts) == 0 {
			return false
		}
		switch sts[0].GetState() {
		case "success", "failure", "error", "inactive":
			return true
		}
		return false
	}
	if world.WaitFor(60*time.Second, final) != nil {
		s.T.Fatalf("no finished deployment of %s to %s", sha, env)
	}
	return dep, sts
}

// ConfigRun waits for the completed hoist/config check run on sha.
func (s *Site) ConfigRun(sha string) *github.CheckRun {
	s.T.Helper()
	var run *github.CheckRun
	Eventually(s.T, 20*time.Second, func() (bool, string) {
		res, _, err := s.Alice.Checks.ListCheckRunsForRef(context.Background(), "acme", "site", sha,
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
