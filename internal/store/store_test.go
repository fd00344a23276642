package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/store"
	"github.com/hoist-dev/hoist/internal/testenv"
)

func openSQLite(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), store.Options{SQLitePath: filepath.Join(t.TempDir(), "hoist.db"), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func openPostgres(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), store.Options{DatabaseURL: testenv.Postgres(t), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestStoreSQLite(t *testing.T)   { exercise(t, openSQLite(t)) }
func TestStorePostgres(t *testing.T) { exercise(t, openPostgres(t)) }

func exercise(t *testing.T, s *store.Store) {
	ctx := context.Background()
	t.Run("delivery idempotent by id", func(t *testing.T) {
		d := store.Delivery{ID: "d-1", Event: "push", Action: "", InstallationID: 9, Repo: "o/r", Payload: []byte(`{"a":1}`), Status: store.StatusQueued}
		for i, want := range []bool{true, false} {
			var got bool
			err := s.InTx(ctx, func(tx store.Tx) error {
				var err error
				got, err = s.InsertDelivery(ctx, tx, d)
				return err
			})
			if err != nil || got != want {
				t.Fatalf("insert #%d: inserted=%v err=%v, want %v", i+1, got, err, want)
			}
		}
		if err := s.NoteDuplicate(ctx, "d-1"); err != nil {
			t.Fatal(err)
		}
		if err := s.SetDeliveryStatus(ctx, nil, "d-1", store.StatusFailed, "bad timestamp", 1); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetDelivery(ctx, "d-1")
		if err != nil {
			t.Fatal(err)
		}
		if got.Event != "push" || got.InstallationID != 9 || got.Repo != "o/r" || string(got.Payload) != `{"a":1}` ||
			got.Status != store.StatusFailed || got.Reason != "bad timestamp" || got.Attempts != 1 || got.Duplicates != 1 || got.ReceivedAt.IsZero() {
			t.Fatalf("round trip: %+v", got)
		}
		counts, err := s.DeliveryCounts(ctx)
		if err != nil || counts[store.StatusFailed] != 1 {
			t.Fatalf("counts %v %v", counts, err)
		}
	})
	t.Run("rolled back transaction stores nothing", func(t *testing.T) {
		_ = s.InTx(ctx, func(tx store.Tx) error {
			if _, err := s.InsertDelivery(ctx, tx, store.Delivery{ID: "d-rollback", Event: "push", Payload: []byte("{}"), Status: store.StatusQueued}); err != nil {
				t.Fatal(err)
			}
			return context.Canceled
		})
		if _, err := s.GetDelivery(ctx, "d-rollback"); err == nil {
			t.Fatal("delivery of a rolled-back transaction exists")
		}
	})
	t.Run("batch insert, duplicates, finish once", func(t *testing.T) {
		var rows []store.Delivery
		for i := 0; i < 250; i++ { // more than one INSERT statement's worth
			rows = append(rows, store.Delivery{ID: fmt.Sprintf("b-%03d", i), Event: "push", Repo: "o/r", Payload: []byte(`{}`), Status: store.StatusQueued})
		}
		rows = append(rows, store.Delivery{ID: "d-1", Event: "push", Payload: []byte(`{}`), Status: store.StatusQueued}) // stored above
		var inserted map[string]bool
		err := s.InTx(ctx, func(tx store.Tx) error {
			var err error
			if inserted, err = s.InsertDeliveries(ctx, tx, rows); err != nil {
				return err
			}
			return s.NoteDuplicates(ctx, tx, map[string]int{"d-1": 2})
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(inserted) != 250 || !inserted["b-000"] || !inserted["b-249"] || inserted["d-1"] {
			t.Fatalf("inserted %d ids (d-1: %v), want the 250 new ones", len(inserted), inserted["d-1"])
		}
		if d, err := s.GetDelivery(ctx, "d-1"); err != nil || d.Duplicates != 3 || d.Status != store.StatusFailed {
			t.Fatalf("d-1 after a batch with it: %+v %v", d, err)
		}
		for i, want := range []bool{true, false} {
			var ok bool
			err := s.InTx(ctx, func(tx store.Tx) error {
				var err error
				ok, err = s.FinishDelivery(ctx, tx, "b-007", store.StatusHandled, "", i+1)
				return err
			})
			if err != nil || ok != want {
				t.Fatalf("finish #%d: %v %v, want %v", i+1, ok, err, want)
			}
		}
		if d, _ := s.GetDelivery(ctx, "b-007"); d.Status != store.StatusHandled || d.Attempts != 1 {
			t.Fatalf("b-007 %+v, want handled after attempt 1", d)
		}
	})
	t.Run("audit", func(t *testing.T) {
		err := s.Audit(ctx, store.AuditEntry{Repo: "o/r", Actor: "octocat", Action: "promote", Env: "staging", SHA: "abc", Outcome: "success", Detail: map[string]any{"from": "dev"}})
		if err != nil {
			t.Fatal(err)
		}
		entries, err := s.AuditLog(ctx, "o/r", 10)
		if err != nil || len(entries) != 1 {
			t.Fatalf("audit log %v %v", entries, err)
		}
		if e := entries[0]; e.Actor != "octocat" || e.Env != "staging" || e.Detail["from"] != "dev" || e.At.IsZero() {
			t.Fatalf("audit entry %+v", e)
		}
	})
	t.Run("migrations are idempotent", func(t *testing.T) {
		var n int
		files, _ := filepath.Glob(filepath.Join("migrations", string(s.Dialect()), "*.sql"))
		if err := s.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(files) {
			t.Fatalf("schema_migrations rows %d %v", n, err)
		}
	})
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hoist.db")
	ctx := context.Background()
	s, err := store.Open(ctx, store.Options{SQLitePath: path, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.InTx(ctx, func(tx store.Tx) error {
		_, err := s.InsertDelivery(ctx, tx, store.Delivery{ID: "keep", Event: "push", Payload: []byte("{}"), Status: store.StatusQueued})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = store.Open(ctx, store.Options{SQLitePath: path, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.GetDelivery(ctx, "keep"); err != nil {
		t.Fatal(err)
	}
}
