package gh

import (
	"context"
	"fmt"

	"github.com/google/go-github/v60/github"
)

// ClosePull closes a pull request without merging it.
func (r *Repo) ClosePull(ctx context.Context, number int) error {
	_, _, err := r.Client.PullRequests.Edit(ctx, r.Owner, r.Name, number, &github.PullRequest{State: github.String("closed")})
	if err != nil {
		return fmt.Errorf("close pull request #%d: %w", number, err)
	}
	return nil
}

// MergedInto returns the merged pull request into base whose merge put sha
// on base (its merge commit, or its head for a fast-forward or rebase), or
// nil when sha came by another way (a push).
func (r *Repo) MergedInto(ctx context.Context, sha, base string) (*PullRequest, error) {
	prs, _, err := r.Client.PullRequests.ListPullRequestsWithCommit(ctx, r.Owner, r.Name, sha, &github.ListOptions{PerPage: 100})
	if err != nil {
		return nil, fmt.Errorf("pull requests of %s: %w", short(sha), err)
	}
	for _, pr := range prs {
		p := toPull(pr)
		if p.Base == base && p.Merged && (p.MergeCommitSHA == sha || p.HeadSHA == sha) {
			return p, nil
		}
	}
	return nil, nil
}

// CompleteCheckRun creates a completed check run name on sha with the given
// conclusion. outputs come from checks.Output.Requests: the first goes with
// the create call, each later one (more annotations) with an update.
func (r *Repo) CompleteCheckRun(ctx context.Context, sha, name, conclusion, externalID string, outputs []*github.CheckRunOutput) (int64, error) {
	opts := github.CreateCheckRunOptions{Name: name, HeadSHA: sha, Status: github.String("completed"), Conclusion: github.String(conclusion)}
	if externalID != "" {
		opts.ExternalID = github.String(externalID)
	}
	if len(outputs) > 0 {
		opts.Output = outputs[0]
	}
	run, _, err := r.Client.Checks.CreateCheckRun(ctx, r.Owner, r.Name, opts)
	if err != nil {
		return 0, fmt.Errorf("check run %s on %s: %w", name, short(sha), err)
	}
	for _, out := range outputs[min(1, len(outputs)):] {
		if _, _, err := r.Client.Checks.UpdateCheckRun(ctx, r.Owner, r.Name, run.GetID(), github.UpdateCheckRunOptions{Name: name, Output: out}); err != nil {
			return run.GetID(), fmt.Errorf("check run %s on %s: annotations: %w", name, short(sha), err)
		}
	}
	return run.GetID(), nil
}

// AppSlug is the slug of the App an app-authenticated client belongs to:
// its bot account is "<slug>[bot]" (hoist's own pushes are sent by it) and
// its check runs carry the slug.
func AppSlug(ctx context.Context, app *github.Client) (string, error) {
	a, _, err := app.Apps.Get(ctx, "")
	if err != nil {
		return "", fmt.Errorf("read the app: %w", err)
	}
	if a.GetSlug() == "" {
		return "", fmt.Errorf("read the app: no slug")
	}
	return a.GetSlug(), nil
}
