// Package app assembles `hoist serve` in one pass: store, job engine,
// GitHub clients, every capability (configuration in force, promotions,
// smoke gate, publishing, editions, commands, generation, the dashboard), and the
// HTTP server they run in. The command and the demo both start hoist
// through New, so what the demo shows is what a deployment runs.
package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/handlers"
	"github.com/hoist-dev/hoist/internal/chatops"
	"github.com/hoist-dev/hoist/internal/editions"
	"github.com/hoist-dev/hoist/internal/fleet"
	"github.com/hoist-dev/hoist/internal/fleet/rollout"
	"github.com/hoist-dev/hoist/internal/generate"
	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/promotion"
	"github.com/hoist-dev/hoist/internal/publish"
	"github.com/hoist-dev/hoist/internal/purge"
	"github.com/hoist-dev/hoist/internal/releasegroup"
	"github.com/hoist-dev/hoist/internal/repoconfig"
	"github.com/hoist-dev/hoist/internal/safety"
	"github.com/hoist-dev/hoist/internal/server"
	"github.com/hoist-dev/hoist/internal/smokegate"
	"github.com/hoist-dev/hoist/internal/store"
	"github.com/hoist-dev/hoist/internal/verify"
	"github.com/hoist-dev/hoist/internal/web"
)

// New returns hoist serve, assembled and ready to Run. opts.Logger must
// be set; tests and the demo pass their listeners in opts.
func New(ctx context.Context, cfg *serverconfig.Server, opts server.Options) (*server.Server, error) {
	srv, _, err := Assemble(ctx, cfg, opts, Hooks{})
	return srv, err
}

// Hooks change how the capabilities are built, for tests.
type Hooks struct {
	// Now replaces the clock of decisions, holds and smoke runs.
	Now func() time.Time
	// DNSClient is the HTTP client of the fleet's DNS provider.
	DNSClient *http.Client
	// PurgeOptions are given to every CDN adapter (an HTTP client, a
	// retry policy).
	PurgeOptions []purge.Option
	// GroupMoved runs after each member of a release group moved (to stop
	// hoist in the middle of a group promotion).
	GroupMoved func(ctx context.Context, repo string)
	// Fleets and Gates, when both set, replace the fleet core in rollouts:
	// which pushes are releases of which fleet, and how an instance stage
	// is deployed and gated.
	Fleets rollout.Fleets
	Gates  rollout.Gates
	// RolloutPace is the least time between two updates of a rollout's
	// check run (zero: the default).
	RolloutPace time.Duration
	// Alerts and Outcomes receive what post-deploy verification reports
	// (default: the log, and nothing).
	Alerts   verify.Alerter
	Outcomes verify.OutcomeRecorder
	// BeforeRollbackMove runs right before an automatic rollback moves a
	// branch.
	BeforeRollbackMove func(repo, env string)
}

// Capabilities are what hoist does, each built once by Assemble.
type Capabilities struct {
	Configs    *repoconfig.Loader
	Publish    *publish.Publisher
	Promotions *promotion.Service
	Smoke      *smokegate.Gate
	Commands   *chatops.Service
	Generate   *generate.Service
	Groups     *releasegroup.Service
	Editions   *editions.Service
	// Outcomes is the record of outcomes per environment (failure
	// budgets, delivery metrics); Alerts the alert webhook, nil when the
	// server configures none.
	Outcomes *safety.Recorder
	Alerts   *safety.Webhook
	Fleet    *fleet.Service
	// Rollouts bring releases to the fleet's instances.
	Rollouts *rollout.Service
	Verify   *verify.Service
	// Dashboard is nil unless the server config has a dashboard section.
	Dashboard *web.Dashboard
}

// Assemble is the one wiring pass of hoist serve: it opens the store and
// the job engine, makes the GitHub clients, builds every capability with
// what it needs, registers their workers, and hands the finished
// handlers and routes to the HTTP server.
func Assemble(ctx context.Context, cfg *serverconfig.Server, opts server.Options, hooks Hooks) (*server.Server, *Capabilities, error) {
	log := *opts.Logger
	registry := server.NewRegistry()
	clients, err := server.NewClients(cfg, registry, log)
	if err != nil {
		return nil, nil, err
	}
	st, engine, err := server.Open(ctx, cfg, registry, log, opts.JobsClientID)
	if err != nil {
		return nil, nil, err
	}
	for _, w := range cfg.ReplicaWarnings() {
		log.Warn().Str("replicas", w).Msg("state kept on one replica")
	}
	caps, h, err := build(cfg, log, st, engine, clients, hooks)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	opts.Registry, opts.Store, opts.Engine, opts.Clients = registry, st, engine, clients
	opts.Handlers = h.handlers
	opts.Routes, opts.PreviewRoutes = h.routes, h.preview
	srv, err := server.New(ctx, cfg, opts)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return srv, caps, nil
}

