// Command intake measures hoist's webhook intake on this machine: it starts
// the HTTP server and job engine in this process on SQLite with a push
// handler that does nothing, sends signed deliveries over loopback HTTP and
// prints throughput, answer latency, memory growth and the group commit's
// batch size.
//
//	go run ./bench/intake -n 10000 -c 8
//	bench/intake/run.sh -n 10000 -c 8
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("intake", flag.ContinueOnError)
	n := fs.Int("n", 100000, "signed push deliveries to send")
	c := fs.Int("c", 8, "concurrent senders")
	workers := fs.Int("workers", 0, "jobs.workers of the server (0: the default, 10)")
	dir := fs.String("dir", "", "data directory for the SQLite database (default: a temporary one, removed afterwards)")
	quiet := fs.Bool("q", false, "no progress lines")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run (server and senders) to this file")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: go run ./bench/intake [flags]\n\nStarts hoist's server in this process on SQLite with an idle push handler, sends signed\ndeliveries over loopback HTTP and prints throughput, answer latency and memory growth.\nThe senders share the machine's CPUs with the server.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	opts := IntakeBench{Deliveries: *n, Concurrency: *c, Workers: *workers, DataDir: *dir}
	if !*quiet {
		opts.Progress = os.Stderr
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench intake:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "bench intake:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	res, err := BenchIntake(ctx, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err) // err starts with "bench intake:"
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
