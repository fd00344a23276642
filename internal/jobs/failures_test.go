package jobs

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/store"
)

type flakyArgs struct {
	Owner    string `json:"owner"`
	Repo     string `json:"repo"`
	Delivery string `json:"delivery"`
	// How fails the first attempt: "error", "panic" or "cancel".
	How string `json:"how"`
}

func (flakyArgs) Kind() string { return "test_flaky" }

type flakyWorker struct {
	river.WorkerDefaults[flakyArgs]
	runs atomic.Int32
}

func (w *flakyWorker) Work(ctx context.Context, job *river.Job[flakyArgs]) error {
	w.runs.Add(1)
	if job.Attempt > 1 {
		return nil
	}
	switch job.Args.How {
	case "panic":
		var m map[string]int
		m["boom"]++ // a nil map write: a real bug, not a staged panic value
	case "cancel":
		return river.JobCancel(errors.New("the pull request is gone"))
	}
	return fmt.Errorf("read the branch: %w", errors.New("502 Bad Gateway"))
}

// testEngine is an engine on a fresh SQLite database, logging into logs.
func testEngine(t *testing.T, logs *lockedBuffer, tweak func(*serverconfig.Jobs)) (*Engine, *store.Store) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{SQLitePath: filepath.Join(t.TempDir(), "hoist.db"), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	cfg := serverconfig.Jobs{Workers: 4, MaxAttempts: 3, Timeout: time.Minute, RescueAfter: time.Minute,
		ShutdownGrace: 5 * time.Second, PollInterval: 50 * time.Millisecond}
	if tweak != nil {
		tweak(&cfg)
	}
	e, err := New(ctx, Options{Store: st, Logger: zerolog.New(logs), Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	return e, st
}

func waitJobState(t *testing.T, st *store.Store, id int64, want string, timeout time.Duration) {
	t.Helper()
	var state string
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if err := st.QueryRow(context.Background(), `SELECT state FROM river_job WHERE id = ?`, id).Scan(&state); err != nil {
			t.Fatal(err)
		}
		if state == want {
			return
		}
	}
	t.Fatalf("job %d is %s after %s, want %s", id, state, timeout, want)
}

// Every failed attempt is logged with its reason and the stable keys (kind,
// attempt, repo, delivery, error); a panic is logged with its stack and
// retried, and the process goes on; a permanent failure is logged too.
func TestJobFailuresAreLoggedAndPanicsRetried(t *testing.T) {
	ctx := context.Background()
	logs := &lockedBuffer{}
	e, st := testEngine(t, logs, nil)
	w := &flakyWorker{}
	river.AddWorker(e.Workers(), w)
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop(context.Background(), 5*time.Second) })

	ids := map[string]int64{}
	for _, how := range []string{"error", "panic", "cancel"} {
		res, err := e.Insert(ctx, flakyArgs{Owner: "acme", Repo: "site", Delivery: "d-" + how, How: how}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids[how] = res.Job.ID
	}
	// River's backoff retries the first failure after about a second.
	waitJobState(t, st, ids["error"], "completed", 20*time.Second)
	waitJobState(t, st, ids["panic"], "completed", 20*time.Second)
	waitJobState(t, st, ids["cancel"], "cancelled", 20*time.Second)

	lines := map[string]map[string]any{}
	sc := bufio.NewScanner(strings.NewReader(func() string { logs.mu.Lock(); defer logs.mu.Unlock(); return logs.b.String() }()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) != nil || m["kind"] != "test_flaky" {
			continue
		}
		lines[fmt.Sprint(m["delivery"])] = m
	}
	for how, want := range map[string]struct{ level, msg, err string }{
		"error":  {"warn", "will be retried", "502 Bad Gateway"},
		"panic":  {"error", "panicked", ""},
		"cancel": {"error", "permanently", "the pull request is gone"},
	} {
		m, ok := lines["d-"+how]
		if !ok {
			t.Errorf("%s: no log line for the failed attempt; logs:\n%s", how, func() string { logs.mu.Lock(); defer logs.mu.Unlock(); return logs.b.String() }())
			continue
		}
		t.Logf("%s: %v", how, m)
		if m["level"] != want.level || !strings.Contains(fmt.Sprint(m["message"]), want.msg) {
			t.Errorf("%s: logged %v %q, want %s %q", how, m["level"], m["message"], want.level, want.msg)
		}
		if m["repo"] != "acme/site" || m["attempt"] != float64(1) || m["job"] != float64(ids[how]) {
			t.Errorf("%s: keys repo=%v attempt=%v job=%v, want acme/site, 1, %d", how, m["repo"], m["attempt"], m["job"], ids[how])
		}
		if want.err != "" && !strings.Contains(fmt.Sprint(m["error"]), want.err) {
			t.Errorf("%s: error %v, want it to say %q", how, m["error"], want.err)
		}
		if how == "panic" && (!strings.Contains(fmt.Sprint(m["panic"]), "nil map") || !strings.Contains(fmt.Sprint(m["stack"]), "flakyWorker")) {
			t.Errorf("panic logged as %v with stack %.200v, want the nil map write and the worker in the stack", m["panic"], m["stack"])
		}
	}
	if n := w.runs.Load(); n != 5 {
		t.Errorf("worker ran %d times, want 5 (error and panic twice each, cancel once)", n)
	}
}
