package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/hoisttest"
	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/safety"
	"github.com/hoist-dev/hoist/internal/safety/safetytest"
	"github.com/hoist-dev/hoist/internal/store"
)

// `hoist report` on a scripted history: the figures are exact.
func TestReportScriptedHistory(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, store.Options{SQLitePath: filepath.Join(data, "hoist.db"), Logger: zerolog.Nop(), AlsoMigrate: jobs.Migrate})
	if err != nil {
		t.Fatal(err)
	}
	rec := safety.NewRecorder(safety.Deps{Store: st})
	base := time.Now().UTC().Add(-10 * 24 * time.Hour).Truncate(time.Minute)
	m := func(n int) time.Time { return base.Add(time.Duration(n) * time.Minute) }
	r, e := "acme/site", "production"
	history := append(safetytest.History(r, e, base),
		safety.Outcome{Repo: "acme/docs", Env: "staging", Kind: safety.KindSmoke, OK: false, SHA: "b1", At: m(50)},
		// Outside the window: not counted.
		safety.Outcome{Repo: r, Env: e, Kind: safety.KindDeploy, OK: true, SHA: "old", At: base.Add(-40 * 24 * time.Hour)},
	)
	for _, o := range history {
		if err := rec.Record(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	key := hoisttest.AppKey(t)
	keyFile := filepath.Join(dir, "app.pem")
	if err := os.WriteFile(keyFile, key.PrivateKeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "hoist-server.yml")
	yml := fmt.Sprintf("public_url: http://127.0.0.1:1\ndata_dir: %s\nlogging: { level: warn }\ngithub:\n  app_id: 1\n  private_key_file: %s\n  webhook_secret: a-webhook-secret-of-32-bytes-xyz\n", data, keyFile)
	if err := os.WriteFile(cfg, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := reportMain(ctx, append([]string{"--config", cfg}, args...), &out, &errOut); code != 0 {
			t.Fatalf("hoist report %v: exit %d: %s", args, code, errOut.String())
		}
		return out.String()
	}

	text := run("--since", "30d")
	_, body, _ := strings.Cut(text, "\n")
	want := `
acme/docs staging
  deployments       0 (0.00 a day)
  lead time         none measured
  change failures   no changes
  time to restore   none measured
  outcomes          1 failed of 1

acme/site production
  deployments       4 (0.13 a day)
  lead time         median 1h (4 changes: 30m, 1h, 1h30m, 2h)
  change failures   2 of 4 changes (50%)
  time to restore   median 20m (2 incidents: 20m, 45m)
  outcomes          4 failed of 9
`
	if body != want {
		t.Errorf("hoist report:\n%s\nwant:\n%s", body, want)
	}

	var rep safety.Report
	if err := json.Unmarshal([]byte(run("--json", "--repo", "acme/site", "--since", "30d")), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Measures) != 1 {
		t.Fatalf("report: %+v", rep)
	}
	got := rep.Measures[0]
	if got.Deployments != 4 || got.ChangeFailureRate != 0.5 || got.LeadTimeMedianSeconds != 3600 ||
		fmt.Sprint(got.LeadTimeSeconds) != "[1800 3600 5400 7200]" || fmt.Sprint(got.RestoreSeconds) != "[1200 2700]" {
		t.Errorf("JSON report: %+v", got)
	}

	var errOut bytes.Buffer
	if code := reportMain(ctx, []string{"--config", cfg, "--since", "30m"}, &bytes.Buffer{}, &errOut); code != 2 {
		t.Errorf("--since 30m: exit %d (%s), want 2", code, errOut.String())
	}
}
