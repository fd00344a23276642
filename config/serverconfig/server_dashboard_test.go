package serverconfig

import (
	"strings"
	"testing"
	"time"
)

func TestDashboardSectionOffByDefault(t *testing.T) {
	cfg, err := LoadServer("", envOf(validEnv(t)))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Dashboard.Enabled() || cfg.MetricsAddr != "" || cfg.PreviewURL != "" || cfg.Smoke.PreviewLinks {
		t.Fatalf("defaults: dashboard %v, metrics %q, preview %q", cfg.Dashboard, cfg.MetricsAddr, cfg.PreviewURL)
	}
	if cfg.Smoke.ArtifactTTL != 30*24*time.Hour || cfg.Dashboard.AccessTTL != time.Minute || cfg.Dashboard.SessionTTL != 8*time.Hour {
		t.Fatalf("TTLs: %s %s %s", cfg.Smoke.ArtifactTTL, cfg.Dashboard.AccessTTL, cfg.Dashboard.SessionTTL)
	}
	if got := cfg.GitHubWebURL(); got != "https://github.com" {
		t.Errorf("web URL of api.github.com: %q", got)
	}
}

func TestDashboardSectionFromFileAndEnvironment(t *testing.T) {
	env := validEnv(t)
	env["CLIENT_SECRET"] = "the-client-secret"
	env["SESSION_KEY"] = strings.Repeat("k", 40)
	env["HOIST_METRICS_ADDR"] = "127.0.0.1:9090"
	env["HOIST_PREVIEW_URL"] = "https://preview.hoist.example.net/"
	env["HOIST_GITHUB_URL"] = "https://ghe.example.com/api/v3/"
	path := writeYAML(t, "dashboard:\n  client_id: Iv1.abc\n  client_secret: ${CLIENT_SECRET}\n  session_key: ${SESSION_KEY}\n  access_ttl: 30s\npreview_addr: :8081\n")
	cfg, err := LoadServer(path, envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.Dashboard
	if !d.Enabled() || d.ClientSecret != "the-client-secret" || d.SessionKey != env["SESSION_KEY"] || d.AccessTTL != 30*time.Second {
		t.Fatalf("dashboard %+v", d)
	}
	if cfg.MetricsAddr != "127.0.0.1:9090" || cfg.PreviewAddr != ":8081" || cfg.PreviewURL != "https://preview.hoist.example.net" || !cfg.Smoke.PreviewLinks {
		t.Fatalf("listeners: %q %q %q %v", cfg.MetricsAddr, cfg.PreviewAddr, cfg.PreviewURL, cfg.Smoke.PreviewLinks)
	}
	if got := cfg.GitHubWebURL(); got != "https://ghe.example.com" {
		t.Errorf("web URL of GitHub Enterprise Server: %q", got)
	}
	if s := d.String(); strings.Contains(s, "the-client-secret") || strings.Contains(s, env["SESSION_KEY"]) {
		t.Errorf("String shows a secret: %s", s)
	}
}

func TestDashboardSectionErrors(t *testing.T) {
	const dash = "dashboard: { client_id: Iv1.x, client_secret: y, session_key: 0123456789abcdef0123456789abcdef }\n"
	for _, c := range []struct {
		env  map[string]string
		yaml string
		want string
	}{
		{yaml: "dashboard:\n  client_id: Iv1.x\n", want: ":1: dashboard.client_secret: is required"},
		{yaml: "dashboard:\n  client_id: Iv1.x\n  client_secret: y\n", want: ":1: dashboard.session_key: is 0 bytes"},
		{yaml: "dashboard:\n  client_secret: y\n  session_key: 0123456789abcdef0123456789abcdef\n", want: "dashboard.client_id: is required"},
		{yaml: "dashboard:\n  client_id: Iv1.x\n  client_secret: y\n  session_key: short\n", want: ":4: dashboard.session_key: is 5 bytes; use at least 32"},
		{yaml: "dashboard:\n  client_id: Iv1.x\n  client_secret: ${NOPE}\n", want: "dashboard.client_secret: refers to the environment variable NOPE, which is not set"},
		{env: map[string]string{"HOIST_METRICS_ADDR": "nine"}, want: `environment: metrics_addr (HOIST_METRICS_ADDR): "nine" is not a listen address`},
		{yaml: "smoke:\n  preview_links: true\n", want: "smoke.preview_links (HOIST_PREVIEW_LINKS): needs preview_addr and preview_url"},
		{env: map[string]string{"HOIST_PREVIEW_URL": "https://p.example.net"}, want: "preview_url (HOIST_PREVIEW_URL): needs preview_addr"},
		{env: map[string]string{"HOIST_PREVIEW_ADDR": ":8081"}, want: "preview_addr (HOIST_PREVIEW_ADDR): needs preview_url"},
		{yaml: dash, env: map[string]string{"HOIST_PREVIEW_ADDR": ":8081", "HOIST_PREVIEW_URL": "https://hoist.example.com:8443"},
			want: "has the host of public_url; use a host of its own"},
		{env: map[string]string{"HOIST_PREVIEW_ADDR": ":8081", "HOIST_PREVIEW_URL": "https://p.example.net"},
			want: "preview_url (HOIST_PREVIEW_URL): needs the dashboard section"},
		{env: map[string]string{"HOIST_ARTIFACT_TTL": "10m"}, want: "smoke.artifact_ttl (HOIST_ARTIFACT_TTL): must be between 1h and 9600h"},
	} {
		_, err := loadServerWith(t, c.yaml, c.env)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q %v: got %v, want %q", c.yaml, c.env, err, c.want)
		}
		if err != nil && (strings.Contains(err.Error(), "0123456789abcdef") || strings.Contains(err.Error(), "short")) {
			t.Errorf("the error shows a secret: %v", err)
		}
	}
}
