package serverconfig_test

import (
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/config/serverconfig"
)

// On PostgreSQL (replicas may share it) hoist warns about state kept on
// one replica's disk; on SQLite it has nothing to say.
func TestReplicaWarnings(t *testing.T) {
	env := map[string]string{"HOIST_APP_ID": "1", "HOIST_PRIVATE_KEY": "k", "HOIST_WEBHOOK_SECRET": "a-webhook-secret-of-32-bytes-xyz", "HOIST_DATA_DIR": t.TempDir(),
		"HOIST_PUBLIC_URL": "https://hoist.example"}
	load := func(extra map[string]string) *serverconfig.Server {
		t.Helper()
		cfg, err := serverconfig.LoadServer("", func(k string) (string, bool) {
			if v, ok := extra[k]; ok {
				return v, true
			}
			v, ok := env[k]
			return v, ok
		})
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	if w := load(nil).ReplicaWarnings(); len(w) != 0 {
		t.Fatalf("SQLite: warnings %q", w)
	}
	// Screenshots go to the database by default: only the local target
	// is one replica's.
	cfg := load(map[string]string{"HOIST_DATABASE_URL": "postgres://h/db"})
	w := cfg.ReplicaWarnings()
	if len(w) != 1 || !strings.Contains(w[0], "deploy target local") || cfg.Smoke.ArtifactsDir != "" {
		t.Fatalf("PostgreSQL with the defaults: warnings %q, artifacts_dir %q", w, cfg.Smoke.ArtifactsDir)
	}
	w = load(map[string]string{"HOIST_DATABASE_URL": "postgres://h/db", "HOIST_ARTIFACTS_DIR": "/srv/shots"}).ReplicaWarnings()
	if len(w) != 2 || !strings.Contains(w[0], "/srv/shots") || !strings.Contains(w[0], "smoke.artifacts_target") {
		t.Fatalf("PostgreSQL with a folder for screenshots: warnings %q", w)
	}
}
