package pipeline

import (
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/config"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

func run(name, status, conclusion string, min int) Check {
	return Check{Name: name, Source: SourceCheckRun, Status: status, Conclusion: conclusion, At: at(min)}
}

func status(name, state string, min int) Check {
	c := Check{Name: name, Source: SourceStatus, Status: "completed", Conclusion: state, At: at(min)}
	if state == "pending" {
		c.Status, c.Conclusion = "pending", ""
	}
	return c
}

func wfrun(name, status, conclusion string, min int) Check {
	return Check{Name: name, Source: SourceWorkflowRun, Status: status, Conclusion: conclusion, At: at(min)}
}

func TestCheckGate(t *testing.T) {
	const ci = "ci / test"
	cases := []struct {
		name   string
		checks []Check
		want   GateState
		detail string
	}{
		{"green check run", []Check{run(ci, "completed", "success", 1)}, GatePassed, "success (check run)"},
		{"red check run", []Check{run(ci, "completed", "failure", 1)}, GateFailed, "failure (check run)"},
		{"missing", []Check{run("lint", "completed", "success", 1)}, GatePending, "not reported yet"},
		{"no facts at all", nil, GatePending, "not reported yet"},
		{"queued", []Check{run(ci, "queued", "", 1)}, GatePending, "queued (check run)"},
		{"in progress", []Check{run(ci, "in_progress", "", 1)}, GatePending, "in progress (check run)"},
		{"neutral passes", []Check{run(ci, "completed", "neutral", 1)}, GatePassed, "neutral (check run)"},
		{"skipped passes", []Check{run(ci, "completed", "skipped", 1)}, GatePassed, "skipped (check run)"},
		{"cancelled fails", []Check{run(ci, "completed", "cancelled", 1)}, GateFailed, "cancelled (check run)"},
		{"timed out fails", []Check{run(ci, "completed", "timed_out", 1)}, GateFailed, "timed out (check run)"},
		{"stale fails", []Check{run(ci, "completed", "stale", 1)}, GateFailed, "stale (check run)"},
		{"action required waits", []Check{run(ci, "completed", "action_required", 1)}, GatePending, "action required (check run)"},
		{"re-run after failure passes", []Check{run(ci, "completed", "failure", 1), run(ci, "completed", "success", 5)}, GatePassed, "success (check run)"},
		{"re-run in progress after success waits", []Check{run(ci, "completed", "success", 1), run(ci, "in_progress", "", 5)}, GatePending, "in progress (check run)"},
		{"newest wins regardless of order", []Check{run(ci, "completed", "success", 5), run(ci, "completed", "failure", 1)}, GatePassed, "success (check run)"},
		{"same time: higher id wins", []Check{{Name: ci, Source: SourceCheckRun, Status: "completed", Conclusion: "failure", ID: 2, At: at(1)}, {Name: ci, Source: SourceCheckRun, Status: "completed", Conclusion: "success", ID: 1, At: at(1)}}, GateFailed, "failure (check run)"},
		{"green status", []Check{status(ci, "success", 1)}, GatePassed, "success (commit status)"},
		{"red status", []Check{status(ci, "failure", 1)}, GateFailed, "failure (commit status)"},
		{"error status", []Check{status(ci, "error", 1)}, GateFailed, "error (commit status)"},
		{"pending status", []Check{status(ci, "pending", 1)}, GatePending, "pending (commit status)"},
		{"status then newer status", []Check{status(ci, "pending", 1), status(ci, "success", 2)}, GatePassed, "success (commit status)"},
		{"green run cannot hide a red status of the same name", []Check{status(ci, "failure", 1), run(ci, "completed", "success", 9)}, GateFailed, "failure (commit status)"},
		{"green status cannot hide a red run of the same name", []Check{run(ci, "completed", "failure", 1), status(ci, "success", 9)}, GateFailed, "failure (check run)"},
		{"run and status both green", []Check{run(ci, "completed", "success", 1), status(ci, "success", 2)}, GatePassed, "success (check run), success (commit status)"},
		{"status green, run pending", []Check{status(ci, "success", 1), run(ci, "queued", "", 2)}, GatePending, "queued (check run)"},
		{"workflow run green", []Check{wfrun(ci, "completed", "success", 1)}, GatePassed, "success (workflow run)"},
		{"workflow run waiting", []Check{wfrun(ci, "waiting", "", 1)}, GatePending, "waiting (workflow run)"},
		{"workflow run failed", []Check{wfrun(ci, "completed", "startup_failure", 1)}, GateFailed, "startup failure (workflow run)"},
		{"other names do not matter", []Check{run(ci, "completed", "success", 1), run("lint", "completed", "failure", 1)}, GatePassed, "success (check run)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := checkGate(CheckGate{Name: ci}, c.checks)
			if g.State != c.want || g.Detail != c.detail || g.Kind != GateCheck || g.Name != ci {
				t.Errorf("got %s %q, want %s %q", g.State, g.Detail, c.want, c.detail)
			}
		})
	}
}

