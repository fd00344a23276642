package handlers

import (
	"context"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"
)

// PullRequestReviewHandler receives `pull_request_review` events: a review of a promotion pull request changes its approvals gate.
type PullRequestReviewHandler struct{ Base }

var _ githubapp.EventHandler = &PullRequestReviewHandler{}

// NewPullRequestReviewHandler returns the `pull_request_review` handler.
func NewPullRequestReviewHandler(d Deps) *PullRequestReviewHandler {
	return &PullRequestReviewHandler{Base{Deps: d}}
}

// Handles lists the event this handler receives.
func (h *PullRequestReviewHandler) Handles() []string { return []string{"pull_request_review"} }

// Handle parses the payload and hands it to the promotion pull requests.
func (h *PullRequestReviewHandler) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	ev, err := parseEvent[github.PullRequestReviewEvent](eventType, payload)
	if err != nil {
		return err
	}
	zerolog.Ctx(ctx).Debug().Str("action", ev.GetAction()).Int("number", ev.GetPullRequest().GetNumber()).Str("state", ev.GetReview().GetState()).Msg("pull_request_review received")
	if prs, ok := h.Deps.Promotions.(PullRequests); ok {
		return prs.OnPullRequestReview(ctx, ev)
	}
	return nil
}
