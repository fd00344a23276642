package handlers

import (
	"context"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"
)

// InstallationHandler receives `installation` events: the App was
// installed, removed, suspended or given new permissions. Nothing acts on
// them: installation clients are made per delivery from the installation
// id it carries, so there is no list of installations to keep.
type InstallationHandler struct{ Base }

var _ githubapp.EventHandler = &InstallationHandler{}

// NewInstallationHandler returns the `installation` handler.
func NewInstallationHandler(d Deps) *InstallationHandler { return &InstallationHandler{Base{Deps: d}} }

// Handles lists the event this handler receives.
func (h *InstallationHandler) Handles() []string { return []string{"installation"} }

// Handle parses the payload, so a malformed one fails the delivery, and
// logs it at debug level.
func (h *InstallationHandler) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	ev, err := parseEvent[github.InstallationEvent](eventType, payload)
	if err != nil {
		return err
	}
	zerolog.Ctx(ctx).Debug().Str("action", ev.GetAction()).Str("account", ev.GetInstallation().GetAccount().GetLogin()).Int("repositories", len(ev.Repositories)).Msg("installation received")
	return nil
}
