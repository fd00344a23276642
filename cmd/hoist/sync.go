package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/hoist-dev/hoist/internal/deploy"
)

// syncPurger turns a --purge value into a purger. It is nil until the purge
// package registers one (from its own file in this package); until then
// --purge is refused before anything is deployed.
var syncPurger func(ctx context.Context, spec string) (deploy.Purger, error)

func init() {
	register(subcommand{name: "sync", summary: "deploy a local folder to S3 or a folder by manifest diff", run: runSync})
}

func runSync(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: hoist sync <dir> <s3://bucket/prefix | file:///path | folder> [flags]")
		fs.PrintDefaults()
	}
	var o deploy.SyncOptions
	fs.StringVar(&o.Endpoint, "endpoint", "", "S3 endpoint URL for S3-compatible servers")
	fs.BoolVar(&o.PathStyle, "path-style", false, "address the bucket in the path (S3-compatible servers)")
	fs.StringVar(&o.Region, "region", "", "S3 region (default: AWS_REGION, or us-east-1 with --endpoint)")
	fs.StringVar(&o.Edition, "edition", "", "edition name for surrogate keys (default: last segment of the prefix)")
	fs.IntVar(&o.Concurrency, "concurrency", deploy.DefaultConcurrency, "objects written at once")
	fs.BoolVar(&o.DryRun, "dry-run", false, "report what would change without writing")
	fs.DurationVar(&o.Throttle, "throttle", 0, "pause before each write, to spread load (e.g. 10ms)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	purge := fs.String("purge", "", "purge this CDN (a name from the purge configuration) after a deploy that changed something")

	// Flags may come before, between or after the two arguments.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != 2 {
		fs.Usage()
		return 2
	}
	o.Dir, o.Destination = pos[0], pos[1]
	if *purge != "" {
		if syncPurger == nil {
			fmt.Fprintln(os.Stderr, "hoist sync: --purge is not supported by this build yet; nothing was deployed")
			return 2
		}
		p, err := syncPurger(ctx, *purge)
		if err != nil {
			fmt.Fprintf(os.Stderr, "hoist sync: --purge %s: %v\n", *purge, err)
			return 2
		}
		o.Purger = p
	}
	res, err := deploy.Sync(ctx, o)
	if *asJSON && res != nil {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(res)
	} else if res != nil {
		printSync(res)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "hoist sync: %v\n", err)
		return 1
	}
	return 0
}

func printSync(r *deploy.Result) {
	verb := ""
	if r.DryRun {
		verb = " (dry run: nothing written)"
	}
	fmt.Printf("%s/%s%s\n", r.Target, r.Prefix, verb)
	fmt.Printf("  added %d, modified %d, deleted %d, unchanged %d\n",
		len(r.Changes.Added), len(r.Changes.Modified), len(r.Changes.Deleted), r.Unchanged)
	fmt.Printf("  uploaded %d (%d bytes), copied %d, deleted %d; %d requests in %s\n",
		r.Uploaded, r.Bytes, r.Copied, r.Deleted, r.Requests, r.Duration.Round(time.Millisecond))
}
