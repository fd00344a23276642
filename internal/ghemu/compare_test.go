package ghemu_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"
)

// commitMany adds n commits on top of HEAD of w's current branch with one
// git fast-import (one process, not n), and returns the new head.
func commitMany(t *testing.T, w *work, n int) string {
	t.Helper()
	branch := w.git("symbolic-ref", "HEAD")
	parent := w.git("rev-parse", "HEAD")
	var b strings.Builder
	for i := 1; i <= n; i++ {
		msg := fmt.Sprintf("change %d", i)
		fmt.Fprintf(&b, "commit %s\ncommitter Alice <alice@example.com> %d +0000\ndata %d\n%s\n", branch, 1700000000+i, len(msg), msg)
		if i == 1 {
			fmt.Fprintf(&b, "from %s\n", parent)
		}
		body := fmt.Sprintf("%d\n", i)
		fmt.Fprintf(&b, "M 644 inline n.txt\ndata %d\n%s\n", len(body), body)
	}
	cmd := exec.Command("git", "fast-import", "--quiet", "--force")
	cmd.Dir = w.dir
	cmd.Stdin = strings.NewReader(b.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("fast-import: %v\n%s", err, out)
	}
	w.git("reset", "-q", "--hard")
	return w.git("rev-parse", "HEAD")
}

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
	w.git("checkout", "-q", "-b", "dev")
	head := commitMany(t, w, 300)
	w.git("push", "-q", "origin", "dev")

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
	w.git("checkout", "-q", "--orphan", "other")
	w.commit("unrelated", map[string]string{"index.html": "other\n"})
	w.git("push", "-q", "origin", "other")

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
