package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/store"
)

func TestHoldsSQLite(t *testing.T)   { exerciseHolds(t, openSQLite(t)) }
func TestHoldsPostgres(t *testing.T) { exerciseHolds(t, openPostgres(t)) }

func exerciseHolds(t *testing.T, s *store.Store) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	until := now.Add(2 * time.Hour)

	open, created, err := s.PutHold(ctx, nil, store.Hold{Key: "comment:1:1", Repo: "o/r", Env: "production", By: "alice", Reason: "release freeze", Since: now})
	if err != nil || !created {
		t.Fatalf("put: %v created=%v", err, created)
	}
	if open.ID == 0 || open.By != "alice" || open.Reason != "release freeze" || !open.Since.Equal(now) || open.Until != nil {
		t.Fatalf("stored hold %+v", open)
	}
	// The same key again (a replayed command) stores nothing new.
	again, created, err := s.PutHold(ctx, nil, store.Hold{Key: "comment:1:1", Repo: "o/r", Env: "production", By: "mallory", Since: now})
	if err != nil || created || again.ID != open.ID || again.By != "alice" {
		t.Fatalf("put again: %+v created=%v %v", again, created, err)
	}
	// A timed hold, in a transaction, and one on another environment.
	err = s.InTx(ctx, func(tx store.Tx) error {
		_, _, err := s.PutHold(ctx, tx, store.Hold{Key: "comment:2:1", Repo: "o/r", Env: "production", By: "bob", Since: now.Add(time.Minute), Until: &until})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.PutHold(ctx, nil, store.Hold{Key: "comment:3:1", Repo: "o/r", Env: "staging", By: "bob", Since: now}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.PutHold(ctx, nil, store.Hold{Key: "comment:4:1", Repo: "o/other", Env: "production", By: "bob", Since: now}); err != nil {
		t.Fatal(err)
	}
	// A rolled back transaction stores no hold.
	_ = s.InTx(ctx, func(tx store.Tx) error {
		_, _, _ = s.PutHold(ctx, tx, store.Hold{Key: "comment:5:1", Repo: "o/r", Env: "production", Since: now})
		return errors.New("roll back")
	})

	hs, err := s.EnvHolds(ctx, "o/r", "production", now.Add(time.Hour))
	if err != nil || len(hs) != 2 || hs[0].By != "alice" || hs[1].By != "bob" || hs[1].Until == nil || !hs[1].Until.Equal(until) {
		t.Fatalf("production holds after 1h: %+v %v", hs, err)
	}
	// After its end the timed hold no longer counts.
	if hs, _ := s.EnvHolds(ctx, "o/r", "production", until); len(hs) != 1 || hs[0].By != "alice" {
		t.Fatalf("production holds at the timed hold's end: %+v", hs)
	}
	if all, _ := s.ActiveHolds(ctx, "o/r", now); len(all) != 3 {
		t.Fatalf("active holds of o/r: %+v", all)
	}

	released, err := s.ReleaseHolds(ctx, "o/r", "production", "carol", now.Add(time.Hour))
	if err != nil || len(released) != 2 || released[0].ReleasedBy != "carol" || released[0].ReleasedAt == nil {
		t.Fatalf("release: %+v %v", released, err)
	}
	if hs, _ := s.EnvHolds(ctx, "o/r", "production", now.Add(time.Hour)); len(hs) != 0 {
		t.Fatalf("production still held after release: %+v", hs)
	}
	if again, _ := s.ReleaseHolds(ctx, "o/r", "production", "carol", now.Add(time.Hour)); len(again) != 0 {
		t.Fatalf("released twice: %+v", again)
	}
	// Staging and the other repository are untouched.
	if hs, _ := s.ActiveHolds(ctx, "o/r", now.Add(time.Hour)); len(hs) != 1 || hs[0].Env != "staging" {
		t.Fatalf("o/r holds after releasing production: %+v", hs)
	}
	if hs, _ := s.ActiveHolds(ctx, "o/other", now); len(hs) != 1 {
		t.Fatalf("o/other holds: %+v", hs)
	}
	// A released key is not put back by a replay.
	if h, created, err := s.PutHold(ctx, nil, store.Hold{Key: "comment:1:1", Repo: "o/r", Env: "production", Since: now}); err != nil || created || h.ReleasedAt == nil {
		t.Fatalf("replay of a released hold: %+v created=%v %v", h, created, err)
	}
	if _, _, err := s.PutHold(ctx, nil, store.Hold{Repo: "o/r", Env: "production"}); err == nil {
		t.Fatal("a hold without a key was stored")
	}
}

func TestCommandRunsSQLite(t *testing.T)   { exerciseCommandRuns(t, openSQLite(t)) }
func TestCommandRunsPostgres(t *testing.T) { exerciseCommandRuns(t, openPostgres(t)) }

func exerciseCommandRuns(t *testing.T, s *store.Store) {
	ctx := context.Background()
	r := store.CommandRun{CommentID: 9000000001, Line: 2, Repo: "o/r", Number: 7, Actor: "alice", Command: "/rollback staging previous",
		Detail: map[string]any{"from": "aaa"}}
	got, created, err := s.StartCommandRun(ctx, r)
	if err != nil || !created || got.Status != store.CommandStarted || got.Detail["from"] != "aaa" || got.CreatedAt.IsZero() {
		t.Fatalf("start: %+v created=%v %v", got, created, err)
	}
	got.Detail["to"] = "bbb"
	got.Status, got.Outcome, got.ReplyID = store.CommandDone, "succeeded", 42
	if err := s.UpdateCommandRun(ctx, got); err != nil {
		t.Fatal(err)
	}
	// A second start (a redelivery) finds the finished run.
	again, created, err := s.StartCommandRun(ctx, r)
	if err != nil || created || again.Status != store.CommandDone || again.Outcome != "succeeded" || again.ReplyID != 42 || again.Detail["to"] != "bbb" {
		t.Fatalf("start again: %+v created=%v %v", again, created, err)
	}
	if _, _, err := s.StartCommandRun(ctx, store.CommandRun{CommentID: 9000000001, Line: 1, Repo: "o/r", Command: "/status"}); err != nil {
		t.Fatal(err)
	}
	runs, err := s.CommandRuns(ctx, 9000000001)
	if err != nil || len(runs) != 2 || runs[0].Line != 1 || runs[1].Line != 2 {
		t.Fatalf("runs: %+v %v", runs, err)
	}
	if _, err := s.CommandRun(ctx, 1, 1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing run: %v", err)
	}
	if err := s.UpdateCommandRun(ctx, store.CommandRun{CommentID: 1, Line: 1}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update of a missing run: %v", err)
	}
}
