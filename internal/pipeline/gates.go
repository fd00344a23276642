package pipeline

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hoist-dev/hoist/config"
)

// GateKind names a kind of gate.
type GateKind string

const (
	GateCheck     GateKind = "check"
	GateSmoke     GateKind = "smoke"
	GateSoak      GateKind = "soak"
	GateApprovals GateKind = "approvals"
)

// GateState is a gate's verdict.
type GateState string

const (
	// GatePassed: the gate lets the commit through.
	GatePassed GateState = "passed"
	// GatePending: not decided yet (a check still runs or has not been
	// reported, the soak time has not passed, approvals are missing); a
	// later event or WaitUntil may pass it.
	GatePending GateState = "pending"
	// GateFailed: the gate refuses the commit; only a new result (a re-run,
	// a new review) can change that.
	GateFailed GateState = "failed"
)

// GateResult is one gate's verdict on one commit.
type GateResult struct {
	Kind GateKind
	// Name is the check name, "hoist/smoke", "soak" or "approvals".
	Name  string
	State GateState
	// Detail says why, in a few words: "failure (commit status)",
	// "12m of 30m", "1 of 2 approvals".
	Detail string
	// WaitUntil is when a pending soak gate passes by itself.
	WaitUntil time.Time
	// URL links to the result when there is one (a check run's page).
	URL string
}

// EvaluateGates checks every gate of env against the facts, in a fixed
// order: checks as configured, smoke, soak, approvals.
func EvaluateGates(g Gates, f Facts) []GateResult {
	var out []GateResult
	for _, c := range g.Checks {
		out = append(out, checkGate(c, f.Checks))
	}
	if g.Smoke {
		out = append(out, smokeGate(f))
	}
	if g.Soak > 0 {
		out = append(out, soakGate(g.Soak, f))
	}
	if g.Approvals > 0 {
		out = append(out, approvalsGate(g.Approvals, g.Teams, f))
	}
	return out
}

// verdict classifies one result. Success, neutral and skipped pass, as for
// GitHub's required status checks; action_required waits (someone must
// approve the run, after which it runs); every other conclusion fails.
func verdict(c Check) (GateState, string) {
	src := sourceWords[c.Source]
	switch c.Status {
	case "", "completed":
	default:
		return GatePending, fmt.Sprintf("%s (%s)", strings.ReplaceAll(c.Status, "_", " "), src)
	}
	switch c.Conclusion {
	case "success", "neutral", "skipped":
		return GatePassed, fmt.Sprintf("%s (%s)", c.Conclusion, src)
	case "", "pending":
		return GatePending, fmt.Sprintf("pending (%s)", src)
	case "action_required":
		return GatePending, fmt.Sprintf("action required (%s)", src)
	}
	return GateFailed, fmt.Sprintf("%s (%s)", strings.ReplaceAll(c.Conclusion, "_", " "), src)
}

var sourceWords = map[CheckSource]string{
	SourceCheckRun:    "check run",
	SourceStatus:      "commit status",
	SourceWorkflowRun: "workflow run",
}

// latestBySource keeps the newest result of name from each source: a
// re-run replaces the run before it, but a check run cannot hide a failing
// commit status of the same name (or the other way round).
func latestBySource(name string, checks []Check, accept func(Check) bool) []Check {
	latest := map[CheckSource]Check{}
	for _, c := range checks {
		if c.Name != name || (accept != nil && !accept(c)) {
			continue
		}
		prev, seen := latest[c.Source]
		if !seen || c.At.After(prev.At) || (c.At.Equal(prev.At) && c.ID > prev.ID) {
			latest[c.Source] = c
		}
	}
	out := make([]Check, 0, len(latest))
	for _, c := range latest {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Source < out[j].Source })
	return out
}

