package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

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

func TestWithLockSerialisesPostgres(t *testing.T) {
	s := openPostgres(t)
	ctx := context.Background()
	inside := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.WithLock(ctx, "acme/site staging", func(context.Context) error {
			close(inside)
			<-release
			return nil
		})
	}()
	<-inside
	second := make(chan struct{})
	go func() {
		_ = s.WithLock(ctx, "acme/site staging", func(context.Context) error { close(second); return nil })
	}()
	other := make(chan struct{})
	go func() {
		_ = s.WithLock(ctx, "acme/site production", func(context.Context) error { close(other); return nil })
	}()
	<-other // another key is not held up
	select {
	case <-second:
		t.Fatal("a second holder got the lock while the first held it")
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	<-second
}
