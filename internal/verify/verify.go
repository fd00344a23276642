// Package verify checks an environment's live site after each deploy and
// purge (the hoist/verify check run, and the outcome on the GitHub
// deployment) and, where the environment opts in, rolls it back
// automatically to the last deployment that passed: as a new commit on
// the environment's branch that restores the earlier tree, moved with
// compare-and-swap, deployed, purged and verified again, once per
// incident. Its state lives in the verify_runs and verify_incidents
// tables, so a restart carries on where it stopped.
package verify

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/pipeline"
	"github.com/hoist-dev/hoist/internal/publish"
	"github.com/hoist-dev/hoist/internal/repoconfig"
	"github.com/hoist-dev/hoist/internal/smokegate"
	"github.com/hoist-dev/hoist/internal/store"
)

// CheckName is the check run of a verification, on the deployed commit.
const CheckName = "hoist/verify"

// Outcome kinds recorded through OutcomeRecorder.
const (
	KindVerify   = "verify"
	KindRollback = "rollback"
)

// OutcomeRecorder counts outcomes per environment (failure budgets,
// delivery metrics): kind is KindVerify or KindRollback, ok whether it
// passed, sha the deployed commit.
type OutcomeRecorder interface {
	Record(ctx context.Context, repo, env, kind string, ok bool, sha string, at time.Time) error
}

// Alert kinds.
const (
	AlertVerifyFailed   = "verify_failed"
	AlertRolledBack     = "rolled_back"
	AlertRollbackFailed = "rollback_failed"
	AlertHeld           = "held"
)

// Alert is something a person should hear about now.
type Alert struct {
	Repo, Env string
	Kind      string
	SHA       string
	// Summary is one or two sentences, Markdown-free.
	Summary string
	// URL is the page to look at (the check run).
	URL string
	At  time.Time
}

// Alerter tells people (a webhook); the default logs.
type Alerter interface {
	Alert(ctx context.Context, a Alert) error
}

// LiveChecker runs the page checks against a live URL (smokegate.Gate).
type LiveChecker interface {
	CheckLive(ctx context.Context, c smokegate.LiveCheck) (smokegate.LiveResult, error)
}

// Publisher publishes a change of an environment (publish.Publisher).
type Publisher interface {
	Complete(ctx context.Context, repo *gh.Repo, p *pipeline.Pipeline, env pipeline.Environment, pub publish.Publication) error
}

// Deps is what a Service needs.
type Deps struct {
	Clients githubapp.ClientCreator
	Engine  *jobs.Engine
	Store   *store.Store
	Configs *repoconfig.Loader
	Publish Publisher
	Live    LiveChecker
	// Outcomes and Alerts default to nothing and to the log.
	Outcomes OutcomeRecorder
	Alerts   Alerter
	Logger   zerolog.Logger
	Now      func() time.Time
	// BeforeMove, when set, runs right before a rollback moves the
	// branch (tests land a push there).
	BeforeMove func(repo, env string)
}

// Service verifies deployments and rolls environments back.
type Service struct {
	d     Deps
	state state
}

// New returns a Service.
func New(d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Outcomes == nil {
		d.Outcomes = nopRecorder{}
	}
	if d.Alerts == nil {
		d.Alerts = LogAlerter{Logger: d.Logger}
	}
	return &Service{d: d, state: state{st: d.Store, now: d.Now}}
}

// SetOutcomes and SetAlerts replace the defaults; call before the
// workers run.
func (s *Service) SetOutcomes(r OutcomeRecorder) { s.d.Outcomes = r }

// SetAlerts replaces the log as the receiver of alerts.
func (s *Service) SetAlerts(a Alerter) { s.d.Alerts = a }

type nopRecorder struct{}

func (nopRecorder) Record(context.Context, string, string, string, bool, string, time.Time) error {
	return nil
}

// LogAlerter writes alerts to the log.
type LogAlerter struct{ Logger zerolog.Logger }

// Alert logs a.
func (l LogAlerter) Alert(_ context.Context, a Alert) error {
	l.Logger.Error().Str("repo", a.Repo).Str("env", a.Env).Str("sha", a.SHA).Str("alert", a.Kind).Str("url", a.URL).Msg(a.Summary)
	return nil
}

// Workers registers the verification and rollback workers.
func (s *Service) Workers(e *jobs.Engine) {
	river.AddWorker(e.Workers(), &verifyWorker{s: s})
	river.AddWorker(e.Workers(), &rollbackWorker{s: s})
}

// VerifyArgs verifies one deployment (a verify_runs row).
type VerifyArgs struct {
	Run           int64  `json:"run"`
	Installation  int64  `json:"installation"`
	Owner         string `json:"owner"`
	Repo          string `json:"repo"`
	DefaultBranch string `json:"default_branch"`
}

// Kind names the job for River.
func (VerifyArgs) Kind() string { return "hoist_verify" }

