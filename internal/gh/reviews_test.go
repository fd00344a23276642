package gh_test

import (
	"context"
	"testing"

	"github.com/google/go-github/v60/github"
)

// openPull opens a pull request feature → main with one commit of its own.
func (w *configWorld) openPull() *github.PullRequest {
	w.t.Helper()
	ctx := context.Background()
	main, _, err := w.alice.Git.GetRef(ctx, "acme", "site", "heads/main")
	if err != nil {
		w.t.Fatal(err)
	}
	if _, _, err := w.alice.Git.CreateRef(ctx, "acme", "site", &github.Reference{Ref: github.String("refs/heads/feature"), Object: main.Object}); err != nil {
		w.t.Fatal(err)
	}
	if _, _, err := w.alice.Repositories.CreateFile(ctx, "acme", "site", "feature.txt", &github.RepositoryContentFileOptions{
		Message: github.String("Feature"), Content: []byte("feature\n"), Branch: github.String("feature")}); err != nil {
		w.t.Fatal(err)
	}
	pr, _, err := w.alice.PullRequests.Create(ctx, "acme", "site", &github.NewPullRequest{
		Title: github.String("Feature"), Head: github.String("feature"), Base: github.String("main")})
	if err != nil {
		w.t.Fatal(err)
	}
	return pr
}

// A pull request with more reviews than one page holds: the approval at
// the end is read, and a dismissed review reads as DISMISSED where it was.
func TestReviewsReadsEveryPage(t *testing.T) {
	w := startConfigWorld(t, true)
	ctx := context.Background()
	pr := w.openPull()
	bobTok := w.gh.CreateUser("bob")
	if _, _, err := w.alice.Repositories.AddCollaborator(ctx, "acme", "site", "bob", &github.RepositoryAddCollaboratorOptions{Permission: "push"}); err != nil {
		t.Fatal(err)
	}
	bob := w.gh.Client(bobTok)
	first, _, err := bob.PullRequests.CreateReview(ctx, "acme", "site", pr.GetNumber(), &github.PullRequestReviewRequest{Event: github.String("APPROVE")})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 120; i++ {
		if _, _, err := bob.PullRequests.CreateReview(ctx, "acme", "site", pr.GetNumber(), &github.PullRequestReviewRequest{
			Event: github.String("COMMENT"), Body: github.String("a remark")}); err != nil {
			t.Fatal(err)
		}
	}
	last, _, err := bob.PullRequests.CreateReview(ctx, "acme", "site", pr.GetNumber(), &github.PullRequestReviewRequest{Event: github.String("APPROVE")})
	if err != nil {
		t.Fatal(err)
	}
	dismissed, _, err := w.alice.PullRequests.DismissReview(ctx, "acme", "site", pr.GetNumber(), first.GetID(), &github.PullRequestReviewDismissalRequest{Message: github.String("stale")})
	if err != nil || dismissed.GetState() != "DISMISSED" {
		t.Fatalf("dismiss: %v %+v", err, dismissed)
	}
	// Only an approval or a request for changes can be dismissed.
	if _, _, err := w.alice.PullRequests.DismissReview(ctx, "acme", "site", pr.GetNumber(), first.GetID()+1, &github.PullRequestReviewDismissalRequest{Message: github.String("x")}); err == nil {
		t.Error("a comment was dismissed")
	}
	reviews, err := w.repo.Reviews(ctx, pr.GetNumber())
	if err != nil {
		t.Fatal(err)
	}
	if len(reviews) != 122 {
		t.Fatalf("%d reviews read, want 122", len(reviews))
	}
	if reviews[0].State != "DISMISSED" || reviews[121].State != "APPROVED" || reviews[121].User != "bob" || reviews[121].SHA != last.GetCommitID() {
		t.Errorf("first %+v, last %+v", reviews[0], reviews[121])
	}
}

// Checks name who reported each result: the app of a check run, the
// creator of a commit status.
func TestChecksNameTheirReporters(t *testing.T) {
	w := startConfigWorld(t, true)
	ctx := context.Background()
	sha := w.put("site", "index.html", "<h1>hi</h1>")
	if _, _, err := w.alice.Repositories.CreateStatus(ctx, "acme", "site", sha, &github.RepoStatus{State: github.String("success"), Context: github.String("ci / test")}); err != nil {
		t.Fatal(err)
	}
	imp := w.gh.CreateApp("impostor", "")
	inst := w.gh.Install(imp.ID, "acme/site")
	if _, _, err := w.gh.InstallationClient(imp, inst).Checks.CreateCheckRun(ctx, "acme", "site", github.CreateCheckRunOptions{
		Name: "ci / test", HeadSHA: sha, Status: github.String("completed"), Conclusion: github.String("success")}); err != nil {
		t.Fatal(err)
	}
	checks, err := w.repo.Checks(ctx, sha)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, c := range checks {
		seen[c.Source] = c.AppSlug + c.Creator
	}
	if seen["status"] != "alice" || seen["check_run"] != "impostor" {
		t.Errorf("reporters %v, want the status by alice and the run by impostor", seen)
	}
}

// A custom repository role counts by its base role: role_name names the
// custom role, which says nothing of what it may do.
func TestPermissionOfACustomRoleIsItsBase(t *testing.T) {
	w := startConfigWorld(t, true)
	ctx := context.Background()
	for _, r := range []struct{ name, base string }{{"deployer", "write"}, {"auditor", "read"}, {"release-manager", "maintain"}} {
		if err := w.gh.SetCustomRole("acme", r.name, r.base); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ login, role, want string }{
		{"dora", "deployer", "write"}, {"rex", "auditor", "read"}, {"tess", "triage", "triage"}, {"mia", "maintain", "maintain"},
		// The legacy permission field folds maintain into write.
		{"rm", "release-manager", "write"},
	} {
		w.gh.CreateUser(c.login)
		if _, _, err := w.alice.Repositories.AddCollaborator(ctx, "acme", "site", c.login, &github.RepositoryAddCollaboratorOptions{Permission: c.role}); err != nil {
			t.Fatal(err)
		}
		got, err := w.repo.Permission(ctx, c.login)
		if err != nil || got != c.want {
			t.Errorf("permission of %s (%s) = %q %v, want %q", c.login, c.role, got, err, c.want)
		}
	}
	if got, err := w.repo.Permission(ctx, "nobody-at-all"); err != nil || got != "none" {
		t.Errorf("permission of an unknown user = %q %v, want none", got, err)
	}
}
