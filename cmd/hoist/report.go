package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/logging"
	"github.com/hoist-dev/hoist/internal/safety"
	"github.com/hoist-dev/hoist/internal/store"
)

func init() {
	register(subcommand{name: "report", summary: "print delivery measures: deployment frequency, lead time, change failure rate, time to restore",
		run: func(ctx context.Context, args []string) int { return reportMain(ctx, args, os.Stdout, os.Stderr) }})
}

const reportUsage = `usage: hoist report [--config FILE] [--since 30d] [--repo OWNER/NAME] [--json]

Prints the delivery measures of every repository and environment (or only
--repo's) over the last --since (days or hours: 30d, 7d, 12h): deployments
and their frequency, lead time for changes (first commit → live), change
failure rate, time to restore, and the outcomes the failure budgets count.
Reads the database of the server configuration; see docs/safety.md.
`

func reportMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), reportUsage)
		fs.PrintDefaults()
	}
	configPath := fs.String("config", os.Getenv("HOIST_CONFIG"), "server configuration file (YAML); HOIST_* environment variables override it")
	sinceFlag := fs.String("since", "30d", "the window: a number of days or hours, such as 30d or 12h")
	repo := fs.String("repo", "", "only this repository (owner/name)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if _, code, ok := parseInterspersed(fs, args); !ok {
		return code
	}
	window, err := config.ParseBudgetWindow(*sinceFlag)
	if err != nil {
		fmt.Fprintln(stderr, "hoist report: --since:", err)
		return 2
	}
	cfg, err := serverconfig.LoadServer(*configPath, nil)
	if err != nil {
		fmt.Fprintln(stderr, "hoist report:", err)
		return 1
	}
	log, err := logging.New(stderr, cfg.Logging.Level, cfg.Logging.Format)
	if err != nil {
		fmt.Fprintln(stderr, "hoist report:", err)
		return 1
	}
	st, err := store.Open(ctx, store.Options{DatabaseURL: cfg.DatabaseURL, SQLitePath: cfg.SQLitePath(), Logger: log, AlsoMigrate: jobs.Migrate})
	if err != nil {
		fmt.Fprintln(stderr, "hoist report:", err)
		return 1
	}
	defer st.Close()
	rec := safety.NewRecorder(safety.Deps{Store: st})
	now := rec.Now()
	ms, err := rec.Report(ctx, *repo, window)
	if err != nil {
		fmt.Fprintln(stderr, "hoist report:", err)
		return 1
	}
	rep := safety.NewReport(ms, now.Add(-window), now)
	if *asJSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "hoist report:", err)
		return 1
	}
	return 0
}
