// Package smokegate is the smoke gate: durable smoke tests of candidates
// in headless Chromium, reported as hoist/smoke check runs with Re-run and
// Promote buttons; their signed reports and screenshots; and temporary
// previews of a commit on the preview origin.
package smokegate

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/deploy"
	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/pipeline"
	"github.com/hoist-dev/hoist/internal/promotion"
	"github.com/hoist-dev/hoist/internal/repoconfig"
	"github.com/hoist-dev/hoist/internal/safety"
	"github.com/hoist-dev/hoist/internal/site"
	"github.com/hoist-dev/hoist/internal/smoke"
	"github.com/hoist-dev/hoist/internal/smoke/fence"
	"github.com/hoist-dev/hoist/internal/store"
)

// SmokeRequest asks for one commit to be smoke-tested as a candidate for
// an environment: the result is the hoist/smoke check run on that commit,
// which the smoke gate reads.
type SmokeRequest struct {
	Installation  int64
	Owner, Repo   string
	DefaultBranch string
	// Env is the environment the commit is a candidate for; its current
	// head is the baseline of the visual comparison.
	Env string
	SHA string
	// Actor is who asked (a person's login for /smoke, else "hoist"), and
	// Trigger why (push, command, rerequested).
	Actor   string
	Trigger string
}

// ErrSmokeUnavailable is returned while this server cannot run smoke tests.
var ErrSmokeUnavailable = errors.New("smoke tests are not available on this server")

// Gate runs smoke tests of candidates and reports them as hoist/smoke
// check runs (with Re-run and Promote buttons), serves their reports and
// screenshots, and opens previews; the zero value is not usable.
type Gate struct {
	clients    githubapp.ClientCreator
	engine     *jobs.Engine
	store      *store.Store
	configs    *repoconfig.Loader
	targets    Targets
	promotions Promotions
	cfg        *serverconfig.Server
	// now is the clock of runs and preview links.
	now func() time.Time
	// smoke holds what smoke tests need from the server.
	smoke smokeState
	// previewGate signs people in on the preview origin (smoke_preview.go).
	previewGate PreviewGate
	metrics     *metrics
	// outcomes records smoke results per environment; nil records none.
	outcomes Outcomes
}

// Outcomes is the record of outcomes per environment (safety.Recorder).
type Outcomes interface {
	Record(ctx context.Context, o safety.Outcome) error
}

// Targets opens the server's deploy targets by name (publish.Publisher):
// screenshots may be kept in an s3 one.
type Targets interface {
	OpenTarget(ctx context.Context, name string) (deploy.Target, deploy.TargetConfig, error)
}

// Promotions is what the Promote button needs (promotion.Service): the
// facts a promotion would be decided on, and queueing one.
type Promotions interface {
	Gather(ctx context.Context, repo *gh.Repo, p *pipeline.Pipeline, env pipeline.Environment, t pipeline.Target, trigger pipeline.Trigger, actor string) (pipeline.Facts, *gh.PullRequest, error)
	QueueEvaluation(ctx context.Context, args promotion.EvaluateArgs) error
}

// Deps is what a Gate needs.
type Deps struct {
	Clients    githubapp.ClientCreator
	Engine     *jobs.Engine
	Store      *store.Store
	Configs    *repoconfig.Loader
	Targets    Targets
	Promotions Promotions
	// Server has the smoke, retention and preview settings.
	Server *serverconfig.Server
	Logger zerolog.Logger
	// PreviewGate signs people in on the preview origin; nil refuses
	// everyone there.
	PreviewGate PreviewGate
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Outcomes records each smoke result of a candidate for an
	// environment (failure budgets); nil records none.
	Outcomes Outcomes
}

// New returns a Gate with the server's smoke settings read. A missing
// browser does not stop the server: smoke requests are then refused with
// the reason.
func New(d Deps) *Gate {
	if d.Now == nil {
		d.Now = time.Now
	}
	s := &Gate{clients: d.Clients, engine: d.Engine, store: d.Store, configs: d.Configs, targets: d.Targets,
		promotions: d.Promotions, cfg: d.Server, now: d.Now, previewGate: d.PreviewGate, outcomes: d.Outcomes}
	var reg prometheus.Registerer
	if d.Engine != nil {
		reg = d.Engine.Registerer()
	}
	s.metrics = newMetrics(reg)
	s.startSmoke(d.Server, d.Logger)
	return s
}

// Workers registers the workers of smoke runs and their deadlines, and the
// retention of screenshots and mirrors.
func (s *Gate) Workers(e *jobs.Engine) {
	river.AddWorker(e.Workers(), &smokeWorker{s: s})
	river.AddWorker(e.Workers(), &smokeDeadlineWorker{s: s})
	s.addPruners(s.cfg, e)
}

