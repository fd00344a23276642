package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/store"
)

// A second hoist serve on one SQLite file is refused with a message that
// says what to do; a reader may still open it, and once the first closes,
// the next serve opens it.
func TestSQLiteServesOneReplica(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hoist.db")
	opts := store.Options{SQLitePath: path, Logger: zerolog.Nop(), ServeAlone: true}
	first, err := store.Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = store.Open(ctx, opts)
	if !errors.Is(err, store.ErrSQLiteInUse) {
		t.Fatalf("second serve on one SQLite file: %v, want it refused", err)
	}
	t.Logf("refused: %v", err)
	for _, part := range []string{"SQLite serves one replica", "PostgreSQL", "HOIST_DATABASE_URL", "pid"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("the refusal does not say %q: %v", part, err)
		}
	}
	reader, err := store.Open(ctx, store.Options{SQLitePath: path, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatalf("a reader beside the serving process: %v", err)
	}
	reader.Close()
	first.Close()
	next, err := store.Open(ctx, opts)
	if err != nil {
		t.Fatalf("serve after the first stopped: %v", err)
	}
	next.Close()
}
