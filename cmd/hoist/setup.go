package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hoist-dev/hoist/internal/logging"
	"github.com/hoist-dev/hoist/internal/setup"
)

func init() {
	register(subcommand{name: "setup", summary: "create hoist's GitHub App from app.yml and write the server config", run: runSetup})
}

func runSetup(ctx context.Context, args []string) int {
	return setupMain(ctx, args, os.Stdout, os.Stderr, nil)
}

// setupMain is `hoist setup` with its output streams; ready, when set,
// receives the local page's address (tests drive the browser's part).
func setupMain(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(string)) int {
	fs := flag.NewFlagSet("setup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o setup.Options
	fs.StringVar(&o.ConfigPath, "config", "hoist-server.yml", "server configuration file to write")
	fs.StringVar(&o.KeyPath, "key-file", "", "where to write the App's private key (default: "+setup.DefaultKeyName+" beside --config)")
	fs.StringVar(&o.ManifestPath, "manifest", "app.yml", "the App manifest (YAML)")
	fs.StringVar(&o.Name, "name", "", "the App's name, unique on GitHub (default: the manifest's)")
	fs.StringVar(&o.PublicURL, "public-url", os.Getenv("HOIST_PUBLIC_URL"), "where GitHub and people reach hoist (required; webhooks go to <public-url>/api/github/hook)")
	fs.StringVar(&o.WebURL, "github-url", "https://github.com", "GitHub's web address; a GitHub Enterprise Server's is https://HOST")
	fs.StringVar(&o.APIURL, "api-url", "", "GitHub's REST API (default: https://api.github.com/, or <github-url>/api/v3/ for GitHub Enterprise Server)")
	fs.StringVar(&o.Org, "org", "", "create the App for this organization instead of your account")
	fs.StringVar(&o.Addr, "addr", "127.0.0.1:0", "where the local setup page listens (a free port by default)")
	fs.BoolVar(&o.Force, "force", false, "replace an existing config and key file")
	timeout := fs.Duration("timeout", 30*time.Minute, "give up when no App is created within this time")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: hoist setup --public-url https://hoist.example.com [flags]\n\n"+
			"Serves a local page that creates hoist's GitHub App from app.yml (GitHub's App manifest flow),\n"+
			"then writes the App id, private key, webhook secret and OAuth credentials for hoist serve.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "hoist setup: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	log, err := logging.New(stderr, "info", "auto")
	if err != nil {
		fmt.Fprintln(stderr, "hoist setup:", err)
		return 1
	}
	o.Logger = log
	o.Ready = func(page string) {
		fmt.Fprintf(stdout, "Open %s in a browser signed in to %s to create the GitHub App.\n", page, o.WebURL)
		if ready != nil {
			ready(page)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	res, err := setup.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(stderr, "hoist setup:", err)
		return 1
	}
	fmt.Fprintf(stdout, "Created the GitHub App %s (id %d).\nWrote %s and %s (mode 0600).\nNext: install it on your repositories at %s\nthen run: hoist serve --config %s\n",
		res.Slug, res.AppID, res.ConfigPath, res.KeyPath, res.InstallURL(), res.ConfigPath)
	return 0
}