// Mount mounts the report and screenshot routes on hoist's public address.
func (s *Gate) Mount(mux *http.ServeMux) { s.mountSmoke(mux) }

// MountPreview mounts the preview routes on the preview origin.
func (s *Gate) MountPreview(mux *http.ServeMux) { s.mountPreview(mux) }

// smokeState is what the smoke tests need from the server.
type smokeState struct {
	mu        sync.Mutex
	started   bool
	err       error // why smoke tests cannot run here (no browser, …)
	dataDir   string
	publicURL string
	// privateImages: the public URL is itself private (GitHub Enterprise
	// on the same network, the emulator), so screenshot URLs are too.
	privateImages bool
	chromium      string
	// allowHosts and browserUser are smoke.allow_hosts and
	// smoke.browser_user (see smoke.Options).
	allowHosts  []string
	browserUser string
	// verifyPrivate is smoke.verify_private_hosts: the live sites the
	// server lets post-deploy checks browse on private addresses.
	verifyPrivate []fence.Rule
	// network stands in for the internet in tests (see smoke.Network).
	network   *smoke.Network
	artifacts smoke.ArtifactStore
	signer    *site.AccessSigner
	// urls signs the public URLs of screenshots and reports.
	urls *site.URLSigner
	// previewURL is the preview origin (no trailing slash); previews are
	// off when it is empty.
	previewURL string
	mirrors    map[string]*site.Mirror
	// access serves preview links; nil while they are off.
	access http.Handler
	// browsers bounds the browsers this process runs at once.
	browsers chan struct{}
}

// maxBrowsers is how many smoke runs one process runs at once: a browser
// takes about two cores and 400–500 MB while it works, so more would only
// slow each run down; other runs wait for their turn.
const maxBrowsers = 1

// startSmoke reads the server's smoke settings. A missing browser does not
// stop the server: smoke requests are then refused with the reason.
func (s *Gate) startSmoke(cfg *serverconfig.Server, log zerolog.Logger) {
	st := &s.smoke
	st.mu.Lock()
	defer st.mu.Unlock()
	st.started = true
	st.browsers = make(chan struct{}, maxBrowsers)
	st.dataDir = cfg.DataDir
	st.publicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	st.privateImages = privateHost(st.publicURL)
	// Secrets are derived from the App's private key, so every replica
	// signs alike and no other secret needs managing.
	key, keyErr := cfg.PrivateKeyPEM()
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(label))
		return m.Sum(nil)
	}
	if keyErr == nil {
		var err error
		if st.urls, err = site.NewURLSigner(derive("hoist signed urls v1"), cfg.Smoke.ArtifactTTL); err != nil {
			log.Warn().Err(err).Msg("screenshots and reports unavailable")
		}
	}
	// Previews run the site's own scripts: they are served only on the
	// preview origin, never on public_url.
	if cfg.Smoke.PreviewLinks && cfg.PreviewURL != "" && keyErr == nil {
		var err error
		st.signer, err = site.NewAccessSigner(derive("hoist preview links v1"), cfg.Smoke.PreviewTTL)
		if err != nil {
			log.Warn().Err(err).Msg("preview links disabled")
		} else {
			st.access = site.AccessHandler(st.signer, s.previewTree)
			st.previewURL = strings.TrimSuffix(cfg.PreviewURL, "/")
		}
	}
	a, err := s.artifactStore(cfg)
	if err != nil {
		st.err = fmt.Errorf("%w: %v", ErrSmokeUnavailable, err)
		log.Warn().Err(err).Msg("smoke tests disabled")
		return
	}
	st.artifacts = a
	// The browser's fence: the hosts pages may load from besides the
	// site under test, and the user Chromium runs as.
	st.allowHosts = cfg.Smoke.AllowHosts
	st.browserUser = cfg.Smoke.BrowserUser
	for _, h := range cfg.Smoke.VerifyPrivateHosts {
		// Checked when the server config was loaded.
		if r, err := fence.ParsePrivateRule(h); err == nil {
			st.verifyPrivate = append(st.verifyPrivate, r)
		}
	}
	st.chromium, err = smoke.FindChromium(cfg.Smoke.Chromium)
	if err != nil {
		st.err = fmt.Errorf("%w: %v", ErrSmokeUnavailable, err)
		log.Warn().Err(err).Msg("smoke tests disabled")
	}
}

func privateHost(publicURL string) bool {
	u, err := url.Parse(publicURL)
	if err != nil {
		return false
	}
	h := strings.ToLower(u.Hostname())
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && (ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast())
}

func (st *smokeState) ready() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.started {
		return fmt.Errorf("%w: the server has not started", ErrSmokeUnavailable)
	}
	return st.err
}

