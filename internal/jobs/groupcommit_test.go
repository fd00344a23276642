package jobs

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/hoisttest"
	"github.com/hoist-dev/hoist/internal/store"
	"github.com/hoist-dev/hoist/internal/testenv"
)

// countingHandler handles push and counts runs per delivery id.
type countingHandler struct {
	mu   sync.Mutex
	runs map[string]int
}

func (h *countingHandler) Handles() []string { return []string{"push"} }

func (h *countingHandler) Handle(_ context.Context, _, id string, _ []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.runs[id]++
	return nil
}

func (h *countingHandler) count(id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.runs[id]
}

type fixture struct {
	st *store.Store
	d  *Deliveries
	h  *countingHandler
	// gate makes the next batch wait, inside its transaction, until
	// release is closed, so the test decides what the batch after it holds.
	mu      sync.Mutex
	sizes   []int
	gated   bool
	entered chan struct{}
	release chan struct{}
	fail    func(batch int) error
}

func newFixture(t *testing.T, st *store.Store) *fixture {
	t.Helper()
	ctx := context.Background()
	e, err := New(ctx, Options{Store: st, Logger: zerolog.Nop(), Config: serverconfig.Jobs{
		Workers: 4, MaxAttempts: 3, Timeout: time.Minute, RescueAfter: 2 * time.Minute,
		ShutdownGrace: 5 * time.Second, PollInterval: 50 * time.Millisecond,
	}})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, h: &countingHandler{runs: map[string]int{}}}
	f.d = NewDeliveries(e, NewRouter([]githubapp.EventHandler{f.h}))
	f.d.beforeCommit = func(ctx context.Context, tx store.Tx, n int) error {
		f.mu.Lock()
		f.sizes = append(f.sizes, n)
		batch := len(f.sizes)
		gated, entered, release, fail := f.gated, f.entered, f.release, f.fail
		f.gated = false
		f.mu.Unlock()
		if gated {
			close(entered)
			<-release
		}
		if fail != nil {
			return fail(batch)
		}
		return nil
	}
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop(context.Background(), 5*time.Second) })
	return f
}

// holdNextBatch makes the next batch wait in its transaction until the
// returned release function is called.
func (f *fixture) holdNextBatch() (entered <-chan struct{}, release func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gated, f.entered, f.release = true, make(chan struct{}), make(chan struct{})
	return f.entered, func() { close(f.release) }
}

func (f *fixture) batchSizes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int(nil), f.sizes...)
}

// queued is how many intakes wait for the next batch.
func (f *fixture) queued() int {
	f.d.intake.mu.Lock()
	defer f.d.intake.mu.Unlock()
	return len(f.d.intake.queue)
}

type call struct {
	event, id string
}

func (f *fixture) send(ctx context.Context, c call) error {
	payload := []byte(fmt.Sprintf(`{"action":"x","repository":{"full_name":"o/%s"},"installation":{"id":7}}`, c.id))
	if c.event == "push" {
		return f.d.Schedule(ctx, githubapp.Dispatch{Handler: f.h, EventType: c.event, DeliveryID: c.id, Payload: payload})
	}
	return f.d.Ignore(ctx, c.event, c.id, payload)
}

// sendBatch sends calls concurrently while a first delivery holds the
// writer, so that all of them are committed as one batch after it; it
// returns each call's outcome.
func (f *fixture) sendBatch(t *testing.T, calls []call) []error {
	t.Helper()
	ctx := context.Background()
	entered, release := f.holdNextBatch()
	gate := make(chan error, 1)
	go func() { gate <- f.send(ctx, call{"push", "gate-" + t.Name()}) }()
	<-entered
	errs := make([]error, len(calls))
	var wg sync.WaitGroup
	for i, c := range calls {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = f.send(ctx, c) }()
	}
	hoisttest.WaitFor(t, 30*time.Second, "every call queued behind the held batch", func() bool { return f.queued() == len(calls) })
	release()
	wg.Wait()
	if err := <-gate; err != nil {
		t.Fatalf("gate delivery: %v", err)
	}
	return errs
}

