package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadRepoConfig: any input gives either a config or a list of errors
// that each carry a place; it never panics.
func FuzzLoadRepoConfig(f *testing.F) {
	files, _ := filepath.Glob("testdata/errors/*.yml")
	files = append(files, "../.github/hoist.yml")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("version: 1\nx-a: &a {branch: b}\nenvironments: {dev: {<<: [*a, *a]}}\n"))
	f.Add([]byte("version: 1\nenvironments: {a: {promote_from: b}, b: {promote_from: a}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := LoadRepoConfig("f.yml", data)
		if err == nil {
			if cfg == nil {
				t.Fatal("no config and no error")
			}
			_ = cfg.Summary()
			return
		}
		var list RepoConfigErrors
		if !errors.As(err, &list) || len(list) == 0 {
			t.Fatalf("error %T %v is not a RepoConfigErrors", err, err)
		}
		for _, e := range list {
			if e.Line < 1 || e.Column < 1 || e.File != "f.yml" {
				t.Fatalf("error without a place: %#v", e)
			}
		}
	})
}
