package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/internal/deploy"
	"github.com/hoist-dev/hoist/internal/purge"
)

// syncPurger turns the --purge values (and the --cdns file) into a purger
// (sync_purge.go); a bad value is refused before anything is deployed.
var syncPurger func(ctx context.Context, specs []string, file string) (deploy.Purger, error)

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
	fs.StringVar(&o.Edition, "edition", "", "edition name for surrogate keys (default: the prefix's last segment, or \"default\" when the destination has no prefix)")
	fs.IntVar(&o.Concurrency, "concurrency", deploy.DefaultConcurrency, "objects written at once")
	fs.BoolVar(&o.DryRun, "dry-run", false, "report what would change without writing")
	fs.DurationVar(&o.Throttle, "throttle", 0, "pause before each write, to spread load (e.g. 10ms)")
	fs.BoolVar(&o.SkipBrokenLinks, "skip-broken-links", false, "publish the site without the symbolic links that leave it, dangle or loop, listing them (default: refuse the deploy and list them)")
	configPath := fs.String("config", "", "repository configuration whose deploy: section applies: cache rules and skip_broken_links (default .github/hoist.yml when present)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	var purges multiFlag
	fs.Var(&purges, "purge", "after a deploy that changed something, purge this CDN: a name from the --cdns file, or varnish:URL[,URL…], fastly:SERVICE_ID (FASTLY_API_TOKEN), cloudfront:DISTRIBUTION_ID (AWS credentials); repeatable")
	cdnsFile := fs.String("cdns", os.Getenv("HOIST_CONFIG"), "YAML file whose cdns: section names the CDNs for --purge (a server config file works)")

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
	if err := applySyncConfig(*configPath, &o); err != nil {
		// One line per mistake, each with its file:line:column.
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(os.Stderr, "hoist sync: %s\n", line)
		}
		fmt.Fprintln(os.Stderr, "hoist sync: nothing was deployed")
		return 2
	}
	var purger *purge.DeployPurger
	if len(purges) > 0 {
		p, err := syncPurger(ctx, purges, *cdnsFile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "hoist sync: --purge: %v; nothing was deployed\n", err)
			return 2
		}
		o.Purger = p
		purger, _ = p.(*purge.DeployPurger)
	}
	res, err := deploy.Sync(ctx, o)
	if *asJSON && res != nil {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(res)
	} else if res != nil {
		printSync(res)
		if purger != nil {
			for _, out := range purger.Outcomes {
				fmt.Printf("  %s\n", out.Result)
			}
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "hoist sync: %v\n", err)
		return 1
	}
	return 0
}

// applySyncConfig reads the deploy: section of the repository
// configuration, checked as the server checks it: the cache rules, and
// skip_broken_links (which --skip-broken-links can only turn on).
func applySyncConfig(path string, o *deploy.SyncOptions) error {
	if path == "" {
		if _, err := os.Stat(config.RepoConfigPath); err != nil {
			return nil
		}
		path = config.RepoConfigPath
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	cfg, err := config.LoadRepoConfig(path, data)
	if err != nil {
		return err
	}
	if o.Rules, err = deploy.RulesFromConfig(cfg.Deploy.Cache); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	o.SkipBrokenLinks = o.SkipBrokenLinks || cfg.Deploy.SkipBrokenLinks
	return nil
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
	if r.PurgedPending > 0 {
		fmt.Printf("  purged %d paths an earlier sync had left unpurged\n", r.PurgedPending)
	}
	if n := len(r.SkippedLinks); n > 0 {
		noun := "links"
		if n == 1 {
			noun = "link"
		}
		fmt.Printf("  skipped %d broken symbolic %s:\n", n, noun)
		for _, b := range r.SkippedLinks {
			fmt.Printf("    %s\n", b)
		}
	}
}
