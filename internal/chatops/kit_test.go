package chatops_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/hoist-dev/hoist/emulator"
	hoistapp "github.com/hoist-dev/hoist/internal/app"
	"github.com/hoist-dev/hoist/internal/sitetest"
	"github.com/hoist-dev/hoist/internal/store"
	"github.com/hoist-dev/hoist/internal/world"
)

// Helpers of this package's tests only; the test world is sitetest.Site.

// approvalsYML: production is promoted by a person from staging and needs
// one approval on its promotion pull request.
const approvalsYML = `version: 1
environments:
  dev:        { branch: dev }
  staging:    { branch: staging, promote_from: dev, auto: true, gates: { checks: ["ci / test"] } }
  production: { branch: prod, promote_from: staging, auto: false, gates: { approvals: 1 } }
`

// promotionPull waits for hoist's open pull request head → base.
func (w *cmdWorld) promotionPull(head, base string) *github.PullRequest {
	w.T.Helper()
	var pr *github.PullRequest
	sitetest.Eventually(w.T, 30*time.Second, func() (bool, string) {
		prs, _, err := w.Alice.PullRequests.List(context.Background(), "acme", "site",
			&github.PullRequestListOptions{State: "open", Head: "acme:" + head, Base: base})
		if err != nil {
			return false, err.Error()
		}
		if len(prs) != 1 {
			return false, fmt.Sprintf("%d open pull requests %s → %s", len(prs), head, base)
		}
		pr = prs[0]
		return true, ""
	})
	return pr
}

// pullBodySays waits until the pull request's body contains every part.
func (w *cmdWorld) pullBodySays(number int, parts ...string) {
	w.T.Helper()
	sitetest.Eventually(w.T, 30*time.Second, func() (bool, string) {
		pr, _, err := w.Alice.PullRequests.Get(context.Background(), "acme", "site", number)
		if err != nil {
			return false, err.Error()
		}
		for _, p := range parts {
			if !strings.Contains(pr.GetBody(), p) {
				return false, fmt.Sprintf("body lacks %q:\n%s", p, pr.GetBody())
			}
		}
		return true, ""
	})
}

func (w *cmdWorld) review(who *github.Client, number int, event, sha string) *github.PullRequestReview {
	w.T.Helper()
	req := &github.PullRequestReviewRequest{Event: github.String(event), CommitID: github.String(sha)}
	if event != "APPROVE" {
		req.Body = github.String("a remark")
	}
	rv, _, err := who.PullRequests.CreateReview(context.Background(), "acme", "site", number, req)
	if err != nil {
		w.T.Fatalf("review %s: %v", event, err)
	}
	return rv
}

// commandsYML: staging waits for a person, production follows staging
// automatically; both need the CI check.
const commandsYML = `version: 1
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: false, deploy: { url: "https://staging.example.com/" },
             gates: { checks: ["ci / test"] } }
  production: { branch: prod, promote_from: staging, auto: true, permission: maintain,
                gates: { checks: ["ci / test"] } }
`

// cmdWorld is the world with commandsYML on the default branch, an open
// pull request and two more people: bob (write) and rita (read).
type cmdWorld struct {
	*sitetest.Site
	pr   int
	bob  *github.Client
	rita *github.Client
}

func startCommands(t *testing.T, setup ...func(*hoistapp.Hooks)) *cmdWorld {
	t.Helper()
	return startCommandsSpec(t, sitetest.SiteSpec{Setup: setup})
}

// startCommandsSpec is startCommands with server settings.
func startCommandsSpec(t *testing.T, spec sitetest.SiteSpec) *cmdWorld {
	t.Helper()
	w := sitetest.StartSite(t, spec)
	w.Commit(".github/hoist.yml", commandsYML, "Commands configuration")
	w.Git(w.Work, "push", "-q", "origin", "HEAD:main")
	// A pull request to comment on: one commit on a feature branch.
	w.Commit("public/feature.html", "feature", "Feature")
	w.Git(w.Work, "push", "-q", "origin", "HEAD:feature")
	w.Git(w.Work, "reset", "-q", "--hard", "HEAD~1")
	ctx := context.Background()
	pr, _, err := w.Alice.PullRequests.Create(ctx, "acme", "site", &github.NewPullRequest{
		Title: github.String("Feature"), Head: github.String("feature"), Base: github.String("main")})
	if err != nil {
		t.Fatal(err)
	}
	cw := &cmdWorld{Site: w, pr: pr.GetNumber()}
	cw.bob = cw.person("bob", "push")
	cw.rita = cw.person("rita", "pull")
	return cw
}

