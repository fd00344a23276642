package pipeline

import (
	"slices"
	"sort"
	"strings"
)

// EventKind is the kind of change Plan is asked about.
type EventKind string

const (
	// EventPush: a branch moved (Event.Branch).
	EventPush EventKind = "push"
	// EventTag: a tag was pushed (Event.Tag, pointing at Event.SHA).
	EventTag EventKind = "tag"
	// EventCheck: a check run, commit status, workflow run or review
	// changed on Event.SHA.
	EventCheck EventKind = "check"
)

// Event is a change in the repository, reduced to what planning needs.
type Event struct {
	Kind EventKind
	// Branch is the branch pushed, with or without refs/heads/.
	Branch string
	// Tag is the tag pushed, with or without refs/tags/.
	Tag string
	// SHA is the tagged commit, or the commit a check reported on.
	SHA string
	// Heads maps branch names to their head commits, for EventCheck: the
	// caller knows them, the core does not. A key "refs/tags/<tag>" stands
	// for a tag whose promotion is waiting.
	Heads map[string]string
}

// Plan lists the promotions to evaluate after ev, each once, in the order
// of the configuration's environments:
//   - a push to branch B: every environment promoted from the environment
//     whose branch is B, every candidate whose branch is B, and, when B is
//     an environment's own branch, the promotions into that environment
//     (its head moved: it may now be up to date or diverged);
//   - a tag: the environment of each matching tag rule, with the tagged
//     commit;
//   - a check on a commit: the promotions whose source head (per Heads) is
//     that commit.
func (p *Pipeline) Plan(ev Event) []Target {
	var out []Target
	seen := map[Target]bool{}
	add := func(t Target) {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	switch ev.Kind {
	case EventPush:
		branch := strings.TrimPrefix(ev.Branch, "refs/heads/")
		p.fromSource(branch, add)
		if env, ok := p.EnvOfBranch(branch); ok {
			p.into(env, add)
		}
	case EventTag:
		for _, r := range p.MatchTag(ev.Tag) {
			add(Target{Env: r.Env, Route: RouteTag, Source: strings.TrimPrefix(ev.Tag, "refs/tags/"), SHA: ev.SHA})
		}
	case EventCheck:
		names := make([]string, 0, len(ev.Heads))
		for name, sha := range ev.Heads {
			if sha == ev.SHA && sha != "" {
				names = append(names, name)
			}
		}
		sort.Strings(names)
		for _, name := range names {
			if tag, ok := strings.CutPrefix(name, "refs/tags/"); ok {
				for _, r := range p.MatchTag(tag) {
					add(Target{Env: r.Env, Route: RouteTag, Source: tag, SHA: ev.SHA})
				}
				continue
			}
			p.fromSource(strings.TrimPrefix(name, "refs/heads/"), add)
		}
	}
	return p.inEnvOrder(out)
}

// fromSource adds the promotions whose source is branch.
func (p *Pipeline) fromSource(branch string, add func(Target)) {
	if src, ok := p.EnvOfBranch(branch); ok {
		for _, next := range p.Next(src.Name) {
			add(Target{Env: next.Name, Route: RoutePromote, Source: branch})
		}
	}
	for _, c := range p.Candidates {
		if c.Branch == branch {
			add(Target{Env: c.Env, Route: RouteCandidate, Source: branch})
		}
	}
}

// into adds the promotions into env (not tags: they name their commit).
func (p *Pipeline) into(env Environment, add func(Target)) {
	if src := p.SourceBranch(env.Name); src != "" {
		add(Target{Env: env.Name, Route: RoutePromote, Source: src})
	}
	for _, c := range p.Candidates {
		if c.Env == env.Name {
			add(Target{Env: env.Name, Route: RouteCandidate, Source: c.Branch})
		}
	}
}

// inEnvOrder sorts targets by their environment's place in the file,
// keeping the order of targets of the same environment.
func (p *Pipeline) inEnvOrder(ts []Target) []Target {
	rank := map[string]int{}
	for i, e := range p.Environments {
		rank[e.Name] = i
	}
	sort.SliceStable(ts, func(i, j int) bool { return rank[ts[i].Env] < rank[ts[j].Env] })
	return ts
}

// RouteFor is the promotion a person means by `/promote <env>`: from the
// environment's promote_from, else from its first candidate branch.
func (p *Pipeline) RouteFor(env string) (Target, bool) {
	e, ok := p.Env(env)
	if !ok {
		return Target{}, false
	}
	if src := p.SourceBranch(e.Name); src != "" {
		return Target{Env: e.Name, Route: RoutePromote, Source: src}, true
	}
	for _, c := range p.Candidates {
		if c.Env == e.Name {
			return Target{Env: e.Name, Route: RouteCandidate, Source: c.Branch}, true
		}
	}
	return Target{}, false
}

// QueueEntry is one commit of the source branch waiting to be promoted.
type QueueEntry struct {
	SHA string
	// Eligible is set when the commit's gates pass (or it is otherwise
	// fit to promote).
	Eligible bool
	// DescendsFromTarget is set when the commit is a descendant of the
	// environment's current head, so a fast-forward to it is possible.
	DescendsFromTarget bool
}

// Coalesce picks the commit to promote from a queue of source commits in
// source-branch order (oldest first): the newest that is eligible and
// descends from the target head. Intermediate commits are skipped, since
// promoting the newest brings them along; nothing before the target head's
// own place in the queue is ever chosen, and neither is a commit that does
// not descend from it, so a promotion never reorders or goes backwards.
// Skipped lists the eligible commits the choice supersedes.
func Coalesce(targetHead string, queue []QueueEntry) (chosen string, skipped []string, ok bool) {
	start := 0
	for i, q := range queue {
		if q.SHA == targetHead && targetHead != "" {
			start = i + 1
		}
	}
	pick := -1
	for i := len(queue) - 1; i >= start; i-- {
		if queue[i].Eligible && queue[i].DescendsFromTarget && queue[i].SHA != targetHead {
			pick = i
			break
		}
	}
	if pick < 0 {
		return "", nil, false
	}
	for _, q := range queue[start:pick] {
		if q.Eligible && q.DescendsFromTarget {
			skipped = append(skipped, q.SHA)
		}
	}
	return queue[pick].SHA, skipped, true
}

// Deployment is how a GitHub deployment of an environment is described.
type Deployment struct {
	// Environment is the GitHub environment name: hoist's environment name.
	Environment string
	// URL is the environment_url of the deployment status, when configured.
	URL string
	// Production marks production_environment.
	Production bool
}

// Deployment describes the GitHub deployment of env. An environment is a
// production environment when its branch is the repository's default
// branch or its name is "production" (in any case): the default branch is
// what visitors of the repository see as the released site, and the name
// says so where the default branch is a development branch.
func (p *Pipeline) Deployment(env, defaultBranch string) (Deployment, bool) {
	e, ok := p.Env(env)
	if !ok {
		return Deployment{}, false
	}
	return Deployment{
		Environment: e.Name,
		URL:         e.URL,
		Production:  (defaultBranch != "" && e.Branch == defaultBranch) || strings.EqualFold(e.Name, "production"),
	}, true
}

// SmokeEnvs names the environments a push to branch is a smoke-test
// candidate for: those it is the candidate branch of (pre-<env>), and
// those with a smoke gate that it is the source branch of. Each is named
// once, candidates first.
func (p *Pipeline) SmokeEnvs(branch string) []string {
	var envs []string
	for _, c := range p.Candidates {
		if c.Branch == branch && !slices.Contains(envs, c.Env) {
			envs = append(envs, c.Env)
		}
	}
	for _, e := range p.Environments {
		if e.Gates.Smoke && p.SourceBranch(e.Name) == branch && !slices.Contains(envs, e.Name) {
			envs = append(envs, e.Name)
		}
	}
	return envs
}
