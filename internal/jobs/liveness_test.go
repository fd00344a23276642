package jobs

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/store"
	"github.com/hoist-dev/hoist/internal/testenv"
)

type longArgs struct{}

func (longArgs) Kind() string { return "test_long" }

// longWorker works a deploy-length job; with block set it works until
// release is closed or its context ends.
type longWorker struct {
	river.WorkerDefaults[longArgs]
	block   bool
	started chan struct{}
	release chan struct{}
	done    atomic.Int32
}

func (w *longWorker) Timeout(*river.Job[longArgs]) time.Duration { return DeployTimeout }
func (w *longWorker) Work(ctx context.Context, _ *river.Job[longArgs]) error {
	if w.block {
		close(w.started)
		select {
		case <-w.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	w.done.Add(1)
	return nil
}

// replicaEnv names the database a child test process serves as a replica.
const replicaEnv = "HOIST_JOBS_TEST_REPLICA_DSN"

// pgJobs is the engine configuration of the take-over tests: River's own
// rescuer is pushed out of reach (15 min), so only heartbeats can explain
// a prompt take-over.
func pgJobs(grace time.Duration) serverconfig.Jobs {
	return serverconfig.Jobs{Workers: 4, MaxAttempts: 3, Timeout: time.Minute, RescueAfter: 15 * time.Minute,
		HeartbeatGrace: grace, ShutdownGrace: time.Second, PollInterval: 50 * time.Millisecond}
}

// TestReplicaProcess is not a test: run as a child process (replicaEnv
// set), it is a replica that takes a short and a deploy-length job, says
// so on stdout, and works them until it is killed.
func TestReplicaProcess(t *testing.T) {
	dsn := os.Getenv(replicaEnv)
	if dsn == "" {
		t.Skip("runs only as the child process of TestACrashedReplicasJobsAreTakenOverWithinSeconds")
	}
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{DatabaseURL: dsn, Logger: zerolog.Nop()})
	must(t, err)
	e, err := New(ctx, Options{Store: st, Logger: zerolog.Nop(), Config: pgJobs(10 * time.Second), ClientID: "replica-to-kill"})
	must(t, err)
	short := &handWorker{block: true, started: make(chan struct{})}
	long := &longWorker{block: true, started: make(chan struct{}), release: make(chan struct{})}
	river.AddWorker(e.Workers(), short)
	river.AddWorker(e.Workers(), long)
	must(t, e.Start(ctx))
	s, err := e.Insert(ctx, handArgs{N: 2}, nil)
	must(t, err)
	l, err := e.Insert(ctx, longArgs{}, nil)
	must(t, err)
	<-short.started
	<-long.started
	fmt.Printf("running %d %d\n", s.Job.ID, l.Job.ID)
	select {} // until kill -9
}

// A replica killed with SIGKILL leaves its jobs running; the others hand
// them back once its heartbeats are past jobs.heartbeat_grace (10 s) and
// run them, within about 15 s, whatever the kind's timeout: a deploy's
// 10 minutes is no reason to wait for a replica that is gone. River's
// rescuer alone took 75-105 s for the short kinds and 10 min for deploys.
func TestACrashedReplicasJobsAreTakenOverWithinSeconds(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a killed replica's heartbeats to age")
	}
	ctx := context.Background()
	dsn := testenv.Postgres(t)
	st, err := store.Open(ctx, store.Options{DatabaseURL: dsn, Logger: zerolog.Nop(), AlsoMigrate: Migrate})
	must(t, err)
	t.Cleanup(st.Close)

	child := exec.Command(os.Args[0], "-test.run=^TestReplicaProcess$", "-test.count=1")
	child.Env = append(os.Environ(), replicaEnv+"="+dsn)
	child.Stderr = os.Stderr
	out, err := child.StdoutPipe()
	must(t, err)
	must(t, child.Start())
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "running ") {
				lines <- sc.Text()
			}
		}
		close(lines)
	}()
	var shortID, longID int64
	select {
	case line, ok := <-lines:
		if !ok {
			t.Fatal("the replica process exited before taking its jobs")
		}
		_, err := fmt.Sscanf(line, "running %d %d", &shortID, &longID)
		must(t, err)
	case <-time.After(60 * time.Second):
		t.Fatal("the replica process did not take its jobs within 60s")
	}

	logs := &lockedBuffer{}
	e, err := New(ctx, Options{Store: st, Logger: zerolog.New(logs), Config: pgJobs(10 * time.Second), ClientID: "survivor"})
	must(t, err)
	short, long := &handWorker{}, &longWorker{}
	river.AddWorker(e.Workers(), short)
	river.AddWorker(e.Workers(), long)
	must(t, e.Start(ctx))
	t.Cleanup(func() { _ = e.Stop(context.Background(), 5*time.Second) })

	must(t, child.Process.Kill())
	killed := time.Now()
	_ = child.Wait()
	waitJobState(t, st, shortID, "completed", 30*time.Second)
	tookShort := time.Since(killed)
	waitJobState(t, st, longID, "completed", 30*time.Second)
	tookLong := time.Since(killed)
	t.Logf("after kill -9: the short job completed on the survivor %s later, the deploy-length one %s later (heartbeat grace 10s, beats every 2s)",
		tookShort.Round(time.Millisecond), tookLong.Round(time.Millisecond))
	if tookShort > 15*time.Second || tookLong > 15*time.Second {
		t.Errorf("take-over took %s / %s, want within 15s", tookShort, tookLong)
	}
	if short.done.Load() != 1 || long.done.Load() != 1 {
		t.Errorf("the survivor ran the jobs %d and %d times, want once each", short.done.Load(), long.done.Load())
	}
	for _, id := range []int64{shortID, longID} {
		var attempt int
		var by, errs string
		must(t, st.QueryRow(ctx, `SELECT attempt, array_to_string(attempted_by, ','), array_to_string(errors, ',') FROM river_job WHERE id = ?`, id).
			Scan(&attempt, &by, &errs))
		if attempt != 2 || by != "replica-to-kill,survivor" || !strings.Contains(errs, "replica replica-to-kill stopped heartbeating") {
			t.Errorf("job %d: attempt %d, attempted by %s, errors %s; want the second attempt on the survivor, the take-over recorded", id, attempt, by, errs)
		}
	}
	if got := logs.count(`"dead_replica":"replica-to-kill"`); got != 2 {
		t.Errorf("%d take-overs logged, want 2 (one per job):\n%s", got, logs.b.String())
	}
}

