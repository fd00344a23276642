// Package generate triggers the build of a site generated from a database.
// A content change arrives as a repository_dispatch event of the configured
// type, or as a signed POST /api/generate/{owner}/{repo} from a database
// trigger that cannot call GitHub. Bursts coalesce within the repository's
// debounce window, and then the configured workflow is started with
// workflow_dispatch (inputs environment, reason, requested_at).
//
// The timers are River jobs, so they survive restarts, and River's unique
// jobs do the coalescing, so there is no table of our own:
//
//   - a trigger inserts a window job for (repository, environment),
//     scheduled at now+debounce and unique while it waits: the 50 triggers of
//     a burst make one job;
//   - when the window closes, its job inserts the dispatch job for the same
//     key, unique while waiting or running, and completes in the same
//     transaction. If that dispatch job is already running, the window job
//     snoozes until it is done: a change that arrives while a generation
//     is being started is never folded into it, it gets exactly one
//     follow-up;
//   - the dispatch job calls GitHub.
//
// So per repository and environment there is at most one generation
// waiting and one being started.
package generate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/go-github/v60/github"
	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/store"
)

// DispatchTrigger is the smallest workflow trigger that accepts the inputs
// hoist sends with a dispatch (environment, reason, requested_at): GitHub
// refuses a dispatch whose inputs the workflow does not declare.
const DispatchTrigger = `on:
  workflow_dispatch:
    inputs:
      environment: { required: true, type: string }
      reason: { required: false, type: string }
      requested_at: { required: false, type: string }
`

// Settings are a repository's generation settings (the generate section of
// .github/hoist.yml, plus what the trigger needs to know about its
// environments).
type Settings struct {
	// DispatchType is the repository_dispatch event type that means "the
	// content changed"; empty: only the signed POST triggers generation.
	DispatchType string
	// Workflow is the file name of the workflow that builds the site;
	// empty: generation is not configured and triggers are refused.
	Workflow string
	// Debounce is the window in which triggers coalesce into one build.
	Debounce time.Duration
	// Ref is the branch the workflow runs on (its default branch).
	Ref string
	// Environments are the environment names a trigger may ask for.
	Environments []string
	// DefaultEnvironment is used when a trigger names none; empty means a
	// trigger must name one.
	DefaultEnvironment string
}

// SettingsLookup returns the generation settings of owner/repo.
type SettingsLookup func(ctx context.Context, installationID int64, owner, repo string) (Settings, error)

// SecretLookup returns the secret owner/repo's POST triggers are signed
// with; false when none is configured.
type SecretLookup func(owner, repo string) (string, bool)

// Errors a SettingsLookup or InstallationFor returns so that the HTTP
// answer can say what is wrong.
var (
	// ErrNotInstalled: the App is not installed on the repository.
	ErrNotInstalled = errors.New("the GitHub App is not installed on the repository")
	// ErrBadConfig: the repository's configuration cannot be read; the
	// message says where.
	ErrBadConfig = errors.New("invalid repository configuration")
)

