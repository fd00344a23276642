// Package pipeline is hoist's promotion core: the environments of a
// repository, the gates in front of each, and the decision what to do now
// (promote which commit, wait for what, or refuse and why), from plain facts
// the caller gathered. It does no I/O and imports no adapter, so every rule
// is tested with plain values.
package pipeline

import (
	"path"
	"strings"
	"time"

	"github.com/hoist-dev/hoist/config"
)

// SmokeCheckName is the check run hoist's smoke test reports on a commit;
// the smoke gate reads it.
const SmokeCheckName = "hoist/smoke"

// Pipeline is a repository's environments and the routes between them.
type Pipeline struct {
	// Environments in the order of the configuration file.
	Environments []Environment
	Candidates   []Candidate
	Tags         []TagRule
	// ShortForm reports whether /promote works besides /hoist promote.
	ShortForm bool
	// SiteRoot is the folder of each branch that holds the built site.
	SiteRoot string
	// Publish is how every deploy publishes the site: cache rules and
	// what to do with symbolic links that cannot be published.
	Publish config.RepoPublish
	// ReleaseGroup is the repository's release group as its file wrote it
	// (empty when none); whether it is in force is the server's to say.
	ReleaseGroup config.RepoReleaseGroup
	// Editions publishes branches and pull requests beside the
	// environments.
	Editions config.RepoEditions
}

// Environment is one environment: a branch, where it is promoted from, who
// may move it and what must hold first.
type Environment struct {
	Name   string
	Branch string
	// PromoteFrom names the environment whose branch head is promoted into
	// this one; empty when none is.
	PromoteFrom string
	// Auto promotes without a person once the gates pass.
	Auto bool
	// Permission is the least repository permission for commands on this
	// environment (read, triage, write, maintain or admin).
	Permission string
	// Teams, when set, restricts commands to members of these teams.
	Teams []string
	Gates Gates
	// URL is the environment's public URL, for GitHub deployments.
	URL string
	// Deploy names the server's target and the prefix the site is
	// published to (no target: only the GitHub deployment is recorded);
	// Purge lists the CDNs purged after a deploy.
	Deploy config.RepoDeploy
	Purge  []config.RepoPurge
	// Budget is the environment's failure budget; nil when it has none.
	Budget *FailureBudget
	// Verify, when set, checks the live site after each deploy (and may
	// roll the environment back).
	Verify *config.RepoVerify
}

// VerifyURL is the URL the live site of env is checked at; "" when the
// environment is not verified.
func (e Environment) VerifyURL() string {
	if e.Verify == nil {
		return ""
	}
	if e.Verify.URL != "" {
		return e.Verify.URL
	}
	return e.Deploy.URL
}

// Gates are what must hold before a commit enters an environment.
type Gates struct {
	// Checks are the checks (check runs, commit statuses, workflow runs)
	// that must succeed on the commit, each with who must report it.
	Checks []CheckGate
	// Smoke requires the hoist/smoke check run to pass on the commit.
	Smoke bool
	// Soak is how long the commit must have been the source branch's head.
	Soak time.Duration
	// Approvals is how many approving reviews the promotion pull request
	// needs.
	Approvals int
	// Teams are the environment's teams: when set, only their members'
	// reviews count (repository admins' too), besides write access.
	Teams []string
}

// CheckGate is one required check. With App or Creator set, only results
// from that reporter count: check runs (and workflow runs, whose app is
// github-actions) of app App, commit statuses created by Creator.
type CheckGate struct {
	// Name is a check's name or a path.Match glob ("ci / test*"), matched
	// against each result's name and, for a job of an Actions workflow
	// run, against "<workflow> / <job>" as branch protection shows it.
	Name    string
	App     string
	Creator string
}

// restricted reports whether the gate names its reporter.
func (g CheckGate) restricted() bool { return g.App != "" || g.Creator != "" }

// Candidate is a candidate branch (pre-<env>) promoted into an environment.
type Candidate struct {
	Branch string
	Env    string
	Auto   bool
}

// TagRule promotes commits whose tag matches Pattern to Env.
type TagRule struct {
	Pattern string
	Env     string
}

