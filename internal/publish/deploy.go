package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/smithy-go"
	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/deploy"
	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/pipeline"
	"github.com/hoist-dev/hoist/internal/purge"
	"github.com/hoist-dev/hoist/internal/repoconfig"
	"github.com/hoist-dev/hoist/internal/site"
	"github.com/hoist-dev/hoist/internal/store"
)

// DeployCheckName is the check run a publish posts on the deployed commit.
const DeployCheckName = "hoist/deploy"

// PublishArgs is one publish of an environment: the GitHub deployment
// already created for it and what it publishes. Each deployment is its own
// job; a lease per repository and environment (store.AcquirePublish) lets
// one run at a time, and a job whose deployment is no longer the newest of
// its environment ends as superseded instead of deploying an older commit.
type PublishArgs struct {
	Installation  int64  `json:"installation"`
	Owner         string `json:"owner"`
	Repo          string `json:"repo"`
	DefaultBranch string `json:"default_branch"`
	Env           string `json:"env"`
	Deployment    int64  `json:"deployment"`
	SHA           string `json:"sha"`
	Previous      string `json:"previous,omitempty"`
	Reason        string `json:"reason"`
	Actor         string `json:"actor,omitempty"`
}

// Kind names the job for River.
func (PublishArgs) Kind() string { return "hoist_publish" }

// InsertOpts: unique by arguments (the deployment id is among them), so a
// retried evaluation never queues one deployment twice.
func (PublishArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: publishAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

const (
	publishAttempts = 5
	// publishWait is how long a publish waits for the one of the same
	// environment that runs; snoozing does not count as an attempt.
	publishWait = time.Second
)

// permanentDeployError is a problem of configuration that no retry fixes:
// the deployment fails and the job ends.
type permanentDeployError struct{ error }

func (e permanentDeployError) Unwrap() error { return e.error }

func permanent(format string, a ...any) error {
	return permanentDeployError{fmt.Errorf(format, a...)}
}

// Publisher records changes of environments as GitHub deployments and
// deploys and purges them: targets opened once, one lease per environment.
type Publisher struct {
	clients githubapp.ClientCreator
	engine  *jobs.Engine
	store   *store.Store
	configs *repoconfig.Loader
	cfg     *serverconfig.Server
	// purgeOptions are given to every CDN adapter (tests shorten retries).
	purgeOptions []purge.Option

	metrics *metrics
	// outcomes records deploys for failure budgets and delivery measures;
	// nil records nothing.
	outcomes Outcomes
	// landed hears of every deploy that completed (set by OnLanded).
	landed Landed

	// mu guards targets, the deploy targets opened so far.
	mu      sync.Mutex
	targets map[string]deploy.Target
}

// Deps is what a Publisher needs.
type Deps struct {
	Clients githubapp.ClientCreator
	Engine  *jobs.Engine
	Store   *store.Store
	Configs *repoconfig.Loader
	// Server has the deploy targets and CDNs.
	Server *serverconfig.Server
	// PurgeOptions are given to every CDN adapter (an HTTP client, a
	// retry policy).
	PurgeOptions []purge.Option
	// Outcomes records every deploy's outcome (safety.Recorder); nil
	// records nothing.
	Outcomes Outcomes
}

// New returns a Publisher.
func New(d Deps) *Publisher {
	var reg prometheus.Registerer
	if d.Engine != nil {
		reg = d.Engine.Registerer()
	}
	return &Publisher{clients: d.Clients, engine: d.Engine, store: d.Store, configs: d.Configs, cfg: d.Server, purgeOptions: d.PurgeOptions,
		metrics: newMetrics(reg), outcomes: d.Outcomes}
}

// Deployed is a publication whose deploy and purge completed: the site of
// SHA is live in Env.
type Deployed struct {
	Installation  int64
	Owner, Repo   string
	DefaultBranch string
	Env           string
	Deployment    int64
	SHA           string
	Previous      string
	Reason        string
	Actor         string
	// URL is the environment's URL as the deployment records it.
	URL string
}

// Landed hears of each completed deploy (post-deploy verification). An
// error fails the publish attempt, which is retried: the deploy then finds
// the tree in place and only the hook runs again.
type Landed interface {
	Landed(ctx context.Context, d Deployed) error
}

// OnLanded sets who hears of completed deploys; call before the workers run.
func (s *Publisher) OnLanded(l Landed) { s.landed = l }

// Workers registers the publish worker.
func (s *Publisher) Workers(e *jobs.Engine) {
	river.AddWorker(e.Workers(), &publishWorker{s: s})
}

func (s *Publisher) target(ctx context.Context, fullName string, env pipeline.Environment) (deploy.Target, deploy.TargetConfig, string, error) {
	name := env.Deploy.Target
	if s.cfg == nil {
		return nil, deploy.TargetConfig{}, "", errors.New("the server has no configuration for deploy targets")
	}
	// Checked again here, not only when the configuration was read: the
	// configuration in force may be an older one, or the server config
	// may have changed since.
	tc, prefix, err := s.cfg.DeployTarget(name, fullName, env.Deploy.Prefix)
	if err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Str("repo", fullName).Str("env", env.Name).Str("audit", "deploy refused").Str("target", name).Msg("deploy target refused")
		return nil, tc, "", permanentDeployError{err}
	}
	t, _, err := s.OpenTarget(ctx, name)
	return t, tc, prefix, err
}

