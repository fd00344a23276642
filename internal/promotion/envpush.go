package promotion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/pipeline"
	"github.com/hoist-dev/hoist/internal/store"
)

const zeroSHA = "0000000000000000000000000000000000000000"

// publishPush publishes a push to an environment's branch that hoist did
// not make itself (a person merging the promotion pull request, a hotfix
// pushed straight to the branch, another app's push).
func (s *Service) publishPush(ctx context.Context, re RepoEvent, p *pipeline.Pipeline, ev *github.PushEvent) error {
	branch := strings.TrimPrefix(ev.GetRef(), "refs/heads/")
	after := ev.GetAfter()
	env, ok := p.EnvOfBranch(branch)
	if !ok {
		return nil
	}
	own, err := s.ownPush(ctx, ev)
	if err != nil {
		return err
	}
	if own {
		// hoist's own promotion: act already published it, right after the
		// compare-and-swap succeeded. Publishing again would deploy and
		// record it twice.
		return nil
	}
	args := PushPublishArgs{Installation: re.Installation, Owner: re.Owner, Repo: re.Repo, DefaultBranch: re.DefaultBranch,
		Env: env.Name, SHA: after, Actor: re.Actor}
	if b := ev.GetBefore(); b != zeroSHA {
		args.Previous = b
	}
	if _, err := s.engine.Insert(ctx, args, nil); err != nil {
		return fmt.Errorf("queue publication of %s to %s: %w", shortSHA(after), env.Name, err)
	}
	return nil
}

// ownPush reports whether hoist made the push. hoist moves branches only
// through the REST API with its installation token, so GitHub names the
// app's bot account ("<slug>[bot]") as the push's sender; a person's push
// or merge names the person, and another app's push its own bot. Comparing
// the sender with this app's bot login (read once from GET /app) is exact,
// needs no memory of what was promoted, and holds across restarts and
// replicas.
func (s *Service) ownPush(ctx context.Context, ev *github.PushEvent) (bool, error) {
	bot, err := s.botLogin(ctx)
	if err != nil {
		return false, err
	}
	return strings.EqualFold(ev.GetSender().GetLogin(), bot), nil
}

// botLogin is the login of hoist's own bot account.
func (s *Service) botLogin(ctx context.Context) (string, error) {
	slug, err := s.hoistApp(ctx)
	if err != nil {
		return "", err
	}
	return slug + "[bot]", nil
}

// hoistApp is the slug of hoist's own GitHub App, read once: it names the
// bot that makes hoist's pushes and the app of its check runs.
func (s *Service) hoistApp(ctx context.Context) (string, error) {
	s.mu.Lock()
	slug := s.slug
	s.mu.Unlock()
	if slug != "" {
		return slug, nil
	}
	app, err := s.clients.NewAppClient()
	if err != nil {
		return "", fmt.Errorf("app client: %w", err)
	}
	slug, err = gh.AppSlug(ctx, app)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.slug = slug
	s.mu.Unlock()
	return slug, nil
}

// PushPublishArgs asks for an environment change that hoist did not make to be
// published. Unique by its arguments, so a redelivered push publishes once.
type PushPublishArgs struct {
	Installation  int64  `json:"installation"`
	Owner         string `json:"owner"`
	Repo          string `json:"repo"`
	DefaultBranch string `json:"default_branch"`
	Env           string `json:"env"`
	SHA           string `json:"sha"`
	Previous      string `json:"previous,omitempty"`
	Actor         string `json:"actor,omitempty"`
}

// Kind names the job for River.
func (PushPublishArgs) Kind() string { return "hoist_publish_push" }

