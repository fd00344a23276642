package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/hoist-dev/hoist/internal/testenv"
)

// By default the tabs of hoist smoke share one renderer;
// --renderer-per-tab gives each its own.
func TestSmokeRendererPerTabFlag(t *testing.T) {
	chromium := testenv.Chromium(t)
	dir := t.TempDir()
	for name, body := range map[string]string{
		"index.html": "<!doctype html><title>Home</title><h1>Home</h1>",
		"a.html":     "<!doctype html><title>A</title><h1>A</h1>",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, perTab := range []bool{false, true} {
		out := t.TempDir()
		args := []string{"--dir", dir, "--out", out, "--quiet", "--chromium", chromium, "--concurrency", "2", "--page", "/", "--page", "/a.html"}
		if perTab {
			args = append(args, "--renderer-per-tab")
		}
		if code := runSmoke(context.Background(), args); code != 0 {
			t.Fatalf("renderer per tab %v: exit %d", perTab, code)
		}
		b, err := os.ReadFile(filepath.Join(out, "report.json"))
		if err != nil {
			t.Fatal(err)
		}
		var rep struct {
			Stats struct {
				SharedRenderer bool `json:"shared_renderer"`
			} `json:"stats"`
		}
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Stats.SharedRenderer == perTab {
			t.Errorf("--renderer-per-tab %v: shared_renderer %v", perTab, rep.Stats.SharedRenderer)
		}
	}
}
