package generate

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/store"
)

// Job kinds, as they appear in River's tables.
const (
	WindowKind   = "hoist_generate_window"
	DispatchKind = "hoist_generate_dispatch"
)

// key names a generation: one repository and environment. Owner and repo
// are lower-cased because GitHub's names are case-insensitive and the
// key is what makes jobs unique.
type key struct {
	Owner string
	Repo  string
	Env   string
}

func keyOf(owner, repo, env string) key {
	return key{Owner: strings.ToLower(owner), Repo: strings.ToLower(repo), Env: env}
}

// waiting are the job states in which a job still stands for a generation
// to come (River requires running among them; see dispatchArgs).
var waiting = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateScheduled,
	rivertype.JobStateRetryable, rivertype.JobStateRunning,
}

// windowArgs is an open debounce window: scheduled at its end, unique
// while it waits, so every trigger within it joins the same job. The
// first trigger's reason and time are the ones passed on.
type windowArgs struct {
	Owner        string    `json:"owner" river:"unique"`
	Repo         string    `json:"repo" river:"unique"`
	Env          string    `json:"env" river:"unique"`
	Installation int64     `json:"installation"`
	Reason       string    `json:"reason"`
	RequestedAt  time.Time `json:"requested_at"`
	Source       string    `json:"source"`
	Actor        string    `json:"actor"`
}

func (windowArgs) Kind() string { return WindowKind }

// InsertOpts: many snoozes are possible while a long dispatch runs; they
// do not count as attempts, errors do.
func (windowArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: waiting}}
}

func (a windowArgs) key() key { return key{Owner: a.Owner, Repo: a.Repo, Env: a.Env} }

// dispatchArgs starts one generation. Unique while it waits or runs: at
// most one per key is queued or running.
type dispatchArgs struct {
	Owner        string    `json:"owner" river:"unique"`
	Repo         string    `json:"repo" river:"unique"`
	Env          string    `json:"env" river:"unique"`
	Installation int64     `json:"installation"`
	Reason       string    `json:"reason"`
	RequestedAt  time.Time `json:"requested_at"`
	Source       string    `json:"source"`
	Actor        string    `json:"actor"`
}

func (dispatchArgs) Kind() string { return DispatchKind }

func (dispatchArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 6, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: waiting}}
}

// busySnooze is how long a closed window waits for a running dispatch of
// the same key before it looks again. River's scheduler promotes snoozed
// jobs every few seconds, so shorter would not be sooner.
const busySnooze = time.Second

// RegisterWorkers adds the generation workers to the engine, before it
// starts.
func (s *Service) RegisterWorkers(e *jobs.Engine) {
	river.AddWorker(e.Workers(), &windowWorker{s: s})
	river.AddWorker(e.Workers(), &dispatchWorker{s: s})
}

type windowWorker struct {
	river.WorkerDefaults[windowArgs]
	s *Service
}

var errDispatchRunning = errors.New("a dispatch of this generation is running")

// Work closes the window: it queues the dispatch and completes in one
// transaction, so a crash leaves either the window or the dispatch, never
// both or neither. A waiting dispatch already covers this window's
// triggers (it has not called GitHub yet); a running one may not, so the
// window waits for it to finish.
func (w *windowWorker) Work(ctx context.Context, job *river.Job[windowArgs]) error {
	a := job.Args
	ctx = w.s.jobCtx(ctx, a.key())
	next := dispatchArgs{Owner: a.Owner, Repo: a.Repo, Env: a.Env, Installation: a.Installation,
		Reason: a.Reason, RequestedAt: a.RequestedAt, Source: a.Source, Actor: a.Actor}
	err := w.s.d.Store.InTx(ctx, func(tx store.Tx) error {
		res, err := w.s.d.Engine.InsertTx(ctx, tx, next, nil)
		if err != nil {
			return fmt.Errorf("queue generation dispatch: %w", err)
		}
		if res.UniqueSkippedAsDuplicate && res.Job.State == rivertype.JobStateRunning {
			return errDispatchRunning
		}
		if res.UniqueSkippedAsDuplicate {
			zerolog.Ctx(ctx).Debug().Int64("job", res.Job.ID).Msg("window joins a generation dispatch that has not started")
		}
		return jobs.CompleteTx(ctx, tx, job)
	})
	if errors.Is(err, errDispatchRunning) {
		zerolog.Ctx(ctx).Debug().Msg("generation running; the follow-up waits for it")
		return river.JobSnooze(busySnooze)
	}
	return err
}

