package smokegate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/checks"
	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/pipeline"
	"github.com/hoist-dev/hoist/internal/safety"
	"github.com/hoist-dev/hoist/internal/site"
	"github.com/hoist-dev/hoist/internal/smoke"
	"github.com/hoist-dev/hoist/internal/store"
)

// smokeWorker runs SmokeArgs jobs: fetch, serve privately, test, report.
type smokeWorker struct {
	river.WorkerDefaults[SmokeArgs]
	s *Gate
}

// Timeout bounds one attempt; the runner's own page timeouts are far
// shorter, so this only ends a run that is stuck as a whole.
func (w *smokeWorker) Timeout(*river.Job[SmokeArgs]) time.Duration { return 5 * time.Minute }

// NextRetry retries soon: a failed attempt is mostly a browser or network
// hiccup, and someone is waiting for the check run.
func (w *smokeWorker) NextRetry(job *river.Job[SmokeArgs]) time.Time {
	return time.Now().Add(time.Duration(job.Attempt) * 2 * time.Second)
}

// Work runs one smoke test. The check run is created once (its id is kept
// in the run's record) and updated by every attempt. When the last attempt
// fails, or the failure is permanent, the check run is completed as a
// failure with the reason, so it never stays in progress.
func (w *smokeWorker) Work(ctx context.Context, job *river.Job[SmokeArgs]) error {
	s, a := w.s, job.Args
	log := zerolog.Ctx(ctx).With().Str("repo", a.Owner+"/"+a.Repo).Str("sha", a.SHA).Str("env", a.Env).Int64("smoke_run", a.RunID).Logger()
	ctx = log.WithContext(ctx)
	run, err := s.store.SmokeRun(ctx, a.RunID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if run.Status == "completed" {
		return nil // a retry after the report was written
	}
	client, err := s.clients.NewInstallationClient(a.Installation)
	if err != nil {
		return fmt.Errorf("client for installation %d: %w", a.Installation, err)
	}
	repo := gh.NewRepo(client, a.Owner, a.Repo)
	if run.CheckRunID == 0 && job.Attempt > 1 {
		// An earlier attempt may have created the check run and stopped
		// before recording it.
		if id := s.findSmokeCheck(ctx, repo, run); id != 0 {
			if err := s.store.SetSmokeCheckRun(ctx, run.ID, id); err != nil {
				return err
			}
			run.CheckRunID = id
		}
	}
	if run.CheckRunID == 0 {
		id, err := s.createSmokeCheck(ctx, repo, run)
		if err != nil {
			return err
		}
		if err := s.store.SetSmokeCheckRun(ctx, run.ID, id); err != nil {
			return err
		}
		run.CheckRunID = id
	}
	if err = s.smokeReady(); err == nil {
		// One browser at a time: a run that finds the browser busy waits
		// outside the worker pool (a snooze costs no attempt), so webhooks
		// keep flowing meanwhile.
		select {
		case s.smoke.browsers <- struct{}{}:
		default:
			return river.JobSnooze(time.Second)
		}
		start := time.Now()
		var conclusion string
		conclusion, err = s.runSmoke(ctx, repo, run, a)
		<-s.smoke.browsers
		s.metrics.observe(conclusion, time.Since(start))
	}
	if err == nil {
		return nil
	}
	if job.Attempt < job.MaxAttempts && !jobs.IsPermanent(err) {
		log.Warn().Err(err).Int("attempt", job.Attempt).Msg("smoke test failed; retrying")
		return err
	}
	// Last attempt: report the failure on the check run with its reason.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if ferr := s.failSmoke(fctx, repo, run, err); ferr != nil {
		log.Error().Err(ferr).Msg("could not report the failed smoke test")
		return ferr
	}
	log.Error().Err(err).Msg("smoke test could not run")
	return river.JobCancel(err)
}

// smokeDeadlineWorker runs SmokeDeadlineArgs jobs.
type smokeDeadlineWorker struct {
	river.WorkerDefaults[SmokeDeadlineArgs]
	s *Gate
}

