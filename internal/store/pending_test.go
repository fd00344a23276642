package store_test

import (
	"context"
	"testing"

	"github.com/hoist-dev/hoist/internal/store"
)

// A pending publication is replaced by the environment's next one, marked
// moved with its audit entry exactly once, and removed only by its own
// intent.
func TestPendingPublications(t *testing.T) {
	s := openSQLite(t)
	ctx := context.Background()
	if _, ok, err := s.PendingPublicationOf(ctx, "acme/site", "staging"); err != nil || ok {
		t.Fatalf("empty store: %v %v", ok, err)
	}
	put := func(sha, intent string) {
		t.Helper()
		if err := s.PutPendingPublication(ctx, store.PendingPublication{Repo: "acme/site", Env: "staging", SHA: sha, Intent: intent,
			Stage: store.StageMoving, Publication: `{"SHA":"` + sha + `"}`}); err != nil {
			t.Fatal(err)
		}
	}
	put("aaa", "i1")
	put("bbb", "i2")
	p, ok, err := s.PendingPublicationOf(ctx, "acme/site", "staging")
	if err != nil || !ok || p.SHA != "bbb" || p.Intent != "i2" || p.Stage != store.StageMoving {
		t.Fatalf("pending = %+v %v %v", p, ok, err)
	}
	audit := store.AuditEntry{Repo: "acme/site", Actor: "hoist", Action: "promote", Env: "staging", SHA: "bbb", Outcome: "promoted"}
	for range 2 {
		if err := s.PendingMoved(ctx, "acme/site", "staging", "i2", audit); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PendingMoved(ctx, "acme/site", "staging", "i1", audit); err != nil {
		t.Fatal(err)
	}
	entries, err := s.AuditLog(ctx, "acme/site", 10)
	if err != nil || len(entries) != 1 {
		t.Fatalf("audit entries %+v %v, want one", entries, err)
	}
	if p, _, _ := s.PendingPublicationOf(ctx, "acme/site", "staging"); p.Stage != store.StageMoved {
		t.Fatalf("stage %q", p.Stage)
	}
	if err := s.DonePendingPublication(ctx, "acme/site", "staging", "i1"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.PendingPublicationOf(ctx, "acme/site", "staging"); !ok {
		t.Fatal("an older intent removed the newer pending publication")
	}
	if err := s.DonePendingPublication(ctx, "acme/site", "staging", "i2"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.PendingPublicationOf(ctx, "acme/site", "staging"); ok {
		t.Fatal("pending publication not removed")
	}
}
