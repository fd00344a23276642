package emulator_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/emulator"
)

// Comments on commits are served as GitHub serves them (every response and
// the commit_comment webhook are checked against GitHub's description by
// the conformance observer): created by anyone who can read, listed per
// commit and per repository, edited by their author, reacted to by an
// installation, deleted with their reactions.
func TestCommitComments(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	_, sha := seed(t, e)
	bob := e.gh.CreateUser("bob")
	if status, _, b := e.do(e.alice, "PUT", "/repos/acme/site/collaborators/bob", map[string]string{"permission": "pull"}); status/100 != 2 {
		t.Fatalf("add bob: %d %s", status, b)
	}

	// A reader comments on the whole commit, by its full sha.
	cm := e.json(bob, "POST", "/repos/acme/site/commits/"+sha+"/comments", map[string]string{"body": "/hold production"}, 201).(map[string]any)
	id := int64(cm["id"].(float64))
	if cm["commit_id"] != sha || cm["body"] != "/hold production" || get(cm, "user", "login") != "bob" || cm["path"] != nil ||
		cm["author_association"] != "COLLABORATOR" || !strings.HasSuffix(cm["html_url"].(string), fmt.Sprintf("/acme/site/commit/%s#commitcomment-%d", sha, id)) {
		t.Fatalf("commit comment %v", cm)
	}
	d := e.gh.WaitForDelivery(func(d emulator.Delivery) bool { return d.Event == "commit_comment" })
	var ev github.CommitCommentEvent
	if err := d.Decode(&ev); err != nil {
		t.Fatal(err)
	}
	if d.Action != "created" || ev.GetAction() != "created" || ev.GetComment().GetID() != id || ev.GetComment().GetCommitID() != sha ||
		ev.GetSender().GetLogin() != "bob" || ev.GetInstallation().GetID() != e.inst || ev.GetRepo().GetFullName() != "acme/site" {
		t.Fatalf("commit_comment webhook %+v", ev)
	}

	// On a file's line, by a short sha.
	line := e.json(e.alice, "POST", "/repos/acme/site/commits/"+sha[:7]+"/comments",
		map[string]any{"body": "typo here", "path": "public/index.html", "position": 1}, 201).(map[string]any)
	if line["commit_id"] != sha || line["path"] != "public/index.html" || line["position"] != float64(1) {
		t.Fatalf("line comment %v", line)
	}
	for body, path := range map[string]string{
		`{"body": ""}`:                       "/repos/acme/site/commits/" + sha + "/comments",
		`{"body": "x", "path": "no/such"}`:   "/repos/acme/site/commits/" + sha + "/comments",
		`{"body": "no commit of that name"}`: "/repos/acme/site/commits/0123456789abcdef0123456789abcdef01234567/comments",
	} {
		var in map[string]any
		if err := jsonUnmarshal([]byte(body), &in); err != nil {
			t.Fatal(err)
		}
		if status, _, b := e.do(e.alice, "POST", path, in); status != 422 {
			t.Errorf("POST %s %s: %d %s, want 422", path, body, status, b)
		}
	}

	// Listed per commit and for the repository, oldest first.
	alice := e.userClient(e.alice)
	ofCommit, _, err := alice.Repositories.ListCommitComments(ctx, "acme", "site", sha, nil)
	if err != nil || len(ofCommit) != 2 || ofCommit[0].GetID() != id {
		t.Fatalf("comments of the commit: %v %v", ofCommit, err)
	}
	if none := e.json(e.alice, "GET", "/repos/acme/site/commits/0123456789abcdef0123456789abcdef01234567/comments", nil, 200).([]any); len(none) != 0 {
		t.Fatalf("comments of an unknown commit: %v", none)
	}
	all, _, err := alice.Repositories.ListComments(ctx, "acme", "site", nil)
	if err != nil || len(all) != 2 {
		t.Fatalf("comments of the repository: %v %v", all, err)
	}

	// The installation (contents: write) reacts; the rollup counts it.
	app := e.appClient()
	r, _, err := app.Reactions.CreateCommentReaction(ctx, "acme", "site", id, "eyes")
	if err != nil || r.GetContent() != "eyes" || r.GetUser().GetLogin() != "hoist[bot]" {
		t.Fatalf("reaction %+v %v", r, err)
	}
	if _, _, err := app.Reactions.CreateCommentReaction(ctx, "acme", "site", id, "shrug"); errorStatus(err) != 422 {
		t.Errorf("an unknown reaction: %v, want 422", err)
	}
	rs, _, err := alice.Reactions.ListCommentReactions(ctx, "acme", "site", id, nil)
	if err != nil || len(rs) != 1 {
		t.Fatalf("reactions %v %v", rs, err)
	}
	got, _, err := alice.Repositories.GetComment(ctx, "acme", "site", id)
	if err != nil || got.GetReactions().GetEyes() != 1 || got.GetReactions().GetTotalCount() != 1 {
		t.Fatalf("comment after the reaction: %+v %v", got, err)
	}
	// Reactions on a commit comment are not an issue comment's.
	if status, _, _ := e.do(e.alice, "GET", fmt.Sprintf("/repos/acme/site/issues/comments/%d/reactions", id), nil); status != 404 {
		t.Errorf("the commit comment found as an issue comment: %d", status)
	}

	// The author edits (no webhook: commit_comment is only ever created);
	// someone else with read access may not.
	if status, _, _ := e.do(e.alice, "PATCH", fmt.Sprintf("/repos/acme/site/comments/%d", int64(line["id"].(float64))), map[string]string{"body": "mine"}); status != 200 {
		t.Errorf("the owner editing her comment: %d", status)
	}
	if status, _, _ := e.do(bob, "PATCH", fmt.Sprintf("/repos/acme/site/comments/%d", int64(line["id"].(float64))), map[string]string{"body": "not mine"}); status != 403 {
		t.Errorf("a reader editing another's comment: %d, want 403", status)
	}
	edited, _, err := e.userClient(bob).Repositories.UpdateComment(ctx, "acme", "site", id, &github.RepositoryComment{Body: github.String("/hold staging")})
	if err != nil || edited.GetBody() != "/hold staging" {
		t.Fatalf("edit %+v %v", edited, err)
	}
	if _, err := app.Reactions.DeleteCommentReaction(ctx, "acme", "site", id, r.GetID()); err != nil {
		t.Fatalf("delete the reaction: %v", err)
	}
	if _, err := e.userClient(bob).Repositories.DeleteComment(ctx, "acme", "site", id); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, _, err := alice.Repositories.GetComment(ctx, "acme", "site", id); errorStatus(err) != 404 {
		t.Errorf("a deleted comment: %v, want 404", err)
	}
	n := 0
	for _, h := range e.hooks.hooks() {
		if h.Event == "commit_comment" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d commit_comment webhooks, want 2 (one per comment created)", n)
	}
}

