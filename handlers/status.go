package handlers

import (
	"context"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"
)

// StatusHandler receives `status` events: a commit status changed, which
// may open a gate that waits on a legacy CI status.
type StatusHandler struct{ Base }

var _ githubapp.EventHandler = &StatusHandler{}

// NewStatusHandler returns the `status` handler.
func NewStatusHandler(d Deps) *StatusHandler { return &StatusHandler{Base{Deps: d}} }

// Handles lists the event this handler receives.
func (h *StatusHandler) Handles() []string { return []string{"status"} }

// Handle parses the payload and hands it to Promotions, which re-evaluates
// the gates of the commit; with none it only logs the status.
func (h *StatusHandler) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	ev, err := parseEvent[github.StatusEvent](eventType, payload)
	if err != nil {
		return err
	}
	zerolog.Ctx(ctx).Debug().Str("sha", ev.GetSHA()).Str("context", ev.GetContext()).Str("state", ev.GetState()).Msg("status received")
	if h.Deps.Promotions != nil {
		return h.Deps.Promotions.OnStatus(ctx, ev)
	}
	return nil
}