func TestGroupCommitSQLite(t *testing.T) {
	st, err := store.Open(context.Background(), store.Options{SQLitePath: filepath.Join(t.TempDir(), "hoist.db"), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	exerciseGroupCommit(t, st)
}

func TestGroupCommitPostgres(t *testing.T) {
	st, err := store.Open(context.Background(), store.Options{DatabaseURL: testenv.Postgres(t), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	exerciseGroupCommit(t, st)
}

func exerciseGroupCommit(t *testing.T, st *store.Store) {
	ctx := context.Background()
	t.Run("duplicates within and across batches", func(t *testing.T) {
		f := newFixture(t, st)
		if err := f.send(ctx, call{"push", "old"}); err != nil {
			t.Fatal(err)
		}
		calls := []call{
			{"push", "a"}, {"push", "a"}, {"push", "a"}, {"push", "a"},
			{"push", "b"}, {"push", "b"}, {"push", "b"},
			{"push", "old"}, {"push", "old"},
			{"push", "c"},
			{"ping", "p"}, {"ping", "p"},
		}
		errs := f.sendBatch(t, calls)
		if got := f.batchSizes(); len(got) != 3 || got[1] != 1 || got[2] != len(calls) {
			t.Fatalf("batch sizes %v, want [1 1 %d]: the calls were not committed together", got, len(calls))
		}
		persisted := map[string]int{}
		for i, err := range errs {
			switch {
			case err == nil:
				persisted[calls[i].id]++
			case errors.Is(err, ErrDuplicate):
			default:
				t.Errorf("call %d (%s): %v", i, calls[i].id, err)
			}
		}
		for id, want := range map[string]int{"a": 1, "b": 1, "c": 1, "p": 1, "old": 0} {
			if persisted[id] != want {
				t.Errorf("%s: %d callers told it was persisted, want %d", id, persisted[id], want)
			}
		}
		for id, want := range map[string]int{"a": 3, "b": 2, "c": 0, "old": 2, "p": 1} {
			d, err := st.GetDelivery(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if d.Duplicates != want {
				t.Errorf("%s: duplicates %d, want %d", id, d.Duplicates, want)
			}
		}
		hoisttest.WaitFor(t, 30*time.Second, "every delivery handled", func() bool {
			c, err := st.DeliveryCounts(ctx)
			return err == nil && c[store.StatusQueued] == 0 && c[store.StatusHandled] == 5 && c[store.StatusIgnored] == 1
		})
		var jobs int
		if err := st.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'github_delivery'`).Scan(&jobs); err != nil {
			t.Fatal(err)
		}
		if jobs != 5 { // old, gate, a, b, c; the ignored ping has none
			t.Errorf("%d delivery jobs, want 5", jobs)
		}
		for _, id := range []string{"old", "a", "b", "c"} {
			if n := f.h.count(id); n != 1 {
				t.Errorf("%s handled %d times, want once", id, n)
			}
		}
	})

	t.Run("a panic in a batch fails its callers and intake goes on", func(t *testing.T) {
		f := newFixture(t, st)
		f.mu.Lock()
		f.fail = func(batch int) error {
			if batch == 2 {
				panic("boom")
			}
			return nil
		}
		f.mu.Unlock()
		errs := f.sendBatch(t, []call{{"push", "q1"}, {"push", "q2"}})
		for i, err := range errs {
			if err == nil || !strings.Contains(err.Error(), "panic: boom") {
				t.Errorf("call %d: got %v, want the panic as the batch's error", i, err)
			}
		}
		if err := f.send(ctx, call{"push", "q1"}); err != nil {
			t.Fatalf("delivery after the panic: %v", err)
		}
		if _, err := st.GetDelivery(ctx, "q2"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("q2 stored by the batch that panicked (err %v)", err)
		}
	})

	t.Run("a failed batch fails every caller and stores nothing", func(t *testing.T) {
		f := newFixture(t, st)
		injected := errors.New("injected commit failure")
		f.mu.Lock()
		f.fail = func(batch int) error {
			if batch == 2 { // the one after the gate
				return injected
			}
			return nil
		}
		f.mu.Unlock()
		calls := []call{{"push", "x"}, {"push", "x"}, {"push", "y"}, {"ping", "z"}}
		errs := f.sendBatch(t, calls)
		for i, err := range errs {
			if !errors.Is(err, injected) {
				t.Errorf("call %d (%s): got %v, want the batch's error", i, calls[i].id, err)
			}
		}
		for _, id := range []string{"x", "y", "z"} {
			if _, err := st.GetDelivery(ctx, id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: stored after a failed batch (err %v)", id, err)
			}
		}
		// The redelivery GitHub sends after the 503 is persisted normally.
		for _, c := range calls[1:] {
			if err := f.send(ctx, c); err != nil {
				t.Errorf("redelivery of %s: %v", c.id, err)
			}
		}
		hoisttest.WaitFor(t, 30*time.Second, "x and y handled", func() bool { return f.h.count("x") == 1 && f.h.count("y") == 1 })
		d, err := st.GetDelivery(ctx, "x")
		if err != nil || d.Duplicates != 0 {
			t.Errorf("x after redelivery: %+v, %v; want stored with no duplicates counted", d.Duplicates, err)
		}
	})
}
