package handlers

import (
	"context"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"
)

// CreateHandler receives `create` events: a branch or tag was created.
// Nothing acts on them: GitHub also sends a push for every new ref, and tag
// rules (web-*) run from that push, so acting here would act twice.
type CreateHandler struct{ Base }

var _ githubapp.EventHandler = &CreateHandler{}

// NewCreateHandler returns the `create` handler.
func NewCreateHandler(d Deps) *CreateHandler { return &CreateHandler{Base{Deps: d}} }

// Handles lists the event this handler receives.
func (h *CreateHandler) Handles() []string { return []string{"create"} }

// Handle parses the payload, so a malformed one fails the delivery, and
// logs it at debug level.
func (h *CreateHandler) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	ev, err := parseEvent[github.CreateEvent](eventType, payload)
	if err != nil {
		return err
	}
	zerolog.Ctx(ctx).Debug().Str("ref_type", ev.GetRefType()).Str("ref", ev.GetRef()).Msg("create received")
	return nil
}
