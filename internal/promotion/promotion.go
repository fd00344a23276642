// Package promotion connects GitHub's events to the pure pipeline and acts
// on its decisions: it gathers the facts of a promotion (heads, comparison,
// checks, holds, the promotion pull request's reviews), asks
// pipeline.Decide, and carries out the answer (a compare-and-swap
// fast-forward handed to publishing, a durable timer, an audit record).
//
// Evaluations run as durable jobs, unique per repository, environment and
// route while queued, so a burst of events coalesces into one evaluation of
// the newest head; the ref update itself is GitHub's compare-and-swap, so two
// evaluations racing can never lose a commit.
package promotion

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/pipeline"
	"github.com/hoist-dev/hoist/internal/publish"
	"github.com/hoist-dev/hoist/internal/repoconfig"
	"github.com/hoist-dev/hoist/internal/safety"
	"github.com/hoist-dev/hoist/internal/store"
)

// Service evaluates and carries out promotions; the zero value is not
// usable.
type Service struct {
	clients githubapp.ClientCreator
	engine  *jobs.Engine
	store   *store.Store
	configs *repoconfig.Loader
	pub     Publisher
	smoke   Smoke
	// groups takes over promotions of environments released together
	// with other repositories; nil when none are (see SetGroups).
	groups Grouper
	// rollbacks tells automatic rollbacks' commits; nil when there are
	// none (see SetRollbacks and rejoin.go).
	rollbacks RollbackCommits
	// outcomes and alerts may be nil (no failure budgets, no alerts).
	outcomes Outcomes
	alerts   Alerter
	// now is the clock of decisions and holds.
	now func() time.Time

	// mu guards slug (hoist's own App, read once) and envs (one lock per
	// repository and environment).
	mu   sync.Mutex
	slug string
	envs map[string]*sync.Mutex
}

// Publisher publishes a change of an environment's branch (publish.Publisher).
type Publisher interface {
	Publish(ctx context.Context, repo *gh.Repo, p *pipeline.Pipeline, env pipeline.Environment, pub publish.Publication) error
	// Complete publishes again after an attempt that may have created
	// the deployment already (found by pub.Intent).
	Complete(ctx context.Context, repo *gh.Repo, p *pipeline.Pipeline, env pipeline.Environment, pub publish.Publication) error
}

// Smoke is what a push and a check run event ask of the smoke gate
// (smokegate.Gate): smoke tests of pushed heads, and the buttons and
// re-runs of its check runs.
type Smoke interface {
	OnPush(ctx context.Context, re RepoEvent, p *pipeline.Pipeline, branch, sha string) error
	OnCheckAction(ctx context.Context, ev *github.CheckRunEvent) error
}

// Deps is what a Service needs.
type Deps struct {
	Clients githubapp.ClientCreator
	Engine  *jobs.Engine
	Store   *store.Store
	Configs *repoconfig.Loader
	Publish Publisher
	// Smoke may be nil: pushes then queue no smoke tests.
	Smoke Smoke
	// Outcomes records CI gate results and counts failure budgets; Alerts
	// is told of exhausted budgets. Either may be nil.
	Outcomes Outcomes
	Alerts   Alerter
	// Now is the clock of decisions; nil is time.Now.
	Now func() time.Time
}

// Outcomes is the record of outcomes per environment (safety.Recorder).
type Outcomes interface {
	Record(ctx context.Context, o safety.Outcome) error
	BudgetCounts(ctx context.Context, repo, env string, window time.Duration) (failures, samples int, err error)
}

// Alerter tells people on call (safety.Webhook).
type Alerter interface {
	Alert(ctx context.Context, a safety.Alert) error
}

// New returns a Service.
func New(d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Service{clients: d.Clients, engine: d.Engine, store: d.Store, configs: d.Configs, pub: d.Publish, smoke: d.Smoke,
		outcomes: d.Outcomes, alerts: d.Alerts, now: d.Now}
}

// Now is the clock of decisions and holds.
func (s *Service) Now() time.Time { return s.now() }

// Workers registers the workers of evaluations and of pushed publications.
func (s *Service) Workers(e *jobs.Engine) {
	river.AddWorker(e.Workers(), &evaluateWorker{s: s})
	river.AddWorker(e.Workers(), &pushPublishWorker{s: s})
}