// OpenTarget opens a target of the server config by name, for the
// server's own use (screenshots); repositories go through target.
func (s *Publisher) OpenTarget(ctx context.Context, name string) (deploy.Target, deploy.TargetConfig, error) {
	if s.cfg == nil {
		return nil, deploy.TargetConfig{}, errors.New("the server has no configuration for deploy targets")
	}
	tc, err := s.cfg.Target(name)
	if err != nil {
		return nil, tc, permanentDeployError{err}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.targets[name]; ok {
		return t, tc, nil
	}
	t, err := deploy.NewTarget(ctx, tc)
	if err != nil {
		return nil, tc, fmt.Errorf("target %s: %w", name, err)
	}
	if s.targets == nil {
		s.targets = map[string]deploy.Target{}
	}
	s.targets[name] = t
	return t, tc, nil
}

// cdnsFor returns the server's CDN entries an environment of the
// repository fullName purges, narrowed by the repository's settings, and
// its extra paths and keys (the keys namespaced to the repository). A CDN
// not open to the repository is refused.
func (s *Publisher) cdnsFor(ctx context.Context, fullName string, env pipeline.Environment) ([]purge.CDNConfig, purge.Extra, error) {
	var out []purge.CDNConfig
	var extra purge.Extra
	for _, p := range env.Purge {
		if s.cfg == nil {
			return nil, extra, permanent("no cdn named %q: the server has no cdns configured", p.CDN)
		}
		if err := s.cfg.CDNAllowed(p.CDN, fullName); err != nil {
			zerolog.Ctx(ctx).Warn().Err(err).Str("repo", fullName).Str("env", env.Name).Str("audit", "purge refused").Str("cdn", p.CDN).Msg("cdn refused")
			return nil, extra, permanentDeployError{err}
		}
		c, err := s.cfg.CDNs.Lookup(p.CDN)
		if err != nil {
			return nil, extra, permanentDeployError{err}
		}
		if p.Soft {
			soft := true
			if c, err = c.Narrow(purge.Override{CDN: c.Name, Soft: &soft}); err != nil {
				return nil, extra, permanentDeployError{err}
			}
		}
		out = append(out, c)
		extra.Paths = append(extra.Paths, p.Paths...)
		for _, k := range p.Keys {
			extra.Keys = append(extra.Keys, serverconfig.RepoKey(fullName, k))
		}
	}
	return out, extra, nil
}

// queuePublish records the deployment as queued and hands the deploy to a
// durable job.
func (s *Publisher) queuePublish(ctx context.Context, repo *gh.Repo, env pipeline.Environment, dep pipeline.Deployment, pub Publication) error {
	created, err := repo.CreateDeployment(ctx, pub.SHA, dep.Environment,
		fmt.Sprintf("%s %s to %s", pub.Reason, pub.commitLabel(), env.Name), dep.Production,
		pub.payload(map[string]any{"previous": pub.Previous}))
	if err != nil {
		return fmt.Errorf("publish %s: %w", env.Name, err)
	}
	return s.queueDeployment(ctx, repo, env, pub, created.ID)
}

// queueDeployment hands the deploy of an existing deployment to a durable
// job (unique by its arguments: queueing one deployment again adds none).
func (s *Publisher) queueDeployment(ctx context.Context, repo *gh.Repo, env pipeline.Environment, pub Publication, id int64) error {
	created := gh.Deployment{ID: id, SHA: pub.SHA, Env: env.Name}
	fail := func(err error) error {
		_ = repo.SetDeploymentStatus(ctx, created.ID, "error", "", "", reason("could not queue the deploy", err))
		return fmt.Errorf("publish %s: %w", env.Name, err)
	}
	if err := s.store.RequestPublish(ctx, repo.FullName(), env.Name, created.ID); err != nil {
		return fail(err)
	}
	args := PublishArgs{Installation: pub.Installation, Owner: repo.Owner, Repo: repo.Name, DefaultBranch: pub.DefaultBranch,
		Env: env.Name, Deployment: created.ID, SHA: pub.SHA, Previous: pub.Previous, Reason: pub.Reason, Actor: pub.Actor}
	// Queued before the job exists, so that its in_progress always follows.
	if err := repo.SetDeploymentStatus(ctx, created.ID, "queued", "", "", fmt.Sprintf("%s of %s to %s is queued", pub.Reason, shortSHA(pub.SHA), env.Name)); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("publish: could not mark the deployment queued")
	}
	if _, err := s.engine.Insert(ctx, args, nil); err != nil {
		return fail(err)
	}
	return nil
}

