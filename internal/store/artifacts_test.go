package store_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/store"
)

func TestArtifactsSQLite(t *testing.T)   { artifacts(t, openSQLite(t)) }
func TestArtifactsPostgres(t *testing.T) { artifacts(t, openPostgres(t)) }

// A screenshot is stored once under its name, read back byte for byte,
// renewed by a later Put once older than the refresh, and pruned by when
// it was last stored.
func artifacts(t *testing.T, s *store.Store) {
	ctx := context.Background()
	png := []byte("\x89PNG\r\n\x1a\n\x00binary\xff")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.PutArtifact(ctx, "a", png, time.Hour))
	must(s.PutArtifact(ctx, "a", png, time.Hour)) // the same bytes again
	must(s.PutArtifact(ctx, "b", []byte("other"), time.Hour))
	got, err := s.Artifact(ctx, "a")
	if err != nil || !bytes.Equal(got, png) {
		t.Fatalf("artifact a: %q %v", got, err)
	}
	if _, err := s.Artifact(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a missing artifact: %v, want ErrNotFound", err)
	}
	time.Sleep(300 * time.Millisecond)
	// A Put with a short refresh renews a; b keeps its time.
	mark := time.Now()
	must(s.PutArtifact(ctx, "a", png, 100*time.Millisecond))
	n, err := s.PruneArtifacts(ctx, mark)
	if err != nil || n != 1 {
		t.Fatalf("pruned %d %v, want 1 (b)", n, err)
	}
	if _, err := s.Artifact(ctx, "b"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("b after pruning: %v", err)
	}
	if _, err := s.Artifact(ctx, "a"); err != nil {
		t.Fatalf("a, renewed, was pruned: %v", err)
	}
}
