package jobs

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/store"
	"github.com/hoist-dev/hoist/internal/testenv"
)

// The queue collector's query with 1,000 and 10,000 jobs waiting and 50,000
// completed ones kept for inspection: what one scrape costs the database
// when the cache has expired.
func BenchmarkQueueQuerySQLite(b *testing.B) {
	st, err := store.Open(context.Background(), store.Options{SQLitePath: filepath.Join(b.TempDir(), "hoist.db"), Logger: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(st.Close)
	benchQueueQuery(b, st)
}

func BenchmarkQueueQueryPostgres(b *testing.B) {
	st, err := store.Open(context.Background(), store.Options{DatabaseURL: testenv.Postgres(b), Logger: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(st.Close)
	benchQueueQuery(b, st)
}

func benchQueueQuery(b *testing.B, st *store.Store) {
	ctx := context.Background()
	e, err := New(ctx, Options{Store: st, Logger: zerolog.Nop(), Config: serverconfig.Jobs{
		Workers: 1, MaxAttempts: 2, Timeout: time.Minute, RescueAfter: 2 * time.Minute,
		ShutdownGrace: time.Second, PollInterval: time.Hour,
	}})
	if err != nil {
		b.Fatal(err)
	}
	river.AddWorker(e.Workers(), &parkedWorker{})
	if err := e.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.Stop(context.Background(), time.Second) })
	insert := func(n int) {
		for done := 0; done < n; done += 1000 {
			params := make([]river.InsertManyParams, 1000)
			for i := range params {
				params[i] = river.InsertManyParams{Args: parkedArgs{}, InsertOpts: &river.InsertOpts{Queue: "parked"}}
			}
			if err := st.InTx(ctx, func(tx store.Tx) error {
				_, err := e.InsertManyTx(ctx, tx, params)
				return err
			}); err != nil {
				b.Fatal(err)
			}
		}
	}
	insert(50_000)
	if _, err := st.Exec(ctx, `UPDATE river_job SET state = 'completed', finalized_at = scheduled_at`); err != nil {
		b.Fatal(err)
	}
	c := newQueueCollector(st, 0, zerolog.Nop())
	waiting := 0
	for _, n := range []int{1000, 10_000} {
		insert(n - waiting)
		waiting = n
		b.Run(fmt.Sprintf("waiting=%d", n), func(b *testing.B) {
			for b.Loop() {
				rows, err := c.query(ctx)
				if err != nil || len(rows) != 1 || rows[0].count != float64(n) {
					b.Fatalf("%v %+v", err, rows)
				}
			}
		})
	}
}