// combine folds the results of one name from several sources: any failure
// fails, else any pending waits, else it passes.
func combine(kind GateKind, name string, results []Check, missing string) GateResult {
	r := GateResult{Kind: kind, Name: name, State: GatePending, Detail: missing}
	if len(results) == 0 {
		return r
	}
	var pass, pend, fail []string
	var passURL, pendURL, failURL string
	for _, c := range results {
		st, why := verdict(c)
		switch st {
		case GatePassed:
			pass, passURL = append(pass, why), first(passURL, c.URL)
		case GatePending:
			pend, pendURL = append(pend, why), first(pendURL, c.URL)
		default:
			fail, failURL = append(fail, why), first(failURL, c.URL)
		}
	}
	switch {
	case len(fail) > 0:
		r.State, r.Detail, r.URL = GateFailed, strings.Join(fail, ", "), failURL
	case len(pend) > 0:
		r.State, r.Detail, r.URL = GatePending, strings.Join(pend, ", "), pendURL
	default:
		r.State, r.Detail, r.URL = GatePassed, strings.Join(pass, ", "), passURL
	}
	return r
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// CheckLabel is how a result is named in gate details and matched by a
// gate: a job of an Actions workflow run as "<workflow> / <job>", the way
// branch protection lists it, anything else by its own name.
func CheckLabel(c Check) string {
	if c.Workflow != "" && c.Source == SourceCheckRun {
		return c.Workflow + " / " + c.Name
	}
	return c.Name
}

// MatchCheck reports whether a gate's name matches a result. The name is a
// path.Match glob (* does not cross a /) matched against the result's own
// name ("test (ubuntu-latest, 1.22)", as GitHub names an Actions job's
// check run) and its label ("ci / test (ubuntu-latest, 1.22)"). A name
// equal to either also matches, so a literal name with glob characters
// ("build [linux]") keeps meaning itself.
func MatchCheck(pattern string, c Check) bool {
	for _, name := range []string{c.Name, CheckLabel(c)} {
		if name == pattern {
			return true
		}
		if ok, err := path.Match(pattern, name); err == nil && ok {
			return true
		}
	}
	return false
}

// checkKey identifies one check among a commit's results: a re-run
// replaces the result of the same key, while each matrix job, each
// workflow's job of the same name and each source is a check of its own.
type checkKey struct {
	label  string
	source CheckSource
}

// latestMatching keeps the newest result of every check the gate's name
// matches, ordered by label and source.
func latestMatching(pattern string, checks []Check, accept func(Check) bool) []Check {
	latest := map[checkKey]Check{}
	for _, c := range checks {
		if !MatchCheck(pattern, c) || (accept != nil && !accept(c)) {
			continue
		}
		k := checkKey{CheckLabel(c), c.Source}
		prev, seen := latest[k]
		if !seen || c.At.After(prev.At) || (c.At.Equal(prev.At) && c.ID > prev.ID) {
			latest[k] = c
		}
	}
	out := make([]Check, 0, len(latest))
	for _, c := range latest {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		li, lj := CheckLabel(out[i]), CheckLabel(out[j])
		if li != lj {
			return li < lj
		}
		return out[i].Source < out[j].Source
	})
	return out
}

// maxListed bounds the checks a gate's detail names one by one.
const maxListed = 8

// combineMatched folds the results of every check a gate matched: any
// failure fails, else any pending waits, else it passes. Every matched
// check must pass, so a matrix gate waits for each of its jobs. Results of
// one check (one label, from one or several sources) read as before; more
// checks are named in the detail.
func combineMatched(name string, results []Check) GateResult {
	labels := map[string]bool{}
	for _, c := range results {
		labels[CheckLabel(c)] = true
	}
	if len(labels) <= 1 {
		return combine(GateCheck, name, results, "not reported yet")
	}
	r := GateResult{Kind: GateCheck, Name: name}
	var pass, pend, fail []string
	var pendURL, failURL string
	for _, c := range results {
		st, why := verdict(c)
		switch st {
		case GatePassed:
			pass = append(pass, CheckLabel(c))
			r.URL = first(r.URL, c.URL)
		case GatePending:
			pend, pendURL = append(pend, CheckLabel(c)+": "+why), first(pendURL, c.URL)
		default:
			fail, failURL = append(fail, CheckLabel(c)+": "+why), first(failURL, c.URL)
		}
	}
	n := len(results)
	switch {
	case len(fail) > 0:
		r.State, r.URL = GateFailed, failURL
		r.Detail = fmt.Sprintf("%d of %d failed: %s", len(fail), n, listSome(fail))
	case len(pend) > 0:
		r.State, r.URL = GatePending, pendURL
		r.Detail = fmt.Sprintf("%d of %d passed; waiting for %s", len(pass), n, listSome(pend))
	default:
		r.State = GatePassed
		r.Detail = fmt.Sprintf("all %d passed: %s", n, listSome(pass))
	}
	return r
}

