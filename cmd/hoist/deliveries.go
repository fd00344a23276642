package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/logging"
	"github.com/hoist-dev/hoist/internal/server"
	"github.com/hoist-dev/hoist/internal/store"
)

func init() {
	register(subcommand{name: "deliveries", summary: "find webhooks hoist missed and ask GitHub to redeliver them (recover)",
		run: func(ctx context.Context, args []string) int { return deliveriesMain(ctx, args, os.Stdout, os.Stderr) }})
}

const deliveriesUsage = `usage: hoist deliveries recover [--config FILE] [--since 24h] [--dry-run] [--max N] [--json]

Lists the App's webhook deliveries of the last --since (at most GitHub's
72h) through GitHub's API, finds those whose every attempt failed and that
hoist has not stored, and asks GitHub to redeliver them, oldest first, once
per delivery (also across hoist serve replicas, which run the same recovery
every github.recover_deliveries.every). The redeliveries arrive at hoist
serve like any webhook. Uses the server configuration (database, App).
`

func deliveriesMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "recover" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, deliveriesUsage)
			return 0
		}
		fmt.Fprint(stderr, deliveriesUsage)
		return 2
	}
	fs := flag.NewFlagSet("deliveries recover", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), deliveriesUsage)
		fs.PrintDefaults()
	}
	configPath := fs.String("config", os.Getenv("HOIST_CONFIG"), "server configuration file (YAML); HOIST_* environment variables override it")
	since := fs.Duration("since", 0, "how far back to look (default github.recover_deliveries.window, 24h)")
	dryRun := fs.Bool("dry-run", false, "list what would be asked for, and ask nothing")
	maxPerRun := fs.Int("max", 0, "most redeliveries to ask for (default github.recover_deliveries.max_per_run, 100)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if _, code, ok := parseInterspersed(fs, args[1:]); !ok {
		return code
	}
	cfg, err := serverconfig.LoadServer(*configPath, nil)
	if err != nil {
		fmt.Fprintln(stderr, "hoist deliveries recover:", err)
		return 1
	}
	window := cfg.GitHub.RecoverDeliveries.Window
	if *since != 0 {
		window = *since
	}
	if window <= 0 || window > serverconfig.MaxRecoverWindow {
		fmt.Fprintf(stderr, "hoist deliveries recover: --since must be between 0 and %s (GitHub keeps 3 days of deliveries), got %s\n", serverconfig.MaxRecoverWindow, window)
		return 2
	}
	if *maxPerRun < 0 {
		fmt.Fprintln(stderr, "hoist deliveries recover: --max must be positive")
		return 2
	}
	if *maxPerRun > 0 {
		cfg.GitHub.RecoverDeliveries.MaxPerRun = *maxPerRun
	}
	log, err := logging.New(stderr, cfg.Logging.Level, cfg.Logging.Format)
	if err != nil {
		fmt.Fprintln(stderr, "hoist deliveries recover:", err)
		return 1
	}
	st, err := store.Open(ctx, store.Options{DatabaseURL: cfg.DatabaseURL, SQLitePath: cfg.SQLitePath(), Logger: log, AlsoMigrate: jobs.Migrate})
	if err != nil {
		fmt.Fprintln(stderr, "hoist deliveries recover:", err)
		return 1
	}
	defer st.Close()
	clients, err := server.NewClients(cfg, prometheus.NewRegistry(), log)
	if err != nil {
		fmt.Fprintln(stderr, "hoist deliveries recover:", err)
		return 1
	}
	rep, err := server.NewRecoverer(cfg, st, clients, nil, log).Run(ctx, window, *dryRun)
	if *asJSON {
		printRecoveryJSON(stdout, rep)
	} else {
		printRecovery(stdout, rep)
	}
	if err != nil {
		fmt.Fprintln(stderr, "hoist deliveries recover:", err)
		return 1
	}
	if len(rep.Failed) > 0 {
		return 1
	}
	return 0
}

func printRecovery(w io.Writer, rep jobs.Report) {
	fmt.Fprintf(w, "Looked at %d attempts of %d deliveries since %s (%d pages).\n",
		rep.Attempts, rep.GUIDs, rep.Since.UTC().Format(time.RFC3339), rep.Pages)
	fmt.Fprintf(w, "  delivered: %d, failed but stored by hoist: %d, asked for before: %d, missed: %d\n",
		rep.Succeeded, rep.Stored, rep.AskedBefore, len(rep.Missed))
	line := func(m jobs.MissedDelivery) {
		ev := m.Event
		if m.Action != "" {
			ev += "." + m.Action
		}
		fmt.Fprintf(w, "  %s  %-28s installation %d  first tried %s, %d attempts, last: %s\n",
			m.GUID, ev, m.InstallationID, m.First.UTC().Format(time.RFC3339), m.Attempts, m.LastStatus)
	}
	if rep.DryRun {
		if len(rep.Missed) > 0 {
			fmt.Fprintln(w, "Would ask GitHub to redeliver (dry run):")
			for _, m := range rep.Missed {
				line(m)
			}
		}
		return
	}
	if len(rep.Asked) > 0 {
		fmt.Fprintf(w, "Asked GitHub to redeliver %d:\n", len(rep.Asked))
		for _, m := range rep.Asked {
			line(m)
		}
	}
	if len(rep.Failed) > 0 {
		fmt.Fprintf(w, "Could not ask for %d (a later run asks again, a few times at most):\n", len(rep.Failed))
		for _, m := range rep.Failed {
			line(m)
			fmt.Fprintf(w, "    %v\n", m.Err)
		}
	}
	if rep.Deferred > 0 {
		fmt.Fprintf(w, "Left %d for the next run (--max, or GitHub's rate limit).\n", rep.Deferred)
	}
	if rep.GaveUp > 0 {
		fmt.Fprintf(w, "Gave up on %d asked for too often already; redeliver them by hand in the App's settings.\n", rep.GaveUp)
	}
	if len(rep.Asked) == 0 && len(rep.Failed) == 0 {
		fmt.Fprintln(w, "Nothing to redeliver.")
	}
}

func printRecoveryJSON(w io.Writer, rep jobs.Report) {
	type item struct {
		GUID           string    `json:"guid"`
		AttemptID      int64     `json:"attempt_id"`
		Event          string    `json:"event"`
		Action         string    `json:"action,omitempty"`
		InstallationID int64     `json:"installation_id,omitempty"`
		RepositoryID   int64     `json:"repository_id,omitempty"`
		First          time.Time `json:"first_attempt_at"`
		Attempts       int       `json:"attempts"`
		LastStatus     string    `json:"last_status"`
		Error          string    `json:"error,omitempty"`
	}
	items := func(ms []jobs.MissedDelivery) []item {
		out := []item{}
		for _, m := range ms {
			it := item{m.GUID, m.AttemptID, m.Event, m.Action, m.InstallationID, m.RepositoryID, m.First, m.Attempts, m.LastStatus, ""}
			if m.Err != nil {
				it.Error = m.Err.Error()
			}
			out = append(out, it)
		}
		return out
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(map[string]any{
		"since": rep.Since, "dry_run": rep.DryRun, "pages": rep.Pages, "attempts": rep.Attempts, "deliveries": rep.GUIDs,
		"delivered": rep.Succeeded, "stored": rep.Stored, "asked_before": rep.AskedBefore,
		"missed": items(rep.Missed), "asked": items(rep.Asked), "failed": items(rep.Failed), "deferred": rep.Deferred, "gave_up": rep.GaveUp,
	})
}
