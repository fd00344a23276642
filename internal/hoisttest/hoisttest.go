// Package hoisttest is the shared test world for testing.TB: the helpers
// of internal/world that fail the test on error and clean up when it ends.
package hoisttest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/emulator/emulatortest"
	"github.com/hoist-dev/hoist/internal/world"
)

// Spec says what world to build (world.Spec, named here so that tests with
// a world type of their own need not import package world).
type Spec = world.Spec

// World is a world.World for a test, with the emulator's harness.
type World struct {
	*world.World
	// GH is the emulator with helpers that fail the test.
	GH *emulatortest.Harness
	t  testing.TB
}

// Start builds the world spec describes, with the emulator's data in
// t.TempDir() and retries backing off from 20 ms unless spec says
// otherwise, and stops it when the test ends.
func Start(t testing.TB, spec Spec) *World {
	t.Helper()
	if spec.Emulator.DataDir == "" {
		spec.Emulator.DataDir = t.TempDir()
	}
	if spec.Emulator.WebhookBackoff == 0 {
		spec.Emulator.WebhookBackoff = 20 * time.Millisecond
	}
	w, err := world.Start(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return &World{World: w, GH: emulatortest.Wrap(t, w.GitHub), t: t}
}

// User is go-github acting as the user.
func (w *World) User() *github.Client {
	w.t.Helper()
	return w.GH.Client(w.UserToken)
}

// Put commits a file to repo's default branch as the user.
func (w *World) Put(repo, path, content, message string) {
	w.t.Helper()
	_, _, err := w.User().Repositories.CreateFile(context.Background(), w.Owner, repo, path,
		&github.RepositoryContentFileOptions{Message: github.String(message), Content: []byte(content)})
	if err != nil {
		w.t.Fatalf("put %s/%s %s: %v", w.Owner, repo, path, err)
	}
}

// AppKey is a new App key pair.
func AppKey(t testing.TB) world.AppKey {
	t.Helper()
	k, err := world.NewAppKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// WaitFor fails the test when cond does not hold within limit; what says
// what was awaited.
func WaitFor(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	if err := world.WaitFor(limit, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}
