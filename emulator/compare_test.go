package emulator_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"
)

// TestComparePaginatesCommits holds the emulator to GitHub's "Compare two
// commits": without page/per_page at most 250 commits, the newest last;
// with them, pages oldest first with Link headers, files on page 1 only.
func TestComparePaginatesCommits(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	alice := e.userClient(e.alice)
	w := clone(t, e.gh.GitURL("acme/site", e.alice))
	w.commit("base", map[string]string{"index.html": "v1\n"})
	w.git("push", "-q", "origin", "HEAD:main")
	w.git("push", "-q", "origin", "HEAD:dev")
	head := e.gh.PushCommits("acme/site", e.alice, "dev", 300)

	cmp, resp, err := alice.Repositories.CompareCommits(ctx, "acme", "site", "main", "dev", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cmp.GetAheadBy() != 300 || cmp.GetTotalCommits() != 300 || len(cmp.Commits) != 250 {
		t.Fatalf("unpaged compare: ahead %d total %d commits %d, want 300 300 250", cmp.GetAheadBy(), cmp.GetTotalCommits(), len(cmp.Commits))
	}
	if last := cmp.Commits[249].GetSHA(); last != head {
		t.Errorf("unpaged compare ends at %s, want the newest %s", last, head)
	}
	if resp.NextPage != 0 || len(cmp.Files) != 1 {
		t.Errorf("unpaged compare: next page %d, %d files", resp.NextPage, len(cmp.Files))
	}

	var all []*github.RepositoryCommit
	opts := &github.ListOptions{PerPage: 100}
	pages := 0
	for {
		c, resp, err := alice.Repositories.CompareCommits(ctx, "acme", "site", "main", "dev", opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if opts.Page > 1 && len(c.Files) != 0 {
			t.Errorf("page %d lists %d files; GitHub shows them on page 1 only", opts.Page, len(c.Files))
		}
		all = append(all, c.Commits...)
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if pages != 3 || len(all) != 300 {
		t.Fatalf("paged compare: %d pages, %d commits, want 3 and 300", pages, len(all))
	}
	if all[0].GetCommit().GetMessage() != "change 1" || all[299].GetSHA() != head {
		t.Errorf("paged compare is not oldest first: %q … %s", all[0].GetCommit().GetMessage(), all[299].GetSHA())
	}
}

// TestCompareUnrelatedHistories: two histories without a merge base get
// GitHub's 404 "No common ancestor between …", which a client can tell
// from a missing ref.
func TestCompareUnrelatedHistories(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	alice := e.userClient(e.alice)
	w := clone(t, e.gh.GitURL("acme/site", e.alice))
	w.commit("base", map[string]string{"index.html": "v1\n"})
	w.git("push", "-q", "origin", "HEAD:main")
	e.gh.PushCommits("acme/site", e.alice, "other", 1) // a history of its own

	_, resp, err := alice.Repositories.CompareCommits(ctx, "acme", "site", "main", "other", nil)
	var er *github.ErrorResponse
	if resp == nil || resp.StatusCode != http.StatusNotFound || !errors.As(err, &er) || er.Message != "No common ancestor between main and other." {
		t.Fatalf("unrelated compare = %v, %v", resp, err)
	}
	_, resp, _ = alice.Repositories.CompareCommits(ctx, "acme", "site", "main", "nowhere", nil)
	if resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("compare with a missing ref = %v", resp)
	}
}

// A pull request of 300 commits lists 250 through pulls/{n}/commits, as
// GitHub documents; its commits count says 300.
func TestPullCommitsStopAt250(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	alice := e.userClient(e.alice)
	w := clone(t, e.gh.GitURL("acme/site", e.alice))
	w.commit("base", map[string]string{"index.html": "v1\n"})
	w.git("push", "-q", "origin", "HEAD:main", "HEAD:dev")
	e.gh.PushCommits("acme/site", e.alice, "dev", 300)
	pr, _, err := alice.PullRequests.Create(ctx, "acme", "site", &github.NewPullRequest{Title: github.String("Big"), Head: github.String("dev"), Base: github.String("main")})
	if err != nil {
		t.Fatal(err)
	}
	if pr.GetCommits() != 300 {
		t.Errorf("pull request commits = %d, want 300", pr.GetCommits())
	}
	var all []*github.RepositoryCommit
	opts := &github.ListOptions{PerPage: 100}
	for {
		cs, resp, err := alice.PullRequests.ListCommits(ctx, "acme", "site", pr.GetNumber(), opts)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, cs...)
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if len(all) != 250 || all[249].GetCommit().GetMessage() != "change 250" {
		t.Errorf("listed %d commits, want the oldest 250", len(all))
	}
}

// A pull request between unrelated histories is refused as GitHub does.
func TestPullBetweenUnrelatedHistoriesIsRefused(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	alice := e.userClient(e.alice)
	w := clone(t, e.gh.GitURL("acme/site", e.alice))
	w.commit("base", map[string]string{"index.html": "v1\n"})
	w.git("push", "-q", "origin", "HEAD:main")
	e.gh.PushCommits("acme/site", e.alice, "other", 1)
	_, resp, err := alice.PullRequests.Create(ctx, "acme", "site", &github.NewPullRequest{Title: github.String("x"), Head: github.String("other"), Base: github.String("main")})
	if resp == nil || resp.StatusCode != http.StatusUnprocessableEntity || err == nil || !strings.Contains(err.Error(), "The other branch has no history in common with main") {
		t.Fatalf("pull between unrelated histories = %v, %v", resp, err)
	}
}
