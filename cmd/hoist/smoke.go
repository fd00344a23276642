package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/internal/site"
	"github.com/hoist-dev/hoist/internal/smoke"
)

func init() {
	register(subcommand{name: "smoke", summary: "smoke-test a site in headless Chromium", run: runSmoke})
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func runSmoke(ctx context.Context, args []string) int {
	fl := flag.NewFlagSet("smoke", flag.ContinueOnError)
	fl.Usage = func() {
		fmt.Fprintln(fl.Output(), "usage: hoist smoke <base-url> [flags]\n       hoist smoke --dir PATH [flags]\n\nTests each page in headless Chromium and writes screenshots and a report.\nExit status 0 when no failing finding, 1 on failure, 2 on bad usage.\n\nflags:")
		fl.PrintDefaults()
	}
	var (
		pages, viewports          listFlag
		allowHosts                listFlag
		browserUser               string
		configPath, outDir, dir   string
		chromium                  string
		jsonOut, quiet, lowMemory bool
		rendererPerTab            bool
		crawl, concurrency        int
		timeout                   time.Duration
		scale                     float64
	)
	fl.StringVar(&configPath, "config", "", "read the smoke: section of this hoist.yml, checked as the server checks it (default .github/hoist.yml when present)")
	fl.StringVar(&outDir, "out", "hoist-smoke", "folder for report.json, report.html and artifacts/")
	fl.BoolVar(&jsonOut, "json", false, "print the JSON report on stdout instead of a summary")
	fl.Var(&pages, "page", "page path to test, such as /about/ (repeatable; replaces the config's pages)")
	fl.Var(&viewports, "viewport", "viewport as name:WIDTHxHEIGHT, such as desktop:1280x800 (repeatable)")
	fl.IntVar(&crawl, "crawl", 0, "follow same-site links for up to N more pages")
	fl.StringVar(&chromium, "chromium", "", "Chromium binary (default $HOIST_CHROMIUM or the installed headless shell)")
	fl.StringVar(&dir, "dir", "", "serve this local folder on a private loopback address and test it")
	fl.IntVar(&concurrency, "concurrency", 0, "tabs working in parallel (default 2)")
	fl.DurationVar(&timeout, "timeout", 0, "time limit for one page (default 15s)")
	fl.Float64Var(&scale, "scale", 0, "screenshot scale (default 0.5)")
	fl.Var(&allowHosts, "allow-host", "host besides the site the pages may load from, such as fonts.example.com or *.example.com (repeatable); everything else is refused")
	fl.StringVar(&browserUser, "browser-user", "", "user Chromium runs as when hoist runs as root: name or uid[:gid] (default nobody)")
	fl.BoolVar(&quiet, "quiet", false, "no progress on stderr")
	fl.BoolVar(&lowMemory, "low-memory", false, "run all tabs in one renderer process (the default now; kept for scripts that pass it)")
	fl.BoolVar(&rendererPerTab, "renderer-per-tab", false, "give each tab its own renderer process (~130 MB more per tab; tabs never wait for each other)")

	positional, code, ok := parseInterspersed(fl, args)
	if !ok {
		return code
	}
	stderr := fl.Output()
	if (len(positional) == 1) == (dir != "") || len(positional) > 1 {
		fmt.Fprintln(stderr, "hoist smoke: give either one base URL or --dir PATH")
		fl.Usage()
		return 2
	}

	opts := smoke.Options{ChromiumPath: chromium, Concurrency: concurrency, PageTimeout: timeout, ScreenshotScale: scale, ShareRenderer: lowMemory, RendererPerTab: rendererPerTab}
	opts.Crawl.MaxPages = crawl
	opts.AllowHosts = allowHosts
	opts.BrowserUser = browserUser
	for _, p := range pages {
		opts.Pages = append(opts.Pages, smoke.Page{Path: p})
	}
	for _, v := range viewports {
		vp, err := parseViewport(v)
		if err != nil {
			fmt.Fprintf(stderr, "hoist smoke: --viewport %q: %v\n", v, err)
			return 2
		}
		opts.Viewports = append(opts.Viewports, vp)
	}
	if configPath == "" {
		if _, err := os.Stat(".github/hoist.yml"); err == nil {
			configPath = ".github/hoist.yml"
		}
	}
	if configPath != "" {
		if err := applySmokeConfig(configPath, &opts); err != nil {
			// One line per mistake, each with its file:line:column.
			for _, line := range strings.Split(err.Error(), "\n") {
				fmt.Fprintf(stderr, "hoist smoke: %s\n", line)
			}
			return 2
		}
	}

	if dir != "" {
		tree, err := site.NewDirTree(dir)
		if err != nil {
			fmt.Fprintf(stderr, "hoist smoke: %v\n", err)
			return 2
		}
		preview, err := site.ServePreview(ctx, tree)
		if err != nil {
			fmt.Fprintf(stderr, "hoist smoke: %v\n", err)
			return 1
		}
		defer preview.Close()
		opts.BaseURL = preview.URL()
	} else {
		opts.BaseURL = positional[0]
	}
	tty := isTerminal(stderr)
	if !quiet {
		opts.Progress = smokeProgress(stderr, tty)
	}

	rep, err := smoke.Run(ctx, opts)
	if !quiet && tty {
		fmt.Fprintln(stderr) // end the line the progress rewrote
	}
	if err != nil {
		fmt.Fprintf(stderr, "hoist smoke: %v\n", err)
		if errors.Is(err, fs.ErrNotExist) || strings.Contains(err.Error(), "smoke options") {
			return 2
		}
		return 1
	}
	if err := smoke.WriteDir(ctx, outDir, rep); err != nil {
		fmt.Fprintf(stderr, "hoist smoke: %v\n", err)
		return 1
	}
	if jsonOut {
		b, err := smoke.MarshalReport(rep)
		if err != nil {
			fmt.Fprintf(stderr, "hoist smoke: %v\n", err)
			return 1
		}
		os.Stdout.Write(b)
	} else {
		printSummary(os.Stdout, rep, outDir)
	}
	if rep.Conclusion == smoke.Failure {
		return 1
	}
	return 0
}

// applySmokeConfig reads the hoist.yml at path with the loader the server
// uses, so a mistake anywhere in the file is refused with the same message,
// and fills what the flags left unset from its smoke section.
func applySmokeConfig(path string, opts *smoke.Options) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	cfg, err := config.LoadRepoConfig(path, data)
	if err != nil {
		return err
	}
	file, err := smoke.ConfigOptions(cfg.Smoke)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	// Flags win over the file.
	if len(opts.Pages) == 0 {
		opts.Pages = file.Pages
	}
	if len(opts.Viewports) == 0 {
		opts.Viewports = file.Viewports
	}
	if opts.Crawl.MaxPages == 0 {
		opts.Crawl.MaxPages = file.Crawl.MaxPages
	}
	if len(opts.FailOn) == 0 {
		opts.FailOn = file.FailOn
	}
	return nil
}

