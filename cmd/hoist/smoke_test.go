package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
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

// A site tested from the command line reaches nothing but itself: a frame
// on another loopback listener is refused, the listener sees nothing, and
// the refusal fails the run; a private address cannot be allowed.
func TestSmokeFenceFromTheCommandLine(t *testing.T) {
	chromium := testenv.Chromium(t)
	var hits atomic.Int32
	inside := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer inside.Close()
	dir := t.TempDir()
	page := `<!doctype html><title>Home</title><h1>Home</h1><iframe src="` + inside.URL + `/admin"></iframe>`
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if code := runSmoke(context.Background(), []string{"--dir", dir, "--out", out, "--quiet", "--chromium", chromium}); code != 1 {
		t.Fatalf("exit %d, want 1 (a refused request fails)", code)
	}
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"kind": "blocked_request"`) || !strings.Contains(string(b), inside.URL+"/admin") {
		t.Errorf("report has no blocked_request for %s/admin:\n%s", inside.URL, b)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the listener was reached %d times", n)
	}
	if code := runSmoke(context.Background(), []string{"--dir", dir, "--out", out, "--quiet", "--chromium", chromium, "--allow-host", "169.254.169.254"}); code != 2 {
		t.Errorf("--allow-host 169.254.169.254: exit %d, want 2", code)
	}
}