// SmokeArgs is one durable smoke test; RunID names its smoke_runs row,
// which keeps the check run across attempts.
type SmokeArgs struct {
	RunID         int64  `json:"run_id"`
	Installation  int64  `json:"installation"`
	Owner         string `json:"owner"`
	Repo          string `json:"repo"`
	DefaultBranch string `json:"default_branch"`
	Env           string `json:"env"`
	SHA           string `json:"sha"`
	Actor         string `json:"actor,omitempty"`
	Trigger       string `json:"trigger,omitempty"`
}

// Kind names the job for River.
func (SmokeArgs) Kind() string { return "hoist_smoke" }

// smokeAttempts bounds retries: a run that failed three times for reasons
// of its own (GitHub down, the browser crashing) is reported as failed.
const smokeAttempts = 3

// InsertOpts: every request is its own run (a re-run must run again).
func (SmokeArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: smokeAttempts} }

// SmokeDeadlineArgs completes a run as failed when it has not completed
// by its deadline.
type SmokeDeadlineArgs struct {
	SmokeArgs
}

// Kind names the job for River.
func (SmokeDeadlineArgs) Kind() string { return "hoist_smoke_deadline" }

// InsertOpts: the deadline itself is retried like other GitHub calls.
func (SmokeDeadlineArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 10} }

// smokeDeadline is longer than every attempt of a run could take, even
// with each attempt lost with a crashed process and rescued later
// (3 × jobs.rescue_after by default).
var smokeDeadline = time.Hour

// RequestSmoke queues a durable smoke test of req.SHA: the run's record
// and its job are written in one transaction.
func (s *Gate) RequestSmoke(ctx context.Context, req SmokeRequest) error {
	if err := s.smoke.ready(); err != nil {
		return err
	}
	if req.Actor == "" {
		req.Actor = "hoist"
	}
	full := req.Owner + "/" + req.Repo
	err := s.store.InTx(ctx, func(tx store.Tx) error {
		run, err := s.store.CreateSmokeRun(ctx, tx, store.SmokeRun{Repo: full, Env: req.Env, SHA: req.SHA, Reason: req.Trigger, Actor: req.Actor})
		if err != nil {
			return err
		}
		args := SmokeArgs{RunID: run.ID, Installation: req.Installation, Owner: req.Owner, Repo: req.Repo,
			DefaultBranch: req.DefaultBranch, Env: req.Env, SHA: req.SHA, Actor: req.Actor, Trigger: req.Trigger}
		if _, err = s.engine.InsertTx(ctx, tx, args, nil); err != nil {
			return err
		}
		// The deadline fails the run visibly should every attempt be lost
		// with a crashed process.
		_, err = s.engine.InsertTx(ctx, tx, SmokeDeadlineArgs{SmokeArgs: args}, &river.InsertOpts{ScheduledAt: s.now().Add(smokeDeadline)})
		return err
	})
	if err != nil {
		return fmt.Errorf("queue smoke test of %s@%s: %w", full, shortSHA(req.SHA), err)
	}
	zerolog.Ctx(ctx).Info().Str("repo", full).Str("sha", req.SHA).Str("env", req.Env).Str("trigger", req.Trigger).Msg("smoke test queued")
	return nil
}

// fetchCommits brings the commits into the repository's mirror, with an
// installation token that can only read this repository's contents. Commits
// the mirror already holds are not fetched again.
func (s *Gate) fetchCommits(ctx context.Context, repo *gh.Repo, installation int64, m *site.Mirror, shas ...string) error {
	var missing []string
	for _, sha := range shas {
		if sha == "" {
			continue
		}
		if _, err := m.TreeSHA(ctx, sha, ""); err != nil {
			missing = append(missing, sha)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	info, _, err := repo.Client.Repositories.Get(ctx, repo.Owner, repo.Name)
	if err != nil {
		return fmt.Errorf("clone URL of %s: %w", repo.FullName(), err)
	}
	app, err := s.clients.NewAppClient()
	if err != nil {
		return fmt.Errorf("app client: %w", err)
	}
	tok, _, err := app.Apps.CreateInstallationToken(ctx, installation, &github.InstallationTokenOptions{
		Repositories: []string{repo.Name}, Permissions: &github.InstallationPermissions{Contents: github.String("read")}})
	if err != nil {
		return fmt.Errorf("installation token to fetch %s: %w", repo.FullName(), err)
	}
	return m.Fetch(ctx, info.GetCloneURL(), tok.GetToken(), missing...)
}

// RepoEvent is what every repository event carries.
type RepoEvent = repoconfig.RepoEvent

var repoEvent = repoconfig.EventOf

func shortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// Ready is nil when this server can run smoke tests, else why not.
func (s *Gate) Ready() error { return s.smoke.ready() }

// PreviewsOn reports whether this server gives temporary preview links.
func (s *Gate) PreviewsOn() bool {
	s.smoke.mu.Lock()
	defer s.smoke.mu.Unlock()
	return s.smoke.signer != nil
}