// publishWorker runs PublishArgs jobs.
type publishWorker struct {
	river.WorkerDefaults[PublishArgs]
	s *Publisher
}

// Timeout: a deploy may wait for the environment's lease and upload a
// large site.
func (w *publishWorker) Timeout(*river.Job[PublishArgs]) time.Duration { return jobs.DeployTimeout }

// Work waits for the environment's lease, ends a superseded deployment,
// and otherwise publishes; every failure is reported on the deployment.
func (w *publishWorker) Work(ctx context.Context, job *river.Job[PublishArgs]) error {
	a := job.Args
	s := w.s
	log := zerolog.Ctx(ctx).With().Str("repo", a.Owner+"/"+a.Repo).Str("env", a.Env).Str("sha", a.SHA).Logger()
	ctx = log.WithContext(ctx)
	full := a.Owner + "/" + a.Repo
	holder := "job-" + strconv.FormatInt(job.ID, 10)
	lease := 15 * time.Minute
	if s.cfg != nil && s.cfg.Jobs.RescueAfter > 0 {
		lease = s.cfg.Jobs.RescueAfter
	}
	held, latest, err := s.store.AcquirePublish(ctx, full, a.Env, holder, time.Now().Add(lease))
	if err != nil {
		return err
	}
	if !held {
		return river.JobSnooze(publishWait)
	}
	defer func() {
		if err := s.store.ReleasePublish(context.WithoutCancel(ctx), full, a.Env, holder); err != nil {
			log.Warn().Err(err).Msg("publish: release lease")
		}
	}()

	client, err := s.clients.NewInstallationClient(a.Installation)
	if err != nil {
		return fmt.Errorf("client for installation %d: %w", a.Installation, err)
	}
	repo := gh.NewRepo(client, a.Owner, a.Repo)
	if latest > a.Deployment {
		// A newer publish of this environment is queued: deploying this
		// older commit now would only be undone by it.
		return repo.SetDeploymentStatus(ctx, a.Deployment, "inactive", "", "", "superseded by a newer deployment of "+a.Env)
	}

	start := time.Now()
	sum, err := s.runPublish(ctx, repo, a)
	var perm permanentDeployError
	last := err != nil && (errors.As(err, &perm) || job.Attempt >= job.MaxAttempts)
	s.metrics.observe(sum, time.Since(start), err, last)
	if err == nil {
		s.recordDeploy(ctx, repo, a, true, "")
		return nil
	}
	log.Warn().Err(err).Int("attempt", job.Attempt).Bool("final", last).Msg("publish failed")
	desc := reason("deploy failed", err)
	if !last {
		desc = reason(fmt.Sprintf("attempt %d of %d failed, retrying", job.Attempt, job.MaxAttempts), err)
	}
	logURL := ""
	if sum != nil {
		sum.err = err
		sum.duration = time.Since(start)
		if url, cerr := s.postDeployCheck(ctx, repo, a, sum); cerr == nil {
			logURL = url
		} else {
			log.Warn().Err(cerr).Msg("publish: could not post the check run")
		}
	}
	if serr := repo.SetDeploymentStatus(ctx, a.Deployment, "failure", "", logURL, desc); serr != nil {
		log.Warn().Err(serr).Msg("publish: could not set the failure status")
	}
	_ = s.store.Audit(ctx, auditPublish(a, "failure", map[string]any{"error": err.Error(), "attempt": job.Attempt}))
	if last {
		s.recordDeploy(ctx, repo, a, false, desc)
		return river.JobCancel(err)
	}
	return err
}

