package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/internal/logging"
)

func init() {
	register(subcommand{name: "emulator", summary: "run the GitHub emulator (REST, git smart HTTP, webhooks) for tests and demos", run: runEmulator})
}

func runEmulator(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("hoist emulator", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8787", "listen address (host:port; port 0 picks one)")
	data := fs.String("data", "", "data folder: bare repositories and the state snapshot (required; kept across restarts)")
	baseURL := fs.String("base-url", "", "address clients use, when not http://<addr>")
	seed := fs.Int64("seed", 1, "seed of the fault-injection random source")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	format := fs.String("log-format", "auto", "log format: json, console or auto")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *data == "" {
		fmt.Fprintln(os.Stderr, "hoist emulator: --data is required")
		fs.Usage()
		return 2
	}
	log, err := logging.New(os.Stderr, *level, *format)
	if err != nil {
		fmt.Fprintf(os.Stderr, "hoist emulator: %v\n", err)
		return 2
	}
	err = emulator.Run(ctx, *addr, emulator.Options{DataDir: *data, BaseURL: *baseURL, Seed: *seed, Logger: log}, func(url string) {
		fmt.Printf("GitHub emulator listening on %s (REST also under %s/api/v3)\n", url, url)
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "hoist emulator: %v\n", err)
		return 1
	}
	return 0
}