// InsertOpts makes the publication unique per change.
func (PushPublishArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 8, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

type pushPublishWorker struct {
	river.WorkerDefaults[PushPublishArgs]
	s *Service
}

// Timeout: the job waits for the environment's lease, held by deploys.
func (w *pushPublishWorker) Timeout(*river.Job[PushPublishArgs]) time.Duration {
	return jobs.DeployTimeout
}

// Work publishes the pushed commit if the branch still points at it: when
// pushes follow each other quickly, only the newest is published (each
// push queues its own job, and they may run in any order; publishing an
// older commit after a newer one would roll the site back).
func (w *pushPublishWorker) Work(ctx context.Context, job *river.Job[PushPublishArgs]) error {
	return w.s.oneAtATime(ctx, job.Args.Owner+"/"+job.Args.Repo, job.Args.Env, func(ctx context.Context) error { return w.work(ctx, job) })
}

func (w *pushPublishWorker) work(ctx context.Context, job *river.Job[PushPublishArgs]) error {
	a := job.Args
	ctx = zerolog.Ctx(ctx).With().Str("repo", a.Owner+"/"+a.Repo).Str("env", a.Env).Str("sha", a.SHA).Logger().WithContext(ctx)
	re := RepoEvent{Installation: a.Installation, Owner: a.Owner, Repo: a.Repo, DefaultBranch: a.DefaultBranch, Actor: a.Actor}
	p, repo, err := w.s.configs.PipelineFor(ctx, re)
	if err != nil || p == nil {
		return err
	}
	env, ok := p.Env(a.Env)
	if !ok {
		return nil
	}
	if err := w.s.resume(ctx, repo, p, env); err != nil {
		return err
	}
	head, err := repo.BranchHead(ctx, env.Branch)
	if errors.Is(err, gh.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if head != a.SHA {
		zerolog.Ctx(ctx).Info().Str("head", head).Msg("branch moved on since the push; the newer head is published instead")
		return nil
	}
	reason, source := "push", ""
	pr, err := repo.MergedInto(ctx, a.SHA, env.Branch)
	if err != nil {
		return err
	}
	if pr != nil {
		reason, source = "merge", pr.Head
	}
	detail := map[string]any{"reason": reason, "previous": a.Previous}
	if pr != nil {
		detail["pull_request"] = pr.Number
		detail["source"] = pr.Head
	}
	if err := w.s.store.Audit(ctx, store.AuditEntry{Repo: repo.FullName(), Actor: a.Actor, Action: "publish", Env: env.Name,
		SHA: a.SHA, Outcome: reason, Detail: detail}); err != nil {
		return err
	}
	return w.s.pub.Publish(ctx, repo, p, env, Publication{Env: env.Name, SHA: a.SHA, Previous: a.Previous, Reason: reason,
		Actor: a.Actor, Source: source, DefaultBranch: a.DefaultBranch, Installation: a.Installation})
}

// QueueEvaluation queues an evaluation. Evaluations are unique by their
// arguments while queued or running, which coalesces a burst; but an event
// that arrives while the evaluation runs may come after it read the heads,
// so it must not be dropped: it queues one follow-up (the next Round),
// which the rest of the burst then coalesces into.
func (s *Service) QueueEvaluation(ctx context.Context, args EvaluateArgs) error {
	for range 4 {
		res, err := s.engine.Insert(ctx, args, nil)
		if err != nil {
			return err
		}
		if !res.UniqueSkippedAsDuplicate || res.Job == nil || res.Job.State != rivertype.JobStateRunning {
			return nil
		}
		var running EvaluateArgs
		if err := json.Unmarshal(res.Job.EncodedArgs, &running); err != nil {
			return fmt.Errorf("read running evaluation: %w", err)
		}
		args.Round = running.Round + 1
	}
	return nil
}

// oneAtATime runs fn while no other evaluation or publication of the same
// environment runs, in this process (a mutex) and among replicas sharing a
// PostgreSQL database (an advisory lock). Without it two evaluations of one
// environment (a push and a check event for the same head) could both read
// the old head, both fast-forward to the same commit (the second PATCH is a
// no-op GitHub accepts) and both record and publish the promotion.
func (s *Service) oneAtATime(ctx context.Context, repo, env string, fn func(ctx context.Context) error) error {
	key := repo + " " + env
	s.mu.Lock()
	if s.envs == nil {
		s.envs = map[string]*sync.Mutex{}
	}
	m := s.envs[key]
	if m == nil {
		m = &sync.Mutex{}
		s.envs[key] = m
	}
	s.mu.Unlock()
	m.Lock()
	defer m.Unlock()
	return s.store.WithLock(ctx, "hoist promotion "+key, fn)
}