// reason is a deployment status description: GitHub takes at most 140
// characters.
func reason(what string, err error) string {
	text := err.Error()
	// The AWS SDK's errors carry the service's answer at the very end, past
	// the request IDs; a status description has 140 characters, so the
	// answer (AccessDenied: …) goes first and the rest follows as it fits.
	var api smithy.APIError
	if errors.As(err, &api) {
		text = api.ErrorCode() + ": " + api.ErrorMessage() + " (" + text + ")"
	}
	msg := what + ": " + strings.ReplaceAll(text, "\n", " ")
	if utf8.RuneCountInString(msg) <= 140 {
		return msg
	}
	rs := []rune(msg)
	return string(rs[:139]) + "…"
}

// publishSummary is what the hoist/deploy check run reports.
type publishSummary struct {
	result *deploy.Result
	purger *purge.DeployPurger
	// targetType is the deploy target's type (s3, local), for metrics.
	targetType string
	duration   time.Duration
	err        error
}

// runPublish deploys the commit's site and purges what changed. It returns
// the summary so far with any error, for the check run.
func (s *Publisher) runPublish(ctx context.Context, repo *gh.Repo, a PublishArgs) (*publishSummary, error) {
	start := time.Now()
	log := zerolog.Ctx(ctx)
	re := repoconfig.RepoEvent{Installation: a.Installation, Owner: a.Owner, Repo: a.Repo, DefaultBranch: a.DefaultBranch, Actor: a.Actor}
	p, _, err := s.configs.PipelineFor(ctx, re)
	if err != nil {
		var mistakes config.RepoConfigErrors
		if jobs.IsPermanent(err) && errors.As(err, &mistakes) {
			// The mistakes themselves (file:line:col: a target not open
			// to the repository, …) are the reason, within the status's
			// 140 characters.
			return &publishSummary{}, permanentDeployError{mistakes}
		}
		if jobs.IsPermanent(err) {
			return &publishSummary{}, permanentDeployError{err}
		}
		return nil, err
	}
	if p == nil {
		return &publishSummary{}, permanent("%s is gone from the default branch", config.RepoConfigPath)
	}
	env, ok := p.Env(a.Env)
	if !ok {
		return &publishSummary{}, permanent("environment %s is no longer in %s", a.Env, config.RepoConfigPath)
	}
	dep, _ := p.Deployment(env.Name, a.DefaultBranch)
	sum := &publishSummary{}
	if env.Deploy.Target == "" {
		return sum, permanent("environment %s no longer names a deploy target in %s", env.Name, config.RepoConfigPath)
	}
	if err := repo.SetDeploymentStatus(ctx, a.Deployment, "in_progress", "", "", fmt.Sprintf("deploying %s to %s", shortSHA(a.SHA), env.Name)); err != nil {
		return nil, err
	}
	full := a.Owner + "/" + a.Repo
	// Both refusals come before anything is fetched, written or purged.
	target, tc, prefix, err := s.target(ctx, full, env)
	if err != nil {
		return sum, fmt.Errorf("environment %s: %w", env.Name, err)
	}
	sum.targetType = targetLabel(tc.Type)
	cdns, extra, err := s.cdnsFor(ctx, full, env)
	if err != nil {
		return sum, fmt.Errorf("environment %s: %w", env.Name, err)
	}

	tree, treeSHA, closeMirror, err := s.siteTree(ctx, repo, a.Installation, env.Branch, a.SHA, p.SiteRoot)
	if err != nil {
		return sum, err
	}
	defer closeMirror()
	rules, err := deploy.RulesFromConfig(p.Publish.Cache)
	if err != nil {
		// The loader checked the globs; a rule it let through is still
		// the configuration's mistake, not worth a retry.
		return sum, permanent("%s: %v", config.RepoConfigPath, err)
	}
	req := deploy.Request{Tree: tree, TreeSHA: treeSHA, Prefix: prefix, Edition: serverconfig.Edition(full, env.Name),
		Rules: rules, SkipBrokenLinks: p.Publish.SkipBrokenLinks}
	if src, ok := p.Env(env.PromoteFrom); ok && src.Deploy.Target == env.Deploy.Target && src.Deploy.Target != "" {
		if _, srcPrefix, err := s.cfg.DeployTarget(src.Deploy.Target, full, src.Deploy.Prefix); err == nil && srcPrefix != prefix {
			// Objects the source edition holds with the same blob are
			// copied inside the store instead of uploaded again.
			req.CopyFrom = srcPrefix
		}
	}
	res, err := deploy.Deploy(ctx, target, req)
	sum.result = res
	if err != nil {
		var hostile *deploy.UnsafeEntryError
		if errors.As(err, &hostile) {
			// The list of entries is the reason; the target is known.
			return sum, permanentDeployError{hostile}
		}
		return sum, err
	}
	if len(cdns) > 0 {
		if err := s.purgeAfterDeploy(ctx, a, res, dep.URL, cdns, extra, sum); err != nil {
			return sum, err
		}
	}
	sum.duration = time.Since(start)
	var logURL string
	if res.SameTree && res.PreviousCommit == a.SHA {
		// This very commit was deployed before (a repeated publish): its
		// check run already tells what was written; a second one saying
		// "nothing changed" would hide it.
		logURL, err = s.existingDeployCheck(ctx, repo, a.SHA)
	} else {
		logURL, err = s.postDeployCheck(ctx, repo, a, sum)
	}
	if err != nil {
		// The site is out and purged; the report is what failed.
		log.Warn().Err(err).Msg("publish: could not post the check run")
	}
	envURL := dep.URL
	if envURL == "" && tc.PublicURL != "" {
		envURL = joinURL(tc.PublicURL, res.Prefix)
	}
	desc := fmt.Sprintf("%s is at %s: %s", env.Name, shortSHA(a.SHA), oneLine(res, sum.purger))
	if err := repo.SetDeploymentStatus(ctx, a.Deployment, "success", envURL, logURL, desc); err != nil {
		return nil, err
	}
	detail := map[string]any{"uploaded": res.Uploaded, "copied": res.Copied, "deleted": res.Deleted, "bytes": res.Bytes,
		"same_tree": res.SameTree, "target": env.Deploy.Target, "prefix": res.Prefix}
	if sum.purger != nil {
		detail["purge_requests"] = sum.purger.Requests()
	}
	_ = s.store.Audit(ctx, auditPublish(a, "success", detail))
	if s.landed != nil {
		d := Deployed{Installation: a.Installation, Owner: a.Owner, Repo: a.Repo, DefaultBranch: a.DefaultBranch, Env: a.Env,
			Deployment: a.Deployment, SHA: a.SHA, Previous: a.Previous, Reason: a.Reason, Actor: a.Actor, URL: envURL}
		if err := s.landed.Landed(ctx, d); err != nil {
			return nil, fmt.Errorf("deployed %s to %s, but: %w", shortSHA(a.SHA), env.Name, err)
		}
	}
	return sum, nil
}

