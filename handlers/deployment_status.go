package handlers

import (
	"context"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"
)

// DeploymentStatusHandler receives `deployment_status` events: a
// deployment status changed, hoist's own included. Nothing acts on them:
// hoist writes its own statuses and reads deployments back from the API
// when it needs them (rollback).
type DeploymentStatusHandler struct{ Base }

var _ githubapp.EventHandler = &DeploymentStatusHandler{}

// NewDeploymentStatusHandler returns the `deployment_status` handler.
func NewDeploymentStatusHandler(d Deps) *DeploymentStatusHandler {
	return &DeploymentStatusHandler{Base{Deps: d}}
}

// Handles lists the event this handler receives.
func (h *DeploymentStatusHandler) Handles() []string { return []string{"deployment_status"} }

// Handle parses the payload, so a malformed one fails the delivery, and
// logs it at debug level.
func (h *DeploymentStatusHandler) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	ev, err := parseEvent[github.DeploymentStatusEvent](eventType, payload)
	if err != nil {
		return err
	}
	zerolog.Ctx(ctx).Debug().Str("env", ev.GetDeployment().GetEnvironment()).Str("state", ev.GetDeploymentStatus().GetState()).Str("sha", ev.GetDeployment().GetSHA()).Msg("deployment_status received")
	return nil
}