// EvaluateArgs asks for one promotion to be evaluated. Unique while queued:
// events arriving meanwhile add nothing, and the evaluation reads the heads
// when it runs, so it sees the newest commit (intermediate ones may be
// skipped, never reordered).
type EvaluateArgs struct {
	Installation  int64  `json:"installation"`
	Owner         string `json:"owner"`
	Repo          string `json:"repo"`
	DefaultBranch string `json:"default_branch"`
	Env           string `json:"env"`
	Route         string `json:"route"`
	Source        string `json:"source"`
	// SHA is the tagged commit for a tag route; empty otherwise.
	SHA     string `json:"sha,omitempty"`
	Trigger string `json:"trigger"`
	Actor   string `json:"actor,omitempty"`
	// Round tells a follow-up queued while this evaluation ran from the
	// running one (see insertEvaluation).
	Round int `json:"round,omitempty"`
}

// Kind names the job for River.
func (EvaluateArgs) Kind() string { return "hoist_evaluate_promotion" }

// InsertOpts makes evaluations unique by their arguments among jobs queued
// or running, which is what coalesces bursts (insertEvaluation queues one
// follow-up behind a running one).
func (EvaluateArgs) InsertOpts() river.InsertOpts {
	// Not among completed (nor retryable) ones: River's default would drop
	// every later event with the same arguments for a day.
	return river.InsertOpts{MaxAttempts: 8, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateScheduled}}}
}

// RepoEvent is what every repository event carries that an evaluation needs.
type RepoEvent = repoconfig.RepoEvent

// Publication is one change of an environment's branch.
type Publication = publish.Publication

var repoEvent = repoconfig.EventOf

// OnPush plans the promotions a push affects and queues their evaluation.
func (s *Service) OnPush(ctx context.Context, ev *github.PushEvent) error {
	re := RepoEvent{Installation: ev.GetInstallation().GetID(), Owner: ev.GetRepo().GetOwner().GetLogin(),
		Repo: ev.GetRepo().GetName(), DefaultBranch: ev.GetRepo().GetDefaultBranch(), Actor: ev.GetSender().GetLogin()}
	if re.Owner == "" {
		re.Owner = ev.GetRepo().GetOwner().GetName()
	}
	if ev.GetDeleted() {
		return nil
	}
	ref := ev.GetRef()
	switch {
	case strings.HasPrefix(ref, "refs/tags/"):
		return s.plan(ctx, re, pipeline.Event{Kind: pipeline.EventTag, Tag: ref, SHA: ev.GetAfter()}, pipeline.TriggerTag)
	case strings.HasPrefix(ref, "refs/heads/"):
		// One read of the configuration for all that a push means: its
		// hoist/config check, publishing, promotions and smoke tests.
		p, repo, err := s.configs.PipelineFor(ctx, re)
		if err != nil && !jobs.IsPermanent(err) {
			return err
		}
		// A broken file still gets its check run, which says what is wrong.
		if err := s.configs.CheckOnPush(ctx, re, repo, ev); err != nil {
			return err
		}
		if err != nil || p == nil {
			return err
		}
		if err := s.publishPush(ctx, re, p, ev); err != nil {
			return err
		}
		if err := s.Enqueue(ctx, re, p.Plan(pipeline.Event{Kind: pipeline.EventPush, Branch: ref}), pipeline.TriggerPush); err != nil {
			return err
		}
		if s.smoke == nil {
			return nil
		}
		return s.smoke.OnPush(ctx, re, p, strings.TrimPrefix(ref, "refs/heads/"), ev.GetAfter())
	}
	return nil
}

// OnCheckCompleted re-evaluates every promotion whose source head is sha.
func (s *Service) OnCheckCompleted(ctx context.Context, re RepoEvent, sha string) error {
	p, repo, err := s.configs.PipelineFor(ctx, re)
	if err != nil || p == nil {
		return err
	}
	// Each branch is read once, however many environments promote from
	// it or candidates name it.
	heads := map[string]string{}
	read := map[string]bool{}
	head := func(branch string) {
		if branch == "" || read[branch] {
			return
		}
		read[branch] = true
		if h, err := repo.BranchHead(ctx, branch); err == nil {
			heads[branch] = h
		}
	}
	for _, e := range p.Environments {
		head(p.SourceBranch(e.Name))
	}
	for _, c := range p.Candidates {
		head(c.Branch)
	}
	return s.Enqueue(ctx, re, p.Plan(pipeline.Event{Kind: pipeline.EventCheck, SHA: sha, Heads: heads}), pipeline.TriggerEvent)
}