// listSome joins at most maxListed items and says how many it left out.
func listSome(items []string) string { return listSomeSep(items, ", ") }

func listSomeSep(items []string, sep string) string {
	if len(items) <= maxListed {
		return strings.Join(items, sep)
	}
	return strings.Join(items[:maxListed], sep) + fmt.Sprintf(" and %d more", len(items)-maxListed)
}

// checkGate reads the results of one required check: every check its name
// matches (see MatchCheck) must pass, and none matching yet waits. A gate
// that names its reporter counts only that reporter's results: anyone who
// may post a commit status, or any installed app, could otherwise report a
// check of that name. What it ignored is said in the detail.
func checkGate(g CheckGate, checks []Check) GateResult {
	if !g.restricted() {
		return combineMatched(g.Name, latestMatching(g.Name, checks, nil))
	}
	var ignored []string
	accept := func(c Check) bool {
		ok := false
		who := ""
		switch c.Source {
		case SourceStatus:
			ok = g.Creator != "" && strings.EqualFold(c.Creator, g.Creator)
			who = fmt.Sprintf("%s status by %s ignored", CheckLabel(c), orSomeone(c.Creator))
		default:
			ok = g.App != "" && c.App == g.App
			who = fmt.Sprintf("%s from app %s ignored", CheckLabel(c), orSomeone(c.App))
		}
		if !ok && !slices.Contains(ignored, who) {
			ignored = append(ignored, who)
		}
		return ok
	}
	r := combineMatched(g.Name, latestMatching(g.Name, checks, accept))
	if len(ignored) > 0 {
		sort.Strings(ignored)
		r.Detail += "; " + listSomeSep(ignored, "; ")
	}
	return r
}

// smokeGate reads hoist's own check run; a commit status or another app's
// check run of the same name does not count.
func smokeGate(f Facts) GateResult {
	runs := latestBySource(SmokeCheckName, f.Checks, func(c Check) bool {
		return c.Source == SourceCheckRun && (f.HoistApp == "" || c.App == f.HoistApp)
	})
	return combine(GateSmoke, SmokeCheckName, runs, "not run yet")
}

func soakGate(soak time.Duration, f Facts) GateResult {
	r := GateResult{Kind: GateSoak, Name: "soak"}
	if f.SourceHeadSince.IsZero() {
		r.State, r.Detail = GatePending, "unknown since when the commit is the source's head"
		return r
	}
	until := f.SourceHeadSince.Add(soak)
	elapsed := f.Now.Sub(f.SourceHeadSince)
	if !f.Now.Before(until) {
		r.State, r.Detail = GatePassed, fmt.Sprintf("%s of %s", roundDuration(elapsed), roundDuration(soak))
		return r
	}
	if elapsed < 0 {
		elapsed = 0
	}
	r.State, r.WaitUntil = GatePending, until
	r.Detail = fmt.Sprintf("%s of %s, passes at %s", roundDuration(elapsed), roundDuration(soak), until.UTC().Format("2006-01-02 15:04 UTC"))
	return r
}

