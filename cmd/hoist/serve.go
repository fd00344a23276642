package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/app"
	"github.com/hoist-dev/hoist/internal/logging"
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
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	cfg, err := serverconfig.LoadServer(*configPath, nil)
	if err != nil {
		// Every mistake, one per line.
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintln(os.Stderr, "hoist serve:", line)
		}
		return 1
	}
	log, err := logging.New(os.Stderr, cfg.Logging.Level, cfg.Logging.Format)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hoist serve:", err)
		return 1
	}
	srv, err := app.New(ctx, cfg, server.Options{Logger: &log})
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
