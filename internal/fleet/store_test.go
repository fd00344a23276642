package fleet_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/fleet"
	"github.com/hoist-dev/hoist/internal/store"
	"github.com/hoist-dev/hoist/internal/testenv"
)

func TestStoreSQLite(t *testing.T) {
	db, err := store.Open(context.Background(), store.Options{SQLitePath: filepath.Join(t.TempDir(), "hoist.db"), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	exerciseStore(t, fleet.NewStore(db))
}

func TestStorePostgres(t *testing.T) {
	db, err := store.Open(context.Background(), store.Options{DatabaseURL: testenv.Postgres(t), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	exerciseStore(t, fleet.NewStore(db))
}

func exerciseStore(t *testing.T, s *fleet.Store) {
	ctx := context.Background()
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
	in, err := s.Create(ctx, fleet.Instance{Repo: "acme/site", Name: "shop", Plan: fleet.PlanTrial, ExpiresAt: &exp,
		Settings: map[string]any{"colour": "#112233"}, Version: "main", SHA: "abc", CreatedBy: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if in.State != fleet.StateLaunching || in.SettingsVersion != 1 {
		t.Fatalf("created %+v", in)
	}
	if _, err := s.Create(ctx, fleet.Instance{Repo: "acme/site", Name: "shop", Plan: fleet.PlanPaid, CreatedBy: "bob"}); !errors.Is(err, fleet.ErrExists) {
		t.Fatalf("second create: %v", err)
	}
	if _, err := s.Create(ctx, fleet.Instance{Repo: "acme/other", Name: "shop", Plan: fleet.PlanPaid, CreatedBy: "bob"}); err != nil {
		t.Fatalf("same name in another repository: %v", err)
	}
	got, err := s.Get(ctx, "acme/site", "shop")
	if err != nil || got.Settings["colour"] != "#112233" || got.ExpiresAt == nil || !got.ExpiresAt.Equal(exp) || got.CreatedBy != "alice" {
		t.Fatalf("get: %+v %v", got, err)
	}
	if _, err := s.Get(ctx, "acme/site", "nope"); !errors.Is(err, fleet.ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
	if trials, err := s.Trials(ctx, exp.Add(time.Minute)); err != nil || len(trials) != 0 {
		t.Fatalf("a launching trial is listed for expiry: %v %v", trials, err)
	}
	live := fleet.StateLive
	if _, err := s.Apply(ctx, "acme/site", "shop", fleet.Update{State: &live}); err != nil {
		t.Fatal(err)
	}
	if trials, err := s.Trials(ctx, exp.Add(time.Minute)); err != nil || len(trials) != 1 {
		t.Fatalf("trials: %v %v", trials, err)
	}
	before, after, err := s.SetSettings(ctx, "acme/site", "shop", map[string]any{"colour": "#445566"}, "bob", "", nil)
	if err != nil || before.Settings["colour"] != "#112233" || after.SettingsVersion != 2 {
		t.Fatalf("set settings: %+v %+v %v", before, after, err)
	}
	hist, err := s.SettingsHistory(ctx, "acme/site", "shop")
	if err != nil || len(hist) != 2 || hist[0].Note != "launch" || hist[1].ChangedBy != "bob" || hist[1].Settings["colour"] != "#445566" {
		t.Fatalf("history: %+v %v", hist, err)
	}
	if first, err := s.StepDone(ctx, "acme/site", "shop", "branches", `{"sha":"abc"}`); err != nil || !first {
		t.Fatalf("step: %v %v", first, err)
	}
	if first, err := s.StepDone(ctx, "acme/site", "shop", "branches", `{}`); err != nil || first {
		t.Fatalf("step twice: %v %v", first, err)
	}
	steps, err := s.Steps(ctx, "acme/site", "shop")
	if err != nil || len(steps) != 1 || steps[0].Detail != `{"sha":"abc"}` {
		t.Fatalf("steps: %+v %v", steps, err)
	}
	list, err := s.List(ctx, "acme/site")
	if err != nil || len(list) != 1 {
		t.Fatalf("list: %v %v", list, err)
	}
	log, err := s.DB().AuditLog(ctx, "acme/site", 10)
	if err != nil || len(log) != 2 {
		t.Fatalf("audit: %+v %v", log, err)
	}
	if err := s.Purge(ctx, "acme/site", "shop"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "acme/site", "shop"); !errors.Is(err, fleet.ErrNotFound) {
		t.Fatalf("purged: %v", err)
	}
}