func auditPublish(a PublishArgs, outcome string, detail map[string]any) store.AuditEntry {
	detail["reason"] = a.Reason
	detail["deployment"] = a.Deployment
	actor := a.Actor
	if actor == "" {
		actor = "hoist"
	}
	return store.AuditEntry{Repo: a.Owner + "/" + a.Repo, Actor: actor, Action: "deploy", Env: a.Env, SHA: a.SHA, Outcome: outcome, Detail: detail}
}

func joinURL(base, prefix string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/" + prefix
	return u.String()
}

func oneLine(r *deploy.Result, p *purge.DeployPurger) string {
	if !r.Changed() {
		return "nothing changed"
	}
	s := fmt.Sprintf("%d uploaded, %d copied, %d deleted", r.Uploaded, r.Copied, r.Deleted)
	if p != nil {
		s += fmt.Sprintf(", %d purge requests", p.Requests())
	}
	return s
}

// siteTree fetches the environment's branch (and the commit, if the branch
// moved on) into the repository's mirror with a read-only installation
// token and returns the commit's tree under the site root.
func (s *Publisher) siteTree(ctx context.Context, repo *gh.Repo, installation int64, branch, sha, root string) (site.Tree, string, func(), error) {
	dataDir := "data"
	if s.cfg != nil {
		dataDir = s.cfg.DataDir
	}
	m, err := site.OpenMirror(dataDir, repo.Owner, repo.Name)
	if err != nil {
		return nil, "", nil, err
	}
	fail := func(err error) (site.Tree, string, func(), error) { m.Close(); return nil, "", nil, err }
	r, _, err := repo.Client.Repositories.Get(ctx, repo.Owner, repo.Name)
	if err != nil {
		return fail(fmt.Errorf("read %s: %w", repo.FullName(), err))
	}
	token, err := s.readToken(ctx, installation)
	if err != nil {
		return fail(err)
	}
	if !m.HasCommit(ctx, sha) {
		if err := m.Fetch(ctx, r.GetCloneURL(), token, branch); err != nil {
			return fail(err)
		}
		if !m.HasCommit(ctx, sha) {
			// The branch moved past the commit (a rollback, a force push):
			// fetch the commit itself.
			if ferr := m.Fetch(ctx, r.GetCloneURL(), token, sha); ferr != nil {
				return fail(fmt.Errorf("fetch %s: %w", shortSHA(sha), ferr))
			}
		}
	}
	tree, err := m.Tree(ctx, sha, root)
	if err != nil {
		if m.HasCommit(ctx, sha) {
			// The commit is there: the site root is what is missing.
			return fail(permanentDeployError{fmt.Errorf("site root %q: %w", root, err)})
		}
		return fail(err)
	}
	return tree, site.TreeSHAOf(tree), func() { m.Close() }, nil
}