// built is what build hands the HTTP server.
type built struct {
	handlers        []githubapp.EventHandler
	routes, preview *http.ServeMux
}

func build(cfg *serverconfig.Server, log zerolog.Logger, st *store.Store, engine *jobs.Engine, clients githubapp.ClientCreator, hooks Hooks) (*Capabilities, built, error) {
	var previewGate smokegate.PreviewGate
	if cfg.PreviewURL != "" {
		// The preview origin signs people in itself: its cookies are its
		// own, never the dashboard's.
		gate, err := signIn(cfg, log, cfg.PreviewURL, "hoist_preview_session")
		if err != nil {
			return nil, built{}, err
		}
		previewGate = gate
	}
	c := &Capabilities{}
	c.Outcomes = safety.NewRecorder(safety.Deps{Store: st, Registerer: engine.Registerer(), MetricsRepos: cfg.Alerts.MetricsRepos, Now: hooks.Now})
	c.Alerts = safety.NewWebhook(cfg.Alerts.WebhookURL, safety.WebhookOptions{Pace: cfg.Alerts.Pace,
		Pacer: safety.StorePacer{Store: st}})
	// A nil *Webhook in an interface is not a nil interface; the
	// capabilities test for nil, so none is given when alerts are off.
	var alerts alerter
	if c.Alerts != nil {
		alerts = c.Alerts
	}
	c.Configs = repoconfig.New(repoconfig.Deps{Clients: clients, Store: st, Engine: engine, Server: cfg})
	c.Publish = publish.New(publish.Deps{Clients: clients, Engine: engine, Store: st, Configs: c.Configs, Server: cfg,
		PurgeOptions: hooks.PurgeOptions, Outcomes: c.Outcomes})
	// Promotions and the smoke gate ask each other (a push queues smoke
	// tests; the Promote button queues an evaluation): the gate is given
	// to promotions once both exist.
	smoke := &lateSmoke{}
	c.Promotions = promotion.New(promotion.Deps{Clients: clients, Engine: engine, Store: st, Configs: c.Configs,
		Publish: c.Publish, Smoke: smoke, Outcomes: c.Outcomes, Alerts: alerts, Now: hooks.Now})
	c.Smoke = smokegate.New(smokegate.Deps{Clients: clients, Engine: engine, Store: st, Configs: c.Configs, Targets: c.Publish,
		Promotions: c.Promotions, Server: cfg, Logger: log, PreviewGate: previewGate, Now: hooks.Now, Outcomes: c.Outcomes})
	smoke.Smoke = c.Smoke
	c.Groups = releasegroup.New(releasegroup.Deps{Clients: clients, Engine: engine, Store: st, Configs: c.Configs, Server: cfg,
		Promotions: c.Promotions, Moved: hooks.GroupMoved, Now: hooks.Now})
	c.Editions = editions.New(editions.Deps{Clients: clients, Engine: engine, Store: st, Configs: c.Configs, Publisher: c.Publish,
		Server: cfg, Now: hooks.Now})
	// Verification hears of every deploy that lands, and publishes its
	// rollbacks through the same publisher.
	var verifyAlerter verify.Alerter = verifyAlerts{log: verify.LogAlerter{Logger: log}, webhook: alerts}
	if hooks.Alerts != nil {
		verifyAlerter = hooks.Alerts
	}
	var verifyRecorder verify.OutcomeRecorder = verifyOutcomes{c.Outcomes}
	if hooks.Outcomes != nil {
		verifyRecorder = hooks.Outcomes
	}
	c.Verify = verify.New(verify.Deps{Clients: clients, Engine: engine, Store: st, Configs: c.Configs, Publish: c.Publish, Live: c.Smoke,
		Alerts: verifyAlerter, Outcomes: verifyRecorder, Logger: log, Now: hooks.Now, BeforeMove: hooks.BeforeRollbackMove})
	c.Publish.OnLanded(c.Verify)
	c.Promotions.SetRollbacks(c.Verify)
	installations, err := generate.AppInstallations(clients)
	if err != nil {
		return nil, built{}, err
	}
	repos := generate.ClientRepos(clients)
	c.Generate = generate.New(generate.Deps{Engine: engine, Store: st, RepoFor: repos, InstallationFor: installations,
		Settings: generate.RepoConfigSettings(repos, c.Configs), Secret: cfg.GenerateSecret, Logger: log})

	var dns fleet.DNS
	if cfg.Fleet.DNS.Enabled() {
		dns = fleet.NewCloudflare(cfg.Fleet.DNS, hooks.DNSClient)
	}
	c.Fleet = fleet.New(fleet.Deps{Clients: clients, Engine: engine, Store: st, Configs: c.Configs, Stages: c.Publish,
		Smoke: c.Smoke, Server: cfg, DNS: dns, InstallationFor: installations, Now: hooks.Now})
	// A release of a fleet rolls out to its instances through the fleet
	// core, unless tests give their own.
	core := &fleetRollouts{clients: clients, configs: c.Configs, fleet: c.Fleet, stages: c.Publish, smoke: c.Smoke}
	var fleets rollout.Fleets = core
	var gates rollout.Gates = core
	if hooks.Fleets != nil && hooks.Gates != nil {
		fleets, gates = hooks.Fleets, hooks.Gates
	}
	c.Rollouts = rollout.New(rollout.Deps{Clients: clients, Engine: engine, Store: st, Fleets: fleets, Gates: gates,
		DashboardURL: dashboardURL(cfg), Pace: hooks.RolloutPace, Now: hooks.Now})
	c.Rollouts.Workers(engine)
	c.Commands = chatops.New(chatops.Deps{Clients: clients, Engine: engine, Store: st, Configs: c.Configs,
		Promotions: c.Promotions, Smoke: c.Smoke, Publish: c.Publish, Groups: c.Groups,
		Outcomes: c.Outcomes, Alerts: alerts, Upgrades: c.Rollouts, Verified: c.Verify})

	c.Configs.Workers(engine)
	c.Fleet.Workers(engine)
	c.Publish.Workers(engine)
	c.Promotions.Workers(engine)
	c.Groups.Workers(engine)
	c.Smoke.Workers(engine)
	c.Verify.Workers(engine)
	c.Commands.Workers(engine)
	c.Editions.Workers(engine)
	c.Generate.RegisterWorkers(engine)

	// The generation handler of repository_dispatch comes first: it takes
	// that event from the built-in one.
	hs := append([]githubapp.EventHandler{handlers.NewGenerationHandler(handlers.Deps{}, c.Generate)},
		handlers.All(handlers.Deps{ClientCreator: clients, Promotions: c.Promotions, Commands: c.Commands, CheckSuites: c.Smoke,
			Editions: c.Editions, Rollouts: c.Rollouts})...)

	routes := http.NewServeMux()
	c.Smoke.Mount(routes)
	routes.Handle(generate.Path, c.Generate.HTTPHandler())
	c.Fleet.Mount(routes)
	if cfg.Dashboard.Enabled() {
		// The dashboard shows private repositories: it exists only with
		// sign-in, and shows each person what GitHub lets them read.
		auth, err := signIn(cfg, log, cfg.PublicURL, "hoist_session")
		if err != nil {
			return nil, built{}, err
		}
		rollouts := rolloutViews{s: c.Rollouts, web: strings.TrimRight(cfg.GitHubWebURL(), "/")}
		c.Dashboard = web.NewDashboard(web.DashboardOptions{Logger: log, Holds: &storeHolds{st}, Images: smokeImages{c.Smoke}, Verify: c.Verify, Groups: c.Groups, Access: auth,
			Audit: st, Clients: clients, Configs: c.Configs, Delivery: c.Outcomes, Rollouts: rollouts})
		c.Dashboard.Mount(routes)
		c.Fleet.MountDashboard(routes, people{auth}, cfg.PublicURL)
		auth.Mount(routes)
	}
	var preview *http.ServeMux
	if cfg.PreviewURL != "" {
		preview = http.NewServeMux()
		c.Smoke.MountPreview(preview)
	}
	return c, built{handlers: hs, routes: routes, preview: preview}, nil
}

