// Package server wires `hoist serve`: configuration, store, job engine,
// GitHub clients, the webhook endpoint and the operational endpoints, with
// a graceful shutdown. Tests and `hoist demo` run it in-process through
// New, Run and Handler.
package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/palantir/go-githubapp/githubapp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/handlers"
	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/logging"
	"github.com/hoist-dev/hoist/internal/store"
	"github.com/hoist-dev/hoist/internal/web"
)

// WebhookPath is where GitHub delivers webhooks.
const WebhookPath = githubapp.DefaultWebhookRoute

// MaxWebhookBody is GitHub's own cap on a webhook payload (25 MB); a
// larger body is answered 413 without being read further.
const MaxWebhookBody = 25 << 20

// Limits of the HTTP server, so that a slow or hostile client cannot hold
// a connection, a goroutine or memory for long (docs/server.md).
const (
	// ReadHeaderTimeout bounds the request line and headers (slowloris).
	ReadHeaderTimeout = 10 * time.Second
	// ReadTimeout bounds the whole request: 25 MB at 256 KB/s still fits.
	ReadTimeout = 2 * time.Minute
	// WriteTimeout bounds a handler and its answer. The longest answers
	// are /metrics, report pages and screenshots (under 5 MB), all served
	// from memory or disk in well under a second; a webhook answers once
	// its delivery is persisted.
	WriteTimeout = 2 * time.Minute
	// IdleTimeout closes kept-alive connections nobody uses.
	IdleTimeout = 2 * time.Minute
	// MaxHeaderBytes: GitHub's webhook headers take about 1 KB, a browser's
	// with cookies a few; Go's default is 1 MB.
	MaxHeaderBytes = 64 << 10
)

// Options are the finished pieces the server runs: what internal/app
// built (store, job engine with every worker registered, GitHub clients,
// event handlers, routes) and where to listen.
type Options struct {
	// Logger replaces the logger built from cfg.Logging.
	Logger *zerolog.Logger
	// Registry is served at /metrics; nil is a new one.
	Registry *prometheus.Registry
	// Store, Engine and Clients are the database, the job engine (its
	// workers registered, not started) and the App's GitHub clients. Nil
	// ones are opened by New from cfg (tests of the intake alone).
	Store   *store.Store
	Engine  *jobs.Engine
	Clients githubapp.ClientCreator
	// Handlers are the event handlers, the first listing an event handling
	// it; nil is handlers.All with no capabilities (events logged only).
	Handlers []githubapp.EventHandler
	// Routes holds the routes served on hoist's public address besides the
	// webhook, health and metrics (dashboard, reports, generation); New
	// adds its own to it. Nil is a new mux.
	Routes *http.ServeMux
	// PreviewRoutes is served on cfg.PreviewAddr only (never on Addr),
	// when cfg.PreviewURL is set.
	PreviewRoutes *http.ServeMux
	// Listener replaces listening on cfg.Addr (tests pass 127.0.0.1:0);
	// MetricsListener and PreviewListener replace listening on
	// cfg.MetricsAddr and cfg.PreviewAddr.
	Listener        net.Listener
	MetricsListener net.Listener
	PreviewListener net.Listener
	// JobsClientID names this process to the job engine (see jobs.Options).
	JobsClientID string
}

// Server is one hoist serve process.
type Server struct {
	cfg        *serverconfig.Server
	opts       Options
	log        zerolog.Logger
	store      *store.Store
	engine     *jobs.Engine
	deliveries *jobs.Deliveries
	recoverer  *jobs.Recoverer // nil when github.recover_deliveries is disabled
	registry   *prometheus.Registry
	clients    githubapp.ClientCreator
	handler    http.Handler
	mux        *http.ServeMux
	// metrics and preview are served on listeners of their own; nil when
	// not configured.
	metrics http.Handler
	preview http.Handler
	// stopping is set once Run is asked to stop.
	stopping atomic.Bool
}

