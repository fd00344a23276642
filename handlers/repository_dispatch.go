package handlers

import (
	"context"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"
)

// Generation is the part of the core that starts site generation from a
// content change (internal/generate implements it).
type Generation interface {
	OnRepositoryDispatch(ctx context.Context, ev *github.RepositoryDispatchEvent) error
}

// RepositoryDispatchHandler receives `repository_dispatch` events: content
// changes that regenerate a site.
type RepositoryDispatchHandler struct {
	Base
	// Generation receives the events; nil leaves them logged only.
	Generation Generation
}

var _ githubapp.EventHandler = &RepositoryDispatchHandler{}

// NewRepositoryDispatchHandler returns the `repository_dispatch` handler.
func NewRepositoryDispatchHandler(d Deps) *RepositoryDispatchHandler {
	return &RepositoryDispatchHandler{Base: Base{Deps: d}}
}

// NewGenerationHandler returns a `repository_dispatch` handler that hands
// events to g; server.Options.Handlers lets it replace the built-in one.
func NewGenerationHandler(d Deps, g Generation) *RepositoryDispatchHandler {
	return &RepositoryDispatchHandler{Base: Base{Deps: d}, Generation: g}
}

// Handles lists the event this handler receives.
func (h *RepositoryDispatchHandler) Handles() []string { return []string{"repository_dispatch"} }

// Handle parses the payload and hands it to Generation.
func (h *RepositoryDispatchHandler) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	ev, err := parseEvent[github.RepositoryDispatchEvent](eventType, payload)
	if err != nil {
		return err
	}
	zerolog.Ctx(ctx).Debug().Str("action", ev.GetAction()).Str("branch", ev.GetBranch()).Msg("repository_dispatch received")
	if h.Generation != nil {
		return h.Generation.OnRepositoryDispatch(ctx, ev)
	}
	return nil
}
