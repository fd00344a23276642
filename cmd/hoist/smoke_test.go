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

	"github.com/hoist-dev/hoist/internal/smoke"
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

// runSmokeStderr runs hoist smoke and returns its exit status and what it
// wrote on stderr.
func runSmokeStderr(t *testing.T, args ...string) (int, string) {
	t.Helper()
	return withStderr(t, func() int { return runSmoke(context.Background(), args) })
}

// withStderr runs a command's run function with stderr going to a file,
// and returns its exit status and what it wrote there.
func withStderr(t *testing.T, run func() int) (int, string) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	saved := os.Stderr
	os.Stderr = f
	code := run()
	os.Stderr = saved
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return code, string(b)
}

// --config reads the file with the repository config's own loader: a
// mistake in smoke: and one outside it are both refused before Chromium
// starts, each with file:line:column and a suggestion, as the server and
// `hoist config validate` report them.
func TestSmokeConfigMistakesSayWhere(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("<!doctype html><title>Home</title>"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "hoist.yml")
	for _, c := range []struct {
		name, file string
		want       []string
	}{
		{"in smoke", "version: 1\nsmoke:\n  pages:\n    - path: /\n      expect_txt: Home\n",
			[]string{cfgPath + `:5:7: unknown key "expect_txt" in smoke.pages[0]; did you mean expect_text?`}},
		{"outside smoke", "version: 1\nenvironments:\n  staging:\n    branch: staging\n    promte_from: main\nsmoke:\n  pages: [ { path: / } ]\n",
			[]string{cfgPath + `:5:5: unknown key "promte_from" in environments.staging; did you mean promote_from?`}},
		{"both, one line each", "version: 1\nsit: { root: public }\nsmoke:\n  viewport: [ { name: phone, width: 390, height: 844 } ]\n",
			[]string{cfgPath + `:2:1: unknown key "sit"`, "did you mean site?", cfgPath + `:4:3: unknown key "viewport" in smoke; did you mean viewports?`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := os.WriteFile(cfgPath, []byte(c.file), 0o644); err != nil {
				t.Fatal(err)
			}
			// No --chromium: a run that got past the config would fail
			// another way, not with exit 2 and these lines.
			code, stderr := runSmokeStderr(t, "--dir", dir, "--out", t.TempDir(), "--quiet", "--config", cfgPath)
			if code != 2 {
				t.Errorf("exit %d, want 2 (bad configuration); stderr:\n%s", code, stderr)
			}
			for _, want := range c.want {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
				if !strings.HasPrefix(line, "hoist smoke: "+cfgPath+":") {
					t.Errorf("line %q does not start with hoist smoke: %s:", line, cfgPath)
				}
			}
		})
	}

	// A valid file is read: its smoke section's pages are the run's.
	if err := os.WriteFile(cfgPath, []byte("version: 1\nsmoke:\n  pages: [ { path: /a/ }, { path: /b/, expect_text: B } ]\n  crawl: { max_pages: 3 }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var opts smoke.Options
	if err := applySmokeConfig(cfgPath, &opts); err != nil {
		t.Fatal(err)
	}
	if len(opts.Pages) != 2 || opts.Pages[1] != (smoke.Page{Path: "/b/", ExpectText: "B"}) || opts.Crawl.MaxPages != 3 {
		t.Errorf("options from the file: %+v", opts)
	}
	// Flags win over the file.
	opts = smoke.Options{Pages: []smoke.Page{{Path: "/only/"}}}
	if err := applySmokeConfig(cfgPath, &opts); err != nil {
		t.Fatal(err)
	}
	if len(opts.Pages) != 1 || opts.Pages[0].Path != "/only/" {
		t.Errorf("--page overridden by the file: %+v", opts.Pages)
	}
}

// Progress in a captured log is a line per step, without the \r a
// terminal needs, and counts one page as a page.
func TestSmokeProgressLines(t *testing.T) {
	var log strings.Builder
	p := smokeProgress(&log, false)
	p(0, 1)
	p(1, 1)
	if got, want := log.String(), "smoke: 0/1 page\nsmoke: 1/1 page\n"; got != want {
		t.Errorf("not a terminal: %q, want %q", got, want)
	}
	var term strings.Builder
	p = smokeProgress(&term, true)
	p(1, 2)
	p(2, 2)
	if got, want := term.String(), "\rsmoke: 1/2 pages\rsmoke: 2/2 pages"; got != want {
		t.Errorf("terminal: %q, want %q", got, want)
	}
	f, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Error("a file counts as a terminal")
	}
}
