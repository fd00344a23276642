// Package chatops runs the slash-commands of pull request and issue comments
// (/promote, /hold, /rollback, /smoke, /purge …): it parses and authorises
// them with internal/command, acts through the capabilities that own each
// action, and answers in the pull request. Each comment is a durable job,
// answered once however often it is delivered.
package chatops

import (
	"context"
	"time"

	"github.com/palantir/go-githubapp/githubapp"
	"github.com/riverqueue/river"

	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/pipeline"
	"github.com/hoist-dev/hoist/internal/promotion"
	"github.com/hoist-dev/hoist/internal/publish"
	"github.com/hoist-dev/hoist/internal/repoconfig"
	"github.com/hoist-dev/hoist/internal/safety"
	"github.com/hoist-dev/hoist/internal/smokegate"
	"github.com/hoist-dev/hoist/internal/store"
)

// Service runs the commands of pull request comments; the zero value is
// not usable.
type Service struct {
	clients    githubapp.ClientCreator
	engine     *jobs.Engine
	store      *store.Store
	configs    *repoconfig.Loader
	promotions Promotions
	smoke      Smoke
	pub        Publisher
	groups     GroupStatus
	outcomes   Outcomes
	alerts     Alerter
	upgrades   Upgrades
	verified   Verified
}

// Promotions is what /promote, /status, /hold and /unhold need
// (promotion.Service): the facts of a promotion, acting on a decision,
// evaluating now, and the clock of holds.
type Promotions interface {
	Gather(ctx context.Context, repo *gh.Repo, p *pipeline.Pipeline, env pipeline.Environment, t pipeline.Target, trigger pipeline.Trigger, actor string) (pipeline.Facts, *gh.PullRequest, error)
	DecideAndAct(ctx context.Context, repo *gh.Repo, p *pipeline.Pipeline, env pipeline.Environment, t pipeline.Target, a promotion.EvaluateArgs) (pipeline.Facts, pipeline.Decision, bool, error)
	Enqueue(ctx context.Context, re repoconfig.RepoEvent, targets []pipeline.Target, trigger pipeline.Trigger) error
	Now() time.Time
}

// Smoke is what /smoke, /preview and /help need (smokegate.Gate).
type Smoke interface {
	RequestSmoke(ctx context.Context, req smokegate.SmokeRequest) error
	Preview(ctx context.Context, req smokegate.SmokeRequest) (smokegate.PreviewLink, error)
	Ready() error
	PreviewsOn() bool
}

// Publisher is what /deploy, /rollback and /purge need (publish.Publisher).
type Publisher interface {
	Publish(ctx context.Context, repo *gh.Repo, p *pipeline.Pipeline, env pipeline.Environment, pub publish.Publication) error
	Complete(ctx context.Context, repo *gh.Repo, p *pipeline.Pipeline, env pipeline.Environment, pub publish.Publication) error
	Purge(ctx context.Context, repo *gh.Repo, p *pipeline.Pipeline, env pipeline.Environment, req publish.PurgeRequest) (publish.PurgeResult, error)
}

// Upgrades is what /upgrade needs (fleet/rollout.Service): retrying the
// failed instances of the rollout of a pull request's release.
type Upgrades interface {
	RetryOnPull(ctx context.Context, repo *gh.Repo, number int, instance, actor string) (string, error)
}

// Deps is what a Service needs.
type Deps struct {
	Clients    githubapp.ClientCreator
	Engine     *jobs.Engine
	Store      *store.Store
	Configs    *repoconfig.Loader
	Promotions Promotions
	Smoke      Smoke
	Publish    Publisher
	// Groups, when set, adds the repository's release groups to /status.
	Groups GroupStatus
	// Outcomes records rollbacks (failure budgets, time to restore);
	// Alerts tells people on call of them. Either may be nil.
	Outcomes Outcomes
	Alerts   Alerter
	// Upgrades may be nil: /upgrade is then answered that this server
	// runs no fleet rollouts.
	Upgrades Upgrades
	// Verified, when set, tells each environment's latest post-deploy
	// verification in /status.
	Verified Verified
}

// GroupStatus is what /status shows of release groups
// (releasegroup.Service): one markdown line per group and environment the
// repository is released with.
type GroupStatus interface {
	StatusLines(ctx context.Context, repo string) ([]string, error)
}

// Outcomes is the record of outcomes per environment (safety.Recorder).
type Outcomes interface {
	Record(ctx context.Context, o safety.Outcome) error
}

// Alerter tells people on call (safety.Webhook).
type Alerter interface {
	Alert(ctx context.Context, a safety.Alert) error
}

// Verified is an environment's latest post-deploy verification on one
// line, "" when it has none (verify.Service).
type Verified interface {
	StatusText(ctx context.Context, repo, env string) (string, error)
}

// New returns a Service.
func New(d Deps) *Service {
	return &Service{clients: d.Clients, engine: d.Engine, store: d.Store, configs: d.Configs, promotions: d.Promotions, smoke: d.Smoke, pub: d.Publish,
		groups: d.Groups, outcomes: d.Outcomes, alerts: d.Alerts, upgrades: d.Upgrades,
		verified: d.Verified}
}

// Workers registers the command worker.
func (s *Service) Workers(e *jobs.Engine) {
	river.AddWorker(e.Workers(), &commandWorker{s: s})
}

// Names of the other capabilities' types, as commands speak of them.
type (
	RepoEvent    = repoconfig.RepoEvent
	EvaluateArgs = promotion.EvaluateArgs
	Publication  = publish.Publication
	PurgeRequest = publish.PurgeRequest
	SmokeRequest = smokegate.SmokeRequest
)

func shortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// codeSpan shows user or git text literally in a reply.
func codeSpan(s string) string { return promotion.CodeSpan(s) }
