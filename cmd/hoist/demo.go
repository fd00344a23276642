package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/demo"
)

func init() {
	register(subcommand{name: "demo", summary: "play hoist's flow once on embedded defaults, no credentials needed", run: runDemo})
}

func runDemo(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print a machine-readable report instead of text")
	keep := fs.Bool("keep", false, "keep serving after the flow, for exploration (Ctrl-C stops)")
	dataDir := fs.String("data", "", "folder for the database, artifacts and sample site (default: a temporary folder)")
	addr := fs.String("addr", "127.0.0.1:0", "where hoist listens")
	chromium := fs.String("chromium", os.Getenv("HOIST_CHROMIUM"), "Chromium binary (default: detected)")
	verbose := fs.Bool("v", false, "show hoist's own logs")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: hoist demo [--json] [--keep] [--data DIR]\n\nRuns hoist on SQLite with a local folder and plays the flow once; exit 0 only if every step succeeded.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var logOut io.Writer = io.Discard
	if *verbose {
		logOut = zerolog.ConsoleWriter{Out: os.Stderr}
	}
	opts := demo.Options{DataDir: *dataDir, Addr: *addr, ChromiumPath: *chromium, Keep: *keep,
		Log: zerolog.New(logOut).With().Timestamp().Logger()}
	if !*asJSON {
		n := 0
		opts.OnStep = func(s demo.Step) {
			n++
			mark := "ok  "
			if !s.OK {
				mark = "FAIL"
			}
			fmt.Printf("%s %2d. %-42s %6d ms  %s\n", mark, n, s.Name, s.Millis, s.Detail)
			if s.ErrorMsg != "" {
				fmt.Printf("        error: %s\n", s.ErrorMsg)
			}
			for _, k := range s.LinkNames() {
				fmt.Printf("        %s: %s\n", k, s.Links[k])
			}
			if *keep && s.OK && n == 1 {
				fmt.Println("        (--keep: hoist keeps serving after the flow; Ctrl-C stops it)")
			}
		}
	}
	rep, err := demo.Run(ctx, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hoist demo:", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else if rep.OK {
		fmt.Printf("\nevery step succeeded in %d ms\n", rep.TotalMS)
	} else {
		fmt.Printf("\na step failed (%d ms)\n", rep.TotalMS)
	}
	if !rep.OK {
		return 1
	}
	return 0
}
