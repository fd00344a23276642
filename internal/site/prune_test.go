package site

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Mirrors nobody used for longer than the retention are deleted (their
// user told first); a mirror used since stays.
func TestPruneMirrors(t *testing.T) {
	data := t.TempDir()
	old := time.Now().Add(-40 * 24 * time.Hour)
	for _, name := range []string{"stale", "used", "fresh"} {
		m, err := OpenMirror(data, "acme", name)
		if err != nil {
			t.Fatal(err)
		}
		m.Touch()
		if name != "fresh" {
			for _, f := range []string{usedFile, "HEAD"} {
				if err := os.Chtimes(filepath.Join(m.Dir(), f), old, old); err != nil {
					t.Fatal(err)
				}
			}
		}
		if name == "used" {
			(&Mirror{dir: m.Dir()}).Touch() // a job used it again
		}
	}
	var forgotten []string
	n, err := PruneMirrors(context.Background(), data, time.Now().Add(-30*24*time.Hour), func(owner, repo string) {
		forgotten = append(forgotten, owner+"/"+repo)
	})
	if err != nil || n != 1 {
		t.Fatalf("PruneMirrors: %d, %v; want 1", n, err)
	}
	if len(forgotten) != 1 || forgotten[0] != "acme/stale" {
		t.Errorf("forgot %v, want acme/stale", forgotten)
	}
	for name, want := range map[string]bool{"stale": false, "used": true, "fresh": true} {
		_, err := os.Stat(filepath.Join(data, "mirrors", "acme", name+".git", "HEAD"))
		if got := err == nil; got != want {
			t.Errorf("mirror %s kept=%v, want %v", name, got, want)
		}
	}
}