// approvalsGate counts distinct reviewers whose latest review approves the
// commit being promoted, as GitHub's required reviews do: only reviewers with
// write access count (and, when the environment has teams, only members of
// them, or admins); the pull request's author and bots never count. Each
// reviewer's standing is their latest approval or request for changes; a
// comment changes nothing and a dismissal removes it. A request for changes
// refuses only when it comes from someone whose approval would count, so a
// stranger cannot block a promotion. An approval of an older commit does not
// count for a newer one, like GitHub's "dismiss stale approvals".
func approvalsGate(need int, teams []string, f Facts) GateResult {
	r := GateResult{Kind: GateApprovals, Name: "approvals", State: GatePending}
	if f.PullRequest == nil {
		r.Detail = fmt.Sprintf("0 of %d: needs the promotion pull request", need)
		return r
	}
	r.URL = f.PullRequest.URL
	latest, order := FoldReviews(f.Reviews, f.PullRequest.Author)
	var approvers, stale, blockers, ignored []string
	for _, u := range order {
		rv := latest[strings.ToLower(u)]
		if why := reviewerShortfall(f.Reviewers[strings.ToLower(u)], teams); why != "" {
			ignored = append(ignored, fmt.Sprintf("%s (%s)", u, why))
			continue
		}
		switch {
		case rv.State == "CHANGES_REQUESTED":
			blockers = append(blockers, u)
		case rv.SHA == "" || rv.SHA == f.SourceHead:
			approvers = append(approvers, u)
		default:
			stale = append(stale, u)
		}
	}
	switch {
	case len(blockers) > 0:
		r.State, r.Detail = GateFailed, "changes requested by "+strings.Join(blockers, ", ")
	case len(approvers) >= need:
		r.State, r.Detail = GatePassed, fmt.Sprintf("%d of %d (%s)", len(approvers), need, strings.Join(approvers, ", "))
	default:
		r.Detail = fmt.Sprintf("%d of %d", len(approvers), need)
		if len(approvers) > 0 {
			r.Detail += " (" + strings.Join(approvers, ", ") + ")"
		}
		if len(stale) > 0 {
			r.Detail += "; approvals of an earlier commit by " + strings.Join(stale, ", ") + " need renewing"
		}
		if len(ignored) > 0 {
			r.Detail += "; not counted: " + strings.Join(ignored, ", ")
		}
	}
	return r
}

// FoldReviews returns each reviewer's standing review (by lower-case
// login) and the reviewers in the order they first took a stand. Reviews
// are taken in time order; APPROVED and CHANGES_REQUESTED replace the
// reviewer's standing, DISMISSED removes it, COMMENTED (and PENDING) leave
// it alone, as on GitHub. The author's and bots' reviews are skipped.
func FoldReviews(reviews []Review, author string) (map[string]Review, []string) {
	sorted := append([]Review(nil), reviews...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].At.Before(sorted[j].At) })
	latest := map[string]Review{}
	var order []string
	for _, rv := range sorted {
		user := strings.ToLower(rv.User)
		if user == "" || strings.EqualFold(rv.User, author) || isBot(rv.User) {
			continue
		}
		switch rv.State {
		case "APPROVED", "CHANGES_REQUESTED":
			if _, seen := latest[user]; !seen && !slices.ContainsFunc(order, func(o string) bool { return strings.EqualFold(o, user) }) {
				order = append(order, rv.User)
			}
			latest[user] = rv
		case "DISMISSED":
			delete(latest, user)
		}
	}
	out := order[:0:0]
	for _, u := range order {
		if _, ok := latest[strings.ToLower(u)]; ok {
			out = append(out, u)
		}
	}
	return latest, out
}

// ReviewerCounts reports whether a reviewer's review counts for an
// environment with these teams.
func ReviewerCounts(rv Reviewer, teams []string) bool { return reviewerShortfall(rv, teams) == "" }

// reviewerShortfall says why a reviewer's review does not count, or "".
func reviewerShortfall(rv Reviewer, teams []string) string {
	rank := slices.Index(config.RepoPermissions, rv.Permission)
	if rank < slices.Index(config.RepoPermissions, "write") {
		p := rv.Permission
		if p == "" {
			p = "no"
		}
		return p + " access"
	}
	if len(teams) > 0 && rv.Permission != "admin" && !rv.InTeam {
		return "not in the environment's teams"
	}
	return ""
}

// roundDuration prints durations to the minute (to the second under one).
func roundDuration(d time.Duration) string {
	if d < time.Minute {
		return d.Round(time.Second).String()
	}
	s := d.Round(time.Minute).String()
	s = strings.TrimSuffix(s, "0s")
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