// TestCheckGateReporter: a gate that names its app or status creator is
// passed only by that reporter; another app's check run or anyone's commit
// status of the same name neither passes nor fails it, and is shown.
func TestCheckGateReporter(t *testing.T) {
	const ci = "ci / test"
	byApp := func(app, conclusion string, min int) Check {
		c := run(ci, "completed", conclusion, min)
		c.App = app
		return c
	}
	byCreator := func(who, state string, min int) Check {
		c := status(ci, state, min)
		c.Creator = who
		return c
	}
	wf := wfrun(ci, "completed", "success", 1)
	wf.App = "github-actions"
	actions := CheckGate{Name: ci, App: "github-actions"}
	jenkins := CheckGate{Name: ci, Creator: "jenkins-bot"}
	cases := []struct {
		name   string
		gate   CheckGate
		checks []Check
		want   GateState
		detail string
	}{
		{"the named app passes", actions, []Check{byApp("github-actions", "success", 1)}, GatePassed, "success (check run)"},
		{"another app's green run does not pass", actions, []Check{byApp("evil-app", "success", 1)}, GatePending, "not reported yet; ci / test from app evil-app ignored"},
		{"another app's red run does not fail", actions, []Check{byApp("github-actions", "success", 1), byApp("evil-app", "failure", 2)}, GatePassed, "success (check run); ci / test from app evil-app ignored"},
		{"a commit status does not pass an app gate", actions, []Check{byCreator("mallory", "success", 1)}, GatePending, "not reported yet; ci / test status by mallory ignored"},
		{"a workflow run is github-actions'", actions, []Check{wf}, GatePassed, "success (workflow run)"},
		{"the named creator's status passes", jenkins, []Check{byCreator("Jenkins-Bot", "success", 1)}, GatePassed, "success (commit status)"},
		{"another creator's status does not", jenkins, []Check{byCreator("mallory", "success", 1)}, GatePending, "not reported yet; ci / test status by mallory ignored"},
		{"a check run does not pass a creator gate", jenkins, []Check{byApp("github-actions", "success", 1)}, GatePending, "not reported yet; ci / test from app github-actions ignored"},
		{"app and creator: either reporter", CheckGate{Name: ci, App: "github-actions", Creator: "jenkins-bot"}, []Check{byCreator("jenkins-bot", "failure", 1), byApp("github-actions", "success", 2)}, GateFailed, "failure (commit status)"},
		{"the named app's failure fails", actions, []Check{byApp("github-actions", "failure", 1)}, GateFailed, "failure (check run)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := checkGate(c.gate, c.checks)
			if g.State != c.want || g.Detail != c.detail {
				t.Errorf("got %s %q, want %s %q", g.State, g.Detail, c.want, c.detail)
			}
		})
	}
}

func TestSmokeGate(t *testing.T) {
	smoke := func(app, conclusion string, min int) Check {
		c := run(SmokeCheckName, "completed", conclusion, min)
		c.App = app
		return c
	}
	cases := []struct {
		name   string
		app    string
		checks []Check
		want   GateState
	}{
		{"passed", "hoist", []Check{smoke("hoist", "success", 1)}, GatePassed},
		{"neutral findings pass", "hoist", []Check{smoke("hoist", "neutral", 1)}, GatePassed},
		{"failed", "hoist", []Check{smoke("hoist", "failure", 1)}, GateFailed},
		{"not run yet", "hoist", nil, GatePending},
		{"running", "hoist", []Check{{Name: SmokeCheckName, Source: SourceCheckRun, Status: "in_progress", App: "hoist", At: at(1)}}, GatePending},
		{"another app's run does not count", "hoist", []Check{smoke("impostor", "success", 1)}, GatePending},
		{"another app's failure does not count either", "hoist", []Check{smoke("hoist", "success", 1), smoke("impostor", "failure", 2)}, GatePassed},
		{"a commit status of that name does not count", "hoist", []Check{status(SmokeCheckName, "success", 1)}, GatePending},
		{"any app when hoist's is unknown", "", []Check{smoke("whoever", "success", 1)}, GatePassed},
		{"re-run passes", "hoist", []Check{smoke("hoist", "failure", 1), smoke("hoist", "success", 2)}, GatePassed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := smokeGate(Facts{Checks: c.checks, HoistApp: c.app})
			if g.State != c.want || g.Kind != GateSmoke {
				t.Errorf("got %s (%s), want %s", g.State, g.Detail, c.want)
			}
		})
	}
}

