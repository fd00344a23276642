package jobs

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config/serverconfig"
)

type handArgs struct {
	N int `json:"n"`
}

func (handArgs) Kind() string { return "test_hand_over" }

// handWorker stands for one replica's worker: on a replica with block set
// it works until its context ends (a long job caught by a shutdown).
type handWorker struct {
	river.WorkerDefaults[handArgs]
	block   bool
	started chan struct{}
	done    atomic.Int32
}

func (w *handWorker) Work(ctx context.Context, job *river.Job[handArgs]) error {
	if w.block {
		close(w.started)
		<-ctx.Done()
		return ctx.Err()
	}
	w.done.Add(1)
	return nil
}

// A replica stopping with a job running gives it its grace period, then
// cancels it and hands it back at once: another replica runs it promptly,
// not after a rescue timeout, and the attempt is not counted as a failure.
func TestAStoppedEngineHandsItsRunningJobToAnother(t *testing.T) {
	ctx := context.Background()
	logs := &lockedBuffer{}
	tweak := func(c *serverconfig.Jobs) { c.Timeout, c.RescueAfter = 10*time.Minute, 15*time.Minute }
	a, st := testEngine(t, logs, tweak)
	wa := &handWorker{block: true, started: make(chan struct{})}
	river.AddWorker(a.Workers(), wa)
	must(t, a.Start(ctx))
	res, err := a.Insert(ctx, handArgs{N: 1}, nil)
	must(t, err)
	select {
	case <-wa.started:
	case <-time.After(20 * time.Second):
		t.Fatal("the job did not start on the first replica")
	}

	// The second replica shares the database (a second engine on the
	// same store, as replicas share PostgreSQL).
	b, err := New(ctx, Options{Store: st, Logger: zerolog.New(logs), Config: serverconfig.Jobs{Workers: 2, MaxAttempts: 3,
		Timeout: 10 * time.Minute, RescueAfter: 15 * time.Minute, ShutdownGrace: time.Second, PollInterval: 50 * time.Millisecond}})
	must(t, err)
	wb := &handWorker{}
	river.AddWorker(b.Workers(), wb)
	must(t, b.Start(ctx))
	t.Cleanup(func() { _ = b.Stop(context.Background(), 5*time.Second) })

	const grace = 500 * time.Millisecond
	stopped := time.Now()
	must(t, a.Stop(ctx, grace))
	if a.Running() {
		t.Fatal("a stopped engine says it is running")
	}
	waitJobState(t, st, res.Job.ID, "completed", 20*time.Second)
	took := time.Since(stopped)
	t.Logf("job handed over and completed %s after the stop began (grace %s)", took.Round(time.Millisecond), grace)
	if wb.done.Load() != 1 {
		t.Fatalf("the second replica ran the job %d times, want 1", wb.done.Load())
	}
	if took > grace+5*time.Second {
		t.Fatalf("the job was taken over %s after the stop, want promptly after the %s grace", took, grace)
	}
	var attempt int
	var errs string
	must(t, st.QueryRow(ctx, `SELECT attempt, COALESCE(json(errors), '') FROM river_job WHERE id = ?`, res.Job.ID).Scan(&attempt, &errs))
	if attempt != 1 || (errs != "" && errs != "[]") {
		t.Errorf("after the hand-over: attempt %d, errors %s; want attempt 1 and no error (a shutdown is no failure)", attempt, errs)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
