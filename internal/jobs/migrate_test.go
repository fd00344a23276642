package jobs

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/store"
	"github.com/hoist-dev/hoist/internal/testenv"
)

// lockedBuffer collects the log lines of several replicas at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

// startReplicasTogether opens the store and the job engine of n replicas at
// the same instant on one empty database, the way `hoist serve` does, and
// checks that every one starts and that each migration was applied once.
func startReplicasTogether(t *testing.T, n int, opts store.Options) {
	ctx := context.Background()
	logs := &lockedBuffer{}
	opts.Logger = zerolog.New(logs)
	opts.AlsoMigrate = Migrate
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			st, err := store.Open(ctx, opts)
			if err != nil {
				errs[i] = err
				return
			}
			t.Cleanup(st.Close)
			_, errs[i] = New(ctx, Options{Store: st, Config: serverconfig.Jobs{Workers: 1}, Logger: opts.Logger})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d did not start: %v", i, err)
		}
	}
	if t.Failed() {
		return
	}

	st, err := store.Open(ctx, store.Options{DatabaseURL: opts.DatabaseURL, SQLitePath: opts.SQLitePath, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var versions, distinct, riverVersions int
	if err := st.QueryRow(ctx, `SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&versions, &distinct); err != nil {
		t.Fatal(err)
	}
	if err := st.QueryRow(ctx, `SELECT count(*) FROM river_migration`).Scan(&riverVersions); err != nil {
		t.Fatal(err)
	}
	if versions == 0 || versions != distinct || riverVersions == 0 {
		t.Fatalf("schema_migrations: %d rows, %d versions; river_migration: %d rows", versions, distinct, riverVersions)
	}
	// Each migration was applied by exactly one replica: the others waited
	// for the lock and found it done.
	if got := logs.count(`"applied database migration"`); got != versions {
		t.Errorf("hoist migrations applied %d times, want %d", got, versions)
	}
	if got := logs.count(`"applied job queue migration"`); got != riverVersions {
		t.Errorf("job queue migrations applied %d times, want %d", got, riverVersions)
	}
}

func TestReplicasStartTogetherPostgres(t *testing.T) {
	startReplicasTogether(t, 3, store.Options{DatabaseURL: testenv.Postgres(t)})
}

func TestReplicasStartTogetherSQLite(t *testing.T) {
	startReplicasTogether(t, 3, store.Options{SQLitePath: filepath.Join(t.TempDir(), "hoist.db")})
}