// Work fails the run if it is still not completed.
func (w *smokeDeadlineWorker) Work(ctx context.Context, job *river.Job[SmokeDeadlineArgs]) error {
	s, a := w.s, job.Args
	run, err := s.store.SmokeRun(ctx, a.RunID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil || run.Status == "completed" {
		return err
	}
	client, err := s.clients.NewInstallationClient(a.Installation)
	if err != nil {
		return fmt.Errorf("client for installation %d: %w", a.Installation, err)
	}
	zerolog.Ctx(ctx).Error().Str("repo", run.Repo).Str("sha", run.SHA).Int64("smoke_run", run.ID).Msg("smoke test did not finish by its deadline")
	repo := gh.NewRepo(client, a.Owner, a.Repo)
	if run.CheckRunID == 0 {
		run.CheckRunID = s.findSmokeCheck(ctx, repo, run)
	}
	return s.failSmoke(ctx, repo, run,
		fmt.Errorf("the smoke test did not finish within %s: the server running it may have stopped", smokeDeadline))
}

func (s *Gate) smokeReady() error {
	if err := s.smoke.ready(); err != nil {
		return jobs.Permanent(err)
	}
	return nil
}

// reportURL is the run's report page, signed: the check run links it and
// its readers open it without signing in to hoist.
func (s *Gate) reportURL(run store.SmokeRun) string {
	s.smoke.mu.Lock()
	u := s.smoke.urls
	s.smoke.mu.Unlock()
	if u == nil {
		return s.smoke.publicURL + "/"
	}
	// Signed at the run's creation, so the URL stays the same across the
	// check run's updates.
	return s.smoke.publicURL + u.Sign(SmokeReportPrefix+run.Token, run.CreatedAt)
}

func (s *Gate) createSmokeCheck(ctx context.Context, repo *gh.Repo, run store.SmokeRun) (int64, error) {
	out := checks.Output{Title: "Smoke test queued",
		Summary: fmt.Sprintf("hoist will smoke-test `%s` as a candidate for **%s** in headless Chromium as soon as a browser is free.", shortSHA(run.SHA), orDash(run.Env))}
	reqs, err := out.Requests("")
	if err != nil {
		return 0, err
	}
	cr, _, err := repo.Client.Checks.CreateCheckRun(ctx, repo.Owner, repo.Name, github.CreateCheckRunOptions{
		Name: pipeline.SmokeCheckName, HeadSHA: run.SHA, DetailsURL: github.String(s.reportURL(run)),
		ExternalID: github.String(strconv.FormatInt(run.ID, 10)), Status: github.String("queued"), Output: reqs[0]})
	if err != nil {
		return 0, fmt.Errorf("create %s check run on %s: %w", pipeline.SmokeCheckName, shortSHA(run.SHA), err)
	}
	return cr.GetID(), nil
}

// findSmokeCheck looks for the run's check run by its external id; 0 when
// there is none (or GitHub cannot say now).
func (s *Gate) findSmokeCheck(ctx context.Context, repo *gh.Repo, run store.SmokeRun) int64 {
	res, _, err := repo.Client.Checks.ListCheckRunsForRef(ctx, repo.Owner, repo.Name, run.SHA, &github.ListCheckRunsOptions{
		CheckName: github.String(pipeline.SmokeCheckName), Filter: github.String("all"), ListOptions: github.ListOptions{PerPage: 100}})
	if err != nil {
		return 0
	}
	for _, cr := range res.CheckRuns {
		if cr.GetExternalID() == strconv.FormatInt(run.ID, 10) {
			return cr.GetID()
		}
	}
	return 0
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// updateSmokeCheck sends one update of the run's check run.
func (s *Gate) updateSmokeCheck(ctx context.Context, repo *gh.Repo, run store.SmokeRun, conclusion string, out checks.Output, actions []checks.Action) error {
	var reqs []*github.CheckRunOutput
	var err error
	if s.smoke.privateImages {
		reqs, err = out.RequestsPrivateImages(s.reportURL(run))
	} else {
		reqs, err = out.Requests(s.reportURL(run))
	}
	if err != nil {
		return jobs.Permanent(fmt.Errorf("smoke check output: %w", err))
	}
	opts := github.UpdateCheckRunOptions{Name: pipeline.SmokeCheckName, DetailsURL: github.String(s.reportURL(run)), Output: reqs[0]}
	if conclusion == "" {
		opts.Status = github.String("in_progress")
	} else {
		opts.Status, opts.Conclusion = github.String("completed"), github.String(conclusion)
		opts.CompletedAt = &github.Timestamp{Time: s.now()}
		if opts.Actions, err = checks.GitHubActions(actions); err != nil {
			return jobs.Permanent(err)
		}
	}
	if _, _, err := repo.Client.Checks.UpdateCheckRun(ctx, repo.Owner, repo.Name, run.CheckRunID, opts); err != nil {
		return fmt.Errorf("update %s check run %d: %w", pipeline.SmokeCheckName, run.CheckRunID, err)
	}
	return nil
}

var rerunAction = checks.Action{Label: "Re-run", Description: "Run the smoke test again", Identifier: "rerun"}

func (s *Gate) failSmoke(ctx context.Context, repo *gh.Repo, run store.SmokeRun, cause error) error {
	out := smokeFailureOutput(run.SHA, run.Env, cause)
	if run.CheckRunID != 0 {
		if err := s.updateSmokeCheck(ctx, repo, run, "failure", out, []checks.Action{rerunAction}); err != nil {
			return err
		}
	}
	return s.store.FinishSmokeRun(ctx, run.ID, "failure", out.Title, nil)
}

// runSmoke is one attempt: everything from the fetch to the completed
// check run.
func (s *Gate) runSmoke(ctx context.Context, repo *gh.Repo, run store.SmokeRun, a SmokeArgs) (string, error) {
	log := zerolog.Ctx(ctx)
	cfg, err := s.configs.LoadRepoConfig(ctx, repo, a.DefaultBranch)
	if err != nil {
		return "", err
	}
	if cfg == nil {
		return "", jobs.Permanent(fmt.Errorf("%s has no %s", repo.FullName(), ".github/hoist.yml"))
	}
	p := pipeline.New(cfg)
	env, hasEnv := p.Env(a.Env)
	baseHead := ""
	if hasEnv {
		baseHead, err = repo.BranchHead(ctx, env.Branch)
		if errors.Is(err, gh.ErrNotFound) {
			baseHead = ""
		} else if err != nil {
			return "", err
		}
	}
	if baseHead == a.SHA {
		baseHead = "" // nothing to compare with but itself
	}
	var baseline *smoke.Report
	if baseHead != "" {
		if prev, err := s.store.LatestSmokeReport(ctx, repo.FullName(), baseHead); err == nil {
			baseline = decodeReport(prev.Report)
		}
	}
	m, err := s.mirror(a.Owner, a.Repo)
	if err != nil {
		return "", err
	}
	fetch := []string{a.SHA}
	if baseHead != "" && baseline == nil {
		fetch = append(fetch, baseHead)
	}
	if err := s.fetchCommits(ctx, repo, a.Installation, m, fetch...); err != nil {
		return "", err
	}
	root := cfg.Site.Root
	tree, err := m.Tree(ctx, a.SHA, root)
	if err != nil {
		return "", jobs.Permanent(fmt.Errorf("site of %s: %w", shortSHA(a.SHA), err))
	}
	opts, err := smoke.ConfigOptions(cfg.Smoke)
	if err != nil {
		return "", jobs.Permanent(err)
	}
	opts.ChromiumPath = s.smoke.chromium
	opts.AllowHosts = s.smoke.allowHosts
	opts.BrowserUser = s.smoke.browserUser

	pages := max(len(opts.Pages), 1) * max(len(opts.Viewports), 1)
	if err := s.updateSmokeCheck(ctx, repo, run, "", smokeProgressOutput(a.SHA, a.Env, 0, pages, s.reportURL(run)), nil); err != nil {
		return "", err
	}
	// Progress: at most one check run update a second, never blocking the
	// runner.
	var done, total atomic.Int64
	opts.Progress = func(d, t int) { done.Store(int64(d)); total.Store(int64(t)) }
	stop := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		var last int64 = -1
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				d, t := done.Load(), total.Load()
				if d == last || t == 0 {
					continue
				}
				last = d
				if err := s.updateSmokeCheck(ctx, repo, run, "", smokeProgressOutput(a.SHA, a.Env, int(d), int(t), s.reportURL(run)), nil); err != nil {
					log.Debug().Err(err).Msg("smoke progress not reported")
				}
			}
		}
	}()
	rep, err := s.smokeTree(ctx, tree, opts)
	close(stop)
	<-stopped
	if err != nil {
		return "", err
	}
	if err := s.storeShots(ctx, rep); err != nil {
		return "", err
	}

	if baseHead != "" && baseline == nil {
		baseline = s.baselineReport(ctx, m, repo.FullName(), a.Env, baseHead, root, opts)
	}
	// Why the screenshots were not compared, said on the check run: a
	// silent skip reads as "nothing changed".
	var visualSkipped string
	switch {
	case baseHead == "":
	case baseline == nil:
		visualSkipped = "no screenshots of it could be found or taken"
	default:
		vo := smoke.VisualOptions{Threshold: cfg.Smoke.Visual.Threshold, MaxChangedRatio: cfg.Smoke.Visual.MaxChangedRatio}
		if err := smoke.CompareVisual(ctx, rep, baseline, s.smoke.artifacts, vo); err != nil {
			// The comparison is information for the reviewer; a baseline
			// that cannot be read does not fail the candidate.
			log.Warn().Err(err).Str("baseline", baseHead).Msg("visual comparison skipped")
			visualSkipped = "its screenshots could not be read from the artifact store"
		}
	}

	conclusion := string(rep.Conclusion)
	actions := []checks.Action{rerunAction}
	if hasEnv && s.manualPromotionAllowed(ctx, repo, p, env, a.SHA, conclusion, run.CheckRunID) {
		actions = append(actions, checks.Action{Label: "Promote", Description: cutRunes("Promote to "+env.Name, checks.MaxActionDescription), Identifier: "promote"})
	}
	view := smokeView{Env: a.Env, SHA: a.SHA, ArtifactBase: s.smoke.publicURL, ArtifactURL: s.artifactURL(run.Repo, s.smoke.publicURL),
		ReportURL: s.reportURL(run), Baseline: baseHead, VisualSkipped: visualSkipped,
		PreviewLinks: s.smoke.signer != nil}
	if err := s.updateSmokeCheck(ctx, repo, run, conclusion, smokeOutput(rep, view), actions); err != nil {
		return "", err
	}
	js, err := smoke.MarshalReport(rep)
	if err != nil {
		return "", err
	}
	if err := s.store.FinishSmokeRun(ctx, run.ID, conclusion, rep.Title, js); err != nil {
		return "", err
	}
	log.Info().Str("conclusion", conclusion).Str("title", rep.Title).Int64("duration_ms", rep.DurationMS).Msg("smoke test completed")
	if err := s.store.Audit(ctx, store.AuditEntry{Repo: repo.FullName(), Actor: run.Actor, Action: "smoke", Env: a.Env, SHA: a.SHA,
		Outcome: conclusion, Detail: map[string]any{"title": rep.Title, "trigger": a.Trigger, "check_run": run.CheckRunID}}); err != nil {
		return "", err
	}
	if hasEnv && s.outcomes != nil {
		// One record per run: a retried job records it once.
		o := safety.Outcome{Key: fmt.Sprintf("smoke:%s:%d", repo.FullName(), run.ID), Repo: repo.FullName(), Env: env.Name,
			Kind: safety.KindSmoke, OK: conclusion != "failure", SHA: a.SHA}
		if !o.OK {
			o.Reason = rep.Title
		}
		if err := s.outcomes.Record(ctx, o); err != nil {
			log.Warn().Err(err).Msg("smoke outcome not recorded")
		}
	}
	return conclusion, nil
}