// A deploy-length job on a live replica is never taken, however long it
// runs past the heartbeat grace: the replica's beats are the job's.
func TestALiveReplicasLongJobIsNotTakenOver(t *testing.T) {
	if testing.Short() {
		t.Skip("watches a long job for several heartbeat graces")
	}
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{DatabaseURL: testenv.Postgres(t), Logger: zerolog.Nop(), AlsoMigrate: Migrate})
	must(t, err)
	t.Cleanup(st.Close)
	const grace = 3 * time.Second
	logs := &lockedBuffer{}
	a, err := New(ctx, Options{Store: st, Logger: zerolog.New(logs), Config: pgJobs(grace), ClientID: "busy"})
	must(t, err)
	wa := &longWorker{block: true, started: make(chan struct{}), release: make(chan struct{})}
	river.AddWorker(a.Workers(), wa)
	must(t, a.Start(ctx))
	t.Cleanup(func() { _ = a.Stop(context.Background(), 5*time.Second) })
	res, err := a.Insert(ctx, longArgs{}, nil)
	must(t, err)
	<-wa.started

	b, err := New(ctx, Options{Store: st, Logger: zerolog.New(logs), Config: pgJobs(grace), ClientID: "idle"})
	must(t, err)
	wb := &longWorker{}
	river.AddWorker(b.Workers(), wb)
	must(t, b.Start(ctx))
	t.Cleanup(func() { _ = b.Stop(context.Background(), 5*time.Second) })

	time.Sleep(4 * grace)
	var state, by string
	must(t, st.QueryRow(ctx, `SELECT state::text, array_to_string(attempted_by, ',') FROM river_job WHERE id = ?`, res.Job.ID).Scan(&state, &by))
	if state != "running" || by != "busy" || wb.done.Load() != 0 {
		t.Fatalf("after %s the long job is %s, attempted by %s, run %d times elsewhere; want still running on its live replica", 4*grace, state, by, wb.done.Load())
	}
	var beats int
	must(t, st.QueryRow(ctx, `SELECT count(*) FROM replica_heartbeats WHERE beat_at > now() - interval '3 seconds'`).Scan(&beats))
	if beats != 2 {
		t.Errorf("%d replicas beat in the last 3s, want 2", beats)
	}
	close(wa.release)
	waitJobState(t, st, res.Job.ID, "completed", 10*time.Second)
	if wa.done.Load() != 1 || wb.done.Load() != 0 || logs.count("took over a job") != 0 {
		t.Errorf("the job ran %d times on its replica and %d on the other (%d take-overs logged), want once where it started",
			wa.done.Load(), wb.done.Load(), logs.count("took over a job"))
	}
}
