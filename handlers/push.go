package handlers

import (
	"context"
	"errors"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"
)

// PushHandler receives `push` events: a push to a branch or tag. Pushes
// drive most of hoist: the hoist/config check, promotions of candidates,
// tag rules (refs/tags/*) and publishing of environment branches.
type PushHandler struct{ Base }

var _ githubapp.EventHandler = &PushHandler{}

// NewPushHandler returns the `push` handler.
func NewPushHandler(d Deps) *PushHandler { return &PushHandler{Base{Deps: d}} }

// Handles lists the event this handler receives.
func (h *PushHandler) Handles() []string { return []string{"push"} }

// Handle parses the payload and hands it to Promotions and Editions; with
// neither it only logs the push.
func (h *PushHandler) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	ev, err := parseEvent[github.PushEvent](eventType, payload)
	if err != nil {
		return err
	}
	zerolog.Ctx(ctx).Debug().Str("ref", ev.GetRef()).Str("sha", ev.GetAfter()).Bool("created", ev.GetCreated()).Bool("deleted", ev.GetDeleted()).Msg("push received")
	var errs []error
	if h.Deps.Promotions != nil {
		errs = append(errs, h.Deps.Promotions.OnPush(ctx, ev))
	}
	if h.Deps.Editions != nil {
		errs = append(errs, h.Deps.Editions.OnPush(ctx, ev))
	}
	if h.Deps.Rollouts != nil {
		errs = append(errs, h.Deps.Rollouts.OnPush(ctx, ev))
	}
	return errors.Join(errs...)
}
