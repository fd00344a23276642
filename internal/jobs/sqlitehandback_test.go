package jobs

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/store"
)

// A hoist serve on SQLite that died with jobs running (their rows still
// say running, attempted by a client that is gone) is followed by one that
// hands them back as it starts: the deploy-length job runs again at once,
// not after River's 10-minute rescue; a job out of attempts is discarded
// and one whose cancel was asked is cancelled.
func TestSQLiteHandsBackTheJobsOfADeadServe(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hoist.db")
	cfg := serverconfig.Jobs{Workers: 4, MaxAttempts: 3, Timeout: time.Minute, RescueAfter: 15 * time.Minute,
		ShutdownGrace: time.Second, PollInterval: 50 * time.Millisecond}
	open := func() (*Engine, *store.Store) {
		st, err := store.Open(ctx, store.Options{SQLitePath: path, Logger: zerolog.Nop(), ServeAlone: true})
		must(t, err)
		e, err := New(ctx, Options{Store: st, Logger: zerolog.Nop(), Config: cfg})
		must(t, err)
		return e, st
	}

	// The first serve's jobs, as River leaves them when its process dies
	// mid-attempt.
	_, st := open()
	client, err := river.NewClient(riversqlite.New(st.SQLDB()), &river.Config{})
	must(t, err)
	var ids []int64
	for range 3 {
		res, err := client.Insert(ctx, longArgs{}, &river.InsertOpts{MaxAttempts: 3})
		must(t, err)
		ids = append(ids, res.Job.ID)
	}
	running := `UPDATE river_job SET state = 'running', attempt = ?, attempted_at = datetime('now', '-1 minute', 'subsec'), attempted_by = jsonb('["dead-serve"]') WHERE id = ?`
	_, err = st.Exec(ctx, running, 1, ids[0])
	must(t, err)
	_, err = st.Exec(ctx, running, 3, ids[1])
	must(t, err)
	_, err = st.Exec(ctx, running, 1, ids[2])
	must(t, err)
	_, err = st.Exec(ctx, `UPDATE river_job SET metadata = jsonb_set(metadata, '$.cancel_attempted_at', '2026-01-01T00:00:00Z') WHERE id = ?`, ids[2])
	must(t, err)
	st.Close()

	second, st := open()
	t.Cleanup(st.Close)
	w := &longWorker{}
	river.AddWorker(second.Workers(), w)
	started := time.Now()
	must(t, second.Start(ctx))
	t.Cleanup(func() { _ = second.Stop(context.Background(), time.Second) })
	waitJobState(t, st, ids[0], "completed", 10*time.Second)
	t.Logf("the dead serve's deploy-length job completed %s after the next start", time.Since(started).Round(time.Millisecond))
	waitJobState(t, st, ids[1], "discarded", time.Second)
	waitJobState(t, st, ids[2], "cancelled", time.Second)
	if n := w.done.Load(); n != 1 {
		t.Errorf("the job ran %d times after the start, want once", n)
	}
}
