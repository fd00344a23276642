package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/config/serverconfig"
)

func init() {
	register(subcommand{name: "config", summary: "check a .github/hoist.yml (validate) or print its JSON Schema (schema)", run: runConfig})
}

const configUsage = `usage: hoist config validate [-github] [-server FILE -repo OWNER/NAME] [FILE ...]
       hoist config schema

validate  checks each repository configuration (default .github/hoist.yml;
          - reads standard input) and prints every mistake as
          file:line:col: message, or a summary of the pipeline it describes.
          With -server (a server config file) it also checks that every
          deploy target and CDN the file names exists there and, with
          -repo, is open to that repository, that prefixes stay in
          the repository's folder, and that no verify URL is a private
          address the server's smoke.verify_private_hosts does not allow.
          Exit status 0 when all are valid, 1 when any has mistakes, 2 on
          bad usage or an unreadable file.
schema    prints the JSON Schema of the file, for editors.
`

func runConfig(_ context.Context, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(os.Stderr, configUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "validate":
		return runConfigValidate(args[1:], os.Stdin, os.Stdout, os.Stderr)
	case "schema":
		if len(args) > 1 {
			fmt.Fprint(os.Stderr, configUsage)
			return 2
		}
		os.Stdout.Write(config.RepoSchema())
		return 0
	}
	fmt.Fprintf(os.Stderr, "hoist config: unknown verb %q\n\n%s", args[0], configUsage)
	return 2
}

func runConfigValidate(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("config validate", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() { fmt.Fprint(stderr, configUsage+"\nflags:\n"); fl.PrintDefaults() }
	github := fl.Bool("github", false, "also print each mistake as a GitHub Actions ::error annotation")
	serverFile := fl.String("server", "", "server config file whose targets: and cdns: the file must use")
	repoName := fl.String("repo", "", "the repository (owner/name) the file belongs to, checked against the server config's repos:")
	files, code, ok := parseInterspersed(fl, args)
	if !ok {
		return code
	}
	if *repoName != "" && *serverFile == "" {
		fmt.Fprintln(stderr, "hoist config validate: -repo needs -server (the server config to check against)")
		return 2
	}
	if o, n, ok := strings.Cut(*repoName, "/"); *repoName != "" && (!ok || o == "" || n == "" || strings.Contains(n, "/")) {
		fmt.Fprintf(stderr, "hoist config validate: -repo %q: write owner/name\n", *repoName)
		return 2
	}
	var server *serverconfig.Server
	if *serverFile != "" {
		var err error
		if server, err = serverconfig.LoadServerTargets(*serverFile); err != nil {
			fmt.Fprintf(stderr, "hoist config validate: %v\n", err)
			return 2
		}
	}
	if len(files) == 0 {
		files = []string{config.RepoConfigPath}
	}
	code = 0
	for i, file := range files {
		var data []byte
		var err error
		name := file
		if file == "-" {
			name = "<stdin>"
			data, err = io.ReadAll(stdin)
		} else {
			data, err = os.ReadFile(file)
		}
		if err != nil {
			fmt.Fprintf(stderr, "hoist config: %v\n", err)
			code = 2
			continue
		}
		cfg, err := config.LoadRepoConfig(name, data)
		if err == nil && server != nil {
			err = server.CheckRepoConfigNames(cfg, *repoName)
		}
		if err != nil {
			fmt.Fprintln(stdout, err)
			var list config.RepoConfigErrors
			if *github && errors.As(err, &list) {
				for _, e := range list {
					fmt.Fprintln(stdout, e.GitHubAnnotation())
				}
			}
			code = max(code, 1)
			continue
		}
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		fmt.Fprint(stdout, cfg.Summary())
	}
	return code
}
