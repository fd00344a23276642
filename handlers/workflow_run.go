package handlers

import (
	"context"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"
)

// WorkflowRunHandler receives `workflow_run` events: a workflow run
// changed, which may open a CI gate or finish a site build.
type WorkflowRunHandler struct{ Base }

var _ githubapp.EventHandler = &WorkflowRunHandler{}

// NewWorkflowRunHandler returns the `workflow_run` handler.
func NewWorkflowRunHandler(d Deps) *WorkflowRunHandler { return &WorkflowRunHandler{Base{Deps: d}} }

// Handles lists the event this handler receives.
func (h *WorkflowRunHandler) Handles() []string { return []string{"workflow_run"} }

// Handle parses the payload and hands it to Promotions; with none it only
// logs the run.
func (h *WorkflowRunHandler) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	ev, err := parseEvent[github.WorkflowRunEvent](eventType, payload)
	if err != nil {
		return err
	}
	zerolog.Ctx(ctx).Debug().Str("action", ev.GetAction()).Str("workflow", ev.GetWorkflowRun().GetName()).Str("sha", ev.GetWorkflowRun().GetHeadSHA()).Str("conclusion", ev.GetWorkflowRun().GetConclusion()).Msg("workflow_run received")
	if h.Deps.Promotions != nil {
		return h.Deps.Promotions.OnWorkflowRun(ctx, ev)
	}
	return nil
}
