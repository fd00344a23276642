package emulator_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/emulator"
)

// userClient is go-github, unmodified, with the enterprise base URL (it
// appends /api/v3/).
func (e *env) userClient(token string) *github.Client { return e.gh.Client(token) }

// appClient authenticates as the installation through ghinstallation.
func (e *env) appClient() *github.Client { return e.gh.InstallationClient(e.app, e.inst) }

func TestPullRequestsCommentsAndReviewsWithGoGitHub(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	bob := e.gh.CreateUser("bob")
	alice := e.userClient(e.alice)
	if _, _, err := alice.Repositories.AddCollaborator(ctx, "acme", "site", "bob", &github.RepositoryAddCollaboratorOptions{Permission: "maintain"}); err != nil {
		t.Fatal(err)
	}
	w := clone(t, e.gh.GitURL("acme/site", e.alice))
	w.commit("base", map[string]string{"public/index.html": "v1\n"})
	w.git("push", "-q", "origin", "HEAD:main")
	w.git("checkout", "-q", "-b", "dev")
	head := w.commit("change", map[string]string{"public/index.html": "v2\n", "public/new.html": "n\n"})
	w.git("push", "-q", "origin", "dev")

	pr, _, err := alice.PullRequests.Create(ctx, "acme", "site", &github.NewPullRequest{Title: github.String("Promote dev"), Head: github.String("dev"), Base: github.String("main")})
	if err != nil {
		t.Fatal(err)
	}
	if pr.GetNumber() != 1 || pr.GetHead().GetSHA() != head || pr.GetMergeable() != true {
		t.Errorf("pull = %d head %s mergeable %v", pr.GetNumber(), pr.GetHead().GetSHA(), pr.GetMergeable())
	}
	e.gh.WaitForDelivery(func(d emulator.Delivery) bool { return d.Event == "pull_request" && d.Action == "opened" })
	if _, _, err := alice.PullRequests.Create(ctx, "acme", "site", &github.NewPullRequest{Title: github.String("again"), Head: github.String("dev"), Base: github.String("main")}); err == nil {
		t.Error("a second pull for the same head was accepted")
	}
	files, _, err := alice.PullRequests.ListFiles(ctx, "acme", "site", 1, nil)
	if err != nil || len(files) != 2 {
		t.Fatalf("files = %v, %v", files, err)
	}
	commits, _, err := alice.PullRequests.ListCommits(ctx, "acme", "site", 1, nil)
	if err != nil || len(commits) != 1 {
		t.Fatalf("commits = %v, %v", commits, err)
	}
	assoc, _, err := alice.PullRequests.ListPullRequestsWithCommit(ctx, "acme", "site", head, nil)
	if err != nil || len(assoc) != 1 {
		t.Fatalf("pulls with commit = %v, %v", assoc, err)
	}
	if list, _, err := alice.PullRequests.List(ctx, "acme", "site", nil); err != nil || len(list) != 1 {
		t.Fatalf("list = %v, %v", list, err)
	}
	if _, _, err := alice.PullRequests.Edit(ctx, "acme", "site", 1, &github.PullRequest{Body: github.String("changelog")}); err != nil {
		t.Fatal(err)
	}

	// Bob comments: issue_comment created with bob as sender; editing sends edited.
	bc := e.userClient(bob)
	cm, _, err := bc.Issues.CreateComment(ctx, "acme", "site", 1, &github.IssueComment{Body: github.String("/promote")})
	if err != nil {
		t.Fatal(err)
	}
	d := e.gh.WaitForDelivery(func(d emulator.Delivery) bool { return d.Event == "issue_comment" && d.Action == "created" })
	var ic struct {
		Sender  struct{ Login string }
		Comment struct{ Body string }
		Issue   struct {
			Number      int
			PullRequest map[string]any `json:"pull_request"`
		}
	}
	d.Decode(&ic)
	if ic.Sender.Login != "bob" || ic.Comment.Body != "/promote" || ic.Issue.Number != 1 || ic.Issue.PullRequest == nil {
		t.Errorf("issue_comment = %+v", ic)
	}
	if _, _, err := bc.Issues.EditComment(ctx, "acme", "site", cm.GetID(), &github.IssueComment{Body: github.String("/promote staging")}); err != nil {
		t.Fatal(err)
	}
	e.gh.WaitForDelivery(func(d emulator.Delivery) bool { return d.Event == "issue_comment" && d.Action == "edited" })
	// The app reacts and replies with its installation token.
	app := e.appClient()
	r1, resp, err := app.Reactions.CreateIssueCommentReaction(ctx, "acme", "site", cm.GetID(), "eyes")
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("reaction: %v %v", resp, err)
	}
	if _, resp, _ := app.Reactions.CreateIssueCommentReaction(ctx, "acme", "site", cm.GetID(), "eyes"); resp.StatusCode != 200 {
		t.Errorf("repeated reaction answered %d, want 200", resp.StatusCode)
	}
	reply, _, err := app.Issues.CreateComment(ctx, "acme", "site", 1, &github.IssueComment{Body: github.String("Promoted.")})
	if err != nil {
		t.Fatal(err)
	}
	if reply.GetUser().GetLogin() != "hoist[bot]" || reply.GetUser().GetType() != "Bot" {
		t.Errorf("reply by %q (%s)", reply.GetUser().GetLogin(), reply.GetUser().GetType())
	}
	reacts, _, err := alice.Reactions.ListIssueCommentReactions(ctx, "acme", "site", cm.GetID(), nil)
	if err != nil || len(reacts) != 1 || reacts[0].GetContent() != "eyes" {
		t.Errorf("reactions = %v %v", reacts, err)
	}
	if _, err := app.Reactions.DeleteIssueCommentReaction(ctx, "acme", "site", cm.GetID(), r1.GetID()); err != nil {
		t.Error(err)
	}
	if _, _, err := alice.Reactions.CreateIssueReaction(ctx, "acme", "site", 1, "rocket"); err != nil {
		t.Fatal(err)
	}
	ir, _, _ := alice.Reactions.ListIssueReactions(ctx, "acme", "site", 1, nil)
	if len(ir) != 1 {
		t.Errorf("issue reactions = %v", ir)
	}
	alice.Reactions.DeleteIssueReaction(ctx, "acme", "site", 1, ir[0].GetID())
	if cs, _, err := alice.Issues.ListComments(ctx, "acme", "site", 1, nil); err != nil || len(cs) != 2 {
		t.Errorf("comments = %d %v", len(cs), err)
	}
	if cs, _, err := alice.Issues.ListComments(ctx, "acme", "site", 0, nil); err != nil || len(cs) != 2 {
		t.Errorf("repo comments = %d %v", len(cs), err)
	}
	if _, _, err := alice.Issues.GetComment(ctx, "acme", "site", cm.GetID()); err != nil {
		t.Error(err)
	}
	if _, _, err := alice.Issues.Get(ctx, "acme", "site", 1); err != nil {
		t.Error(err)
	}
	if _, _, err := alice.Issues.AddLabelsToIssue(ctx, "acme", "site", 1, []string{"promotion"}); err != nil {
		t.Error(err)
	}
	if _, err := app.Issues.DeleteComment(ctx, "acme", "site", reply.GetID()); err != nil {
		t.Error(err)
	}
	e.gh.WaitForDelivery(func(d emulator.Delivery) bool { return d.Event == "issue_comment" && d.Action == "deleted" })

	// Approvals: the author cannot approve; bob can.
	if _, _, err := alice.PullRequests.CreateReview(ctx, "acme", "site", 1, &github.PullRequestReviewRequest{Event: github.String("APPROVE")}); err == nil {
		t.Error("the author approved their own pull request")
	}
	if _, _, err := bc.PullRequests.CreateReview(ctx, "acme", "site", 1, &github.PullRequestReviewRequest{Event: github.String("APPROVE")}); err != nil {
		t.Fatal(err)
	}
	reviews, _, err := alice.PullRequests.ListReviews(ctx, "acme", "site", 1, nil)
	if err != nil || len(reviews) != 1 || reviews[0].GetState() != "APPROVED" || reviews[0].GetUser().GetLogin() != "bob" {
		t.Errorf("reviews = %v %v", reviews, err)
	}
	// A dismissed approval turns DISMISSED where it stands; a comment
	// cannot be dismissed.
	if len(reviews) == 1 {
		dismissed, _, err := alice.PullRequests.DismissReview(ctx, "acme", "site", 1, reviews[0].GetID(), &github.PullRequestReviewDismissalRequest{Message: github.String("outdated")})
		if err != nil || dismissed.GetState() != "DISMISSED" {
			t.Errorf("dismiss = %v %v", dismissed, err)
		}
		e.gh.WaitForDelivery(func(d emulator.Delivery) bool { return d.Event == "pull_request_review" && d.Action == "dismissed" })
		comment, _, err := bc.PullRequests.CreateReview(ctx, "acme", "site", 1, &github.PullRequestReviewRequest{Event: github.String("COMMENT"), Body: github.String("nit")})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := alice.PullRequests.DismissReview(ctx, "acme", "site", 1, comment.GetID(), &github.PullRequestReviewDismissalRequest{Message: github.String("x")}); err == nil {
			t.Error("a comment review was dismissed")
		}
		if _, _, err := bc.PullRequests.CreateReview(ctx, "acme", "site", 1, &github.PullRequestReviewRequest{Event: github.String("APPROVE")}); err != nil {
			t.Fatal(err)
		}
		if reviews, _, _ = alice.PullRequests.ListReviews(ctx, "acme", "site", 1, nil); len(reviews) != 3 || reviews[0].GetState() != "DISMISSED" || reviews[2].GetState() != "APPROVED" {
			t.Errorf("reviews after the dismissal = %v", reviews)
		}
	}

	// Merge with a stale sha is refused; with the right one it makes a merge commit.
	if _, _, err := bc.PullRequests.Merge(ctx, "acme", "site", 1, "", &github.PullRequestOptions{SHA: strings.Repeat("a", 40)}); err == nil {
		t.Error("merge with a stale head sha succeeded")
	}
	if merged, _, _ := alice.PullRequests.IsMerged(ctx, "acme", "site", 1); merged {
		t.Error("IsMerged before merging")
	}
	res, _, err := bc.PullRequests.Merge(ctx, "acme", "site", 1, "", &github.PullRequestOptions{SHA: head, MergeMethod: "merge"})
	if err != nil || !res.GetMerged() {
		t.Fatalf("merge: %v %v", res, err)
	}
	mc, _, err := alice.Git.GetCommit(ctx, "acme", "site", res.GetSHA())
	if err != nil || len(mc.Parents) != 2 || mc.Parents[1].GetSHA() != head {
		t.Fatalf("merge commit = %v %v", mc, err)
	}
	d = e.gh.WaitForDelivery(func(d emulator.Delivery) bool { return d.Event == "pull_request" && d.Action == "closed" })
	var closed struct {
		PullRequest struct {
			Merged         bool
			MergeCommitSHA string `json:"merge_commit_sha"`
		} `json:"pull_request"`
		Sender struct{ Login string }
	}
	d.Decode(&closed)
	if !closed.PullRequest.Merged || closed.PullRequest.MergeCommitSHA != res.GetSHA() || closed.Sender.Login != "bob" {
		t.Errorf("closed = %+v", closed)
	}
	if merged, _, _ := alice.PullRequests.IsMerged(ctx, "acme", "site", 1); !merged {
		t.Error("IsMerged after merging")
	}
	got, _, err := alice.PullRequests.Get(ctx, "acme", "site", 1)
	if err != nil || !got.GetMerged() || got.GetState() != "closed" || got.GetMergedBy().GetLogin() != "bob" {
		t.Errorf("after merge: %v %v", got, err)
	}

	// The merges API and the git data API.
	base, _, _ := alice.Git.GetRef(ctx, "acme", "site", "heads/main")
	blob, _, err := alice.Git.CreateBlob(ctx, "acme", "site", &github.Blob{Content: github.String("hi"), Encoding: github.String("utf-8")})
	if err != nil {
		t.Fatal(err)
	}
	baseCommit, _, _ := alice.Git.GetCommit(ctx, "acme", "site", base.GetObject().GetSHA())
	tree, _, err := alice.Git.CreateTree(ctx, "acme", "site", baseCommit.GetTree().GetSHA(), []*github.TreeEntry{
		{Path: github.String("public/hi.txt"), Mode: github.String("100644"), Type: github.String("blob"), SHA: blob.SHA},
		{Path: github.String("docs/x.md"), Mode: github.String("100644"), Type: github.String("blob"), Content: github.String("# x")},
	})
	if err != nil {
		t.Fatal(err)
	}
	nc, _, err := alice.Git.CreateCommit(ctx, "acme", "site", &github.Commit{Message: github.String("api commit"), Tree: tree, Parents: []*github.Commit{{SHA: base.GetObject().SHA}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := alice.Git.CreateRef(ctx, "acme", "site", &github.Reference{Ref: github.String("refs/heads/api"), Object: &github.GitObject{SHA: nc.SHA}}); err != nil {
		t.Fatal(err)
	}
	tag, _, err := alice.Git.CreateTag(ctx, "acme", "site", &github.Tag{Tag: github.String("v1"), Message: github.String("release"), Object: &github.GitObject{SHA: nc.SHA, Type: github.String("commit")}})
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := alice.Git.GetTag(ctx, "acme", "site", tag.GetSHA()); err != nil || got.GetTag() != "v1" {
		t.Errorf("tag = %v %v", got, err)
	}
	if _, _, err := alice.Git.GetBlob(ctx, "acme", "site", blob.GetSHA()); err != nil {
		t.Error(err)
	}
	m, resp, err := alice.Repositories.Merge(ctx, "acme", "site", &github.RepositoryMergeRequest{Base: github.String("main"), Head: github.String("api")})
	if err != nil || resp.StatusCode != 201 || len(m.Parents) != 2 {
		t.Fatalf("merges: %v %v", resp, err)
	}
	if _, resp, _ := alice.Repositories.Merge(ctx, "acme", "site", &github.RepositoryMergeRequest{Base: github.String("main"), Head: github.String("api")}); resp.StatusCode != 204 {
		t.Errorf("merging again answered %d, want 204", resp.StatusCode)
	}
	cmp, _, err := alice.Repositories.CompareCommits(ctx, "acme", "site", "api", "main", nil)
	if err != nil || cmp.GetStatus() != "ahead" || cmp.GetAheadBy() != 1 {
		t.Errorf("compare = %v %v", cmp.GetStatus(), err)
	}

	// Closing and reopening a second pull request.
	w.git("checkout", "-q", "-b", "other", "origin/main")
	w.git("pull", "-q", "origin", "main")
	w.commit("other", map[string]string{"o": "o"})
	w.git("push", "-q", "origin", "other")
	p2, _, err := alice.PullRequests.Create(ctx, "acme", "site", &github.NewPullRequest{Title: github.String("two"), Head: github.String("other"), Base: github.String("main")})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := alice.Repositories.CreateFile(ctx, "acme", "site", "later.txt", &github.RepositoryContentFileOptions{Message: github.String("later"), Content: []byte("l")}); err != nil {
		t.Fatal(err)
	}
	if _, resp, _ := alice.PullRequests.UpdateBranch(ctx, "acme", "site", p2.GetNumber(), nil); resp == nil || resp.StatusCode != 202 {
		t.Fatalf("update-branch: %v", resp)
	}
	e.gh.WaitForDelivery(func(d emulator.Delivery) bool { return d.Event == "pull_request" && d.Action == "synchronize" })
	if _, resp, _ := alice.PullRequests.UpdateBranch(ctx, "acme", "site", p2.GetNumber(), nil); resp.StatusCode != 422 {
		t.Errorf("second update-branch: %d, want 422", resp.StatusCode)
	}
	alice.PullRequests.Edit(ctx, "acme", "site", p2.GetNumber(), &github.PullRequest{State: github.String("closed")})
	e.gh.WaitForDelivery(func(d emulator.Delivery) bool {
		return d.Event == "pull_request" && d.Action == "closed" && !strings.Contains(string(d.Payload), `"merged":true`)
	})
}

func TestArchivesAndCommitSHA(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	_, sha := seed(t, e)
	alice := e.userClient(e.alice)
	got, _, err := alice.Repositories.GetCommitSHA1(ctx, "acme", "site", "main", "")
	if err != nil || got != sha {
		t.Fatalf("GetCommitSHA1 = %q %v", got, err)
	}
	for _, format := range []github.ArchiveFormat{github.Tarball, github.Zipball} {
		link, resp, err := alice.Repositories.GetArchiveLink(ctx, "acme", "site", format, &github.RepositoryContentGetOptions{Ref: "main"}, 0)
		if err != nil || resp.StatusCode != 302 {
			t.Fatalf("%s link: %v %v", format, resp, err)
		}
		r, err := http.Get(link.String()) // no Authorization: the link carries a short-lived token
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != 200 || len(body) < 100 {
			t.Fatalf("%s download: %d, %d bytes", format, r.StatusCode, len(body))
		}
		if format == github.Tarball {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			tr := tar.NewReader(zr)
			found := false
			for {
				h, err := tr.Next()
				if err != nil {
					break
				}
				if strings.HasSuffix(h.Name, "/public/index.html") && strings.HasPrefix(h.Name, "acme-site-"+sha[:7]+"/") {
					found = true
				}
			}
			if !found {
				t.Error("public/index.html not in the tarball")
			}
		}
		dl := link.Query().Get("token")
		if status, _, _ := e.do(dl, "GET", "/repos/acme/site", nil); status != 401 {
			t.Errorf("download token used on the API: %d", status)
		}
		noToken := strings.Split(link.String(), "?")[0]
		if r, _ := http.Get(noToken); r.StatusCode != 401 && r.StatusCode != 404 {
			t.Errorf("download without the token: %d", r.StatusCode)
		}
	}
}