// OnCheckRun, OnStatus and OnWorkflowRun turn completed checks into
// re-evaluations; anything still running changes no decision.
func (s *Service) OnCheckRun(ctx context.Context, ev *github.CheckRunEvent) error {
	switch ev.GetAction() {
	case "requested_action", "rerequested": // buttons and re-runs of hoist's own runs
		if s.smoke == nil {
			return nil
		}
		return s.smoke.OnCheckAction(ctx, ev)
	case "completed":
	default:
		return nil
	}
	return s.OnCheckCompleted(ctx, repoEvent(ev.GetInstallation(), ev.GetRepo(), ev.GetSender()), ev.GetCheckRun().GetHeadSHA())
}

// OnStatus re-evaluates after a commit status that is no longer pending.
func (s *Service) OnStatus(ctx context.Context, ev *github.StatusEvent) error {
	if ev.GetState() == "pending" {
		return nil
	}
	return s.OnCheckCompleted(ctx, repoEvent(ev.GetInstallation(), ev.GetRepo(), ev.GetSender()), ev.GetSHA())
}

// OnWorkflowRun re-evaluates after a completed workflow run.
func (s *Service) OnWorkflowRun(ctx context.Context, ev *github.WorkflowRunEvent) error {
	if ev.GetAction() != "completed" {
		return nil
	}
	return s.OnCheckCompleted(ctx, repoEvent(ev.GetInstallation(), ev.GetRepo(), ev.GetSender()), ev.GetWorkflowRun().GetHeadSHA())
}

func (s *Service) plan(ctx context.Context, re RepoEvent, ev pipeline.Event, trigger pipeline.Trigger) error {
	p, _, err := s.configs.PipelineFor(ctx, re)
	if err != nil || p == nil {
		return err
	}
	return s.Enqueue(ctx, re, p.Plan(ev), trigger)
}

func (s *Service) Enqueue(ctx context.Context, re RepoEvent, targets []pipeline.Target, trigger pipeline.Trigger) error {
	for _, t := range targets {
		args := EvaluateArgs{Installation: re.Installation, Owner: re.Owner, Repo: re.Repo, DefaultBranch: re.DefaultBranch,
			Env: t.Env, Route: string(t.Route), Source: t.Source, SHA: t.SHA, Trigger: string(trigger), Actor: re.Actor}
		if err := s.QueueEvaluation(ctx, args); err != nil {
			return fmt.Errorf("queue evaluation of %s for %s/%s: %w", t.Env, re.Owner, re.Repo, err)
		}
		zerolog.Ctx(ctx).Debug().Str("repo", re.Owner+"/"+re.Repo).Str("env", t.Env).Str("source", t.Source).Msg("promotion evaluation queued")
	}
	return nil
}

// evaluateWorker runs EvaluateArgs jobs.
type evaluateWorker struct {
	river.WorkerDefaults[EvaluateArgs]
	s *Service
}

// Work gathers the facts, decides and acts, one evaluation of an
// environment at a time.
func (w *evaluateWorker) Work(ctx context.Context, job *river.Job[EvaluateArgs]) error {
	return w.s.oneAtATime(ctx, job.Args.Owner+"/"+job.Args.Repo, job.Args.Env, func(ctx context.Context) error { return w.work(ctx, job) })
}

func (w *evaluateWorker) work(ctx context.Context, job *river.Job[EvaluateArgs]) error {
	a := job.Args
	log := zerolog.Ctx(ctx).With().Str("repo", a.Owner+"/"+a.Repo).Str("env", a.Env).Logger()
	ctx = log.WithContext(ctx)
	re := RepoEvent{Installation: a.Installation, Owner: a.Owner, Repo: a.Repo, DefaultBranch: a.DefaultBranch, Actor: a.Actor}
	p, repo, err := w.s.configs.PipelineFor(ctx, re)
	if err != nil {
		return err
	}
	if p == nil {
		return nil
	}
	target := pipeline.Target{Env: a.Env, Route: pipeline.Route(a.Route), Source: a.Source, SHA: a.SHA}
	env, ok := p.Env(a.Env)
	if !ok {
		return nil // the environment left the config since the event
	}
	if err := w.s.resume(ctx, repo, p, env); err != nil {
		return err
	}
	facts, pr, err := w.s.Gather(ctx, repo, p, env, target, pipeline.Trigger(a.Trigger), a.Actor)
	if err != nil {
		return err
	}
	d := p.Decide(target, facts)
	if err := w.s.Act(ctx, repo, p, env, a, d); err != nil && !errors.Is(err, ErrGrouped) {
		return err
	}
	return w.s.syncPull(ctx, repo, p, env, d, facts, pr)
}