// alerter is what capabilities alert through (safety.Webhook).
type alerter interface {
	Alert(ctx context.Context, a safety.Alert) error
}

// dashboardURL is where the dashboard answers, for links to it; "" when
// the server has none.
func dashboardURL(cfg *serverconfig.Server) string {
	if !cfg.Dashboard.Enabled() {
		return ""
	}
	return cfg.PublicURL
}

// lateSmoke is the smoke gate as promotions see it, set once the gate is
// built (it needs promotions first).
type lateSmoke struct{ promotion.Smoke }

// signIn is GitHub sign-in for the origin at base, with the App's OAuth
// credentials from the dashboard section.
func signIn(cfg *serverconfig.Server, log zerolog.Logger, base, cookie string) (*web.Auth, error) {
	d := cfg.Dashboard
	return web.NewAuth(web.AuthOptions{
		ClientID: d.ClientID, ClientSecret: d.ClientSecret, SessionKey: []byte(d.SessionKey),
		GitHubWebURL: cfg.GitHubWebURL(), GitHubAPIURL: cfg.GitHub.URL, BaseURL: base, Cookie: cookie,
		SessionTTL: d.SessionTTL, AccessTTL: d.AccessTTL, HTTPClient: &http.Client{Timeout: cfg.GitHub.Timeout},
		Logger: log.With().Str("component", "sign-in").Logger(),
	})
}