// InsertOpts: one job per run.
func (VerifyArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 4, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// Landed queues the verification of a completed deploy when its
// environment asks for one (publish.Landed). The run and its job are
// written in one transaction: both exist, or the publish is retried.
func (s *Service) Landed(ctx context.Context, d publish.Deployed) error {
	re := repoconfig.RepoEvent{Installation: d.Installation, Owner: d.Owner, Repo: d.Repo, DefaultBranch: d.DefaultBranch, Actor: d.Actor}
	p, _, err := s.d.Configs.PipelineFor(ctx, re)
	if err != nil || p == nil {
		return err
	}
	env, ok := p.Env(d.Env)
	if !ok || env.VerifyURL() == "" {
		return nil
	}
	full := d.Owner + "/" + d.Repo
	inc, isRollback, err := s.state.rollbackOf(ctx, full, d.Env, d.SHA)
	if err != nil {
		return err
	}
	r := Run{Repo: full, Env: d.Env, Deployment: d.Deployment, SHA: d.SHA, URL: env.VerifyURL()}
	if isRollback && inc.open() {
		// Only the rollback's own deploy ends the incident; a later
		// redeploy of the same commit is an ordinary one.
		r.Incident = inc.ID
	}
	return s.d.Store.InTx(ctx, func(tx store.Tx) error {
		run, err := s.state.addRun(ctx, tx, r)
		if err != nil {
			return err
		}
		if run.Status != "queued" {
			return nil
		}
		_, err = s.d.Engine.InsertTx(ctx, tx, VerifyArgs{Run: run.ID, Installation: d.Installation, Owner: d.Owner, Repo: d.Repo,
			DefaultBranch: d.DefaultBranch}, nil)
		return err
	})
}

type verifyWorker struct {
	river.WorkerDefaults[VerifyArgs]
	s *Service
}

// Timeout bounds one attempt: a browser run of the site's pages.
func (w *verifyWorker) Timeout(*river.Job[VerifyArgs]) time.Duration { return 5 * time.Minute }

// NextRetry retries soon: someone is waiting for the result.
func (w *verifyWorker) NextRetry(job *river.Job[VerifyArgs]) time.Time {
	return time.Now().Add(time.Duration(job.Attempt) * 2 * time.Second)
}

func (w *verifyWorker) Work(ctx context.Context, job *river.Job[VerifyArgs]) error {
	s, a := w.s, job.Args
	run, err := s.state.run(ctx, a.Run)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if run.Status != "queued" {
		return nil
	}
	log := zerolog.Ctx(ctx).With().Str("repo", run.Repo).Str("env", run.Env).Str("sha", run.SHA).Int64("verify_run", run.ID).Logger()
	ctx = log.WithContext(ctx)
	re := repoconfig.RepoEvent{Installation: a.Installation, Owner: a.Owner, Repo: a.Repo, DefaultBranch: a.DefaultBranch}
	p, repo, err := s.d.Configs.PipelineFor(ctx, re)
	if err != nil {
		return err
	}
	var env pipeline.Environment
	ok := false
	if p != nil {
		env, ok = p.Env(run.Env)
	}
	if !ok || env.VerifyURL() == "" {
		return s.state.finishRun(ctx, run.ID, "superseded", "", "the environment is no longer verified")
	}
	head, err := repo.BranchHead(ctx, env.Branch)
	if err != nil {
		return err
	}
	if head != run.SHA {
		// The branch moved on: the newer head's deploy is verified for
		// itself, and judging this one now would judge the wrong site.
		log.Info().Str("head", head).Msg("verification superseded by a newer head")
		if run.CheckRunID != 0 {
			s.completeCheck(ctx, repo, run, "neutral", smokegate.CheckOutputOf("Superseded",
				fmt.Sprintf("%s moved on to %s before the live site of this commit was checked.", env.Name, short(head))))
		}
		return s.state.finishRun(ctx, run.ID, "superseded", "", "superseded by "+short(head))
	}
	if run.CheckRunID == 0 {
		id, err := s.createCheck(ctx, repo, run, env.Name)
		if err != nil {
			return err
		}
		if err := s.state.setCheckRun(ctx, run.ID, id); err != nil {
			return err
		}
		run.CheckRunID = id
	}
	bust := ""
	if env.Verify.CacheBust {
		bust = short(run.SHA)
	}
	res, err := s.d.Live.CheckLive(ctx, smokegate.LiveCheck{Repo: run.Repo, Env: env.Name, SHA: run.SHA, URL: run.URL, CacheBust: bust,
		Smoke: s.smokeConfig(ctx, repo, a.DefaultBranch)})
	if errors.Is(err, smokegate.ErrBrowserBusy) {
		return river.JobSnooze(time.Second)
	}
	if err != nil {
		if job.Attempt < job.MaxAttempts && !jobs.IsPermanent(err) {
			log.Warn().Err(err).Int("attempt", job.Attempt).Msg("verification could not run; retrying")
			return err
		}
		// A check that cannot run says nothing about the site: it is
		// reported and alerted, and nothing is rolled back. A URL hoist
		// refuses to browse fails the deployment with the reason.
		title, why, state, desc := "Verification could not run", "the live site could not be checked: "+err.Error(), "error", "verification could not run: "+err.Error()
		var refused *smokegate.URLRefusedError
		if errors.As(err, &refused) {
			title, why, state, desc = "Verification refused", refused.Reason, "failure", "verification refused: "+refused.Reason
			log.Warn().Str("url", run.URL).Str("audit", "verify url refused").Msg(refused.Reason)
		}
		s.completeCheck(ctx, repo, run, "failure", smokegate.CheckOutputOf(title, why))
		_ = repo.SetDeploymentStatus(ctx, run.Deployment, state, "", "", cut(desc, 140))
		_ = s.d.Alerts.Alert(ctx, Alert{Repo: run.Repo, Env: run.Env, Kind: AlertVerifyFailed, SHA: run.SHA, Summary: why, At: s.d.Now()})
		if ferr := s.state.finishRun(ctx, run.ID, "completed", "error", cut(why, 500)); ferr != nil {
			return ferr
		}
		return river.JobCancel(err)
	}
	passed := res.Reason == ""
	conclusion := "success"
	if !passed {
		conclusion = "failure"
	}
	checkURL := s.completeCheck(ctx, repo, run, conclusion, res.Output)
	return s.concluded(ctx, repo, a, env, run, passed, res.Reason, checkURL)
}

// concluded records a finished verification everywhere it shows, and
// starts or ends an incident.
func (s *Service) concluded(ctx context.Context, repo *gh.Repo, a VerifyArgs, env pipeline.Environment, run Run, passed bool, reason, checkURL string) error {
	log := zerolog.Ctx(ctx)
	now := s.d.Now()
	envURL := env.URL
	if passed {
		if err := repo.SetDeploymentStatus(ctx, run.Deployment, "success", envURL, checkURL,
			cut(fmt.Sprintf("verified: the live site of %s passes its checks", short(run.SHA)), 140)); err != nil {
			return err
		}
	} else if err := repo.SetDeploymentStatus(ctx, run.Deployment, "failure", envURL, checkURL, cut("verification failed: "+reason, 140)); err != nil {
		return err
	}
	conclusion := "failure"
	if passed {
		conclusion = "success"
	}
	if err := s.state.finishRun(ctx, run.ID, "completed", conclusion, cut(reason, 500)); err != nil {
		return err
	}
	_ = s.d.Store.Audit(ctx, store.AuditEntry{Repo: run.Repo, Actor: "hoist", Action: "verify", Env: run.Env, SHA: run.SHA, Outcome: conclusion,
		Detail: map[string]any{"deployment": run.Deployment, "reason": reason, "check_run": run.CheckRunID, "incident": run.Incident}})
	if err := s.d.Outcomes.Record(ctx, run.Repo, run.Env, KindVerify, passed, run.SHA, now); err != nil {
		log.Warn().Err(err).Msg("verify: outcome not recorded")
	}
	log.Info().Str("conclusion", conclusion).Str("reason", reason).Msg("verification completed")
	if run.Incident != 0 {
		return s.rollbackVerified(ctx, repo, run, passed, reason, checkURL)
	}
	if passed {
		return nil
	}
	_ = s.d.Alerts.Alert(ctx, Alert{Repo: run.Repo, Env: run.Env, Kind: AlertVerifyFailed, SHA: run.SHA, URL: checkURL, At: now,
		Summary: fmt.Sprintf("The live site of %s in %s failed verification: %s", short(run.SHA), run.Env, reason)})
	if !env.Verify.AutoRollback {
		return nil
	}
	return s.startIncident(ctx, a, run, reason, checkURL)
}

func (s *Service) createCheck(ctx context.Context, repo *gh.Repo, run Run, env string) (int64, error) {
	cr, _, err := repo.Client.Checks.CreateCheckRun(ctx, repo.Owner, repo.Name, github.CreateCheckRunOptions{
		Name: CheckName, HeadSHA: run.SHA, Status: github.String("in_progress"), ExternalID: github.String(strconv.FormatInt(run.ID, 10)),
		Output: &github.CheckRunOutput{Title: github.String("Checking the live site"),
			Summary: github.String(fmt.Sprintf("hoist is checking the live site of `%s` in **%s** at %s, through the CDN, in headless Chromium.", short(run.SHA), env, run.URL))},
	})
	if err != nil {
		return 0, fmt.Errorf("create %s check run on %s: %w", CheckName, short(run.SHA), err)
	}
	return cr.GetID(), nil
}

// completeCheck completes the run's check run and returns its page; a
// failure to report is logged (the outcome is recorded elsewhere too).
func (s *Service) completeCheck(ctx context.Context, repo *gh.Repo, run Run, conclusion string, out *github.CheckRunOutput) string {
	now := github.Timestamp{Time: s.d.Now()}
	cr, _, err := repo.Client.Checks.UpdateCheckRun(ctx, repo.Owner, repo.Name, run.CheckRunID, github.UpdateCheckRunOptions{
		Name: CheckName, Status: github.String("completed"), Conclusion: github.String(conclusion), CompletedAt: &now, Output: out})
	if err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("verify: check run not completed")
		return ""
	}
	return cr.GetHTMLURL()
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// cut shortens s to n characters (a deployment status description takes
// 140).
func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
