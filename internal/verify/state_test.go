package verify

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/store"
	"github.com/hoist-dev/hoist/internal/testenv"
)

// TestStateOnBothDialects: runs are stored once per deployment, the last
// verified one is found, incidents are unique per failed deployment and
// keep their stage, on SQLite and PostgreSQL alike.
func TestStateOnBothDialects(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			opts := store.Options{SQLitePath: filepath.Join(t.TempDir(), "hoist.db"), Logger: zerolog.Nop()}
			if dialect == "postgres" {
				opts = store.Options{DatabaseURL: testenv.Postgres(t), Logger: zerolog.Nop()}
			}
			st, err := store.Open(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(st.Close)
			ctx := context.Background()
			clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			s := state{st: st, now: func() time.Time { return clock }}

			a, err := s.addRun(ctx, st, Run{Repo: "acme/site", Env: "staging", Deployment: 1, SHA: "aaaaaaaa", URL: "https://s/"})
			if err != nil || a.ID == 0 || a.Status != "queued" || !a.CreatedAt.Equal(clock) {
				t.Fatalf("add run = %+v, %v", a, err)
			}
			again, err := s.addRun(ctx, st, Run{Repo: "acme/site", Env: "staging", Deployment: 1, SHA: "aaaaaaaa"})
			if err != nil || again.ID != a.ID {
				t.Fatalf("second add of the same deployment = %+v, %v", again, err)
			}
			if _, ok, err := s.lastVerified(ctx, "acme/site", "staging", "bbbbbbbb"); ok || err != nil {
				t.Fatalf("a queued run counts as verified: %v %v", ok, err)
			}
			if err := s.finishRun(ctx, a.ID, "completed", "success", ""); err != nil {
				t.Fatal(err)
			}
			b, _ := s.addRun(ctx, st, Run{Repo: "acme/site", Env: "staging", Deployment: 2, SHA: "bbbbbbbb"})
			if err := s.finishRun(ctx, b.ID, "completed", "failure", "missing .product"); err != nil {
				t.Fatal(err)
			}
			good, ok, err := s.lastVerified(ctx, "acme/site", "staging", "bbbbbbbb")
			if err != nil || !ok || good.SHA != "aaaaaaaa" {
				t.Fatalf("last verified = %+v %v %v", good, ok, err)
			}
			if latest, ok, err := s.latest(ctx, "acme/site", "staging"); err != nil || !ok || latest.Reason != "missing .product" || latest.Conclusion != "failure" {
				t.Fatalf("latest = %+v %v %v", latest, ok, err)
			}

			inc, created, err := s.addIncident(ctx, st, Incident{Repo: "acme/site", Env: "staging", BadSHA: "bbbbbbbb", BadDeployment: 2, GoodSHA: "aaaaaaaa", Stage: StagePlanned, Reason: "missing"})
			if err != nil || !created || inc.ID == 0 || !inc.open() {
				t.Fatalf("add incident = %+v %v %v", inc, created, err)
			}
			if dup, created, err := s.addIncident(ctx, st, Incident{Repo: "acme/site", Env: "staging", BadSHA: "bbbbbbbb", BadDeployment: 2, Stage: StagePlanned}); err != nil || created || dup.ID != inc.ID {
				t.Fatalf("second incident for one deployment = %+v %v %v", dup, created, err)
			}
			inc.RollbackSHA, inc.Stage, inc.Commented = "cccccccc", StageCommitted, true
			if err := s.updateIncident(ctx, inc); err != nil {
				t.Fatal(err)
			}
			got, ok, err := s.rollbackOf(ctx, "acme/site", "staging", "cccccccc")
			if err != nil || !ok || got.ID != inc.ID || got.Stage != StageCommitted || !got.Commented || got.GoodSHA != "aaaaaaaa" {
				t.Fatalf("rollback of c = %+v %v %v", got, ok, err)
			}
			if last, ok, err := s.latestIncident(ctx, "acme/site", "staging"); err != nil || !ok || last.ID != inc.ID {
				t.Fatalf("latest incident = %+v %v %v", last, ok, err)
			}
			if _, ok, err := s.latestIncident(ctx, "acme/site", "production"); ok || err != nil {
				t.Fatalf("production has an incident: %v %v", ok, err)
			}
		})
	}
}

func TestStatusText(t *testing.T) {
	st := Status{SHA: "0123456789", State: "failure", Reason: "/ (desktop): missing_selector", Rollback: StageRestored, RollbackSHA: "abcdef0123"}
	if got, want := st.Text(), "failure 0123456: / (desktop): missing_selector (automatic rollback restored as abcdef0)"; got != want {
		t.Fatalf("Text() = %q, want %q", got, want)
	}
	if got := (Status{SHA: "0123456789", State: "success"}).Text(); got != "success 0123456" {
		t.Fatalf("Text() = %q", got)
	}
}