// smokeTree serves tree on a private loopback listener for the browser
// alone and runs the smoke test against it.
func (s *Gate) smokeTree(ctx context.Context, tree site.Tree, opts smoke.Options) (*smoke.Report, error) {
	preview, err := site.ServePreview(ctx, tree)
	if err != nil {
		return nil, err
	}
	defer preview.Close()
	opts.BaseURL = preview.URL()
	rep, err := smoke.Run(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("smoke run: %w", err)
	}
	return rep, nil
}

func (s *Gate) storeShots(ctx context.Context, rep *smoke.Report) error {
	for i := range rep.Pages {
		p := &rep.Pages[i]
		if p.Screenshot != nil && p.Screenshot.PNG != nil {
			if _, err := s.smoke.artifacts.Put(ctx, p.Screenshot.PNG); err != nil {
				if errors.Is(err, smoke.ErrArtifactTooLarge) {
					// GitHub would not show it anyway; the run goes on
					// without this page's picture rather than retrying.
					zerolog.Ctx(ctx).Warn().Err(err).Str("page", p.Path).Msg("screenshot not kept")
					p.Screenshot = nil
					continue
				}
				return err
			}
		}
	}
	return nil
}

// baselineReport photographs the environment's head when no earlier run
// did, and keeps the result as a run of its own for the next candidate.
// Any problem just means no comparison.
func (s *Gate) baselineReport(ctx context.Context, m *site.Mirror, full, env, sha, root string, opts smoke.Options) *smoke.Report {
	log := zerolog.Ctx(ctx)
	tree, err := m.Tree(ctx, sha, root)
	if err != nil {
		log.Info().Err(err).Str("baseline", sha).Msg("no baseline for the visual comparison")
		return nil
	}
	opts.Progress = nil
	rep, err := s.smokeTree(ctx, tree, opts)
	if err != nil {
		log.Warn().Err(err).Str("baseline", sha).Msg("baseline run failed")
		return nil
	}
	if err := s.storeShots(ctx, rep); err != nil {
		log.Warn().Err(err).Msg("baseline screenshots not stored")
		return nil
	}
	if js, err := smoke.MarshalReport(rep); err == nil {
		if r, err := s.store.CreateSmokeRun(ctx, nil, store.SmokeRun{Repo: full, Env: env, SHA: sha, Reason: "baseline", Actor: "hoist"}); err == nil {
			_ = s.store.FinishSmokeRun(ctx, r.ID, string(rep.Conclusion), rep.Title, js)
		}
	}
	return rep
}