// Issues are listed, edited, closed and reopened as on GitHub, with the
// issues and issue_comment webhooks GitHub sends for a plain issue.
func TestIssuesListCloseAndReopen(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	seed(t, e)
	alice := e.userClient(e.alice)
	rita := e.gh.CreateUser("rita")
	if status, _, b := e.do(e.alice, "PUT", "/repos/acme/site/collaborators/rita", map[string]string{"permission": "pull"}); status/100 != 2 {
		t.Fatalf("add rita: %d %s", status, b)
	}
	first, _, err := alice.Issues.Create(ctx, "acme", "site", &github.IssueRequest{Title: github.String("Incident"), Body: github.String("staging is down")})
	if err != nil {
		t.Fatal(err)
	}
	second, _, err := e.userClient(rita).Issues.Create(ctx, "acme", "site", &github.IssueRequest{Title: github.String("Typo")})
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := e.userClient(rita).Issues.CreateComment(ctx, "acme", "site", first.GetNumber(), &github.IssueComment{Body: github.String("/status")})
	if err != nil {
		t.Fatal(err)
	}
	d := e.gh.WaitForDelivery(func(d emulator.Delivery) bool { return d.Event == "issue_comment" })
	var ce github.IssueCommentEvent
	if err := d.Decode(&ce); err != nil || ce.GetComment().GetID() != c.GetID() || ce.GetIssue().IsPullRequest() || ce.GetIssue().GetNumber() != first.GetNumber() {
		t.Fatalf("issue_comment on an issue: %+v %v", ce, err)
	}

	// Listed newest first, open ones by default.
	list, _, err := alice.Issues.ListByRepo(ctx, "acme", "site", nil)
	if err != nil || len(list) != 2 || list[0].GetNumber() != second.GetNumber() || list[1].GetComments() != 1 {
		t.Fatalf("open issues %v %v", list, err)
	}
	mine, _, err := alice.Issues.ListByRepo(ctx, "acme", "site", &github.IssueListByRepoOptions{Creator: "rita", Direction: "asc"})
	if err != nil || len(mine) != 1 || mine[0].GetNumber() != second.GetNumber() {
		t.Fatalf("rita's issues %v %v", mine, err)
	}

	// rita may not close alice's issue, but may close her own.
	if _, _, err := e.userClient(rita).Issues.Edit(ctx, "acme", "site", first.GetNumber(), &github.IssueRequest{State: github.String("closed")}); errorStatus(err) != 403 {
		t.Errorf("a reader closing another's issue: %v, want 403", err)
	}
	closed, _, err := e.userClient(rita).Issues.Edit(ctx, "acme", "site", second.GetNumber(), &github.IssueRequest{State: github.String("closed")})
	if err != nil || closed.GetState() != "closed" || closed.ClosedAt == nil {
		t.Fatalf("closed %+v %v", closed, err)
	}
	d = e.gh.WaitForDelivery(func(d emulator.Delivery) bool { return d.Event == "issues" && d.Action == "closed" })
	var ie github.IssuesEvent
	if err := d.Decode(&ie); err != nil || ie.GetIssue().GetNumber() != second.GetNumber() || ie.GetIssue().GetState() != "closed" || ie.GetSender().GetLogin() != "rita" {
		t.Fatalf("issues closed %+v %v", ie, err)
	}
	if open, _, _ := alice.Issues.ListByRepo(ctx, "acme", "site", nil); len(open) != 1 {
		t.Fatalf("%d open issues after closing one, want 1", len(open))
	}
	if every, _, _ := alice.Issues.ListByRepo(ctx, "acme", "site", &github.IssueListByRepoOptions{State: "all"}); len(every) != 2 {
		t.Fatalf("%d issues in all, want 2", len(every))
	}
	if status, _, _ := e.do(e.alice, "GET", "/repos/acme/site/issues?state=shut", nil); status != 422 {
		t.Errorf("state=shut: %d, want 422", status)
	}

	// The owner edits the title and reopens.
	if _, _, err := alice.Issues.Edit(ctx, "acme", "site", second.GetNumber(), &github.IssueRequest{Title: github.String("Typo on the home page"), State: github.String("open")}); err != nil {
		t.Fatal(err)
	}
	e.gh.WaitForDelivery(func(d emulator.Delivery) bool { return d.Event == "issues" && d.Action == "reopened" })
	d = e.gh.WaitForDelivery(func(d emulator.Delivery) bool { return d.Event == "issues" && d.Action == "edited" })
	var changes struct {
		Changes struct {
			Title struct{ From string } `json:"title"`
		} `json:"changes"`
	}
	if err := d.Decode(&changes); err != nil || changes.Changes.Title.From != "Typo" {
		t.Fatalf("issues edited: %+v %v", changes, err)
	}
	if _, _, err := alice.Issues.Edit(ctx, "acme", "site", second.GetNumber(), &github.IssueRequest{State: github.String("shut")}); errorStatus(err) != 422 {
		t.Errorf("state shut: %v, want 422", err)
	}
}
