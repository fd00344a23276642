package handlers

import (
	"context"
	"errors"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"
)

// CheckRunHandler receives `check_run` events: a check run changed (a CI
// gate), or someone asked for a re-run or pressed a button on one of
// hoist's own runs.
type CheckRunHandler struct{ Base }

var _ githubapp.EventHandler = &CheckRunHandler{}

// NewCheckRunHandler returns the `check_run` handler.
func NewCheckRunHandler(d Deps) *CheckRunHandler { return &CheckRunHandler{Base{Deps: d}} }

// Handles lists the event this handler receives.
func (h *CheckRunHandler) Handles() []string { return []string{"check_run"} }

// Handle parses the payload and hands it to Promotions, which also takes
// the re-runs and buttons of hoist's own runs; with none it only logs the
// run.
func (h *CheckRunHandler) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	ev, err := parseEvent[github.CheckRunEvent](eventType, payload)
	if err != nil {
		return err
	}
	zerolog.Ctx(ctx).Debug().Str("action", ev.GetAction()).Str("name", ev.GetCheckRun().GetName()).Str("sha", ev.GetCheckRun().GetHeadSHA()).Str("conclusion", ev.GetCheckRun().GetConclusion()).Msg("check_run received")
	var errs error
	if h.Deps.Promotions != nil {
		errs = h.Deps.Promotions.OnCheckRun(ctx, ev)
	}
	if h.Deps.Rollouts != nil {
		errs = errors.Join(errs, h.Deps.Rollouts.OnCheckRun(ctx, ev))
	}
	return errs
}