// New prepares the server from the finished pieces in opts: the webhook
// intake over the store and job engine, the operational endpoints and the
// routes. Nothing runs until Run.
func New(ctx context.Context, cfg *serverconfig.Server, opts Options) (*Server, error) {
	s := &Server{cfg: cfg, opts: opts, registry: opts.Registry}
	if opts.Logger != nil {
		s.log = *opts.Logger
	} else {
		l, err := logging.New(os.Stderr, cfg.Logging.Level, cfg.Logging.Format)
		if err != nil {
			return nil, err
		}
		s.log = l
	}
	if s.registry == nil {
		s.registry = NewRegistry()
	}
	s.store, s.engine, s.clients = opts.Store, opts.Engine, opts.Clients
	if s.clients == nil {
		var err error
		if s.clients, err = NewClients(cfg, s.registry, s.log); err != nil {
			return nil, err
		}
	}
	if s.store == nil {
		var err error
		if s.store, s.engine, err = Open(ctx, cfg, s.registry, s.log, opts.JobsClientID); err != nil {
			return nil, err
		}
	}
	all := opts.Handlers
	if all == nil {
		all = handlers.All(handlers.Deps{ClientCreator: s.clients})
	}
	// Matched once: the intake and the delivery worker route alike.
	router := jobs.NewRouter(all)
	s.deliveries = jobs.NewDeliveries(s.engine, router)
	if !cfg.GitHub.RecoverDeliveries.Disabled {
		s.recoverer = NewRecoverer(cfg, s.store, s.clients, s.registry, s.log)
		s.engine.EnableRecovery(s.recoverer)
	}

	s.mux = opts.Routes
	if s.mux == nil {
		s.mux = http.NewServeMux()
	}
	s.mux.Handle("POST "+WebhookPath, s.webhookHandler(router))
	s.mux.Handle("GET /healthz", web.Healthz())
	s.mux.Handle("GET /readyz", web.Readyz(
		web.Check{Name: "store", Run: s.store.Ping},
		// A replica that is shutting down takes no new work: it says so
		// before its listeners close, so a load balancer stops sending.
		web.Check{Name: "workers", Run: func(context.Context) error {
			if s.stopping.Load() {
				return errors.New("stopping")
			}
			if !s.engine.Running() {
				return errors.New("not running")
			}
			return nil
		}},
	))
	if cfg.MetricsAddr != "" || opts.MetricsListener != nil {
		// Metrics on an address of their own: not exposed with public_url.
		mm := http.NewServeMux()
		mm.Handle("GET /metrics", web.Metrics(s.registry))
		s.metrics = mm
	} else {
		s.mux.Handle("GET /metrics", web.Metrics(s.registry))
	}
	if cfg.PreviewURL != "" && opts.PreviewRoutes != nil {
		s.preview = opts.PreviewRoutes
	}
	s.handler = s.mux
	return s, nil
}

// NewRegistry is a Prometheus registry with the Go and process collectors.
func NewRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// NewClients checks the App's private key and makes its GitHub clients,
// with their rate-limit metrics in registry.
func NewClients(cfg *serverconfig.Server, registry prometheus.Registerer, log zerolog.Logger) (githubapp.ClientCreator, error) {
	key, err := cfg.PrivateKeyPEM()
	if err != nil {
		return nil, err
	}
	if err := gh.CheckPrivateKey(key); err != nil {
		return nil, fmt.Errorf("config: github.private_key_file (HOIST_PRIVATE_KEY_FILE): %w", err)
	}
	return gh.NewClientCreator(cfg, gh.RateLimitOptions{
		Metrics: gh.NewMetrics(registry),
		Logger:  log.With().Str("component", "github").Logger(),
	})
}

// NewRecoverer is the recovery of missed deliveries for the App in cfg,
// with github.recover_deliveries' settings; its metrics go to registry
// (nil: none). It lists and redelivers through the App's JWT client, whose
// writes are paced like every other client's.
func NewRecoverer(cfg *serverconfig.Server, st *store.Store, clients githubapp.ClientCreator, registry prometheus.Registerer, log zerolog.Logger) *jobs.Recoverer {
	rc := cfg.GitHub.RecoverDeliveries
	return jobs.NewRecoverer(st, jobs.RecoverOptions{
		App: func() (jobs.HookDeliveries, error) {
			c, err := clients.NewAppClient()
			if err != nil {
				return nil, err
			}
			return c.Apps, nil
		},
		Every: rc.Every, Window: rc.Window, MaxPerRun: rc.MaxPerRun,
		Logger: log, Registerer: registry,
	})
}

// Recoverer is the recovery of missed deliveries; nil when disabled.
func (s *Server) Recoverer() *jobs.Recoverer { return s.recoverer }

// Open opens the store (applying migrations) and prepares the job engine
// with the database's retention; register workers on the engine before
// Run starts it. clientID names this process to the engine.
func Open(ctx context.Context, cfg *serverconfig.Server, registry prometheus.Registerer, log zerolog.Logger, clientID string) (*store.Store, *jobs.Engine, error) {
	st, err := store.Open(ctx, store.Options{DatabaseURL: cfg.DatabaseURL, SQLitePath: cfg.SQLitePath(), Logger: log,
		// Both schemas under one lock: replicas starting together on an empty
		// database take turns instead of failing on each other's tables.
		AlsoMigrate: jobs.Migrate,
		// One hoist serve per SQLite file: a second is refused, saying so.
		ServeAlone: true})
	if err != nil {
		return nil, nil, err
	}
	engine, err := jobs.New(ctx, jobs.Options{Store: st, Config: cfg.Jobs, Logger: log, Registerer: registry, ClientID: clientID,
		PruneEvery: cfg.Retention.Interval})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	engine.AddPruner("database", true, func(ctx context.Context) (map[string]int64, error) {
		return st.Prune(ctx, storeRetention(cfg.Retention))
	})
	return st, engine, nil
}

