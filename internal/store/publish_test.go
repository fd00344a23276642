package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/store"
)

func TestPublishLeaseSQLite(t *testing.T)   { publishLease(t, openSQLite(t)) }
func TestPublishLeasePostgres(t *testing.T) { publishLease(t, openPostgres(t)) }

func publishLease(t *testing.T, s *store.Store) {
	ctx := context.Background()
	if err := s.RequestPublish(ctx, "o/r", "staging", 7); err != nil {
		t.Fatal(err)
	}
	if err := s.RequestPublish(ctx, "o/r", "staging", 5); err != nil { // an older one arriving late
		t.Fatal(err)
	}
	soon := time.Now().Add(time.Minute)
	ok, latest, err := s.AcquirePublish(ctx, "o/r", "staging", "job-1", soon)
	if err != nil || !ok || latest != 7 {
		t.Fatalf("first acquire = %v %d %v, want held with latest 7", ok, latest, err)
	}
	if ok, _, err := s.AcquirePublish(ctx, "o/r", "staging", "job-2", soon); err != nil || ok {
		t.Fatalf("second holder acquired a held lease: %v %v", ok, err)
	}
	if ok, _, err := s.AcquirePublish(ctx, "o/r", "production", "job-2", soon); err != nil || !ok {
		t.Fatalf("another environment is independent: %v %v", ok, err)
	}
	if ok, _, err := s.AcquirePublish(ctx, "o/r", "staging", "job-1", soon); err != nil || !ok {
		t.Fatalf("the holder re-acquires (a retried attempt): %v %v", ok, err)
	}
	if err := s.ReleasePublish(ctx, "o/r", "staging", "job-2"); err != nil { // not the holder: no effect
		t.Fatal(err)
	}
	if ok, _, _ := s.AcquirePublish(ctx, "o/r", "staging", "job-2", soon); ok {
		t.Fatal("a release by someone else freed the lease")
	}
	if err := s.ReleasePublish(ctx, "o/r", "staging", "job-1"); err != nil {
		t.Fatal(err)
	}
	if ok, latest, err := s.AcquirePublish(ctx, "o/r", "staging", "job-2", soon); err != nil || !ok || latest != 7 {
		t.Fatalf("after release = %v %d %v", ok, latest, err)
	}
	// A holder that crashed: its lease expires.
	if ok, _, _ := s.AcquirePublish(ctx, "o/r", "dev", "dead", time.Now().Add(-time.Second)); !ok {
		t.Fatal("acquire dev")
	}
	if ok, _, err := s.AcquirePublish(ctx, "o/r", "dev", "job-3", soon); err != nil || !ok {
		t.Fatalf("an expired lease was not taken over: %v %v", ok, err)
	}
}

func TestPendingPurgeSQLite(t *testing.T)   { pendingPurge(t, openSQLite(t)) }
func TestPendingPurgePostgres(t *testing.T) { pendingPurge(t, openPostgres(t)) }

func pendingPurge(t *testing.T, s *store.Store) {
	ctx := context.Background()
	if v, err := s.PendingPurge(ctx, "o/r", "staging"); err != nil || v != "" {
		t.Fatalf("none yet: %q %v", v, err)
	}
	if err := s.SetPendingPurge(ctx, "o/r", "staging", `{"edition":"staging"}`); err != nil {
		t.Fatal(err)
	}
	if err := s.RequestPublish(ctx, "o/r", "staging", 9); err != nil {
		t.Fatal(err)
	}
	if v, err := s.PendingPurge(ctx, "o/r", "staging"); err != nil || v != `{"edition":"staging"}` {
		t.Fatalf("stored: %q %v", v, err)
	}
	if err := s.SetPendingPurge(ctx, "o/r", "staging", ""); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.PendingPurge(ctx, "o/r", "staging"); v != "" {
		t.Fatalf("cleared: %q", v)
	}
}