// person creates a user with a role on acme/site and returns their client.
func (w *cmdWorld) person(login, permission string) *github.Client {
	w.T.Helper()
	tok := w.GH.CreateUser(login)
	if _, _, err := w.Alice.Repositories.AddCollaborator(context.Background(), "acme", "site", login,
		&github.RepositoryAddCollaboratorOptions{Permission: permission}); err != nil {
		w.T.Fatalf("add %s: %v", login, err)
	}
	return w.GH.Client(tok)
}

// say posts a comment on the pull request and returns its id.
func (w *cmdWorld) say(who *github.Client, body string) int64 {
	w.T.Helper()
	c, _, err := who.Issues.CreateComment(context.Background(), "acme", "site", w.pr, &github.IssueComment{Body: github.String(body)})
	if err != nil {
		w.T.Fatalf("comment %q: %v", body, err)
	}
	return c.GetID()
}

// answered waits until hoist has answered line of comment and returns the reply.
func (w *cmdWorld) answered(comment int64, line int) string {
	w.T.Helper()
	ctx := context.Background()
	var run store.CommandRun
	done := func() bool {
		var err error
		run, err = w.Srv.Store().CommandRun(ctx, comment, line)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			w.T.Fatal(err)
		}
		return err == nil && run.Status == store.CommandDone
	}
	if world.WaitFor(30*time.Second, done) != nil {
		w.T.Fatalf("comment %d line %d was not answered", comment, line)
	}
	for _, r := range w.replies() {
		if r.GetID() == run.ReplyID {
			return r.GetBody()
		}
	}
	w.T.Fatalf("command %d:%d done with reply %d, which is not on the pull request", comment, line, run.ReplyID)
	return ""
}

// replies are hoist's comments on the pull request.
func (w *cmdWorld) replies() []*github.IssueComment {
	w.T.Helper()
	cs, _, err := w.Alice.Issues.ListComments(context.Background(), "acme", "site", w.pr, &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}})
	if err != nil {
		w.T.Fatal(err)
	}
	var out []*github.IssueComment
	for _, c := range cs {
		if c.GetUser().GetLogin() == "hoist[bot]" {
			out = append(out, c)
		}
	}
	return out
}

func (w *cmdWorld) reactions(comment int64) []string {
	w.T.Helper()
	rs, _, err := w.Alice.Reactions.ListIssueCommentReactions(context.Background(), "acme", "site", comment, nil)
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

// handled waits until hoist has handled the webhook of a comment event.
func (w *cmdWorld) handled(comment int64, action string) emulator.Delivery {
	w.T.Helper()
	d := w.GH.WaitForDelivery(func(d emulator.Delivery) bool {
		var p struct {
			Comment struct{ ID int64 } `json:"comment"`
		}
		return d.Event == "issue_comment" && d.Action == action && d.Decode(&p) == nil && p.Comment.ID == comment
	})
	handled := func() bool {
		got, err := w.Srv.Store().GetDelivery(context.Background(), d.GUID)
		return err == nil && got.Status == store.StatusHandled
	}
	if world.WaitFor(30*time.Second, handled) != nil {
		w.T.Fatalf("delivery %s of comment %d was not handled", d.GUID, comment)
	}
	return d
}

// commandJobsDone waits until no command job is left to run.
func (w *cmdWorld) commandJobsDone() {
	w.T.Helper()
	var n int
	idle := func() bool {
		if err := w.Srv.Store().QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'hoist_pr_command'
			AND state NOT IN ('completed', 'cancelled', 'discarded')`).Scan(&n); err != nil {
			w.T.Fatal(err)
		}
		return n == 0
	}
	if world.WaitFor(30*time.Second, idle) != nil {
		w.T.Fatalf("%d command jobs still to run", n)
	}
}

// greenOnDev pushes a new commit to dev with a passing check.
func (w *cmdWorld) greenOnDev(name string) string {
	w.T.Helper()
	sha := w.Commit("public/"+name+".html", name, "Change "+name)
	w.Git(w.Work, "push", "-q", "origin", "HEAD:dev")
	w.Status(sha, "success")
	return sha
}

func contains(t *testing.T, what, s string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Fatalf("%s does not say %q:\n%s", what, p, s)
		}
	}
}

// countDescribed counts the deployments whose description mentions word.
func countDescribed(deps []*github.Deployment, word string) int {
	n := 0
	for _, d := range deps {
		if strings.Contains(d.GetDescription(), word) {
			n++
		}
	}
	return n
}
