// Package app assembles `hoist serve` in one pass: store, job engine,
// GitHub clients, every capability (configuration in force, promotions,
// smoke gate, publishing, commands, generation, the dashboard), and the
// HTTP server they run in. The command and the demo both start hoist
// through New, so what the demo shows is what a deployment runs.
package app

import (
	"context"
	"net/http"
	"time"

	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/handlers"
	"github.com/hoist-dev/hoist/internal/chatops"
	"github.com/hoist-dev/hoist/internal/generate"
	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/promotion"
	"github.com/hoist-dev/hoist/internal/publish"
	"github.com/hoist-dev/hoist/internal/purge"
	"github.com/hoist-dev/hoist/internal/repoconfig"
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
	// PurgeOptions are given to every CDN adapter (an HTTP client, a
	// retry policy).
	PurgeOptions []purge.Option
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
	Verify     *verify.Service
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
	c.Configs = repoconfig.New(repoconfig.Deps{Clients: clients, Store: st, Engine: engine, Server: cfg})
	c.Publish = publish.New(publish.Deps{Clients: clients, Engine: engine, Store: st, Configs: c.Configs, Server: cfg,
		PurgeOptions: hooks.PurgeOptions})
	// Promotions and the smoke gate ask each other (a push queues smoke
	// tests; the Promote button queues an evaluation): the gate is given
	// to promotions once both exist.
	smoke := &lateSmoke{}
	c.Promotions = promotion.New(promotion.Deps{Clients: clients, Engine: engine, Store: st, Configs: c.Configs,
		Publish: c.Publish, Smoke: smoke, Now: hooks.Now})
	c.Smoke = smokegate.New(smokegate.Deps{Clients: clients, Engine: engine, Store: st, Configs: c.Configs, Targets: c.Publish,
		Promotions: c.Promotions, Server: cfg, Logger: log, PreviewGate: previewGate, Now: hooks.Now})
	smoke.Smoke = c.Smoke
	// Verification hears of every deploy that lands, and publishes its
	// rollbacks through the same publisher.
	c.Verify = verify.New(verify.Deps{Clients: clients, Engine: engine, Store: st, Configs: c.Configs, Publish: c.Publish, Live: c.Smoke,
		Alerts: hooks.Alerts, Outcomes: hooks.Outcomes, Logger: log, Now: hooks.Now, BeforeMove: hooks.BeforeRollbackMove})
	c.Publish.OnLanded(c.Verify)
	c.Commands = chatops.New(chatops.Deps{Clients: clients, Engine: engine, Store: st, Configs: c.Configs,
		Promotions: c.Promotions, Smoke: c.Smoke, Publish: c.Publish, Verified: c.Verify})
	installations, err := generate.AppInstallations(clients)
	if err != nil {
		return nil, built{}, err
	}
	repos := generate.ClientRepos(clients)
	c.Generate = generate.New(generate.Deps{Engine: engine, Store: st, RepoFor: repos, InstallationFor: installations,
		Settings: generate.RepoConfigSettings(repos, c.Configs), Secret: cfg.GenerateSecret, Logger: log})

	c.Configs.Workers(engine)
	c.Publish.Workers(engine)
	c.Promotions.Workers(engine)
	c.Smoke.Workers(engine)
	c.Verify.Workers(engine)
	c.Commands.Workers(engine)
	c.Generate.RegisterWorkers(engine)

	// The generation handler of repository_dispatch comes first: it takes
	// that event from the built-in one.
	hs := append([]githubapp.EventHandler{handlers.NewGenerationHandler(handlers.Deps{}, c.Generate)},
		handlers.All(handlers.Deps{ClientCreator: clients, Promotions: c.Promotions, Commands: c.Commands, CheckSuites: c.Smoke})...)

	routes := http.NewServeMux()
	c.Smoke.Mount(routes)
	routes.Handle(generate.Path, c.Generate.HTTPHandler())
	if cfg.Dashboard.Enabled() {
		// The dashboard shows private repositories: it exists only with
		// sign-in, and shows each person what GitHub lets them read.
		auth, err := signIn(cfg, log, cfg.PublicURL, "hoist_session")
		if err != nil {
			return nil, built{}, err
		}
		c.Dashboard = web.NewDashboard(web.DashboardOptions{Logger: log, Holds: &storeHolds{st}, Images: smokeImages{c.Smoke}, Verify: c.Verify, Access: auth,
			Audit: st, Clients: clients, Configs: c.Configs})
		c.Dashboard.Mount(routes)
		auth.Mount(routes)
	}
	var preview *http.ServeMux
	if cfg.PreviewURL != "" {
		preview = http.NewServeMux()
		c.Smoke.MountPreview(preview)
	}
	return c, built{handlers: hs, routes: routes, preview: preview}, nil
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
