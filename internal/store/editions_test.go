package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/store"
)

func TestEditionsSQLite(t *testing.T)   { exerciseEditions(t, openSQLite(t)) }
func TestEditionsPostgres(t *testing.T) { exerciseEditions(t, openPostgres(t)) }

// An edition's folder is one ref's: another ref is refused it, a rename
// keeps the former folder until it is removed, a removal is planned only
// for the installation that owns the edition, and a ref that came back
// keeps its row.
func exerciseEditions(t *testing.T, s *store.Store) {
	ctx := context.Background()
	a := store.Edition{Repo: "acme/site", Ref: "branch:feature/a", Name: "feature-a", Target: "site", Prefix: "acme/site/v/feature-a/", Installation: 1}
	got, err := s.ClaimEdition(ctx, a)
	if err != nil || got.Name != "feature-a" || !got.RemoveAt.IsZero() {
		t.Fatalf("claim = %+v, %v", got, err)
	}
	if _, err := s.ClaimEdition(ctx, a); err != nil {
		t.Fatalf("claim again: %v", err)
	}
	b := a
	b.Ref = "branch:feature-a"
	if _, err := s.ClaimEdition(ctx, b); !errors.Is(err, store.ErrEditionTaken) {
		t.Fatalf("another ref on the same folder: %v, want ErrEditionTaken", err)
	}
	other := a
	other.Repo = "evil/site"
	if _, err := s.ClaimEdition(ctx, other); !errors.Is(err, store.ErrEditionTaken) {
		t.Fatalf("another repository on the same folder: %v", err)
	}
	if err := s.EditionDeployed(ctx, a.Repo, a.Ref, "abc", 7); err != nil {
		t.Fatal(err)
	}
	// A rename keeps the former folder to remove; nobody may take it
	// meanwhile.
	renamed := a
	renamed.Name, renamed.Prefix = "alpha", "acme/site/v/alpha/"
	got, err = s.ClaimEdition(ctx, renamed)
	if err != nil || got.OldPrefix != a.Prefix || got.OldDeployment != 7 || got.OldName != "feature-a" || got.Prefix != renamed.Prefix {
		t.Fatalf("rename = %+v, %v", got, err)
	}
	if _, err := s.ClaimEdition(ctx, b); !errors.Is(err, store.ErrEditionTaken) {
		t.Fatalf("the old folder of a rename: %v, want ErrEditionTaken", err)
	}
	if err := s.EditionMoved(ctx, a.Repo, a.Ref, a.Prefix); err != nil {
		t.Fatal(err)
	}
	if e, ok, err := s.EditionOf(ctx, a.Repo, a.Ref); err != nil || !ok || e.OldPrefix != "" || e.SHA != "abc" {
		t.Fatalf("after the move: %+v %v %v", e, ok, err)
	}

	at := time.UnixMilli(time.Now().Add(time.Hour).UnixMilli())
	if ok, err := s.ScheduleEditionRemoval(ctx, a.Repo, a.Ref, 2, at); err != nil || ok {
		t.Fatalf("removal by another installation: %v %v, want nothing planned", ok, err)
	}
	if ok, err := s.ScheduleEditionRemoval(ctx, a.Repo, "branch:main", 1, at); err != nil || ok {
		t.Fatalf("removal of a branch without an edition: %v %v", ok, err)
	}
	if ok, err := s.ScheduleEditionRemoval(ctx, a.Repo, a.Ref, 1, at); err != nil || !ok {
		t.Fatalf("removal: %v %v", ok, err)
	}
	if err := s.EditionRemovalJob(ctx, a.Repo, a.Ref, at, 42); err != nil {
		t.Fatal(err)
	}
	if e, _, err := s.EditionOf(ctx, a.Repo, a.Ref); err != nil || e.RemoveJob != 42 || !e.RemoveAt.Equal(at) {
		t.Fatalf("planned removal: %+v %v", e, err)
	}
	// The branch came back: its claim calls the removal off.
	if got, err := s.ClaimEdition(ctx, renamed); err != nil || !got.RemoveAt.IsZero() || got.RemoveJob != 0 {
		t.Fatalf("claim after the delete: %+v %v", got, err)
	}
	if ok, err := s.DeleteEdition(ctx, a.Repo, a.Ref, at); err != nil || ok {
		t.Fatalf("a removal called off still deleted the row: %v %v", ok, err)
	}
	if _, err := s.ScheduleEditionRemoval(ctx, a.Repo, a.Ref, 1, at); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.DeleteEdition(ctx, a.Repo, a.Ref, at); err != nil || !ok {
		t.Fatalf("delete: %v %v", ok, err)
	}
	if list, err := s.Editions(ctx, a.Repo); err != nil || len(list) != 0 {
		t.Fatalf("editions left: %+v %v", list, err)
	}
	if _, err := s.ClaimEdition(ctx, b); err != nil {
		t.Fatalf("the folder is free again: %v", err)
	}
}
