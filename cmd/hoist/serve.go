package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/internal/flow"
	"github.com/hoist-dev/hoist/internal/generate"
	"github.com/hoist-dev/hoist/internal/logging"
	"github.com/hoist-dev/hoist/internal/server"
	"github.com/hoist-dev/hoist/internal/web"
)

func init() {
	register(subcommand{name: "serve", summary: "run the GitHub App server (webhooks, jobs, dashboard)", run: runServe})
}

func runServe(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	configPath := fs.String("config", os.Getenv("HOIST_CONFIG"), "server configuration file (YAML); HOIST_* environment variables override it")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: hoist serve [--config hoist-server.yml]\n\nSettings come from the file, then HOIST_* environment variables; see docs/server.md.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := config.LoadServer(*configPath, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hoist serve:", err)
		return 1
	}
	log, err := logging.New(os.Stderr, cfg.Logging.Level, cfg.Logging.Format)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hoist serve:", err)
		return 1
	}
	srv, err := newServer(ctx, cfg, server.Options{Logger: &log})
	if err != nil {
		fmt.Fprintln(os.Stderr, "hoist serve:", err)
		return 1
	}
	if err := srv.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "hoist serve:", err)
		return 1
	}
	return 0
}

// newServer is `hoist serve` without the flags: the server with every
// service attached (promotions, the generation trigger, the dashboard),
// ready to Run.
// opts.Logger must be set; tests pass their listener in opts.
func newServer(ctx context.Context, cfg *config.Server, opts server.Options) (*server.Server, error) {
	promotions := flow.New()
	promotions.Attach(&opts)
	gen := generate.New(generate.Deps{Secret: cfg.GenerateSecret, Logger: *opts.Logger})
	gen.Attach(&opts)
	dash := web.NewDashboard(web.DashboardOptions{Logger: *opts.Logger})
	opts.Routes = dash.Routes(opts.Routes)
	srv, err := server.New(ctx, cfg, opts)
	if err != nil {
		return nil, err
	}
	promotions.Start(srv)
	if err := gen.Bind(srv.Store(), srv.ClientCreator()); err != nil {
		srv.Store().Close()
		return nil, err
	}
	dash.Bind(srv.Store(), srv.ClientCreator())
	return srv, nil
}