func TestSoakGate(t *testing.T) {
	soak := 30 * time.Minute
	cases := []struct {
		name      string
		since     time.Time
		now       time.Time
		want      GateState
		waitUntil time.Time
		detail    string
	}{
		{"before", at(0), at(12), GatePending, at(30), "12m of 30m, passes at 2026-03-01 12:30 UTC"},
		{"exactly at the end", at(0), at(30), GatePassed, time.Time{}, "30m of 30m"},
		{"after", at(0), at(95), GatePassed, time.Time{}, "1h35m of 30m"},
		{"unknown since", time.Time{}, at(95), GatePending, time.Time{}, "unknown since when the commit is the source's head"},
		{"clock skew: since in the future", at(10), at(0), GatePending, at(40), "0s of 30m, passes at 2026-03-01 12:40 UTC"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := soakGate(soak, Facts{SourceHeadSince: c.since, Now: c.now})
			if g.State != c.want || !g.WaitUntil.Equal(c.waitUntil) || g.Detail != c.detail {
				t.Errorf("got %s until %v %q, want %s until %v %q", g.State, g.WaitUntil, g.Detail, c.want, c.waitUntil, c.detail)
			}
		})
	}
}

func TestApprovalsGate(t *testing.T) {
	const head = "c0ffee"
	pr := &PullRequest{Number: 7, Author: "alice", URL: "https://github.com/o/r/pull/7"}
	rv := func(user, state, sha string, min int) Review {
		return Review{User: user, State: state, SHA: sha, At: at(min)}
	}
	cases := []struct {
		name    string
		need    int
		pr      *PullRequest
		reviews []Review
		want    GateState
		detail  string
	}{
		{"no pull request", 1, nil, nil, GatePending, "0 of 1: needs the promotion pull request"},
		{"none yet", 1, pr, nil, GatePending, "0 of 1"},
		{"one approval", 1, pr, []Review{rv("bob", "APPROVED", head, 1)}, GatePassed, "1 of 1 (bob)"},
		{"author's approval does not count", 1, pr, []Review{rv("alice", "APPROVED", head, 1), rv("ALICE", "APPROVED", head, 2)}, GatePending, "0 of 1"},
		{"bots do not count", 1, pr, []Review{rv("renovate[bot]", "APPROVED", head, 1)}, GatePending, "0 of 1"},
		{"the same reviewer twice counts once", 2, pr, []Review{rv("bob", "APPROVED", head, 1), rv("bob", "APPROVED", head, 2)}, GatePending, "1 of 2 (bob)"},
		{"two distinct reviewers", 2, pr, []Review{rv("bob", "APPROVED", head, 1), rv("carol", "APPROVED", head, 2)}, GatePassed, "2 of 2 (bob, carol)"},
		{"comments do not count or undo", 1, pr, []Review{rv("bob", "APPROVED", head, 1), rv("bob", "COMMENTED", head, 2), rv("dave", "COMMENTED", head, 3)}, GatePassed, "1 of 1 (bob)"},
		{"changes requested refuses", 1, pr, []Review{rv("bob", "APPROVED", head, 1), rv("carol", "CHANGES_REQUESTED", head, 2)}, GateFailed, "changes requested by carol"},
		{"a later approval lifts the request", 1, pr, []Review{rv("carol", "CHANGES_REQUESTED", head, 1), rv("carol", "APPROVED", head, 2)}, GatePassed, "1 of 1 (carol)"},
		{"dismissed approval does not count", 1, pr, []Review{rv("bob", "APPROVED", head, 1), rv("bob", "DISMISSED", head, 2)}, GatePending, "0 of 1"},
		{"approval of an earlier commit", 1, pr, []Review{rv("bob", "APPROVED", "0ld", 1)}, GatePending, "0 of 1; approvals of an earlier commit by bob need renewing"},
		{"review without a commit counts", 1, pr, []Review{rv("bob", "APPROVED", "", 1)}, GatePassed, "1 of 1 (bob)"},
		{"order by time, not by list", 1, pr, []Review{rv("carol", "APPROVED", head, 5), rv("carol", "CHANGES_REQUESTED", head, 1)}, GatePassed, "1 of 1 (carol)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			writers := map[string]Reviewer{"bob": {Permission: "write"}, "carol": {Permission: "maintain"}, "dave": {Permission: "admin"},
				"alice": {Permission: "admin"}, "renovate[bot]": {Permission: "write"}}
			g := approvalsGate(c.need, nil, Facts{SourceHead: head, PullRequest: c.pr, Reviews: c.reviews, Reviewers: writers})
			if g.State != c.want || g.Detail != c.detail {
				t.Errorf("got %s %q, want %s %q", g.State, g.Detail, c.want, c.detail)
			}
		})
	}
}

