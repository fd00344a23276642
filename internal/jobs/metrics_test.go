package jobs

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/store"
	"github.com/hoist-dev/hoist/internal/testenv"
)

type outcomeArgs struct {
	Fail bool `json:"fail"`
}

func (outcomeArgs) Kind() string { return "test_outcome" }

type outcomeWorker struct {
	river.WorkerDefaults[outcomeArgs]
}

func (w *outcomeWorker) NextRetry(*river.Job[outcomeArgs]) time.Time {
	return time.Now().Add(50 * time.Millisecond)
}

func (w *outcomeWorker) Work(_ context.Context, job *river.Job[outcomeArgs]) error {
	if job.Args.Fail {
		return errors.New("always fails")
	}
	return nil
}

type parkedArgs struct{}

func (parkedArgs) Kind() string { return "test_parked" }

// parkedWorker is registered so that inserts pass River's check, but its
// jobs go to a queue this engine does not work.
type parkedWorker struct {
	river.WorkerDefaults[parkedArgs]
}

func (parkedWorker) Work(context.Context, *river.Job[parkedArgs]) error { return nil }

func TestJobMetricsSQLite(t *testing.T) {
	st, err := store.Open(context.Background(), store.Options{SQLitePath: filepath.Join(t.TempDir(), "hoist.db"), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	testJobMetrics(t, st)
}

func TestJobMetricsPostgres(t *testing.T) {
	st, err := store.Open(context.Background(), store.Options{DatabaseURL: testenv.Postgres(t), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	testJobMetrics(t, st)
}

// testJobMetrics runs a job that completes and one that fails every
// attempt, and parks jobs no worker takes: the outcomes are counted per
// kind, and the queue collector reports the parked jobs' depth and age
// from one cached query.
func testJobMetrics(t *testing.T, st *store.Store) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	e, err := New(ctx, Options{Store: st, Logger: zerolog.Nop(), Registerer: reg, Config: serverconfig.Jobs{
		Workers: 2, MaxAttempts: 2, Timeout: time.Minute, RescueAfter: 2 * time.Minute,
		ShutdownGrace: 5 * time.Second, PollInterval: 50 * time.Millisecond,
	}})
	if err != nil {
		t.Fatal(err)
	}
	river.AddWorker(e.Workers(), &outcomeWorker{})
	river.AddWorker(e.Workers(), &parkedWorker{})
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop(context.Background(), time.Second) })

	// Jobs of a kind no worker takes, on a queue no worker reads, stay
	// available: the queue backing up.
	for range 3 {
		if _, err := e.Insert(ctx, parkedArgs{}, &river.InsertOpts{Queue: "parked"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Insert(ctx, parkedArgs{}, &river.InsertOpts{Queue: "parked", ScheduledAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Insert(ctx, outcomeArgs{}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Insert(ctx, outcomeArgs{Fail: true}, nil); err != nil {
		t.Fatal(err)
	}
	outcome := func(o string) float64 {
		return testutil.ToFloat64(e.metrics.outcomes.WithLabelValues("test_outcome", o))
	}
	deadline := time.Now().Add(30 * time.Second)
	for outcome("completed") < 1 || outcome("discarded") < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("outcomes: completed %v, retried %v, discarded %v", outcome("completed"), outcome("retried"), outcome("discarded"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := outcome("retried"); got != 1 {
		t.Errorf("retried = %v, want 1 (two attempts, the first retried)", got)
	}
	if n := testutil.CollectAndCount(e.metrics.run, "hoist_job_run_seconds"); n == 0 {
		t.Error("no run-time histogram")
	}

	time.Sleep(1100 * time.Millisecond) // the parked jobs age past a second
	var qc *queueCollector
	found := false
	// The collector registered by New; find it through a fresh one on the
	// same store so the cache and the query are both exercised.
	qc = newQueueCollector(st, time.Minute, zerolog.Nop())
	reg2 := prometheus.NewRegistry()
	reg2.MustRegister(qc)
	want := `
# HELP hoist_job_queue_jobs Unfinished jobs in the queue by job kind and state (available, scheduled, retryable, running).
# TYPE hoist_job_queue_jobs gauge
hoist_job_queue_jobs{kind="test_parked",state="available"} 3
hoist_job_queue_jobs{kind="test_parked",state="retryable"} 0
hoist_job_queue_jobs{kind="test_parked",state="running"} 0
hoist_job_queue_jobs{kind="test_parked",state="scheduled"} 1
# HELP hoist_job_queue_depth Jobs waiting to run (available, scheduled or retrying), all kinds; -1 when the database did not answer.
# TYPE hoist_job_queue_depth gauge
hoist_job_queue_depth 4
`
	if err := testutil.GatherAndCompare(reg2, strings.NewReader(want), "hoist_job_queue_jobs", "hoist_job_queue_depth"); err != nil {
		t.Error(err)
	}
	mfs, err := reg2.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "hoist_job_queue_oldest_age_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["kind"] == "test_parked" && labels["state"] == "available" {
				found = true
				if age := m.GetGauge().GetValue(); age < 1 || age > 60 {
					t.Errorf("oldest available age = %vs, want between 1 and 60", age)
				}
			}
		}
	}
	if !found {
		t.Error("no hoist_job_queue_oldest_age_seconds for the parked jobs")
	}

	// Many concurrent scrapes within the cache period: one query.
	before := qc.queries
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = reg2.Gather()
		}()
	}
	wg.Wait()
	if qc.queries != before {
		t.Errorf("%d queries for 20 scrapes within the cache period, want 0", qc.queries-before)
	}

	// The registry New filled serves the same series, and those of the
	// kind that ran here, at 0 now that none of its jobs wait.
	want = strings.Replace(want, "# HELP hoist_job_queue_depth", `hoist_job_queue_jobs{kind="test_outcome",state="available"} 0
hoist_job_queue_jobs{kind="test_outcome",state="retryable"} 0
hoist_job_queue_jobs{kind="test_outcome",state="running"} 0
hoist_job_queue_jobs{kind="test_outcome",state="scheduled"} 0
# HELP hoist_job_queue_depth`, 1)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "hoist_job_queue_jobs", "hoist_job_queue_depth"); err != nil {
		t.Error(err)
	}
}
