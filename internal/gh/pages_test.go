package gh_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/internal/gh"
)

// A promotion of 300 commits is read whole: compare pages past the 250 a
// bare request shows, oldest first, ending at the head.
func TestCompareReadsEveryPage(t *testing.T) {
	w := startConfigWorld(t, true)
	ctx := context.Background()
	main, err := w.repo.BranchHead(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.alice.Git.CreateRef(ctx, "acme", "site", &github.Reference{Ref: github.String("refs/heads/dev"), Object: &github.GitObject{SHA: github.String(main)}}); err != nil {
		t.Fatal(err)
	}
	head := w.gh.PushCommits("acme/site", w.tok, "dev", 300)
	cmp, err := w.repo.Compare(ctx, "main", "dev")
	if err != nil {
		t.Fatal(err)
	}
	if cmp.Status != "ahead" || cmp.AheadBy != 300 || len(cmp.Commits) != 300 || cmp.Truncated {
		t.Fatalf("compare: %s ahead %d, %d commits, truncated %v; want ahead 300, 300 commits", cmp.Status, cmp.AheadBy, len(cmp.Commits), cmp.Truncated)
	}
	if cmp.Commits[0].Subject != "change 1" || cmp.Commits[299].SHA != head {
		t.Errorf("commits run %q … %s, want change 1 … %s", cmp.Commits[0].Subject, cmp.Commits[299].SHA, head)
	}
	if st, err := w.repo.CompareStatus(ctx, "main", "dev"); err != nil || st != "ahead" {
		t.Errorf("compare status = %q, %v", st, err)
	}
}

// Two histories with no common commit are ErrUnrelated, not a missing
// ref and not a failure to retry.
func TestCompareUnrelatedIsErrUnrelated(t *testing.T) {
	w := startConfigWorld(t, true)
	ctx := context.Background()
	w.gh.PushCommits("acme/site", w.tok, "orphan", 2)
	if _, err := w.repo.Compare(ctx, "main", "orphan"); !errors.Is(err, gh.ErrUnrelated) {
		t.Errorf("compare of unrelated histories = %v, want ErrUnrelated", err)
	}
	if _, err := w.repo.CompareStatus(ctx, "orphan", "main"); !errors.Is(err, gh.ErrUnrelated) {
		t.Errorf("compare status of unrelated histories = %v, want ErrUnrelated", err)
	}
	if _, err := w.repo.Compare(ctx, "main", "nowhere"); err == nil || errors.Is(err, gh.ErrUnrelated) {
		t.Errorf("compare with a missing ref = %v, want an error other than ErrUnrelated", err)
	}
}

// Check runs, workflow-free: more check runs than a page holds are all
// read by Checks and CheckURLs; Deployments pages up to its limit.
func TestChecksAndDeploymentsReadEveryPage(t *testing.T) {
	w := startConfigWorld(t, true)
	ctx := context.Background()
	sha, err := w.repo.BranchHead(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 130; i++ {
		if _, err := w.repo.CompleteCheckRun(ctx, sha, fmt.Sprintf("check %03d", i), "success", "", nil); err != nil {
			t.Fatal(err)
		}
	}
	checks, err := w.repo.Checks(ctx, sha)
	if err != nil {
		t.Fatal(err)
	}
	if len(checks) != 130 {
		t.Errorf("Checks read %d check runs, want 130", len(checks))
	}
	urls, err := w.repo.CheckURLs(ctx, sha)
	if err != nil {
		t.Fatal(err)
	}
	if len(urls) != 130 {
		t.Errorf("CheckURLs read %d check runs, want 130", len(urls))
	}
	for i := 0; i < 105; i++ {
		if _, err := w.repo.CreateDeployment(ctx, sha, "staging", "deploy", false, nil); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := w.repo.Deployments(ctx, "staging", 103)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 103 {
		t.Errorf("Deployments read %d, want 103", len(ds))
	}
}
