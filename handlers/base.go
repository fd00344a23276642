// Package handlers has one file per GitHub event hoist subscribes to (see
// app.yml). A handler parses the payload into go-github's typed event and
// hands a domain request over to the core; it holds no business rules. A
// payload that does not parse is a permanent failure: the delivery is
// recorded as failed with the parse error as its reason, never retried.
//
// Handlers run inside durable jobs (internal/jobs), after the delivery was
// persisted and answered, so they may take their time and may be retried:
// what they do must be safe to do twice.
package handlers

import (
	"context"
	"fmt"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"

	"github.com/hoist-dev/hoist/internal/jobs"
)

// Deps is what handlers need from the rest of hoist. It grows as the core
// does (GitHub clients, store, job engine, pipeline services); constructors
// take it whole so that adding a dependency touches no call site.
type Deps struct {
	// ClientCreator makes GitHub clients for an installation.
	ClientCreator githubapp.ClientCreator
	// Promotions re-evaluates promotions when branches, tags and checks
	// change; nil leaves those events logged only.
	Promotions Promotions
	// Commands runs the slash-commands of pull request, issue and commit
	// comments; nil
	// leaves comments logged only.
	Commands Commands
	// CheckSuites re-runs hoist's smoke tests when a check suite is
	// re-requested; nil leaves check suites logged only.
	CheckSuites CheckSuites
	// Editions publishes branches and pull requests as editions and
	// removes them when they go; nil leaves them unpublished.
	Editions Editions
	// Rollouts starts fleet rollouts on releases and takes the buttons of
	// their check runs; nil leaves them out.
	Rollouts Rollouts
}

// Rollouts is the part of the core that push and check_run events reach
// for fleet rollouts (internal/fleet/rollout implements it).
type Rollouts interface {
	OnPush(ctx context.Context, ev *github.PushEvent) error
	OnCheckRun(ctx context.Context, ev *github.CheckRunEvent) error
}

// Editions is the part of the core that publishes editions of branches
// and pull requests (internal/editions implements it).
type Editions interface {
	OnPush(ctx context.Context, ev *github.PushEvent) error
	OnDelete(ctx context.Context, ev *github.DeleteEvent) error
	OnPullRequest(ctx context.Context, ev *github.PullRequestEvent) error
}

// Commands is the part of the core that the issue_comment and
// commit_comment handlers hand comments to (internal/chatops implements it).
type Commands interface {
	OnIssueComment(ctx context.Context, ev *github.IssueCommentEvent, deliveryID string) error
	OnCommitComment(ctx context.Context, ev *github.CommitCommentEvent, deliveryID string) error
}

// Promotions is the part of the core that the push and check handlers hand
// their events to (internal/promotion implements it).
type Promotions interface {
	OnPush(ctx context.Context, ev *github.PushEvent) error
	OnCheckRun(ctx context.Context, ev *github.CheckRunEvent) error
	OnStatus(ctx context.Context, ev *github.StatusEvent) error
	OnWorkflowRun(ctx context.Context, ev *github.WorkflowRunEvent) error
}

// Base is embedded in every handler: the dependencies, and the typed parse.
type Base struct {
	Deps Deps
}

// parseEvent decodes payload as the go-github type of eventType (as
// github.ParseWebHook does) and checks it is a T.
func parseEvent[T any](eventType string, payload []byte) (*T, error) {
	v, err := github.ParseWebHook(eventType, payload)
	if err != nil {
		return nil, jobs.Permanent(fmt.Errorf("parse %s payload: %w", eventType, err))
	}
	ev, ok := v.(*T)
	if !ok {
		return nil, jobs.Permanent(fmt.Errorf("parse %s payload: got %T", eventType, v))
	}
	return ev, nil
}

// All returns one handler per event in app.yml, and for the installation
// events GitHub sends every App unasked.
func All(d Deps) []githubapp.EventHandler {
	return []githubapp.EventHandler{
		NewPushHandler(d),
		NewPullRequestHandler(d),
		NewPullRequestReviewHandler(d),
		NewCreateHandler(d),
		NewDeleteHandler(d),
		NewIssueCommentHandler(d),
		NewCommitCommentHandler(d),
		NewCheckRunHandler(d),
		NewCheckSuiteHandler(d),
		NewStatusHandler(d),
		NewWorkflowRunHandler(d),
		NewDeploymentStatusHandler(d),
		NewRepositoryDispatchHandler(d),
		NewInstallationHandler(d),
		NewInstallationRepositoriesHandler(d),
	}
}
