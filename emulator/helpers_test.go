package emulator_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/emulator/emulatortest"
	"github.com/hoist-dev/hoist/internal/hoisttest"
)

// served counts, per route, the responses the conformance observer saw
// across the whole package run; TestMain checks every route was exercised.
var (
	servedMu sync.Mutex
	served   = map[string]int{}
	routes   []emulator.RouteInfo
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if code == 0 && flag.Lookup("test.run").Value.String() == "" && !testing.Short() && routes != nil {
		var missing []string
		for _, r := range routes {
			if served[r.Method+" "+r.Path] == 0 {
				missing = append(missing, r.Method+" "+r.Path)
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "conformance: %d routes were never exercised by the tests:\n  %s\n", len(missing), strings.Join(missing, "\n  "))
			code = 1
		}
	}
	os.Exit(code)
}

// hookReceiver is a webhook endpoint that checks signatures and keeps
// what arrives.
type hookReceiver struct {
	t      testing.TB
	secret string
	mu     sync.Mutex
	got    []receivedHook
	status int // answer; 0 means 200
	srv    *httptest.Server
}

type receivedHook struct {
	Event, Delivery string
	Header          http.Header
	Payload         map[string]any
}

func newReceiver(t testing.TB) *hookReceiver {
	r := &hookReceiver{t: t}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			// The sender gave up mid-body (the emulator stopping at the end
			// of a test cancels deliveries in flight): nothing arrived.
			return
		}
		m := hmac.New(sha256.New, []byte(r.secret))
		m.Write(body)
		if want := "sha256=" + hex.EncodeToString(m.Sum(nil)); !hmac.Equal([]byte(want), []byte(req.Header.Get("X-Hub-Signature-256"))) {
			t.Errorf("webhook %s: bad signature %q", req.Header.Get("X-GitHub-Event"), req.Header.Get("X-Hub-Signature-256"))
		}
		if ua := req.Header.Get("User-Agent"); !strings.HasPrefix(ua, "GitHub-Hookshot/") {
			t.Errorf("webhook user agent %q", ua)
		}
		var p map[string]any
		if err := json.Unmarshal(body, &p); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		r.mu.Lock()
		r.got = append(r.got, receivedHook{req.Header.Get("X-GitHub-Event"), req.Header.Get("X-GitHub-Delivery"), req.Header.Clone(), p})
		status := r.status
		r.mu.Unlock()
		if status != 0 {
			w.WriteHeader(status)
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) hooks() []receivedHook {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]receivedHook(nil), r.got...)
}

// env is one emulator with the conformance observers, a webhook receiver
// and an app installed on acme/site owned by alice.
type env struct {
	t     *testing.T
	gh    *emulatortest.Harness
	hooks *hookReceiver
	app   *emulatortest.TestApp
	alice string
	inst  int64
}

// startConformant starts an emulator whose every REST response and webhook
// is validated against GitHub's OpenAPI description.
func startConformant(t *testing.T) *emulatortest.Harness {
	spec := emulatortest.Shared(t)
	var mu sync.Mutex
	var errs []string
	gh := emulatortest.Start(t, emulator.Options{
		ObserveResponse: func(method, specPath string, status int, header http.Header, body []byte) {
			servedMu.Lock()
			if status < 500 {
				served[method+" "+specPath]++
			}
			servedMu.Unlock()
			if err := spec.CheckResponse(method, specPath, status, header, body); err != nil && !undocumentedErrorBody(status, body, err) {
				mu.Lock()
				errs = append(errs, fmt.Sprintf("%s %s -> %d: %v\n%s", method, specPath, status, err, truncate(body)))
				mu.Unlock()
			}
		},
		ObserveWebhook: func(event, action string, payload []byte) {
			if event == "repository_dispatch" {
				action = "sample.collected" // GitHub documents one sample action
			}
			if err := spec.CheckWebhook(event, action, payload); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Sprintf("webhook %s.%s: %v", event, action, err))
				mu.Unlock()
			}
		},
	})
	if routes == nil {
		routes = gh.Routes()
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range errs {
			t.Errorf("conformance: %s", e)
		}
	})
	return gh
}

func truncate(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}

func newEnv(t *testing.T) *env {
	gh := startConformant(t)
	rec := newReceiver(t)
	e := &env{t: t, gh: gh, hooks: rec}
	e.alice = gh.CreateUser("alice")
	e.app = gh.CreateApp("hoist", rec.srv.URL+"/api/github/hook")
	rec.secret = e.app.WebhookSecret
	gh.CreateRepo("acme", "site", e.alice)
	e.inst = gh.Install(e.app.ID, "acme/site")
	return e
}

// do calls the REST API and returns status, headers and body.
func (e *env) do(token, method, path string, body any) (int, http.Header, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.gh.URL()+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "token "+token)
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// json calls the API, expects status and decodes the body into a map/slice.
func (e *env) json(token, method, path string, body any, want int) any {
	e.t.Helper()
	status, _, b := e.do(token, method, path, body)
	if status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, b)
	}
	if len(b) == 0 {
		return nil
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	return v
}

// work is a git working copy cloned from the emulator.
type work struct {
	t   testing.TB
	dir string
}

func needGit(t testing.TB) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
}

func clone(t testing.TB, url string) *work {
	needGit(t)
	dir := t.TempDir()
	w := &work{t, dir}
	w.git("clone", "-q", url, ".")
	w.git("config", "user.name", "Alice")
	w.git("config", "user.email", "alice@example.com")
	return w
}

func (w *work) git(args ...string) string {
	w.t.Helper()
	out, err := w.tryGit(args...)
	if err != nil {
		w.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(out)
}

func (w *work) tryGit(args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = w.dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "HOME="+w.dir)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (w *work) write(path, content string) {
	w.t.Helper()
	p := filepath.Join(w.dir, path)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

// commit writes files and commits them, returning the new sha.
func (w *work) commit(msg string, files map[string]string) string {
	w.t.Helper()
	for p, c := range files {
		w.write(p, c)
	}
	w.git("add", "-A")
	w.git("commit", "-q", "-m", msg)
	return w.git("rev-parse", "HEAD")
}

func get(v any, path ...any) any {
	for _, k := range path {
		switch k := k.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

// undocumentedErrorBody accepts GitHub's error answers that its
// description leaves out: the statuses every endpoint may give (401 bad
// credentials, 403 too little permission, 404, 422 validation) are
// documented once for the whole API rather than per operation, and some
// (422 on DELETE git/refs) are listed without the body GitHub sends. The
// body must still be GitHub's error shape.
func undocumentedErrorBody(status int, body []byte, err error) bool {
	msg := err.Error()
	if status < 400 || status >= 500 || !strings.Contains(msg, "documented without a body") && !strings.Contains(msg, "status not documented") {
		return false
	}
	var e struct {
		Message string `json:"message"`
		Doc     string `json:"documentation_url"`
	}
	return json.Unmarshal(body, &e) == nil && e.Message != "" && e.Doc != ""
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func httptestServer(t testing.TB, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func jsonDecode(t testing.TB, resp *http.Response, v any) {
	t.Helper()
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func testPublicKey(t testing.TB) string {
	return hoisttest.AppKey(t).PublicKeyPEM
}
