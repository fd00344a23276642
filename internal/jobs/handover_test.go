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

type longArgs struct{}

func (longArgs) Kind() string { return "test_long" }

type longWorker struct {
	river.WorkerDefaults[longArgs]
	done atomic.Int32
}

func (w *longWorker) Timeout(*river.Job[longArgs]) time.Duration { return DeployTimeout }
func (w *longWorker) Work(context.Context, *river.Job[longArgs]) error {
	w.done.Add(1)
	return nil
}

// The jobs a crashed replica left running are taken over by a healthy one
// after jobs.rescue_after (plus River's rescuer interval, 30 s) when their
// kind uses jobs.timeout; a kind with a longer timeout of its own (a
// deploy) is left alone, since it may still be running.
func TestACrashedReplicasShortJobsAreTakenOver(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for River's rescuer")
	}
	ctx := context.Background()
	logs := &lockedBuffer{}
	e, st := testEngine(t, logs, func(c *serverconfig.Jobs) { c.Timeout, c.RescueAfter = 2*time.Second, 3*time.Second })
	short, long := &handWorker{}, &longWorker{}
	river.AddWorker(e.Workers(), short)
	river.AddWorker(e.Workers(), long)
	must(t, e.Start(ctx))
	t.Cleanup(func() { _ = e.Stop(context.Background(), 5*time.Second) })

	// Two jobs as a killed replica leaves them: running, attempted by a
	// client that is gone.
	later := &river.InsertOpts{ScheduledAt: time.Now().Add(time.Hour)}
	s, err := e.Insert(ctx, handArgs{N: 2}, later)
	must(t, err)
	l, err := e.Insert(ctx, longArgs{}, later)
	must(t, err)
	crashed := time.Now()
	for _, id := range []int64{s.Job.ID, l.Job.ID} {
		_, err := st.Exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = ?, attempted_by = '["dead-replica"]' WHERE id = ?`,
			crashed.UTC(), id)
		must(t, err)
	}
	waitJobState(t, st, s.Job.ID, "completed", 60*time.Second)
	t.Logf("the short job was taken over %s after the crash (rescue_after 3s, River's rescuer runs every 30s)", time.Since(crashed).Round(time.Millisecond))
	var state string
	must(t, st.QueryRow(ctx, `SELECT state FROM river_job WHERE id = ?`, l.Job.ID).Scan(&state))
	if state != "running" || long.done.Load() != 0 {
		t.Fatalf("the deploy-length job is %s (run %d times), want left running within its own timeout", state, long.done.Load())
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
