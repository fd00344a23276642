package pipeline

import (
	"fmt"
	"strings"
	"time"
)

// Route is how a commit reaches an environment.
type Route string

const (
	// RoutePromote: from the environment named by promote_from.
	RoutePromote Route = "promote_from"
	// RouteCandidate: from a candidate branch (pre-<env>).
	RouteCandidate Route = "candidate"
	// RouteTag: a tagged commit, by a tag rule.
	RouteTag Route = "tag"
)

// Target is one promotion to evaluate: into Env by Route from Source (a
// branch, or a tag name for RouteTag).
type Target struct {
	Env    string
	Route  Route
	Source string
	// SHA is the commit a tag points at (RouteTag only; otherwise the
	// caller reads the source branch head).
	SHA string
}

// Outcome is what Decide says to do.
type Outcome string

const (
	// OutcomePromote: fast-forward the environment's branch to SHA now
	// (compare-and-swap from Decision.From).
	OutcomePromote Outcome = "promote"
	// OutcomeWait: some gates are pending; evaluate again on the next
	// event or at WaitUntil.
	OutcomeWait Outcome = "wait"
	// OutcomeReady: every gate passes but auto is off; a person promotes
	// with /promote or by merging the promotion pull request.
	OutcomeReady Outcome = "ready"
	// OutcomeRefuse: a gate failed, the environment is held or its branch
	// diverged; Reasons says what to do.
	OutcomeRefuse Outcome = "refuse"
	// OutcomeUpToDate: the environment already contains the commit.
	OutcomeUpToDate Outcome = "up_to_date"
)

// Decision is the answer of Decide.
type Decision struct {
	Outcome Outcome
	Target  Target
	// SHA is the commit promoted (or that would be); From the branch head
	// it replaces, for the compare-and-swap; Create is set when the branch
	// does not exist yet.
	SHA    string
	From   string
	Create bool
	// Gates are every gate's verdict, in configuration order; Pending and
	// Failed are those gates again, by state.
	Gates   []GateResult
	Pending []GateResult
	Failed  []GateResult
	// Holds are the active holds on the environment.
	Holds []Hold
	// Blocking are the target's commits the source lacks (when diverged).
	Blocking []Commit
	// Rejoin: the branch is not fast-forwarded to SHA but to a new commit
	// with SHA's tree whose parents are From and SHA (Facts.Rejoin); the
	// gates were evaluated on SHA.
	Rejoin bool
	// WaitUntil is the earliest time at which evaluating again can change
	// the answer without another event (a soak ending, every hold
	// expiring); zero when only an event can. A durable timer is scheduled
	// for it.
	WaitUntil time.Time
	// Reasons explain a Refuse, Wait or Ready in sentences.
	Reasons []string
	// Budget is the verdict of the environment's failure budget; nil when
	// it has none or its outcomes were not counted.
	Budget *BudgetVerdict
}

