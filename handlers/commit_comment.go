package handlers

import (
	"context"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"
)

// CommitCommentHandler receives `commit_comment` events: a comment on a
// commit: slash-commands, as in issue comments.
type CommitCommentHandler struct{ Base }

var _ githubapp.EventHandler = &CommitCommentHandler{}

// NewCommitCommentHandler returns the `commit_comment` handler.
func NewCommitCommentHandler(d Deps) *CommitCommentHandler {
	return &CommitCommentHandler{Base{Deps: d}}
}

// Handles lists the event this handler receives.
func (h *CommitCommentHandler) Handles() []string { return []string{"commit_comment"} }

// Handle parses the payload and hands the comment to the commands core.
func (h *CommitCommentHandler) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	ev, err := parseEvent[github.CommitCommentEvent](eventType, payload)
	if err != nil {
		return err
	}
	zerolog.Ctx(ctx).Debug().Str("action", ev.GetAction()).Str("sha", ev.GetComment().GetCommitID()).Str("sender", ev.GetSender().GetLogin()).Msg("commit_comment received")
	if h.Deps.Commands != nil {
		return h.Deps.Commands.OnCommitComment(ctx, ev, deliveryID)
	}
	return nil
}