func decodeReport(b []byte) *smoke.Report {
	if len(b) == 0 {
		return nil
	}
	var r smoke.Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil
	}
	return &r
}

// manualPromotionAllowed tells whether a person's promotion of sha into
// env would go ahead once this smoke result is posted: the Promote button
// is shown only then.
func (s *Gate) manualPromotionAllowed(ctx context.Context, repo *gh.Repo, p *pipeline.Pipeline, env pipeline.Environment, sha, conclusion string, checkID int64) bool {
	target, ok := s.smokeTarget(ctx, repo, p, env, sha)
	if !ok {
		return false
	}
	facts, _, err := s.promotions.Gather(ctx, repo, p, env, target, pipeline.TriggerManual, "")
	if err != nil {
		zerolog.Ctx(ctx).Debug().Err(err).Msg("promote button: facts not gathered")
		return false
	}
	kept := facts.Checks[:0]
	for _, c := range facts.Checks {
		if !(c.Name == pipeline.SmokeCheckName && c.Source == pipeline.SourceCheckRun && c.ID == checkID) {
			kept = append(kept, c)
		}
	}
	facts.Checks = append(kept, pipeline.Check{Name: pipeline.SmokeCheckName, Source: pipeline.SourceCheckRun, Status: "completed",
		Conclusion: conclusion, App: facts.HoistApp, ID: checkID, At: s.now()})
	return p.Decide(target, facts).Outcome == pipeline.OutcomePromote
}