// Gather reads what Decide needs from GitHub, the promotion pull request
// and its reviews included: every way of asking for a promotion (an event,
// a command, a tag, the Promote button) sees the same approvals. pr is the
// pull request read, if any.
func (s *Service) Gather(ctx context.Context, repo *gh.Repo, p *pipeline.Pipeline, env pipeline.Environment, t pipeline.Target, trigger pipeline.Trigger, actor string) (pipeline.Facts, *gh.PullRequest, error) {
	f, err := s.gatherFacts(ctx, repo, env, t, trigger, actor)
	if err != nil {
		return f, nil, err
	}
	pr, err := s.gatherPull(ctx, repo, p, env, t, &f)
	return f, pr, err
}

func (s *Service) gatherFacts(ctx context.Context, repo *gh.Repo, env pipeline.Environment, t pipeline.Target, trigger pipeline.Trigger, actor string) (pipeline.Facts, error) {
	f := pipeline.Facts{Now: s.now(), Trigger: trigger, Actor: actor, SourceHead: t.SHA}
	// Only hoist's own hoist/smoke check runs count for the smoke gate.
	app, err := s.hoistApp(ctx)
	if err != nil {
		return f, err
	}
	f.HoistApp = app
	if t.Route == pipeline.RouteTag {
		// A push of an annotated tag names the tag object; promote the
		// commit it points at.
		sha, err := repo.TagCommit(ctx, strings.TrimPrefix(t.Source, "refs/tags/"))
		if err != nil {
			return f, err
		}
		f.SourceHead = sha
	}
	if f.SourceHead == "" {
		head, err := repo.BranchHead(ctx, t.Source)
		if err != nil {
			return f, err
		}
		f.SourceHead = head
	}
	since, err := repo.CommitTime(ctx, f.SourceHead)
	if err != nil {
		return f, err
	}
	// The soak gate counts from when the commit became the source head. The
	// committer time stands in for it; a commit made long before it was
	// pushed soaks less than configured.
	f.SourceHeadSince = since
	target, err := repo.BranchHead(ctx, env.Branch)
	switch {
	case errors.Is(err, gh.ErrNotFound):
		f.Relation = pipeline.RelationNoTarget
	case err != nil:
		return f, err
	default:
		f.TargetHead = target
		cmp, err := repo.Compare(ctx, target, f.SourceHead)
		if errors.Is(err, gh.ErrUnrelated) {
			// A fact to report, not a failure to retry: asking again
			// gives the same answer until someone pushes.
			f.Relation = pipeline.RelationUnrelated
			break
		}
		if err != nil {
			return f, err
		}
		f.Relation = pipeline.Relation(cmp.Status)
		f.Commits = toCommits(cmp.Commits)
		if f.Relation == pipeline.RelationDiverged {
			back, err := repo.Compare(ctx, f.SourceHead, target)
			if err != nil {
				return f, err
			}
			f.Blocking = toCommits(back.Commits)
			own, err := s.hoistMade(ctx, repo, env, back)
			if err != nil {
				return f, err
			}
			if own {
				// Only hoist's own rollback set the branch apart: the
				// promotion rejoins it (rejoin.go).
				f.Relation, f.Rejoin = pipeline.RelationAhead, true
			}
		}
	}
	if s.store != nil {
		holds, err := s.store.EnvHolds(ctx, repo.FullName(), env.Name, f.Now)
		if err != nil {
			return f, err
		}
		f.Holds = PipelineHolds(holds)
	}
	if env.Budget != nil && s.outcomes != nil {
		failures, samples, err := s.outcomes.BudgetCounts(ctx, repo.FullName(), env.Name, env.Budget.Window)
		if err != nil {
			return f, err
		}
		f.Budget = pipeline.BudgetFacts{Known: true, Failures: failures, Samples: samples}
	}
	checks, err := repo.Checks(ctx, f.SourceHead)
	if err != nil {
		return f, err
	}
	for _, c := range checks {
		f.Checks = append(f.Checks, pipeline.Check{Name: c.Name, Source: pipeline.CheckSource(c.Source), Status: c.Status,
			Conclusion: c.Conclusion, App: c.AppSlug, Creator: c.Creator, Workflow: c.Workflow, ID: c.ID})
	}
	return f, nil
}

func toCommits(cs []gh.Commit) []pipeline.Commit {
	out := make([]pipeline.Commit, 0, len(cs))
	for _, c := range cs {
		out = append(out, pipeline.Commit{SHA: c.SHA, Subject: c.Subject, Author: c.Author})
	}
	return out
}