// Handler is the server's HTTP handler, for in-process use.
func (s *Server) Handler() http.Handler { return s.handler }

// Store is the server's database.
func (s *Server) Store() *store.Store { return s.store }

// Engine is the server's job engine.
func (s *Server) Engine() *jobs.Engine { return s.engine }

// ClientCreator makes GitHub clients for the App.
func (s *Server) ClientCreator() githubapp.ClientCreator { return s.clients }

// Registry is the Prometheus registry served at /metrics.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// Run starts the workers and serves HTTP until ctx is cancelled (SIGTERM).
// Then it stops accepting connections, lets requests in flight finish (each
// persists before it answers), gives running jobs jobs.shutdown_grace to
// finish, cancels the rest for a later retry and closes the store. Jobs not
// yet started stay queued.
func (s *Server) Run(ctx context.Context) error {
	defer s.store.Close()
	// The engine outlives ctx: cancelling River's start context would cancel
	// running jobs at once; Stop below gives them the grace period first.
	if err := s.engine.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	ln := s.opts.Listener
	if ln == nil {
		var err error
		ln, err = net.Listen("tcp", s.cfg.Addr)
		if err != nil {
			_ = s.engine.Stop(context.WithoutCancel(ctx), s.cfg.Jobs.ShutdownGrace)
			return fmt.Errorf("server: listen on %s (HOIST_ADDR): %w", s.cfg.Addr, err)
		}
	}
	newServer := func(h http.Handler) *http.Server {
		return &http.Server{
			Handler:           h,
			ReadHeaderTimeout: ReadHeaderTimeout,
			ReadTimeout:       ReadTimeout,
			WriteTimeout:      WriteTimeout,
			IdleTimeout:       IdleTimeout,
			MaxHeaderBytes:    MaxHeaderBytes,
			BaseContext:       func(net.Listener) context.Context { return s.log.WithContext(context.WithoutCancel(ctx)) },
		}
	}
	srv := newServer(s.handler)
	served := make(chan error, 3)
	extra, err := s.serveExtra(newServer, served)
	if err != nil {
		ln.Close()
		_ = s.engine.Stop(context.WithoutCancel(ctx), s.cfg.Jobs.ShutdownGrace)
		return err
	}
	go func() { served <- srv.Serve(ln) }()
	s.log.Info().Str("addr", ln.Addr().String()).Str("public_url", s.cfg.PublicURL).
		Str("database", string(s.store.Dialect())).Msg("hoist serving")

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
	}
	s.stopping.Store(true)
	s.log.Info().Msg("shutting down: no new connections, finishing running jobs")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		s.log.Warn().Err(err).Msg("HTTP shutdown")
	}
	for _, x := range extra {
		_ = x.Shutdown(sctx)
	}
	if err := s.engine.Stop(context.WithoutCancel(ctx), s.cfg.Jobs.ShutdownGrace); err != nil {
		s.log.Warn().Err(err).Msg("job engine shutdown")
	}
	s.log.Info().Msg("stopped")
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("server: %w", serveErr)
	}
	return nil
}

// storeRetention is the database part of the retention settings.
func storeRetention(r serverconfig.Retention) store.Retention {
	limit := func(l serverconfig.RetentionLimit) store.Limit {
		return store.Limit{MaxAge: l.MaxAge, MaxRows: l.MaxRows}
	}
	return store.Retention{
		Deliveries: limit(r.Deliveries), MinDeliveryAge: serverconfig.MinDeliveryAge,
		Audit: limit(r.Audit), SmokeRuns: limit(r.SmokeRuns), CommandRuns: limit(r.CommandRuns),
	}
}

// serveExtra starts the metrics and preview listeners, when configured.
func (s *Server) serveExtra(newServer func(http.Handler) *http.Server, served chan<- error) ([]*http.Server, error) {
	var out []*http.Server
	for _, x := range []struct {
		h       http.Handler
		ln      net.Listener
		addr    string
		name    string
		setting string // its YAML key; HOIST_<KEY> in the environment
	}{
		{s.metrics, s.opts.MetricsListener, s.cfg.MetricsAddr, "metrics", "metrics_addr"},
		{s.preview, s.opts.PreviewListener, s.cfg.PreviewAddr, "preview", "preview_addr"},
	} {
		if x.h == nil {
			continue
		}
		ln := x.ln
		if ln == nil {
			var err error
			if ln, err = net.Listen("tcp", x.addr); err != nil {
				for _, o := range out {
					o.Close()
				}
				return nil, fmt.Errorf("server: listen on %s for %s (HOIST_%s): %w", x.addr, x.setting, strings.ToUpper(x.setting), err)
			}
		}
		srv := newServer(x.h)
		out = append(out, srv)
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				served <- fmt.Errorf("%s listener: %w", x.name, err)
			}
		}()
		s.log.Info().Str(x.setting, ln.Addr().String()).Msgf("serving %s on its own listener", x.name)
	}
	return out, nil
}
