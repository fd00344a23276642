package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/server"
)

// Two hoist serve processes on one SQLite file: the second exits at once,
// saying that SQLite serves one replica and to use PostgreSQL.
func TestASecondServeOnOneSQLiteFileIsRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes")
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "app.pem")
	must(t, os.WriteFile(keyFile, testKeyPEM, 0o600))
	env := []string{
		"HOIST_ADDR=127.0.0.1:0", "HOIST_PUBLIC_URL=http://127.0.0.1", "HOIST_DATA_DIR=" + filepath.Join(dir, "data"),
		"HOIST_APP_ID=1", "HOIST_PRIVATE_KEY_FILE=" + keyFile, "HOIST_WEBHOOK_SECRET=" + testSecret,
		"HOIST_GITHUB_URL=http://127.0.0.1:1/", "HOIST_LOG_LEVEL=warn", "HOIST_DATABASE_URL=",
	}
	first := startChild(t, env)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), env...), "HOIST_TEST_CHILD=crash")
	out, err := cmd.CombinedOutput()
	if err == nil || ctx.Err() != nil {
		t.Fatalf("the second serve did not exit with an error (%v):\n%s", err, out)
	}
	t.Logf("second serve: %v: %s", err, strings.TrimSpace(string(out)))
	for _, part := range []string{"SQLite serves one replica", "PostgreSQL"} {
		if !strings.Contains(string(out), part) {
			t.Errorf("the second serve does not say %q:\n%s", part, out)
		}
	}
	// The first one still serves.
	res, err := http.Get(first.url + "/readyz")
	must(t, err)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("the first serve's /readyz answered %d after the refusal", res.StatusCode)
	}
}

func readyz(t *testing.T, url string) (int, map[string]string) {
	t.Helper()
	res, err := http.Get(url + "/readyz")
	must(t, err)
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var checks map[string]string
	if err := json.Unmarshal(body, &checks); err != nil {
		t.Fatalf("/readyz answered %d %s", res.StatusCode, body)
	}
	return res.StatusCode, checks
}

// /readyz says not ready while the replica cannot take work: its job
// engine stopped, or its store unreachable.
func TestReadyzSaysNotReadyWhenTheReplicaCannotWork(t *testing.T) {
	r := startServer(t, testConfig(t, nil), server.Options{})
	if code, checks := readyz(t, r.URL); code != http.StatusOK {
		t.Fatalf("/readyz of a running server: %d %v", code, checks)
	}
	must(t, r.Engine().Stop(context.Background(), 5*time.Second))
	code, checks := readyz(t, r.URL)
	if code != http.StatusServiceUnavailable || checks["workers"] != "not running" || checks["store"] != "ok" {
		t.Fatalf("/readyz with the job engine stopped: %d %v, want 503 with workers not running", code, checks)
	}
	r.Store().Close()
	code, checks = readyz(t, r.URL)
	if code != http.StatusServiceUnavailable || checks["store"] == "ok" {
		t.Fatalf("/readyz with the store closed: %d %v, want 503 with the store failing", code, checks)
	}
	t.Logf("not ready: %v", checks)
}
