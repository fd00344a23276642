package pipeline

// WantsPullRequest reports whether the promotion t is carried by a
// promotion pull request: when a person promotes it (the route is not
// automatic), the pull request is where they see the commits, the gates and
// the holds, review and merge; and when the environment's approvals gate
// needs reviews, which are given on it. Tags name their own commit and
// have none.
func (p *Pipeline) WantsPullRequest(t Target) bool {
	if t.Route == RouteTag {
		return false
	}
	env, ok := p.Env(t.Env)
	if !ok || env.Branch == t.Source || t.Source == "" {
		return false
	}
	return !p.automatic(env, t) || env.Gates.Approvals > 0
}

// KeepPullRequest reports whether the promotion pull request of a decision
// stays open: while the source has something the environment lacks. An
// up-to-date environment needs none (and its pull request would be empty).
func KeepPullRequest(d Decision) bool {
	return d.Outcome != OutcomeUpToDate && d.SHA != ""
}

// ApprovalsBranch is the head branch of the pull request (into the
// environment's branch) whose reviews feed t's approvals gate, or "" when
// none does. Every way of asking for a promotion reads the same reviews: a
// tag's commit is approved on the environment's promotion pull request
// (promote_from's branch), and only an approval of that very commit counts.
func (p *Pipeline) ApprovalsBranch(t Target) string {
	if p.WantsPullRequest(t) {
		return t.Source
	}
	env, ok := p.Env(t.Env)
	if !ok || env.Gates.Approvals == 0 || t.Route != RouteTag {
		return ""
	}
	return p.SourceBranch(env.Name)
}

// BudgetMayWantPullRequest reports whether the automatic promotion t can
// be handed to a person by the environment's failure budget (on_exhausted:
// pr), and so whether its promotion pull request is looked for.
func (p *Pipeline) BudgetMayWantPullRequest(t Target) bool {
	if t.Route == RouteTag {
		return false
	}
	env, ok := p.Env(t.Env)
	if !ok || env.Budget == nil || env.Budget.Hold || env.Branch == t.Source || t.Source == "" {
		return false
	}
	return p.automatic(env, t)
}
