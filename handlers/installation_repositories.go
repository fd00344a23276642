package handlers

import (
	"context"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"
)

// InstallationRepositoriesHandler receives `installation_repositories`
// events: repositories were added to or removed from an installation.
// Nothing acts on them: a repository's configuration is read when an
// event of that repository arrives.
type InstallationRepositoriesHandler struct{ Base }

var _ githubapp.EventHandler = &InstallationRepositoriesHandler{}

// NewInstallationRepositoriesHandler returns the `installation_repositories` handler.
func NewInstallationRepositoriesHandler(d Deps) *InstallationRepositoriesHandler {
	return &InstallationRepositoriesHandler{Base{Deps: d}}
}

// Handles lists the event this handler receives.
func (h *InstallationRepositoriesHandler) Handles() []string {
	return []string{"installation_repositories"}
}

// Handle parses the payload, so a malformed one fails the delivery, and
// logs it at debug level.
func (h *InstallationRepositoriesHandler) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	ev, err := parseEvent[github.InstallationRepositoriesEvent](eventType, payload)
	if err != nil {
		return err
	}
	zerolog.Ctx(ctx).Debug().Str("action", ev.GetAction()).Int("added", len(ev.RepositoriesAdded)).Int("removed", len(ev.RepositoriesRemoved)).Msg("installation_repositories received")
	return nil
}