// Deps are the Service's dependencies.
type Deps struct {
	Engine *jobs.Engine
	Store  *store.Store
	// RepoFor returns the repository as the App's installation sees it.
	RepoFor func(ctx context.Context, installationID int64, owner, name string) (*gh.Repo, error)
	// InstallationFor finds the installation of owner/repo (the POST
	// carries none).
	InstallationFor func(ctx context.Context, owner, repo string) (int64, error)
	Settings        SettingsLookup
	Secret          SecretLookup
	// Logger is used where the context carries none (workers).
	Logger zerolog.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Service receives triggers and runs the generation jobs.
type Service struct {
	d Deps
}

// New returns a Service.
func New(d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Secret == nil {
		// No secrets: the signed POST is refused for every repository.
		d.Secret = func(string, string) (string, bool) { return "", false }
	}
	return &Service{d: d}
}

// Trigger is one request for a generation, from either source.
type Trigger struct {
	Installation int64
	Owner, Repo  string
	// Environment as the trigger named it ("" for the default).
	Environment string
	Reason      string
	// Source is "repository_dispatch" or "api".
	Source string
	// Actor is the dispatch's sender, or "api" for a signed POST.
	Actor string
}

// Scheduled says what a trigger led to.
type Scheduled struct {
	Environment string    `json:"environment"`
	RunAt       time.Time `json:"run_at"`
	// Coalesced is true when a generation was already waiting and this
	// trigger joined it.
	Coalesced bool  `json:"coalesced"`
	JobID     int64 `json:"job_id"`
}

// Refusal is a trigger that is refused for a reason its sender can fix.
type Refusal struct {
	// Code is a stable word for logs and the API: no_workflow,
	// unknown_environment, missing_environment.
	Code    string
	Message string
}

func (r *Refusal) Error() string { return r.Message }

// maxReasonRunes bounds the reason passed on to the workflow input.
const maxReasonRunes = 500

// decide checks a trigger against the repository's settings and returns
// the environment to generate. It is the whole policy of who may trigger
// what, over plain data.
func decide(s Settings, t Trigger) (string, *Refusal) {
	repo := t.Owner + "/" + t.Repo
	if s.Workflow == "" {
		return "", &Refusal{Code: "no_workflow", Message: fmt.Sprintf(
			"%s has no generate.workflow in .github/hoist.yml: set it to the workflow that builds the site, such as build-site.yml", repo)}
	}
	env := t.Environment
	if env == "" {
		env = s.DefaultEnvironment
	}
	if env == "" {
		return "", &Refusal{Code: "missing_environment", Message: fmt.Sprintf(
			"name the environment to generate (one of %s)", strings.Join(s.Environments, ", "))}
	}
	for _, e := range s.Environments {
		if e == env {
			return env, nil
		}
	}
	return "", &Refusal{Code: "unknown_environment", Message: fmt.Sprintf(
		"%s has no environment %q; it has %s", repo, env, strings.Join(s.Environments, ", "))}
}

func cutReason(r string) string {
	r = strings.TrimSpace(r)
	if utf8.RuneCountInString(r) <= maxReasonRunes {
		return r
	}
	return string([]rune(r)[:maxReasonRunes-1]) + "…"
}

// Schedule records a trigger: it looks the settings up, checks the
// trigger, and opens (or joins) the debounce window. A *Refusal error is
// the trigger's fault; other errors are the system's.
func (s *Service) Schedule(ctx context.Context, t Trigger) (Scheduled, error) {
	if s.d.Engine == nil || s.d.Store == nil {
		return Scheduled{}, errors.New("generate: service used before it was bound to the job engine and store")
	}
	repo := t.Owner + "/" + t.Repo
	settings, err := s.d.Settings(ctx, t.Installation, t.Owner, t.Repo)
	if err != nil {
		return Scheduled{}, fmt.Errorf("generation settings of %s: %w", repo, err)
	}
	env, refusal := decide(settings, t)
	if refusal != nil {
		s.audit(ctx, t, t.Environment, "refused", map[string]any{"code": refusal.Code, "error": refusal.Message})
		return Scheduled{}, refusal
	}
	now := s.d.Now()
	k := keyOf(t.Owner, t.Repo, env)
	args := windowArgs{Owner: k.Owner, Repo: k.Repo, Env: k.Env, Installation: t.Installation,
		Reason: cutReason(t.Reason), RequestedAt: now.UTC(), Source: t.Source, Actor: t.Actor}
	opts := &river.InsertOpts{}
	runAt := now
	if settings.Debounce > 0 {
		runAt = now.Add(settings.Debounce)
		opts.ScheduledAt = runAt
	}
	res, err := s.d.Engine.Insert(ctx, args, opts)
	if err != nil {
		return Scheduled{}, fmt.Errorf("schedule generation of %s %s: %w", repo, env, err)
	}
	out := Scheduled{Environment: env, RunAt: res.Job.ScheduledAt, Coalesced: res.UniqueSkippedAsDuplicate, JobID: res.Job.ID}
	outcome := "scheduled"
	if out.Coalesced {
		outcome = "coalesced"
	}
	s.audit(ctx, t, env, outcome, map[string]any{"job": out.JobID, "run_at": out.RunAt.UTC().Format(time.RFC3339Nano),
		"debounce": settings.Debounce.String()})
	return out, nil
}

// audit records a trigger's outcome; the audit log write failing is logged,
// not returned, since the trigger itself was handled.
func (s *Service) audit(ctx context.Context, t Trigger, env, outcome string, detail map[string]any) {
	if detail == nil {
		detail = map[string]any{}
	}
	detail["source"] = t.Source
	if t.Reason != "" {
		detail["reason"] = cutReason(t.Reason)
	}
	s.record(ctx, store.AuditEntry{Repo: t.Owner + "/" + t.Repo, Actor: t.Actor, Action: "generate", Env: env,
		Outcome: outcome, Detail: detail})
}

func (s *Service) record(ctx context.Context, e store.AuditEntry) {
	ctx = s.logCtx(ctx)
	if s.d.Store == nil {
		zerolog.Ctx(ctx).Error().Str("repo", e.Repo).Str("outcome", e.Outcome).Msg("generate: no store to audit to")
		return
	}
	if err := s.d.Store.Audit(ctx, e); err != nil {
		zerolog.Ctx(ctx).Error().Err(err).Str("repo", e.Repo).Msg("generate: audit")
	}
}

// logCtx makes sure ctx carries a logger.
func (s *Service) logCtx(ctx context.Context) context.Context {
	if zerolog.Ctx(ctx).GetLevel() == zerolog.Disabled {
		return s.d.Logger.WithContext(ctx)
	}
	return ctx
}

// OnRepositoryDispatch is the repository_dispatch handler's hand-over. An
// event of another type is none of generation's business. Refusals are
// logged and audited, not returned: retrying would not fix them.
func (s *Service) OnRepositoryDispatch(ctx context.Context, ev *github.RepositoryDispatchEvent) error {
	ctx = s.logCtx(ctx)
	t := Trigger{
		Installation: ev.GetInstallation().GetID(),
		Owner:        ev.GetRepo().GetOwner().GetLogin(),
		Repo:         ev.GetRepo().GetName(),
		Source:       "repository_dispatch",
		Actor:        ev.GetSender().GetLogin(),
	}
	log := zerolog.Ctx(ctx).With().Str("repo", t.Owner+"/"+t.Repo).Str("event", "repository_dispatch").Logger()
	settings, err := s.d.Settings(ctx, t.Installation, t.Owner, t.Repo)
	if err != nil {
		if errors.Is(err, ErrBadConfig) {
			log.Warn().Err(err).Msg("repository_dispatch not handled: the repository configuration is invalid")
			s.audit(ctx, t, "", "refused", map[string]any{"code": "bad_config", "error": err.Error()})
			return nil
		}
		return fmt.Errorf("generation settings of %s/%s: %w", t.Owner, t.Repo, err)
	}
	if settings.Workflow != "" && settings.DispatchType != ev.GetAction() {
		log.Debug().Str("type", ev.GetAction()).Msg("repository_dispatch of another type; not a generation trigger")
		return nil
	}
	// client_payload is free-form: only string values of environment and
	// reason are taken; anything else leaves the defaults.
	var payload map[string]any
	if len(ev.ClientPayload) > 0 {
		_ = json.Unmarshal(ev.ClientPayload, &payload)
	}
	t.Environment, _ = payload["environment"].(string)
	t.Reason, _ = payload["reason"].(string)
	if t.Reason == "" {
		t.Reason = fmt.Sprintf("repository_dispatch %s by %s", ev.GetAction(), t.Actor)
	}
	sched, err := s.Schedule(ctx, t)
	var refusal *Refusal
	if errors.As(err, &refusal) {
		log.Warn().Str("code", refusal.Code).Msg("generation refused: " + refusal.Message)
		return nil
	}
	if err != nil {
		return err
	}
	log.Info().Str("env", sched.Environment).Bool("coalesced", sched.Coalesced).Time("run_at", sched.RunAt).Msg("generation scheduled")
	return nil
}
