package handlers

import (
	"context"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"
)

// DeleteHandler receives `delete` events: a branch or tag was deleted. A
// deleted branch's edition is removed after its grace period.
type DeleteHandler struct{ Base }

var _ githubapp.EventHandler = &DeleteHandler{}

// NewDeleteHandler returns the `delete` handler.
func NewDeleteHandler(d Deps) *DeleteHandler { return &DeleteHandler{Base{Deps: d}} }

// Handles lists the event this handler receives.
func (h *DeleteHandler) Handles() []string { return []string{"delete"} }

// Handle parses the payload, so a malformed one fails the delivery, and
// hands it to Editions.
func (h *DeleteHandler) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	ev, err := parseEvent[github.DeleteEvent](eventType, payload)
	if err != nil {
		return err
	}
	zerolog.Ctx(ctx).Debug().Str("ref_type", ev.GetRefType()).Str("ref", ev.GetRef()).Msg("delete received")
	if h.Deps.Editions != nil {
		return h.Deps.Editions.OnDelete(ctx, ev)
	}
	return nil
}
