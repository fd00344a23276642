package handlers

import (
	"context"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"
)

// CheckSuiteHandler receives `check_suite` events: a check suite changed: CI gates on an environment head.
type CheckSuiteHandler struct{ Base }

var _ githubapp.EventHandler = &CheckSuiteHandler{}

// NewCheckSuiteHandler returns the `check_suite` handler.
func NewCheckSuiteHandler(d Deps) *CheckSuiteHandler { return &CheckSuiteHandler{Base{Deps: d}} }

// Handles lists the event this handler receives.
func (h *CheckSuiteHandler) Handles() []string { return []string{"check_suite"} }

// CheckSuites is the part of the core that acts on check suites
// (internal/smokegate re-runs hoist's own smoke tests when the suite is
// re-requested).
type CheckSuites interface {
	OnCheckSuite(ctx context.Context, ev *github.CheckSuiteEvent) error
}

// Handle parses the payload and hands it to the core when it takes check
// suites.
func (h *CheckSuiteHandler) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	ev, err := parseEvent[github.CheckSuiteEvent](eventType, payload)
	if err != nil {
		return err
	}
	zerolog.Ctx(ctx).Debug().Str("action", ev.GetAction()).Str("sha", ev.GetCheckSuite().GetHeadSHA()).Str("conclusion", ev.GetCheckSuite().GetConclusion()).Msg("check_suite received")
	if h.Deps.CheckSuites != nil {
		return h.Deps.CheckSuites.OnCheckSuite(ctx, ev)
	}
	return nil
}