// Decide evaluates one promotion. The order of the questions is: is there
// anything to promote; then every reason to refuse (holds, a diverged
// target, failed gates) is collected; then pending gates mean waiting;
// then auto: false means waiting for a person. A person's /promote skips
// only that last step: there is no way to force a failing or pending gate.
func (p *Pipeline) Decide(t Target, f Facts) Decision {
	d := Decision{Target: t, SHA: f.SourceHead, From: f.TargetHead, Rejoin: f.Rejoin && f.Relation == RelationAhead}
	env, ok := p.Env(t.Env)
	if !ok {
		d.Outcome = OutcomeRefuse
		d.Reasons = []string{fmt.Sprintf("%s is not an environment of this repository.", t.Env)}
		return d
	}
	if f.SourceHead == "" {
		d.Outcome = OutcomeRefuse
		d.Reasons = []string{fmt.Sprintf("%s has no commit to promote (does it exist?).", sourceWord(t))}
		return d
	}
	rel := f.Relation
	if f.TargetHead == "" {
		rel = RelationNoTarget
	} else if f.TargetHead == f.SourceHead {
		rel = RelationIdentical
	}
	d.Create = rel == RelationNoTarget
	switch rel {
	case RelationIdentical:
		d.Outcome = OutcomeUpToDate
		d.Reasons = []string{fmt.Sprintf("%s is already at %s.", env.Branch, short(f.SourceHead))}
		return d
	case RelationBehind:
		d.Outcome = OutcomeUpToDate
		d.Reasons = []string{fmt.Sprintf("%s already contains %s (it is ahead of %s).", env.Branch, short(f.SourceHead), sourceWord(t))}
		return d
	}

	d.Budget = EvaluateBudget(env.Budget, f.Budget)
	budgetOut := d.Budget != nil && d.Budget.Exhausted

	d.Gates = EvaluateGates(env.Gates, f)
	for _, g := range d.Gates {
		switch g.State {
		case GatePending:
			d.Pending = append(d.Pending, g)
		case GateFailed:
			d.Failed = append(d.Failed, g)
		}
	}

	// Every reason to refuse, so that one message says all there is to fix.
	var holdsEnd time.Time
	openEnded := false
	for _, h := range f.Holds {
		if h.Env != "" && h.Env != env.Name || !h.Active(f.Now) {
			continue
		}
		d.Holds = append(d.Holds, h)
		msg := fmt.Sprintf("%s is held by %s", env.Name, truncateRunes(orSomeone(h.By), 60))
		if h.Reason != "" {
			msg += ": " + truncateRunes(h.Reason, 500)
		}
		if h.Until != nil {
			msg += fmt.Sprintf(" (until %s)", h.Until.UTC().Format("2006-01-02 15:04 UTC"))
			if h.Until.After(holdsEnd) {
				holdsEnd = *h.Until
			}
		} else {
			openEnded = true
			msg += fmt.Sprintf(" (until someone says /unhold %s)", env.Name)
		}
		d.Reasons = append(d.Reasons, msg+".")
	}
	if budgetOut && d.Budget.Hold {
		d.Reasons = append(d.Reasons, d.Budget.Sentence(env.Name)+" Promotions into "+env.Name+" are held until it is back within budget.")
	}
	if rel == RelationDiverged {
		d.Blocking = f.Blocking
		d.Reasons = append(d.Reasons, divergedAdvice(env, t, f))
	}
	if rel == RelationUnrelated {
		d.Reasons = append(d.Reasons, fmt.Sprintf("%s cannot be fast-forwarded to %s: the two histories share no commit (no common ancestor). Rebuild %s from %s, then hoist promotes again; hoist never force-pushes.",
			env.Branch, short(f.SourceHead), sourceWord(t), env.Branch))
	}
	for _, g := range d.Failed {
		d.Reasons = append(d.Reasons, fmt.Sprintf("Gate %s failed: %s.", gateLabel(g), g.Detail))
	}
	if len(d.Reasons) > 0 {
		d.Outcome = OutcomeRefuse
		if len(d.Holds) > 0 && !openEnded && len(d.Failed) == 0 && rel != RelationDiverged && rel != RelationUnrelated {
			d.WaitUntil = holdsEnd
		}
		return d
	}

	if len(d.Pending) > 0 {
		d.Outcome = OutcomeWait
		for _, g := range d.Pending {
			d.Reasons = append(d.Reasons, fmt.Sprintf("Waiting for %s: %s.", gateLabel(g), g.Detail))
			if !g.WaitUntil.IsZero() && (d.WaitUntil.IsZero() || g.WaitUntil.Before(d.WaitUntil)) {
				d.WaitUntil = g.WaitUntil
			}
		}
		return d
	}

	if !f.Trigger.ByPerson() && budgetOut && p.automatic(env, t) {
		// The budget turns an automatic promotion into one a person
		// makes, on the promotion pull request (BudgetPullRequest).
		d.Outcome = OutcomeReady
		d.Reasons = []string{d.Budget.Sentence(env.Name) + fmt.Sprintf(" Automatic promotion is off until it is back within budget; a person promotes: comment `%s` (needs %s permission) or merge the promotion pull request.",
			p.PromoteCommand(env.Name), env.Permission)}
		return d
	}
	if !f.Trigger.ByPerson() && !p.automatic(env, t) {
		d.Outcome = OutcomeReady
		d.Reasons = []string{fmt.Sprintf("Every gate passes; %s is promoted by a person: comment `%s` (needs %s permission).",
			env.Name, p.PromoteCommand(env.Name), env.Permission)}
		return d
	}
	d.Outcome = OutcomePromote
	return d
}

// automatic reports whether the route promotes without a person: the
// environment's auto for promote_from, the candidate's auto for candidate
// branches, and always for tags (pushing a matching tag is the request).
func (p *Pipeline) automatic(env Environment, t Target) bool {
	switch t.Route {
	case RouteTag:
		return true
	case RouteCandidate:
		for _, c := range p.Candidates {
			if c.Env == env.Name && c.Branch == t.Source {
				return c.Auto
			}
		}
		return false
	}
	return env.Auto
}

// PromoteCommand is the command that promotes env, in the form the
// repository accepts.
func (p *Pipeline) PromoteCommand(env string) string {
	if p.ShortForm {
		return "/promote " + env
	}
	return "/hoist promote " + env
}

func divergedAdvice(env Environment, t Target, f Facts) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s cannot be fast-forwarded to %s: it has ", env.Branch, short(f.SourceHead))
	switch n := len(f.Blocking); n {
	case 0:
		fmt.Fprintf(&b, "commits that %s lacks", sourceWord(t))
	case 1:
		fmt.Fprintf(&b, "1 commit that %s lacks (%s)", sourceWord(t), commitList(f.Blocking, 5))
	default:
		fmt.Fprintf(&b, "%d commits that %s lacks (%s)", n, sourceWord(t), commitList(f.Blocking, 5))
	}
	fmt.Fprintf(&b, ". Merge %s into %s (or revert those commits on %s), then hoist promotes again; hoist never force-pushes.",
		env.Branch, t.Source, env.Branch)
	return b.String()
}

func commitList(cs []Commit, limit int) string {
	var parts []string
	for i, c := range cs {
		if i == limit {
			parts = append(parts, fmt.Sprintf("and %d more", len(cs)-limit))
			break
		}
		s := short(c.SHA)
		if c.Subject != "" {
			s += " " + truncateRunes(c.Subject, 120)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func sourceWord(t Target) string {
	if t.Route == RouteTag {
		return "tag " + t.Source
	}
	return t.Source
}

func gateLabel(g GateResult) string {
	if g.Kind == GateCheck {
		return fmt.Sprintf("check %q", g.Name)
	}
	return string(g.Kind)
}

func orSomeone(s string) string {
	if s == "" {
		return "someone"
	}
	return s
}

// short abbreviates a commit SHA to 7 characters.
func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