// smokeTarget is the promotion a smoke test of sha is about: the candidate
// branch whose head it is, else the environment's promote_from source, else
// the environment's usual route; SHA is set to the tested commit.
func (s *Gate) smokeTarget(ctx context.Context, repo *gh.Repo, p *pipeline.Pipeline, env pipeline.Environment, sha string) (pipeline.Target, bool) {
	for _, c := range p.Candidates {
		if c.Env != env.Name {
			continue
		}
		if h, err := repo.BranchHead(ctx, c.Branch); err == nil && h == sha {
			return pipeline.Target{Env: env.Name, Route: pipeline.RouteCandidate, Source: c.Branch, SHA: sha}, true
		}
	}
	t, ok := p.RouteFor(env.Name)
	t.SHA = sha
	return t, ok
}

// mirror returns the shared mirror of owner/repo; mirrors stay open for
// the life of the process (the preview proxy reads trees through them).
func (s *Gate) mirror(owner, repo string) (*site.Mirror, error) {
	st := &s.smoke
	st.mu.Lock()
	defer st.mu.Unlock()
	key := owner + "/" + repo
	if m, ok := st.mirrors[key]; ok {
		m.Touch() // for retention.mirrors
		return m, nil
	}
	m, err := site.OpenMirror(st.dataDir, owner, repo)
	if err != nil {
		return nil, err
	}
	if st.mirrors == nil {
		st.mirrors = map[string]*site.Mirror{}
	}
	st.mirrors[key] = m
	return m, nil
}
