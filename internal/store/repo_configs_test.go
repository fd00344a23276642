package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hoist-dev/hoist/internal/store"
)

func TestRepoConfigsSQLite(t *testing.T)   { exerciseRepoConfigs(t, openSQLite(t)) }
func TestRepoConfigsPostgres(t *testing.T) { exerciseRepoConfigs(t, openPostgres(t)) }

func exerciseRepoConfigs(t *testing.T, s *store.Store) {
	ctx := context.Background()
	if _, err := s.LastGoodRepoConfig(ctx, "acme/site"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("before any save: %v, want ErrNotFound", err)
	}
	for _, c := range []store.RepoConfig{
		{Repo: "acme/site", SHA: "aaa", Content: []byte("version: 1\n")},
		{Repo: "acme/site", SHA: "bbb", Content: []byte("version: 1\nenvironments: {}\n")},
	} {
		if err := s.SaveRepoConfig(ctx, c); err != nil {
			t.Fatal(err)
		}
		got, err := s.LastGoodRepoConfig(ctx, "acme/site")
		if err != nil || got.SHA != c.SHA || string(got.Content) != string(c.Content) {
			t.Fatalf("after saving %s: %+v, %v", c.SHA, got, err)
		}
	}
	if err := s.SaveRepoConfig(ctx, store.RepoConfig{Repo: "acme/other", Content: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRepoConfig(ctx, "acme/site"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LastGoodRepoConfig(ctx, "acme/site"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after delete: %v, want ErrNotFound", err)
	}
	if got, err := s.LastGoodRepoConfig(ctx, "acme/other"); err != nil || string(got.Content) != "x" {
		t.Fatalf("another repository's configuration: %+v, %v", got, err)
	}
}
