package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hoist-dev/hoist/internal/store"
)

func TestSmokeRunsSQLite(t *testing.T)   { exerciseSmokeRuns(t, openSQLite(t)) }
func TestSmokeRunsPostgres(t *testing.T) { exerciseSmokeRuns(t, openPostgres(t)) }

func exerciseSmokeRuns(t *testing.T, s *store.Store) {
	ctx := context.Background()
	sha := "0123456789abcdef0123456789abcdef01234567"
	var a store.SmokeRun
	err := s.InTx(ctx, func(tx store.Tx) error {
		var err error
		a, err = s.CreateSmokeRun(ctx, tx, store.SmokeRun{Repo: "acme/site", Env: "staging", SHA: sha, Reason: "push", Actor: "hoist"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == 0 || len(a.Token) != 32 || a.Status != "queued" {
		t.Fatalf("created %+v", a)
	}
	b, err := s.CreateSmokeRun(ctx, nil, store.SmokeRun{Repo: "acme/site", Env: "staging", SHA: sha, Reason: "rerun", Actor: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if b.Token == a.Token {
		t.Fatal("two runs share a token")
	}
	if _, err := s.LatestSmokeReport(ctx, "acme/site", sha); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("report before any run completed: %v", err)
	}
	if err := s.SetSmokeCheckRun(ctx, a.ID, 77); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishSmokeRun(ctx, a.ID, "failure", "1/2 pages OK", []byte(`{"schema":1}`)); err != nil {
		t.Fatal(err)
	}
	got, err := s.SmokeRunByCheck(ctx, "acme/site", 77)
	if err != nil || got.ID != a.ID || got.Status != "completed" || got.Conclusion != "failure" || string(got.Report) != `{"schema":1}` {
		t.Fatalf("by check: %+v, %v", got, err)
	}
	if got, err := s.SmokeRunByToken(ctx, b.Token); err != nil || got.ID != b.ID || got.Actor != "alice" {
		t.Fatalf("by token: %+v, %v", got, err)
	}
	if got, err := s.LatestSmokeReport(ctx, "acme/site", sha); err != nil || got.ID != a.ID {
		t.Fatalf("latest report: %+v, %v", got, err)
	}
	runs, err := s.SmokeRunsOfSHA(ctx, "acme/site", sha, 10)
	if err != nil || len(runs) != 2 || runs[0].ID != b.ID {
		t.Fatalf("runs of sha: %+v, %v", runs, err)
	}
	if _, err := s.SmokeRun(ctx, 999999); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing run: %v", err)
	}
}
