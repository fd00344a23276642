package pipeline

// WantsPullRequest reports whether the promotion t is carried by a
// promotion pull request: when a person promotes it (the route is not
// automatic), the pull request is where they see the commits, the gates and
// the holds, review (for the approvals gate) and merge. Tags name their own
// commit and are never automatic-by-person, so they have none.
func (p *Pipeline) WantsPullRequest(t Target) bool {
	if t.Route == RouteTag {
		return false
	}
	env, ok := p.Env(t.Env)
	if !ok || env.Branch == t.Source || t.Source == "" {
		return false
	}
	return !p.automatic(env, t)
}

// KeepPullRequest reports whether the promotion pull request of a decision
// stays open: while the source has something the environment lacks. An
// up-to-date environment needs none (and its pull request would be empty).
func KeepPullRequest(d Decision) bool {
	return d.Outcome != OutcomeUpToDate && d.SHA != ""
}
