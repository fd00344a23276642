package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/hoist-dev/hoist/internal/server"
)

func init() {
	register(subcommand{name: "bench", summary: "measure webhook intake on this machine (bench intake)", run: runBench})
}

func runBench(ctx context.Context, args []string) int {
	if len(args) == 0 || args[0] != "intake" {
		fmt.Fprintln(os.Stderr, "usage: hoist bench intake [-n deliveries] [-c senders] [-workers n] [-dir path]")
		return 2
	}
	fs := flag.NewFlagSet("bench intake", flag.ContinueOnError)
	n := fs.Int("n", 100000, "signed push deliveries to send")
	c := fs.Int("c", 8, "concurrent senders")
	workers := fs.Int("workers", 0, "jobs.workers of the server (0: the default, 10)")
	dir := fs.String("dir", "", "data directory for the SQLite database (default: a temporary one, removed afterwards)")
	quiet := fs.Bool("q", false, "no progress lines")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run (server and senders) to this file")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: hoist bench intake [flags]\n\nStarts hoist serve in this process on SQLite with an idle push handler, sends signed\ndeliveries over loopback HTTP and prints throughput, answer latency and memory growth.\nThe senders share the machine's CPUs with the server.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	opts := server.IntakeBench{Deliveries: *n, Concurrency: *c, Workers: *workers, DataDir: *dir}
	if !*quiet {
		opts.Progress = os.Stderr
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "hoist bench intake:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "hoist bench intake:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	res, err := server.BenchIntake(ctx, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hoist", err) // err starts with "bench intake:"
		return 1
	}
	mb := func(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
	fmt.Printf("deliveries     %d (SQLite, %d concurrent senders, GOMAXPROCS %d)\n", res.Deliveries, res.Concurrency, runtime.GOMAXPROCS(0))
	fmt.Printf("elapsed        %s\n", res.Elapsed.Round(time.Millisecond))
	fmt.Printf("throughput     %.0f deliveries/s\n", res.PerSecond)
	fmt.Printf("answer time    p50 %s  p90 %s  p99 %s  max %s\n", ms(res.P50), ms(res.P90), ms(res.P99), ms(res.Max))
	fmt.Printf("RSS            start %s, after 10%% %s, end %s (growth %s, %s after the first 10%%)\n",
		mb(res.RSSStart), mb(res.RSSTenth), mb(res.RSSEnd), mb(res.RSSEnd-res.RSSStart), mb(res.RSSEnd-res.RSSTenth))
	fmt.Printf("group commit   %.1f deliveries per transaction on average\n", res.MeanBatch)
	fmt.Printf("jobs drained   %s after the last answer\n", res.Drain.Round(time.Millisecond))
	return 0
}
