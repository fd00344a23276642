package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/internal/server"
	"github.com/hoist-dev/hoist/internal/store"
	"github.com/hoist-dev/hoist/internal/world"
)

// IntakeBench configures BenchIntake.
type IntakeBench struct {
	// Deliveries is how many signed deliveries to send.
	Deliveries int
	// Concurrency is how many senders post at once.
	Concurrency int
	// Workers is jobs.workers for the server; 0 keeps the default.
	Workers int
	// DataDir holds the SQLite database; empty means a temporary directory
	// removed at the end.
	DataDir string
	// Progress, when set, receives a line every tenth of the run.
	Progress io.Writer
}

// IntakeResult is what BenchIntake measured. Latency is from sending the
// request to reading the answer's status line, as a sender sees it.
type IntakeResult struct {
	Deliveries  int
	Concurrency int
	Elapsed     time.Duration
	PerSecond   float64
	P50, P90    time.Duration
	P99, Max    time.Duration
	// RSS of the process (server and senders) before the first delivery,
	// after the first tenth, and at the end.
	RSSStart, RSSTenth, RSSEnd int64
	// Drain is how long after the last answer the workers took to finish
	// every job (the handlers do nothing).
	Drain time.Duration
	// MeanBatch is the mean number of deliveries per group commit.
	MeanBatch float64
}

// benchPayload is a small push payload (≈300 bytes), the most common event.
var benchPayload = []byte(`{"ref":"refs/heads/dev","before":"0000000000000000000000000000000000000000","after":"1111111111111111111111111111111111111111","repository":{"full_name":"o/r","name":"r","owner":{"login":"o"}},"installation":{"id":1},"sender":{"login":"octocat"},"commits":[]}`)

// idleHandler accepts push events and does nothing, so that the benchmark
// measures intake and the job machinery, not a handler.
type idleHandler struct{}

func (idleHandler) Handles() []string { return []string{"push"} }
func (idleHandler) Handle(context.Context, string, string, []byte) error {
	return nil
}

