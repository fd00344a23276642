package chatops_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
)

// openIssue opens a plain issue (no pull request) on acme/site.
func (w *cmdWorld) openIssue(who *github.Client, title string) int {
	w.T.Helper()
	is, _, err := who.Issues.Create(context.Background(), "acme", "site", &github.IssueRequest{Title: github.String(title)})
	if err != nil {
		w.T.Fatalf("open issue %q: %v", title, err)
	}
	if is.IsPullRequest() {
		w.T.Fatalf("issue %d is a pull request", is.GetNumber())
	}
	return is.GetNumber()
}

// sayIn comments on an issue and returns the comment's id.
func (w *cmdWorld) sayIn(who *github.Client, issue int, body string) int64 {
	w.T.Helper()
	c, _, err := who.Issues.CreateComment(context.Background(), "acme", "site", issue, &github.IssueComment{Body: github.String(body)})
	if err != nil {
		w.T.Fatalf("comment %q on #%d: %v", body, issue, err)
	}
	return c.GetID()
}

// answeredIn waits until hoist has answered line of comment and returns the
// reply, which must be on issue (and not on the pull request).
func (w *cmdWorld) answeredIn(issue int, comment int64, line int) string {
	w.T.Helper()
	ctx := context.Background()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		run, err := w.Srv.Store().CommandRun(ctx, comment, line)
		if err != nil || run.ReplyID == 0 {
			continue
		}
		if run.Number != issue {
			w.T.Fatalf("command %d:%d recorded on #%d, want #%d", comment, line, run.Number, issue)
		}
		cs, _, err := w.Alice.Issues.ListComments(ctx, "acme", "site", issue, &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}})
		if err != nil {
			w.T.Fatal(err)
		}
		for _, c := range cs {
			if c.GetID() == run.ReplyID && c.GetUser().GetLogin() == "hoist[bot]" {
				return c.GetBody()
			}
		}
		w.T.Fatalf("command %d:%d answered with reply %d, which is not on issue #%d", comment, line, run.ReplyID, issue)
	}
	w.T.Fatalf("comment %d line %d on #%d was not answered", comment, line, issue)
	return ""
}

// TestCommandsInAnIssue: commands that name their environment run in an
// issue comment with the same authorization as in a pull request; those
// that need a pull request say so; a stranger is refused.
func TestCommandsInAnIssue(t *testing.T) {
	w := startCommands(t)
	ctx := context.Background()
	issue := w.openIssue(w.Alice, "Incident: staging is broken")

	// A writer's hold holds.
	{
		c := w.sayIn(w.bob, issue, "Stopping promotions while we look.\n/hold staging incident 42")
		reply := w.answeredIn(issue, c, 2)
		contains(t, "the reply", reply, "`staging` is held", "`incident 42`")
		hs, err := w.Srv.Store().EnvHolds(ctx, "acme/site", "staging", time.Now())
		if err != nil || len(hs) != 1 || hs[0].By != "bob" {
			t.Fatalf("staging holds %+v %v, want bob's", hs, err)
		}
		// A promotion is refused while held: the hold is a real one.
		sha := w.greenOnDev("held")
		w.WaitAudit("staging", sha, "refuse")
		before := w.Head("staging")
		contains(t, "the promotion", w.answeredIn(issue, w.sayIn(w.bob, issue, "/promote staging"), 1), "held")
		if got := w.Head("staging"); got != before {
			t.Fatalf("staging moved to %s while held", got)
		}
		// The audit says where the command came from.
		entries, _ := w.Srv.Store().AuditLog(ctx, "acme/site", 100)
		found := false
		for _, e := range entries {
			if e.Action == "command" && e.Actor == "bob" && e.Outcome == "allowed" && e.Detail["issue"] == float64(issue) {
				found = true
			}
		}
		if !found {
			t.Fatalf("the command in issue #%d is not audited with its issue: %+v", issue, entries)
		}
		w.answeredIn(issue, w.sayIn(w.bob, issue, "/unhold staging"), 1)
	}

	// A reader's rollback is refused.
	{
		before := w.Head("prod")
		c := w.sayIn(w.rita, issue, "/rollback production")
		contains(t, "the refusal", w.answeredIn(issue, c, 1), "😕 @rita I did not run `/rollback production previous`",
			"needs **maintain** permission", "you have **read**")
		if got := w.Head("prod"); got != before {
			t.Fatalf("prod moved to %s on a refused rollback", got)
		}
		if rs := strings.Join(w.reactions(c), ","); rs != "confused" {
			t.Fatalf("reactions %q, want confused only", rs)
		}
		if hs, _ := w.Srv.Store().EnvHolds(ctx, "acme/site", "production", time.Now()); len(hs) != 0 {
			t.Fatalf("production holds after a refused rollback: %+v", hs)
		}
	}

	// A verb that needs a pull request says so.
	{
		c := w.sayIn(w.bob, issue, "/smoke")
		contains(t, "the reply", w.answeredIn(issue, c, 1), "`/smoke` without an environment or a commit needs a pull request")
		if rs := strings.Join(w.reactions(c), ","); !strings.Contains(rs, "confused") {
			t.Fatalf("reactions %q, want confused", rs)
		}
		// /status names no pull request either, and runs.
		contains(t, "the status", w.answeredIn(issue, w.sayIn(w.bob, issue, "/status"), 1), "| `staging` | `staging` |")
	}

	// Someone without access is refused.
	{
		// On a public repository anyone may open an issue and comment.
		if err := w.GH.Server.SetPrivate("acme/site", false); err != nil {
			t.Fatal(err)
		}
		eve := w.GH.Client(w.GH.CreateUser("eve"))
		own := w.openIssue(eve, "Please hold")
		c := w.sayIn(eve, own, "/hold production\n/rollback staging")
		contains(t, "the refusal", w.answeredIn(own, c, 1), "😕 @eve I did not run `/hold production`", "you have **")
		contains(t, "the refusal", w.answeredIn(own, c, 2), "😕 @eve I did not run `/rollback staging previous`", "you have **read**")
		for _, env := range []string{"production", "staging"} {
			if hs, _ := w.Srv.Store().EnvHolds(ctx, "acme/site", env, time.Now()); len(hs) != 0 {
				t.Fatalf("%s holds after a stranger's commands: %+v", env, hs)
			}
		}
	}
}