// readToken is an installation token that can only read contents, for git.
func (s *Publisher) readToken(ctx context.Context, installation int64) (string, error) {
	app, err := s.clients.NewAppClient()
	if err != nil {
		return "", fmt.Errorf("app client: %w", err)
	}
	tok, _, err := app.Apps.CreateInstallationToken(ctx, installation, &github.InstallationTokenOptions{
		Permissions: &github.InstallationPermissions{Contents: github.String("read")},
	})
	if err != nil {
		return "", fmt.Errorf("installation token for git: %w", err)
	}
	return tok.GetToken(), nil
}

// postDeployCheck posts the hoist/deploy check run on the commit and
// returns its page, for the deployment's log_url.
func (s *Publisher) postDeployCheck(ctx context.Context, repo *gh.Repo, a PublishArgs, sum *publishSummary) (string, error) {
	conclusion, title := "success", "Deployed to "+a.Env
	if sum.err != nil {
		conclusion, title = "failure", "Deploy to "+a.Env+" failed"
	}
	var b strings.Builder
	if sum.err != nil {
		fmt.Fprintf(&b, "**Error:** %s\n\n", strings.ReplaceAll(sum.err.Error(), "\n", " "))
	}
	if r := sum.result; r != nil {
		requests := 0
		if sum.purger != nil {
			requests = sum.purger.Requests()
		}
		fmt.Fprintf(&b, "Files uploaded: %d · copied: %d · deleted: %d · bytes: %d · purge requests: %d · time: %s\n\n",
			r.Uploaded, r.Copied, r.Deleted, r.Bytes, requests, sum.duration.Round(time.Millisecond))
		b.WriteString(r.Markdown())
		if r.SameTree || !r.Changed() {
			title = a.Env + " already up to date"
		}
	}
	if sum.purger != nil {
		b.WriteString(sum.purger.Markdown())
	}
	summary := truncateBytes(b.String(), 65000)
	now := github.Timestamp{Time: time.Now()}
	run, _, err := repo.Client.Checks.CreateCheckRun(ctx, repo.Owner, repo.Name, github.CreateCheckRunOptions{
		Name: DeployCheckName, HeadSHA: a.SHA, Status: github.String("completed"), Conclusion: github.String(conclusion),
		CompletedAt: &now, ExternalID: github.String(strconv.FormatInt(a.Deployment, 10)),
		Output: &github.CheckRunOutput{Title: github.String(title), Summary: github.String(summary)},
	})
	if err != nil {
		return "", fmt.Errorf("check run %s: %w", DeployCheckName, err)
	}
	return run.GetHTMLURL(), nil
}

