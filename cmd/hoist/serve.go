package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/internal/flow"
	"github.com/hoist-dev/hoist/internal/server"
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
	var opts server.Options
	promotions := flow.New()
	promotions.Attach(&opts)
	srv, err := server.New(ctx, cfg, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hoist serve:", err)
		return 1
	}
	promotions.Start(srv)
	if err := srv.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "hoist serve:", err)
		return 1
	}
	return 0
}
