package serverconfig

import (
	"strings"
	"testing"
	"time"
)

func TestRetentionDefaults(t *testing.T) {
	cfg, err := LoadServer("", envOf(validEnv(t)))
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Retention
	if r.Interval != time.Hour || r.Deliveries.MaxAge != 720*time.Hour || r.Deliveries.MaxRows != 200_000 ||
		r.Audit.MaxAge != 8760*time.Hour || r.Artifacts.MaxAge != 2160*time.Hour || r.Mirrors.MaxAge != 720*time.Hour {
		t.Errorf("defaults %+v", r)
	}
}

func TestRetentionSettings(t *testing.T) {
	env := validEnv(t)
	path := writeYAML(t, "retention:\n  interval: 10m\n  audit: { max_age: -1s }\n  smoke_runs: { max_rows: 50 }\n")
	cfg, err := LoadServer(path, envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	if r := cfg.Retention; r.Interval != 10*time.Minute || r.Audit.MaxAge != 0 || r.SmokeRuns.MaxRows != 50 || r.SmokeRuns.MaxAge != 2160*time.Hour {
		t.Errorf("settings %+v", r)
	}
	for _, tc := range []struct{ body, want string }{
		{"retention:\n  deliveries:\n    max_age: 24h\n", ":3: retention.deliveries.max_age: must be at least 72h0m0s (GitHub redelivers for 3 days"},
		{"retention:\n  interval: 1s\n", ":2: retention.interval: must be at least 1m"},
		{"retention:\n  artifacts:\n    max_age: 1h\n", ":3: retention.artifacts.max_age: must be at least 48h"},
		{"retention:\n  mirrors:\n    max_rows: 3\n", ":3: retention.mirrors.max_rows: does not apply"},
		{"retention:\n  audit:\n    max_age: forever\n", ":3: cannot unmarshal"},
	} {
		path := writeYAML(t, tc.body)
		if _, err := LoadServer(path, envOf(env)); err == nil || !strings.Contains(err.Error(), path+tc.want) {
			t.Errorf("%q: %v, want %q", tc.body, err, path+tc.want)
		}
	}
}