func parseViewport(s string) (smoke.Viewport, error) {
	name, size, ok := strings.Cut(s, ":")
	if !ok || name == "" {
		return smoke.Viewport{}, errors.New("want name:WIDTHxHEIGHT")
	}
	ws, hs, ok := strings.Cut(size, "x")
	w, err1 := strconv.Atoi(ws)
	h, err2 := strconv.Atoi(hs)
	if !ok || err1 != nil || err2 != nil {
		return smoke.Viewport{}, errors.New("want name:WIDTHxHEIGHT, such as desktop:1280x800")
	}
	return smoke.Viewport{Name: name, Width: w, Height: h}, nil
}

func printSummary(w io.Writer, r *smoke.Report, outDir string) {
	fmt.Fprintf(w, "%s: %s\n", r.Conclusion, r.Title)
	for _, p := range r.Pages {
		mark := "ok  "
		switch p.Conclusion {
		case smoke.Failure:
			mark = "FAIL"
		case smoke.Neutral:
			mark = "warn"
		}
		fmt.Fprintf(w, "  %s %-40s %-8s HTTP %3d %5d ms\n", mark, p.Path, p.Viewport, p.Status, p.LoadMS)
		for _, f := range p.Findings {
			res := ""
			if f.Resource != "" {
				res = " (" + f.Resource + ")"
			}
			fmt.Fprintf(w, "         %s: %s%s\n", f.Kind, f.Message, res)
		}
	}
	fmt.Fprintf(w, "%d pages in %d ms (browser start %d ms, peak browser memory %d MB, browser CPU %d ms)\nreport: %s/report.html\n",
		len(r.Pages), r.DurationMS, r.Stats.BrowserStartMS, r.Stats.BrowserPeakRSS>>20, r.Stats.BrowserCPUMS, outDir)
}

// smokeProgress reports pages done: on a terminal one line rewritten in
// place; elsewhere (a CI log, a file) a plain line per step, since a
// captured \r turns the log into one long line.
func smokeProgress(w io.Writer, tty bool) func(done, total int) {
	return func(done, total int) {
		noun := "pages"
		if total == 1 {
			noun = "page"
		}
		if tty {
			fmt.Fprintf(w, "\rsmoke: %d/%d %s", done, total, noun)
			return
		}
		fmt.Fprintf(w, "smoke: %d/%d %s\n", done, total, noun)
	}
}

// isTerminal reports whether w is a terminal (or a Cygwin pty).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}
