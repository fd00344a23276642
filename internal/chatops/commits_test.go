package chatops_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/internal/store"
	"github.com/hoist-dev/hoist/internal/world"
)

// sayOnCommit comments on commit sha and returns the comment's id.
func (w *cmdWorld) sayOnCommit(who *github.Client, sha, body string) int64 {
	w.T.Helper()
	c, _, err := who.Repositories.CreateComment(context.Background(), "acme", "site", sha, &github.RepositoryComment{Body: github.String(body)})
	if err != nil {
		w.T.Fatalf("comment %q on %s: %v", body, sha, err)
	}
	return c.GetID()
}

// answeredOnCommit waits until hoist has answered line of the commit
// comment and returns the reply, which must be a comment by hoist on the
// same commit.
func (w *cmdWorld) answeredOnCommit(sha string, comment int64, line int) string {
	w.T.Helper()
	ctx := context.Background()
	var run store.CommandRun
	done := func() bool {
		var err error
		// Commit comments are keyed by their id negated (GitHub numbers
		// them apart from issue comments).
		run, err = w.Srv.Store().CommandRun(ctx, -comment, line)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			w.T.Fatal(err)
		}
		return err == nil && run.Status == store.CommandDone
	}
	if world.WaitFor(30*time.Second, done) != nil {
		w.T.Fatalf("commit comment %d line %d was not answered", comment, line)
	}
	cs, _, err := w.Alice.Repositories.ListCommitComments(ctx, "acme", "site", sha, &github.ListOptions{PerPage: 100})
	if err != nil {
		w.T.Fatal(err)
	}
	for _, c := range cs {
		if c.GetID() == run.ReplyID && c.GetUser().GetLogin() == "hoist[bot]" {
			return c.GetBody()
		}
	}
	w.T.Fatalf("commit comment %d:%d answered with reply %d, which is not a comment of hoist's on %s", comment, line, run.ReplyID, sha)
	return ""
}

// commitReactions are hoist's reactions on a commit comment.
func (w *cmdWorld) commitReactions(comment int64) []string {
	w.T.Helper()
	rs, _, err := w.Alice.Reactions.ListCommentReactions(context.Background(), "acme", "site", comment, nil)
	if err != nil {
		w.T.Fatal(err)
	}
	var out []string
	for _, r := range rs {
		if r.GetUser().GetLogin() == "hoist[bot]" {
			out = append(out, r.GetContent())
		}
	}
	return out
}

// TestCommandsInACommitComment: a command in a comment on a commit runs
// with the same authorization as in a pull request and is answered on the
// commit: a maintainer's /hold production holds production; a writer, one
// permission short, is refused and nothing is held.
func TestCommandsInACommitComment(t *testing.T) {
	w := startCommands(t)
	ctx := context.Background()
	mona := w.person("mona", "maintain")
	sha := w.Head("main")

	// bob may write; production needs maintain.
	{
		c := w.sayOnCommit(w.bob, sha, "/hold production")
		contains(t, "the refusal", w.answeredOnCommit(sha, c, 1), "😕 @bob I did not run `/hold production`",
			"needs **maintain** permission", "you have **write**")
		if rs := strings.Join(w.commitReactions(c), ","); rs != "confused" {
			t.Fatalf("reactions %q on the refused comment, want confused only", rs)
		}
		if hs, _ := w.Srv.Store().EnvHolds(ctx, "acme/site", "production", time.Now()); len(hs) != 0 {
			t.Fatalf("production holds after a refused hold: %+v", hs)
		}
	}

	// mona maintains: production is held, and a promotion waits.
	{
		c := w.sayOnCommit(mona, sha, "Freezing production for the launch.\n/hold production launch")
		contains(t, "the reply", w.answeredOnCommit(sha, c, 2), "`production` is held", "`launch`")
		hs, err := w.Srv.Store().EnvHolds(ctx, "acme/site", "production", time.Now())
		if err != nil || len(hs) != 1 || hs[0].By != "mona" {
			t.Fatalf("production holds %+v %v, want mona's", hs, err)
		}
		if rs := w.commitReactions(c); len(rs) == 0 || rs[0] != "eyes" {
			t.Fatalf("reactions %v on the accepted comment, want 👀 first", rs)
		}
		entries, _ := w.Srv.Store().AuditLog(ctx, "acme/site", 100)
		found := false
		for _, e := range entries {
			if e.Action == "command" && e.Actor == "mona" && e.Outcome == "allowed" && e.Detail["commit"] == sha {
				found = true
			}
		}
		if !found {
			t.Fatalf("the command on commit %s is not audited with its commit: %+v", sha, entries)
		}
		// The same command in /status's table: the hold is a real one.
		status := w.answeredOnCommit(sha, w.sayOnCommit(mona, sha, "/status"), 1)
		contains(t, "the status", status, "launch")
	}
}