type dispatchWorker struct {
	river.WorkerDefaults[dispatchArgs]
	s *Service
}

// Work starts the workflow. The settings are read again: the workflow or
// the branch may have changed since the trigger.
func (w *dispatchWorker) Work(ctx context.Context, job *river.Job[dispatchArgs]) error {
	a := job.Args
	k := key{Owner: a.Owner, Repo: a.Repo, Env: a.Env}
	ctx = w.s.jobCtx(ctx, k)
	t := Trigger{Installation: a.Installation, Owner: a.Owner, Repo: a.Repo, Environment: a.Env, Reason: a.Reason, Source: a.Source, Actor: a.Actor}
	detail := func(extra map[string]any) map[string]any {
		m := map[string]any{"job": job.ID, "attempt": job.Attempt, "requested_at": a.RequestedAt.UTC().Format(time.RFC3339Nano)}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	fail := func(err error, code string) error {
		w.s.audit(ctx, t, a.Env, "failed", detail(map[string]any{"code": code, "error": err.Error()}))
		return river.JobCancel(err)
	}
	settings, err := w.s.d.Settings(ctx, a.Installation, a.Owner, a.Repo)
	switch {
	case errors.Is(err, ErrBadConfig) || errors.Is(err, ErrNotInstalled):
		return fail(err, "settings")
	case err != nil:
		return w.retry(ctx, job, t, detail, fmt.Errorf("generation settings of %s/%s: %w", a.Owner, a.Repo, err))
	}
	if _, refusal := decide(settings, t); refusal != nil {
		w.s.audit(ctx, t, a.Env, "refused", detail(map[string]any{"code": refusal.Code, "error": refusal.Message}))
		return river.JobCancel(refusal)
	}
	repo, err := w.s.d.RepoFor(ctx, a.Installation, a.Owner, a.Repo)
	if err != nil {
		return w.retry(ctx, job, t, detail, fmt.Errorf("GitHub client for %s/%s: %w", a.Owner, a.Repo, err))
	}
	inputs := map[string]any{
		"environment":  a.Env,
		"reason":       a.Reason,
		"requested_at": a.RequestedAt.UTC().Format(time.RFC3339),
	}
	if err := repo.DispatchWorkflow(ctx, settings.Workflow, settings.Ref, inputs); err != nil {
		if refusedByGitHub(err) {
			return fail(err, "github_refused")
		}
		return w.retry(ctx, job, t, detail, err)
	}
	w.s.audit(ctx, t, a.Env, "dispatched", detail(map[string]any{"workflow": settings.Workflow, "ref": settings.Ref}))
	zerolog.Ctx(ctx).Info().Str("workflow", settings.Workflow).Str("ref", settings.Ref).Msg("generation workflow dispatched")
	return nil
}

// retry returns err for River to retry with backoff; the last attempt's
// failure is audited, so a generation never vanishes silently.
func (w *dispatchWorker) retry(ctx context.Context, job *river.Job[dispatchArgs], t Trigger, detail func(map[string]any) map[string]any, err error) error {
	if job.Attempt >= job.MaxAttempts {
		w.s.audit(ctx, t, t.Environment, "failed", detail(map[string]any{"code": "attempts_exhausted", "error": err.Error()}))
	} else {
		zerolog.Ctx(ctx).Warn().Err(err).Int("attempt", job.Attempt).Msg("generation dispatch failed; retrying")
	}
	return err
}

// refusedByGitHub tells answers that a retry cannot change (the workflow
// does not exist, lacks a workflow_dispatch trigger or these inputs, the
// App lacks the actions permission) from transient ones. Rate limits are
// their own error types and are retried.
func refusedByGitHub(err error) bool {
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil {
		return false
	}
	switch er.Response.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

// jobCtx gives a worker's context the logger with the generation's keys.
func (s *Service) jobCtx(ctx context.Context, k key) context.Context {
	log := s.d.Logger.With().Str("repo", k.Owner+"/"+k.Repo).Str("env", k.Env).Logger()
	return log.WithContext(ctx)
}
