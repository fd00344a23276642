package sitetest

import (
	"context"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
)

// Repo is another repository of the site's world with a working clone,
// for tests of several repositories under one hoist (release groups,
// tenants): acme's others from SiteSpec.Repos, or another account's.
type Repo struct {
	s           *Site
	Owner, Name string
	// Client acts as the repository's owner; Work is its clone.
	Client *github.Client
	Work   string
}

// AddRepo clones fullName (which must exist) as the holder of token,
// commits yml as .github/hoist.yml and pushes it to branches.
func (s *Site) AddRepo(fullName, token, yml string, branches ...string) *Repo {
	s.T.Helper()
	owner, name, _ := strings.Cut(fullName, "/")
	r := &Repo{s: s, Owner: owner, Name: name, Client: s.GH.Client(token), Work: filepath.Join(s.T.TempDir(), owner+"-"+name)}
	s.Git("", "clone", "-q", s.GH.GitURL(fullName, token), r.Work)
	s.Git(r.Work, "config", "user.email", owner+"@example.com")
	s.Git(r.Work, "config", "user.name", owner)
	r.Commit(".github/hoist.yml", yml, "Configure hoist")
	for _, b := range branches {
		r.Push(b)
	}
	return r
}

// FullName is owner/name.
func (r *Repo) FullName() string { return r.Owner + "/" + r.Name }

// Commit writes a file and commits every change of the clone; it returns
// the new commit.
func (r *Repo) Commit(path, content, msg string) string {
	r.s.T.Helper()
	return (&Site{T: r.s.T, Work: r.Work}).Commit(path, content, msg)
}

// Push pushes the clone's HEAD to branch.
func (r *Repo) Push(branch string) { r.s.Git(r.Work, "push", "-q", "origin", "HEAD:"+branch) }

// Head is the commit branch points at.
func (r *Repo) Head(branch string) string {
	r.s.T.Helper()
	ref, _, err := r.Client.Git.GetRef(context.Background(), r.Owner, r.Name, "heads/"+branch)
	if err != nil {
		r.s.T.Fatalf("head of %s of %s: %v", branch, r.FullName(), err)
	}
	return ref.GetObject().GetSHA()
}

// Status sets the "ci / test" status of sha.
func (r *Repo) Status(sha, state string) {
	r.s.T.Helper()
	_, _, err := r.Client.Repositories.CreateStatus(context.Background(), r.Owner, r.Name, sha,
		&github.RepoStatus{State: github.String(state), Context: github.String("ci / test")})
	if err != nil {
		r.s.T.Fatalf("status %s on %s: %v", state, sha, err)
	}
}

// CheckRun waits for the newest completed check run name on sha.
func (r *Repo) CheckRun(sha, name string) *github.CheckRun {
	r.s.T.Helper()
	var run *github.CheckRun
	Eventually(r.s.T, 30*time.Second, func() (bool, string) {
		res, _, err := r.Client.Checks.ListCheckRunsForRef(context.Background(), r.Owner, r.Name, sha,
			&github.ListCheckRunsOptions{CheckName: github.String(name)})
		if err != nil {
			return false, err.Error()
		}
		if len(res.CheckRuns) == 0 {
			return false, "no " + name + " check run on " + sha[:7] + " of " + r.FullName()
		}
		run = res.CheckRuns[0]
		return run.GetStatus() == "completed", "check run " + run.GetStatus()
	})
	return run
}

// WaitAudit waits until the repository's audit log has an entry for env
// and sha with outcome.
func (r *Repo) WaitAudit(env, sha, outcome string) {
	r.s.T.Helper()
	Eventually(r.s.T, 30*time.Second, func() (bool, string) {
		entries, err := r.s.Srv.Store().AuditLog(context.Background(), r.FullName(), 50)
		if err != nil {
			return false, err.Error()
		}
		for _, e := range entries {
			if e.Env == env && e.SHA == sha && e.Outcome == outcome {
				return true, ""
			}
		}
		return false, "no audit entry " + env + " " + sha[:7] + " " + outcome + " of " + r.FullName()
	})
}

// SiteRepo is acme/site itself as a Repo.
func (s *Site) SiteRepo() *Repo {
	return &Repo{s: s, Owner: "acme", Name: "site", Client: s.Alice, Work: s.Work}
}