// BenchIntake starts a server in this process on SQLite, posts
// opts.Deliveries signed push deliveries from opts.Concurrency senders over
// loopback HTTP, each with its own delivery id, and measures throughput,
// answer latency and resident memory. Every answer must be 202.
func BenchIntake(ctx context.Context, opts IntakeBench) (IntakeResult, error) {
	if opts.Deliveries < 1 || opts.Concurrency < 1 {
		return IntakeResult{}, errors.New("bench intake: deliveries and concurrency must be at least 1")
	}
	dir := opts.DataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "hoist-bench-")
		if err != nil {
			return IntakeResult{}, fmt.Errorf("bench intake: %w", err)
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	key, err := world.NewAppKey()
	if err != nil {
		return IntakeResult{}, fmt.Errorf("bench intake: %w", err)
	}
	const secret = "bench-webhook-secret"
	env := map[string]string{
		"HOIST_PUBLIC_URL":     "http://127.0.0.1",
		"HOIST_DATA_DIR":       dir,
		"HOIST_APP_ID":         "1",
		"HOIST_PRIVATE_KEY":    string(key.PrivateKeyPEM),
		"HOIST_WEBHOOK_SECRET": secret,
		"HOIST_GITHUB_URL":     "http://127.0.0.1:1/", // never called: the handler is idle
	}
	if opts.Workers > 0 {
		env["HOIST_JOBS_WORKERS"] = strconv.Itoa(opts.Workers)
	}
	cfg, err := serverconfig.LoadServer("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		return IntakeResult{}, fmt.Errorf("bench intake: %w", err)
	}
	// The bench measures persistence, not the read cap: every sender gets
	// a read slot.
	cfg.GitHub.WebhookMaxReads = max(cfg.GitHub.WebhookMaxReads, opts.Concurrency)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return IntakeResult{}, fmt.Errorf("bench intake: listen: %w", err)
	}
	log := zerolog.New(os.Stderr).Level(zerolog.ErrorLevel)
	sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	srv, err := server.New(sctx, cfg, server.Options{
		Logger: &log, Listener: ln, Handlers: []githubapp.EventHandler{idleHandler{}},
	})
	if err != nil {
		stop()
		ln.Close()
		return IntakeResult{}, fmt.Errorf("bench intake: %w", err)
	}
	ran := make(chan error, 1)
	go func() { ran <- srv.Run(sctx) }()
	defer func() {
		stop()
		<-ran
	}()
	base := "http://" + ln.Addr().String()
	if err := waitReady(ctx, base); err != nil {
		return IntakeResult{}, err
	}

	sig := emulator.Sign(secret, benchPayload)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: opts.Concurrency, MaxConnsPerHost: opts.Concurrency}}
	defer client.CloseIdleConnections()

	lat := make([]time.Duration, opts.Deliveries)
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var rssTenth atomic.Int64
	tenth := int64(max(1, opts.Deliveries/10))
	runID := strconv.FormatInt(time.Now().UnixNano(), 36)
	res := IntakeResult{Deliveries: opts.Deliveries, Concurrency: opts.Concurrency}
	runtime.GC()
	res.RSSStart = rssBytes()
	start := time.Now()
	var wg sync.WaitGroup
	for range opts.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(opts.Deliveries) || ctx.Err() != nil {
					return
				}
				if (i+1)%tenth == 0 {
					if i+1 == tenth {
						rssTenth.Store(rssBytes())
					}
					if opts.Progress != nil {
						fmt.Fprintf(opts.Progress, "%d/%d deliveries, %s\n", i+1, opts.Deliveries, time.Since(start).Round(time.Millisecond))
					}
				}
				t0 := time.Now()
				code, err := postDelivery(ctx, client, base+server.WebhookPath, "bench-"+runID+"-"+strconv.FormatInt(i, 10), sig)
				lat[i] = time.Since(t0)
				if err == nil && code != http.StatusAccepted {
					err = fmt.Errorf("delivery %d answered %d, want 202", i, code)
				}
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.RSSEnd = rssBytes()
	res.RSSTenth = rssTenth.Load()
	if firstErr != nil {
		return res, fmt.Errorf("bench intake: %w", firstErr)
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("bench intake: %w", err)
	}
	res.PerSecond = float64(opts.Deliveries) / res.Elapsed.Seconds()
	slices.Sort(lat)
	at := func(q float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*q))] }
	res.P50, res.P90, res.P99, res.Max = at(0.50), at(0.90), at(0.99), lat[len(lat)-1]

	drainStart := time.Now()
	for {
		// Indexed on status: cheap enough to poll without slowing the
		// workers it waits for.
		var queued, failed int
		err := srv.Store().QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE status = ?`, store.StatusQueued).Scan(&queued)
		if err == nil {
			err = srv.Store().QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE status = ?`, store.StatusFailed).Scan(&failed)
		}
		if err != nil {
			return res, fmt.Errorf("bench intake: %w", err)
		}
		if failed > 0 {
			return res, fmt.Errorf("bench intake: %d deliveries failed", failed)
		}
		if queued == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("bench intake: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	res.Drain = time.Since(drainStart)
	if mfs, err := srv.Registry().Gather(); err == nil {
		for _, mf := range mfs {
			if mf.GetName() == "hoist_intake_batch_deliveries" && len(mf.GetMetric()) == 1 {
				h := mf.GetMetric()[0].GetHistogram()
				if h.GetSampleCount() > 0 {
					res.MeanBatch = h.GetSampleSum() / float64(h.GetSampleCount())
				}
			}
		}
	}
	return res, nil
}

func postDelivery(ctx context.Context, client *http.Client, url, id, sig string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(benchPayload))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", id)
	req.Header.Set("X-Hub-Signature-256", sig)
	res, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, nil
}

// waitReady waits up to 30 s for the server to answer /readyz.
func waitReady(ctx context.Context, base string) error {
	if err := world.WaitReady(base, 30*time.Second); err != nil {
		return fmt.Errorf("bench intake: %w", err)
	}
	return ctx.Err()
}

// rssBytes is the resident set size of this process (Linux; 0 elsewhere).
func rssBytes() int64 {
	b, err := os.ReadFile(filepath.Join("/proc", "self", "statm"))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}