// New builds the pipeline of a valid repository configuration (one that
// config.LoadRepoConfig returned).
func New(cfg *config.RepoConfig) *Pipeline {
	p := &Pipeline{ShortForm: cfg.Commands.ShortFormEnabled(), SiteRoot: cfg.Site.Root, Publish: cfg.Deploy,
		ReleaseGroup: cfg.ReleaseGroup, Editions: cfg.Editions}
	for _, e := range cfg.Environments {
		p.Environments = append(p.Environments, Environment{
			Name:        e.Name,
			Branch:      e.Branch,
			PromoteFrom: e.PromoteFrom,
			Auto:        e.Auto,
			Permission:  e.Permission,
			Teams:       append([]string(nil), e.Teams...),
			Gates: Gates{
				Checks:    checkGates(e.Gates.Checks),
				Smoke:     e.Gates.Smoke,
				Soak:      e.Gates.Soak,
				Approvals: e.Gates.Approvals,
				Teams:     append([]string(nil), e.Teams...),
			},
			URL:    e.Deploy.URL,
			Deploy: e.Deploy,
			Purge:  append([]config.RepoPurge(nil), e.Purge...),
			Budget: failureBudget(e.FailureBudget),
			Verify: e.Verify,
		})
	}
	for _, c := range cfg.Candidates {
		p.Candidates = append(p.Candidates, Candidate{Branch: c.From, Env: c.To, Auto: c.Automatic()})
	}
	for _, t := range cfg.Tags {
		p.Tags = append(p.Tags, TagRule{Pattern: t.Pattern, Env: t.Promote})
	}
	return p
}

func checkGates(cs []config.RepoCheck) []CheckGate {
	out := make([]CheckGate, 0, len(cs))
	for _, c := range cs {
		out = append(out, CheckGate{Name: c.Name, App: c.App, Creator: c.Creator})
	}
	return out
}

// Env returns the environment called name.
func (p *Pipeline) Env(name string) (Environment, bool) {
	for _, e := range p.Environments {
		if e.Name == name {
			return e, true
		}
	}
	return Environment{}, false
}

// EnvOfBranch returns the environment whose branch is branch.
func (p *Pipeline) EnvOfBranch(branch string) (Environment, bool) {
	for _, e := range p.Environments {
		if e.Branch == branch {
			return e, true
		}
	}
	return Environment{}, false
}

// Next lists the environments promoted from env, in file order.
func (p *Pipeline) Next(env string) []Environment {
	var out []Environment
	for _, e := range p.Environments {
		if e.PromoteFrom == env && env != "" {
			out = append(out, e)
		}
	}
	return out
}

// SourceBranch is the branch env is promoted from by promote_from, or "".
func (p *Pipeline) SourceBranch(env string) string {
	e, ok := p.Env(env)
	if !ok || e.PromoteFrom == "" {
		return ""
	}
	from, ok := p.Env(e.PromoteFrom)
	if !ok {
		return ""
	}
	return from.Branch
}

// MatchTag returns the rules whose pattern matches tag (a tag name, with or
// without refs/tags/), in file order, one per environment. Patterns are
// path.Match globs: * does not cross a /.
func (p *Pipeline) MatchTag(tag string) []TagRule {
	tag = strings.TrimPrefix(tag, "refs/tags/")
	var out []TagRule
	seen := map[string]bool{}
	for _, r := range p.Tags {
		if ok, err := path.Match(r.Pattern, tag); err == nil && ok && !seen[r.Env] {
			seen[r.Env] = true
			out = append(out, r)
		}
	}
	return out
}

// IsEditionBranch reports whether branch is published as an edition: it
// matches the editions' branches and is no environment's nor candidate's
// branch (those are published as environments, never as editions).
func (p *Pipeline) IsEditionBranch(branch string) bool {
	if _, ok := p.EnvOfBranch(branch); ok {
		return false
	}
	for _, c := range p.Candidates {
		if c.Branch == branch {
			return false
		}
	}
	return p.Editions.MatchBranch(branch)
}
