package handlers

import (
	"context"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"
)

// RepositoryDispatchHandler receives `repository_dispatch` events: a repository_dispatch: content changes that regenerate a site.
type RepositoryDispatchHandler struct{ Base }

var _ githubapp.EventHandler = &RepositoryDispatchHandler{}

// NewRepositoryDispatchHandler returns the `repository_dispatch` handler.
func NewRepositoryDispatchHandler(d Deps) *RepositoryDispatchHandler {
	return &RepositoryDispatchHandler{Base{Deps: d}}
}

// Handles lists the event this handler receives.
func (h *RepositoryDispatchHandler) Handles() []string { return []string{"repository_dispatch"} }

// Handle parses the payload and, for now, logs what arrived.
func (h *RepositoryDispatchHandler) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	ev, err := parseEvent[github.RepositoryDispatchEvent](eventType, payload)
	if err != nil {
		return err
	}
	zerolog.Ctx(ctx).Debug().Str("action", ev.GetAction()).Str("branch", ev.GetBranch()).Msg("repository_dispatch received")
	return nil
}