// TestApprovalsGateWho: only reviewers with write access count, and
// members of the environment's teams when it has teams; a request for
// changes blocks only from such a reviewer.
func TestApprovalsGateWho(t *testing.T) {
	const head = "c0ffee"
	pr := &PullRequest{Number: 7, Author: "hoist[bot]"}
	rv := func(user, state string, min int) Review {
		return Review{User: user, State: state, SHA: head, At: at(min)}
	}
	who := map[string]Reviewer{
		"reader": {Permission: "read"}, "triager": {Permission: "triage"}, "writer": {Permission: "write"},
		"teamwriter": {Permission: "write", InTeam: true}, "teamreader": {Permission: "read", InTeam: true},
		"admin": {Permission: "admin"},
	}
	ops := []string{"ops"}
	cases := []struct {
		name    string
		teams   []string
		reviews []Review
		want    GateState
		detail  string
	}{
		{"a reader's approval does not count", nil, []Review{rv("reader", "APPROVED", 1)}, GatePending, "0 of 1; not counted: reader (read access)"},
		{"a triager's neither", nil, []Review{rv("triager", "APPROVED", 1)}, GatePending, "0 of 1; not counted: triager (triage access)"},
		{"a stranger's (unknown) neither", nil, []Review{rv("stranger", "APPROVED", 1)}, GatePending, "0 of 1; not counted: stranger (no access)"},
		{"a writer's does", nil, []Review{rv("reader", "APPROVED", 1), rv("writer", "APPROVED", 2)}, GatePassed, "1 of 1 (writer)"},
		{"a reader's request for changes does not block", nil, []Review{rv("writer", "APPROVED", 1), rv("reader", "CHANGES_REQUESTED", 2)}, GatePassed, "1 of 1 (writer)"},
		{"a writer's request for changes blocks", nil, []Review{rv("admin", "APPROVED", 1), rv("writer", "CHANGES_REQUESTED", 2)}, GateFailed, "changes requested by writer"},
		{"teams: a writer outside them does not count", ops, []Review{rv("writer", "APPROVED", 1)}, GatePending, "0 of 1; not counted: writer (not in the environment's teams)"},
		{"teams: a writing member counts", ops, []Review{rv("teamwriter", "APPROVED", 1)}, GatePassed, "1 of 1 (teamwriter)"},
		{"teams: a reading member does not", ops, []Review{rv("teamreader", "APPROVED", 1)}, GatePending, "0 of 1; not counted: teamreader (read access)"},
		{"teams: an admin always counts", ops, []Review{rv("admin", "APPROVED", 1)}, GatePassed, "1 of 1 (admin)"},
		{"teams: an outsider's request for changes does not block", ops, []Review{rv("teamwriter", "APPROVED", 1), rv("writer", "CHANGES_REQUESTED", 2)}, GatePassed, "1 of 1 (teamwriter)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := approvalsGate(1, c.teams, Facts{SourceHead: head, PullRequest: pr, Reviews: c.reviews, Reviewers: who})
			if g.State != c.want || g.Detail != c.detail {
				t.Errorf("got %s %q, want %s %q", g.State, g.Detail, c.want, c.detail)
			}
		})
	}
	// Without facts about the reviewers nobody counts.
	if g := approvalsGate(1, nil, Facts{SourceHead: head, PullRequest: pr, Reviews: []Review{rv("writer", "APPROVED", 1)}}); g.State != GatePending {
		t.Errorf("an approval counted without knowing the reviewer's access: %+v", g)
	}
}