// existingDeployCheck returns the page of the newest hoist/deploy check
// run on sha.
func (s *Publisher) existingDeployCheck(ctx context.Context, repo *gh.Repo, sha string) (string, error) {
	runs, _, err := repo.Client.Checks.ListCheckRunsForRef(ctx, repo.Owner, repo.Name, sha,
		&github.ListCheckRunsOptions{CheckName: github.String(DeployCheckName)})
	if err != nil {
		return "", fmt.Errorf("check runs of %s: %w", shortSHA(sha), err)
	}
	if len(runs.CheckRuns) == 0 {
		return "", nil
	}
	return runs.CheckRuns[0].GetHTMLURL(), nil
}

// truncateBytes cuts s to at most n bytes on a UTF-8 boundary (the Checks
// API counts bytes).
func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "\n\n…"
}

// purgeAfterDeploy purges what the deploy changed, together with any purge
// of the environment that failed before: a retried publish finds the tree
// already deployed, so the store keeps what it still has to purge.
func (s *Publisher) purgeAfterDeploy(ctx context.Context, a PublishArgs, res *deploy.Result, envURL string, cdns []purge.CDNConfig, extra purge.Extra, sum *publishSummary) error {
	full := a.Owner + "/" + a.Repo
	req := purge.RequestFor(res, extra)
	// Paths are purged where the edition is served: under the sub-path of
	// its URL when it has one, else under the repository's folder, never
	// at another repository's.
	req.Prefix = purge.PrefixOf(envURL, res.Prefix)
	pendingJSON, err := s.store.PendingPurge(ctx, full, a.Env)
	if err != nil {
		return err
	}
	if pendingJSON != "" {
		var pending purge.Request
		if err := json.Unmarshal([]byte(pendingJSON), &pending); err == nil {
			req = req.Merge(pending)
		}
	}
	if !req.All && len(req.Changes) == 0 {
		return nil
	}
	sum.purger = &purge.DeployPurger{CDNs: cdns, Options: s.purgeOptions}
	if perr := sum.purger.Run(ctx, req); perr != nil {
		if b, err := json.Marshal(req); err == nil {
			if err := s.store.SetPendingPurge(ctx, full, a.Env, string(b)); err != nil {
				return errors.Join(perr, err)
			}
		}
		return fmt.Errorf("deployed, but the purge failed: %w", perr)
	}
	if pendingJSON != "" {
		return s.store.SetPendingPurge(ctx, full, a.Env, "")
	}
	return nil
}

func shortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