// people is dashboard sign-in as the fleet page sees it.
type people struct{ a *web.Auth }

func (p people) Require(w http.ResponseWriter, r *http.Request) (string, bool) {
	s, ok := p.a.Require(w, r)
	if !ok {
		return "", false
	}
	return s.Login, true
}

// storeHolds shows the store's holds on the dashboard.
type storeHolds struct{ st *store.Store }

func (h *storeHolds) ActiveHolds(ctx context.Context, repo string, now time.Time) ([]web.Hold, error) {
	hs, err := h.st.ActiveHolds(ctx, repo, now)
	if err != nil {
		return nil, err
	}
	out := make([]web.Hold, 0, len(hs))
	for _, x := range hs {
		w := web.Hold{Env: x.Env, Actor: x.By, Reason: x.Reason, Since: x.Since}
		if x.Until != nil {
			w.Until = *x.Until
		}
		out = append(out, w)
	}
	return out, nil
}

// smokeImages gives the dashboard the screenshots of hoist/smoke check
// runs, which GitHub's API does not return.
type smokeImages struct{ f *smokegate.Gate }

func (s smokeImages) CheckRunImages(ctx context.Context, repo string, checkRunID int64) ([]web.Image, error) {
	imgs, err := s.f.SmokeImages(ctx, repo, checkRunID)
	if err != nil {
		return nil, err
	}
	out := make([]web.Image, 0, len(imgs))
	for _, i := range imgs {
		out = append(out, web.Image{Alt: i.Alt, URL: i.ImageURL, Caption: i.Caption})
	}
	return out, nil
}

// rolloutViews shows fleet rollouts on the dashboard.
type rolloutViews struct {
	s   *rollout.Service
	web string // GitHub's web address, for links to check runs
}

func (v rolloutViews) Rollouts(ctx context.Context, repo string, limit int) ([]web.RolloutView, error) {
	rs, err := v.s.Rollouts(ctx, repo, limit)
	if err != nil {
		return nil, err
	}
	out := make([]web.RolloutView, 0, len(rs))
	for _, r := range rs {
		out = append(out, v.view(r, nil))
	}
	return out, nil
}

func (v rolloutViews) Rollout(ctx context.Context, repo string, id int64) (web.RolloutView, error) {
	r, insts, err := v.s.Rollout(ctx, id)
	if errors.Is(err, rollout.ErrNotFound) || (err == nil && !strings.EqualFold(r.Repo, repo)) {
		return web.RolloutView{}, web.ErrNoRollout
	}
	if err != nil {
		return web.RolloutView{}, err
	}
	return v.view(r, insts), nil
}

func (v rolloutViews) view(r rollout.Rollout, insts []rollout.Instance) web.RolloutView {
	w := web.RolloutView{ID: r.ID, Release: strings.TrimPrefix(strings.TrimPrefix(r.Release, "refs/heads/"), "refs/tags/"), SHA: r.SHA,
		State: string(r.State), Reason: r.Reason, Started: r.CreatedAt, Updated: r.UpdatedAt, Counts: map[string]int{}}
	if r.CheckRunID != 0 {
		w.CheckRunURL = fmt.Sprintf("%s/%s/runs/%d", v.web, r.Repo, r.CheckRunID)
	}
	for _, i := range insts {
		w.Counts[string(i.State)]++
		w.Instances = append(w.Instances, web.RolloutInstanceView{Name: i.Name, Stage: string(i.Stage), State: string(i.State), Reason: i.Reason,
			Wave: i.Wave, Link: i.Link, Screenshot: i.Screenshot, Updated: i.UpdatedAt})
	}
	return w
}
