package handlers

import (
	"context"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"
)

// IssueCommentHandler receives `issue_comment` events: a comment on an issue or pull request: slash-commands.
type IssueCommentHandler struct{ Base }

var _ githubapp.EventHandler = &IssueCommentHandler{}

// NewIssueCommentHandler returns the `issue_comment` handler.
func NewIssueCommentHandler(d Deps) *IssueCommentHandler { return &IssueCommentHandler{Base{Deps: d}} }

// Handles lists the event this handler receives.
func (h *IssueCommentHandler) Handles() []string { return []string{"issue_comment"} }

// Handle parses the payload and hands the comment to the commands core,
// which decides whether it acts (only new comments by people on pull
// requests do).
func (h *IssueCommentHandler) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	ev, err := parseEvent[github.IssueCommentEvent](eventType, payload)
	if err != nil {
		return err
	}
	zerolog.Ctx(ctx).Debug().Str("action", ev.GetAction()).Int("number", ev.GetIssue().GetNumber()).Bool("pull_request", ev.GetIssue().IsPullRequest()).Str("sender", ev.GetSender().GetLogin()).Msg("issue_comment received")
	if h.Deps.Commands != nil {
		return h.Deps.Commands.OnIssueComment(ctx, ev, deliveryID)
	}
	return nil
}
