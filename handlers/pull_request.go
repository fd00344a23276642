package handlers

import (
	"context"
	"errors"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"
)

// PullRequests is the part of the core that keeps promotion pull requests
// (internal/promotion implements it); the Promotions dependency provides it when
// it implements it too.
type PullRequests interface {
	OnPullRequest(ctx context.Context, ev *github.PullRequestEvent) error
	OnPullRequestReview(ctx context.Context, ev *github.PullRequestReviewEvent) error
}

// PullRequestHandler receives `pull_request` events: pull request changes: promotion PRs merged or closed, PRs to test.
type PullRequestHandler struct{ Base }

var _ githubapp.EventHandler = &PullRequestHandler{}

// NewPullRequestHandler returns the `pull_request` handler.
func NewPullRequestHandler(d Deps) *PullRequestHandler { return &PullRequestHandler{Base{Deps: d}} }

// Handles lists the event this handler receives.
func (h *PullRequestHandler) Handles() []string { return []string{"pull_request"} }

// Handle parses the payload and hands it to the promotion pull requests
// and the editions.
func (h *PullRequestHandler) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	ev, err := parseEvent[github.PullRequestEvent](eventType, payload)
	if err != nil {
		return err
	}
	zerolog.Ctx(ctx).Debug().Str("action", ev.GetAction()).Int("number", ev.GetNumber()).Str("sha", ev.GetPullRequest().GetHead().GetSHA()).Bool("merged", ev.GetPullRequest().GetMerged()).Msg("pull_request received")
	var errs []error
	if prs, ok := h.Deps.Promotions.(PullRequests); ok {
		errs = append(errs, prs.OnPullRequest(ctx, ev))
	}
	if h.Deps.Editions != nil {
		errs = append(errs, h.Deps.Editions.OnPullRequest(ctx, ev))
	}
	return errors.Join(errs...)
}
