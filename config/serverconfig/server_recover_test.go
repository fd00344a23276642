package serverconfig

import (
	"strings"
	"testing"
	"time"
)

func TestRecoverDeliveriesSettings(t *testing.T) {
	env := validEnv(t)
	cfg, err := LoadServer("", envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	if r := cfg.GitHub.RecoverDeliveries; r.Disabled || r.Every != 5*time.Minute || r.Window != 24*time.Hour || r.MaxPerRun != 100 {
		t.Errorf("defaults %+v", r)
	}
	path := writeYAML(t, "github:\n  recover_deliveries: { every: 2m, window: 72h, max_per_run: 10 }\n")
	if cfg, err = LoadServer(path, envOf(env)); err != nil {
		t.Fatal(err)
	}
	if r := cfg.GitHub.RecoverDeliveries; r.Every != 2*time.Minute || r.Window != 72*time.Hour || r.MaxPerRun != 10 {
		t.Errorf("settings %+v", r)
	}
	for _, tc := range []struct{ body, want string }{
		{"github:\n  recover_deliveries:\n    every: 10s\n", ":3: github.recover_deliveries.every: must be at least 1m"},
		{"github:\n  recover_deliveries:\n    window: 96h\n", ":3: github.recover_deliveries.window: must be between 1m and 72h0m0s (GitHub keeps 3 days"},
		{"github:\n  recover_deliveries:\n    every: 2h\n    window: 1h\n", ":4: github.recover_deliveries.window: must be at least every"},
		{"github:\n  recover_deliveries:\n    max_per_run: -3\n", ":3: github.recover_deliveries.max_per_run: must be between 1 and 1000"},
		{"github:\n  recover_deliveries:\n    evry: 5m\n", "field evry not found"},
	} {
		path := writeYAML(t, tc.body)
		if _, err := LoadServer(path, envOf(env)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.body, err, tc.want)
		}
	}
}
