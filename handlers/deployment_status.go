package handlers

import (
	"context"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"
)

// DeploymentStatusHandler receives `deployment_status` events: a deployment status changed: environments deployed by others.
type DeploymentStatusHandler struct{ Base }

var _ githubapp.EventHandler = &DeploymentStatusHandler{}

// NewDeploymentStatusHandler returns the `deployment_status` handler.
func NewDeploymentStatusHandler(d Deps) *DeploymentStatusHandler {
	return &DeploymentStatusHandler{Base{Deps: d}}
}

// Handles lists the event this handler receives.
func (h *DeploymentStatusHandler) Handles() []string { return []string{"deployment_status"} }

// Handle parses the payload and, for now, logs what arrived.
func (h *DeploymentStatusHandler) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	ev, err := parseEvent[github.DeploymentStatusEvent](eventType, payload)
	if err != nil {
		return err
	}
	zerolog.Ctx(ctx).Debug().Str("env", ev.GetDeployment().GetEnvironment()).Str("state", ev.GetDeploymentStatus().GetState()).Str("sha", ev.GetDeployment().GetSHA()).Msg("deployment_status received")
	return nil
}