// TestFoldReviews: each reviewer's latest approval or request for changes
// stands; comments change nothing, a dismissal removes the standing.
func TestFoldReviews(t *testing.T) {
	rv := func(user, state string, min int) Review { return Review{User: user, State: state, At: at(min)} }
	cases := []struct {
		name    string
		reviews []Review
		want    string // user=state, in order
	}{
		{"approved then commented stays approved", []Review{rv("bob", "APPROVED", 1), rv("bob", "COMMENTED", 2)}, "bob=APPROVED"},
		{"changes requested then commented still blocks", []Review{rv("bob", "CHANGES_REQUESTED", 1), rv("bob", "COMMENTED", 2)}, "bob=CHANGES_REQUESTED"},
		{"comments alone take no stand", []Review{rv("bob", "COMMENTED", 1), rv("bob", "PENDING", 2)}, ""},
		{"dismissed approval removes it", []Review{rv("bob", "DISMISSED", 1)}, ""},
		{"an approval after a dismissed review stands", []Review{rv("bob", "DISMISSED", 1), rv("bob", "APPROVED", 2)}, "bob=APPROVED"},
		{"a dismissal after an approval removes it", []Review{rv("bob", "APPROVED", 1), rv("bob", "DISMISSED", 2), rv("bob", "COMMENTED", 3)}, ""},
		{"latest wins, by time", []Review{rv("bob", "APPROVED", 5), rv("bob", "CHANGES_REQUESTED", 1)}, "bob=APPROVED"},
		{"logins compare without case", []Review{rv("Bob", "CHANGES_REQUESTED", 1), rv("bob", "APPROVED", 2)}, "Bob=APPROVED"},
		{"author and bots skipped", []Review{rv("alice", "APPROVED", 1), rv("ci[bot]", "APPROVED", 2), rv("carol", "APPROVED", 3)}, "carol=APPROVED"},
		{"order of first stand", []Review{rv("carol", "APPROVED", 1), rv("bob", "CHANGES_REQUESTED", 2), rv("carol", "CHANGES_REQUESTED", 3)}, "carol=CHANGES_REQUESTED bob=CHANGES_REQUESTED"},
	}
	for _, c := range cases {
		latest, order := FoldReviews(c.reviews, "alice")
		var got []string
		for _, u := range order {
			got = append(got, u+"="+latest[strings.ToLower(u)].State)
		}
		if g := strings.Join(got, " "); g != c.want {
			t.Errorf("%s: got %q, want %q", c.name, g, c.want)
		}
		if len(latest) != len(order) {
			t.Errorf("%s: %d standings for %d reviewers", c.name, len(latest), len(order))
		}
	}
}

func TestHoldActive(t *testing.T) {
	until := at(60)
	cases := []struct {
		name string
		h    Hold
		now  time.Time
		want bool
	}{
		{"open-ended", Hold{Env: "production", Since: at(0)}, at(10_000), true},
		{"before until", Hold{Env: "production", Until: &until}, at(59), true},
		{"at until it has expired", Hold{Env: "production", Until: &until}, at(60), false},
		{"after until", Hold{Env: "production", Until: &until}, at(61), false},
	}
	for _, c := range cases {
		if got := c.h.Active(c.now); got != c.want {
			t.Errorf("%s: Active = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestEvaluateGatesOrder(t *testing.T) {
	g := Gates{Checks: []CheckGate{{Name: "b"}, {Name: "a"}}, Smoke: true, Soak: time.Minute, Approvals: 1}
	res := EvaluateGates(g, Facts{Now: t0})
	var kinds []string
	for _, r := range res {
		kinds = append(kinds, string(r.Kind)+":"+r.Name)
	}
	if got := strings.Join(kinds, " "); got != "check:b check:a smoke:hoist/smoke soak:soak approvals:approvals" {
		t.Errorf("order = %s", got)
	}
	if len(EvaluateGates(Gates{}, Facts{})) != 0 {
		t.Error("no gates configured must give no results")
	}
}

// mustPipeline builds a pipeline from a configuration, through the real
// loader.
func mustPipeline(t testing.TB, doc string) *Pipeline {
	t.Helper()
	cfg, err := config.LoadRepoConfig("hoist.yml", []byte(doc))
	if err != nil {
		t.Fatalf("config:\n%v", err)
	}
	return New(cfg)
}
