package server_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/handlers"
	"github.com/hoist-dev/hoist/internal/hoisttest"
	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/server"
	"github.com/hoist-dev/hoist/internal/store"
)

// TestMain lets the test binary double as the server under test for the
// crash test: with HOIST_TEST_CHILD=crash it runs hoist serve with a slow
// handler instead of the tests, as a real process that can be killed.
func TestMain(m *testing.M) {
	if os.Getenv("HOIST_TEST_CHILD") == "crash" {
		os.Exit(runCrashChild())
	}
	os.Exit(m.Run())
}

// slowHandler takes its time and leaves two traces per run: an attempt row
// written on its own (so re-executions after a crash are visible) and an
// effect row written through jobs.OnComplete, in the transaction that
// records the delivery handled. The effect table has no unique key: if the effect is
// recorded exactly once per delivery it is because the handled status and
// the effect commit together, not because a constraint hides a double.
type slowHandler struct{ st *store.Store }

func (h *slowHandler) Handles() []string { return []string{"push"} }
func (h *slowHandler) Handle(ctx context.Context, _, id string, _ []byte) error {
	if _, err := h.st.Exec(ctx, `INSERT INTO crash_attempts (delivery_id) VALUES (?)`, id); err != nil {
		return err
	}
	select {
	case <-time.After(50 * time.Millisecond):
	case <-ctx.Done():
		return ctx.Err()
	}
	return jobs.OnComplete(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO crash_effects (delivery_id) VALUES (?)`, id)
		return err
	})
}

func runCrashChild() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	cfg, err := serverconfig.LoadServer("", nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// A killed process leaves its jobs "running"; they are presumed lost
	// after RescueAfter and retried.
	cfg.Jobs.Timeout = 2 * time.Second
	cfg.Jobs.RescueAfter = 3 * time.Second
	cfg.Jobs.PollInterval = 100 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	log := zerolog.New(os.Stderr).Level(zerolog.WarnLevel).With().Timestamp().Logger()
	h := &slowHandler{}
	srv, err := server.New(ctx, cfg, server.Options{Logger: &log, Listener: ln, Handlers: append([]githubapp.EventHandler{h}, handlers.All(handlers.Deps{})...), JobsClientID: "crash-test"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	h.st = srv.Store()
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS crash_attempts (delivery_id TEXT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS crash_effects (delivery_id TEXT NOT NULL)`,
	} {
		if _, err := srv.Store().Exec(ctx, q); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	fmt.Println("ADDR", ln.Addr().String())
	if err := srv.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

type child struct {
	cmd  *exec.Cmd
	url  string
	done chan error
}

func startChild(t *testing.T, env []string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	cmd.Env = append(cmd.Env, "HOIST_TEST_CHILD=crash")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	c := &child{cmd: cmd, done: make(chan error, 1)}
	lines := bufio.NewScanner(out)
	addr := make(chan string, 1)
	go func() {
		for lines.Scan() {
			if a, ok := strings.CutPrefix(lines.Text(), "ADDR "); ok {
				addr <- a
			}
		}
		c.done <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	select {
	case a := <-addr:
		c.url = "http://" + a
	case err := <-c.done:
		t.Fatalf("server process exited at start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server process did not start")
	}
	return c
}

func count(t *testing.T, st *store.Store, q string) int {
	t.Helper()
	var n int
	if err := st.QueryRow(context.Background(), q).Scan(&n); err != nil {
		return -1 // table not created yet
	}
	return n
}

// TestCrashSafety kills the server with SIGKILL while deliveries are queued
// and running, starts it again, and checks that every delivery was handled
// to completion and that no effect happened twice.
//
// Handlers run at least once: a handler killed mid-run is run again, so
// the attempts table shows more rows than deliveries. The effect is
// exactly-once because it is written in the same transaction that marks
// the delivery handled (a compare-and-swap): either both commit, or neither
// does and the job is retried; a job run again after that commit finds the
// delivery handled and only completes.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test runs real processes")
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "app.pem")
	must(t, os.WriteFile(keyFile, testKeyPEM, 0o600))
	env := []string{
		"HOIST_ADDR=127.0.0.1:0", "HOIST_PUBLIC_URL=http://127.0.0.1", "HOIST_DATA_DIR=" + filepath.Join(dir, "data"),
		"HOIST_APP_ID=1", "HOIST_PRIVATE_KEY_FILE=" + keyFile, "HOIST_WEBHOOK_SECRET=" + testSecret,
		"HOIST_GITHUB_URL=http://127.0.0.1:1/", "HOIST_JOBS_WORKERS=10", "HOIST_LOG_LEVEL=warn", "HOIST_DATABASE_URL=",
	}
	const total = 500
	first := startChild(t, env)

	var wg sync.WaitGroup
	codes := make(chan int, total)
	next := make(chan int, total)
	for i := 0; i < total; i++ {
		next <- i
	}
	close(next)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				body := []byte(fmt.Sprintf(`{"ref":"refs/heads/dev","after":"%040d","repository":{"full_name":"o/r"},"installation":{"id":1}}`, i))
				codes <- deliver(t, first.url, "push", idOf(i), body)
			}
		}()
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 202 {
			t.Fatalf("delivery answered %d, want 202", c)
		}
	}

	// Watch the database from outside, as an operator would.
	st, err := store.Open(context.Background(), store.Options{SQLitePath: filepath.Join(dir, "data", "hoist.db"), Logger: zerolog.Nop()})
	must(t, err)
	defer st.Close()
	hoisttest.WaitFor(t, 30*time.Second, "some deliveries handled", func() bool {
		return count(t, st, `SELECT count(*) FROM crash_effects`) >= 100 &&
			count(t, st, `SELECT count(*) FROM river_job WHERE state = 'running'`) > 0
	})
	must(t, first.cmd.Process.Signal(syscall.SIGKILL))
	<-first.done
	doneBefore := count(t, st, `SELECT count(*) FROM crash_effects`)
	running := count(t, st, `SELECT count(*) FROM river_job WHERE state = 'running'`)
	t.Logf("killed with %d of %d deliveries handled, %d jobs running, %d available, %d completed", doneBefore, total, running, count(t, st, `SELECT count(*) FROM river_job WHERE state = 'available'`), count(t, st, `SELECT count(*) FROM river_job WHERE state = 'completed'`))
	if doneBefore >= total || running == 0 {
		t.Fatal("no job was queued or running at the kill; the test proved nothing")
	}

	second := startChild(t, env)
	hoisttest.WaitFor(t, 90*time.Second, "every delivery handled after the restart", func() bool {
		return count(t, st, `SELECT count(*) FROM deliveries WHERE status = 'handled'`) == total
	})
	effects := count(t, st, `SELECT count(*) FROM crash_effects`)
	distinct := count(t, st, `SELECT count(DISTINCT delivery_id) FROM crash_effects`)
	attempts := count(t, st, `SELECT count(*) FROM crash_attempts`)
	t.Logf("after restart: %d effects for %d deliveries, %d handler runs", effects, distinct, attempts)
	if effects != total || distinct != total {
		t.Fatalf("%d effects over %d deliveries, want exactly %d each", effects, distinct, total)
	}
	// River's completer records jobs completed in batches, shortly after
	// their deliveries are; jobs killed between the two are rescued, see
	// the delivery handled, and complete without running the handler.
	hoisttest.WaitFor(t, 30*time.Second, "every job completed", func() bool {
		return count(t, st, `SELECT count(*) FROM river_job WHERE state <> 'completed'`) == 0
	})

	// SIGTERM is a clean stop.
	must(t, second.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-second.done:
		if err != nil {
			t.Fatalf("server exited with %v after SIGTERM", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("server did not stop after SIGTERM")
	}
}
