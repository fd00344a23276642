package serverconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestAlertsSection(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "hoist.yml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	env := validEnv(t)
	env["HOIST_ALERT_HOOK"] = "https://hooks.slack.example/services/T0/B0/SECRETTOKEN"
	cfg, err := LoadServer(write("alerts:\n  webhook_url: ${HOIST_ALERT_HOOK}\n  metrics_repos: [acme/site]\n"), envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Alerts.WebhookURL != env["HOIST_ALERT_HOOK"] || cfg.Alerts.Pace != 10*time.Minute || len(cfg.Alerts.MetricsRepos) != 1 {
		t.Errorf("alerts: %+v", cfg.Alerts.MetricsRepos)
	}
	out, err := yaml.Marshal(cfg.Alerts)
	if err != nil || strings.Contains(string(out), "SECRETTOKEN") || strings.Contains(cfg.Alerts.String(), "SECRETTOKEN") {
		t.Errorf("the webhook URL leaks: %s %s %v", out, cfg.Alerts.String(), err)
	}

	for body, want := range map[string]string{
		"alerts:\n  webhook_url: ftp://x/SECRETTOKEN\n": "hoist.yml:2",
		"alerts:\n  pace: 1ms\n":                        "must be between 1s and 24h",
		"alerts:\n  metrics_repos: [site]\n":            `"site" is not a repository's owner/name`,
	} {
		_, err := LoadServer(write(body), envOf(validEnv(t)))
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "SECRETTOKEN") {
			t.Errorf("%q: %v, want %s", body, err, want)
		}
	}
}