// DecideAndAct is what a command does, in the environment's turn as the
// evaluation job takes it: finish a pending publication first, then gather
// the facts, decide and act, so that a command and an automatic promotion
// never act on one head both. acting says the error (if any) came from
// acting on the decision, not from reading the facts.
func (s *Service) DecideAndAct(ctx context.Context, repo *gh.Repo, p *pipeline.Pipeline, env pipeline.Environment, t pipeline.Target, a EvaluateArgs) (facts pipeline.Facts, d pipeline.Decision, acting bool, err error) {
	err = s.oneAtATime(ctx, repo.FullName(), env.Name, func(ctx context.Context) error {
		if err := s.resume(ctx, repo, p, env); err != nil {
			return err
		}
		f, _, err := s.Gather(ctx, repo, p, env, t, pipeline.Trigger(a.Trigger), a.Actor)
		if err != nil {
			return err
		}
		facts, d, acting = f, p.Decide(t, f), true
		return s.Act(ctx, repo, p, env, a, d)
	})
	return facts, d, acting, err
}

// Act carries out a decision.
func (s *Service) Act(ctx context.Context, repo *gh.Repo, p *pipeline.Pipeline, env pipeline.Environment, a EvaluateArgs, d pipeline.Decision) error {
	log := zerolog.Ctx(ctx)
	s.recordDecision(ctx, repo, env, d)
	actor := a.Actor
	if pipeline.Trigger(a.Trigger) != pipeline.TriggerCommand && pipeline.Trigger(a.Trigger) != pipeline.TriggerManual {
		actor = "hoist"
	}
	audit := store.AuditEntry{Repo: repo.FullName(), Actor: actor, Action: "promote", Env: env.Name, SHA: d.SHA,
		Outcome: string(d.Outcome), Detail: map[string]any{"from": d.From, "source": a.Source, "route": a.Route,
			"trigger": a.Trigger, "reasons": d.Reasons}}
	switch d.Outcome {
	case pipeline.OutcomePromote:
		if s.groups != nil {
			// A member of a release group never moves alone: the group
			// promotes every member or none.
			taken, err := s.groups.Take(ctx, repo, p, env, a, d)
			if err != nil {
				return err
			}
			if taken {
				return ErrGrouped
			}
		}
		audit.Outcome = "promoted"
		pub := Publication{Env: env.Name, SHA: d.SHA, Previous: d.From, Reason: "promote",
			Actor: actor, Source: a.Source, Route: a.Route, DefaultBranch: a.DefaultBranch, Installation: a.Installation}
		if d.Rejoin {
			// The branch moves to a new commit with the candidate's tree;
			// the deployment names both.
			sha, err := s.rejoin(ctx, repo, env, d)
			if err != nil {
				return err
			}
			pub.SHA, pub.Candidate = sha, d.SHA
			audit.Detail["rejoin"] = sha
		}
		pend, err := s.intend(ctx, repo, env, audit, pub)
		if err != nil {
			return err
		}
		if err := repo.FastForward(ctx, env.Branch, pub.SHA); err != nil {
			if errors.Is(err, gh.ErrNotFastForward) {
				// The target moved between reading and writing: nothing was
				// overwritten; the retry re-plans from the new head.
				log.Info().Err(err).Msg("target moved during promotion; re-evaluating")
				if err := s.store.DonePendingPublication(ctx, repo.FullName(), env.Name, pend.Intent); err != nil {
					log.Warn().Err(err).Msg("promotion: drop the pending publication")
				}
			}
			// Any other failure may have moved the branch all the same
			// (GitHub applied the write, its answer was lost): the retry
			// resumes the pending publication if it did.
			return fmt.Errorf("promote %s: %w", env.Name, err)
		}
		return s.finish(ctx, repo, p, env, pend, false)
	case pipeline.OutcomeWait:
		if !d.WaitUntil.IsZero() {
			// A durable timer: a scheduled job survives restarts.
			_, err := s.engine.Insert(ctx, a, &river.InsertOpts{ScheduledAt: d.WaitUntil, MaxAttempts: 8,
				UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: time.Second}})
			if err != nil {
				return fmt.Errorf("schedule re-evaluation of %s: %w", env.Name, err)
			}
		}
		log.Info().Strs("reasons", d.Reasons).Time("wait_until", d.WaitUntil).Msg("promotion waits")
		return nil
	case pipeline.OutcomeUpToDate:
		return nil
	default: // refuse, ready
		return s.store.Audit(ctx, audit)
	}
}

func shortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
