package serverconfig

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSmokeSectionDefaults(t *testing.T) {
	env := validEnv(t)
	env["HOIST_DATA_DIR"] = "/var/lib/hoist"
	cfg, err := LoadServer("", envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Smoke
	if s.Chromium != "" || s.ArtifactsDir != filepath.Join("/var/lib/hoist", "artifacts") || s.PreviewLinks || s.PreviewTTL != 30*time.Minute {
		t.Fatalf("defaults: %+v", s)
	}
}

func TestSmokeSectionFileAndEnvironment(t *testing.T) {
	env := validEnv(t)
	path := writeYAML(t, "smoke:\n  chromium: /opt/chrome\n  artifacts_dir: /srv/shots\n  preview_links: true\n  preview_ttl: 10m\n"+
		"preview_addr: :8081\npreview_url: https://preview.hoist.example.net\n"+
		"dashboard: { client_id: Iv1.x, client_secret: y, session_key: 0123456789abcdef0123456789abcdef }\n")
	cfg, err := LoadServer(path, envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.Smoke; s.Chromium != "/opt/chrome" || s.ArtifactsDir != "/srv/shots" || !s.PreviewLinks || s.PreviewTTL != 10*time.Minute {
		t.Fatalf("file: %+v", s)
	}
	env["HOIST_CHROMIUM"] = "/usr/lib/chromium/chromium-headless-shell"
	env["HOIST_ARTIFACTS_DIR"] = "/tmp/a"
	env["HOIST_PREVIEW_LINKS"] = "false"
	env["HOIST_PREVIEW_TTL"] = "45m"
	env["HOIST_PREVIEW_URL"] = ""
	env["HOIST_PREVIEW_ADDR"] = ""
	cfg, err = LoadServer(path, envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.Smoke; s.Chromium != env["HOIST_CHROMIUM"] || s.ArtifactsDir != "/tmp/a" || s.PreviewLinks || s.PreviewTTL != 45*time.Minute {
		t.Fatalf("environment: %+v", s)
	}
}

func TestSmokeFenceSettings(t *testing.T) {
	env := validEnv(t)
	path := writeYAML(t, "smoke:\n  allow_hosts: [fonts.example.com, \"*.cdn.example.net\"]\n  browser_user: \"1001:1001\"\n")
	cfg, err := LoadServer(path, envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.Smoke; strings.Join(s.AllowHosts, " ") != "fonts.example.com *.cdn.example.net" || s.BrowserUser != "1001:1001" {
		t.Fatalf("file: %+v", s)
	}
	env["HOIST_SMOKE_ALLOW_HOSTS"] = " static.example.org , cdn.example.com:8443,"
	env["HOIST_SMOKE_BROWSER_USER"] = "chromium"
	if cfg, err = LoadServer(path, envOf(env)); err != nil {
		t.Fatal(err)
	}
	if s := cfg.Smoke; strings.Join(s.AllowHosts, " ") != "static.example.org cdn.example.com:8443" || s.BrowserUser != "chromium" {
		t.Fatalf("environment: %+v", s)
	}
}

// smoke.verify_private_hosts names the live sites post-deploy checks may
// browse on private addresses, from the file or the environment, exactly:
// no wildcard, never a metadata address.
func TestSmokeVerifyPrivateHosts(t *testing.T) {
	env := validEnv(t)
	path := writeYAML(t, "smoke:\n  verify_private_hosts: [edge.internal, \"127.0.0.1:6081\", varnish, \"[::1]:8080\", localhost:6081]\n")
	cfg, err := LoadServer(path, envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Smoke.VerifyPrivateHosts, " "); got != "edge.internal 127.0.0.1:6081 varnish [::1]:8080 localhost:6081" {
		t.Fatalf("file: %q", got)
	}
	env["HOIST_SMOKE_VERIFY_PRIVATE_HOSTS"] = " 10.0.0.7:8080 ,edge.internal,"
	if cfg, err = LoadServer(path, envOf(env)); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Smoke.VerifyPrivateHosts, " "); got != "10.0.0.7:8080 edge.internal" {
		t.Fatalf("environment: %q", got)
	}
	if cfg, err = loadServerWith(t, "", nil); err != nil || len(cfg.Smoke.VerifyPrivateHosts) != 0 {
		t.Fatalf("default: %v %v", cfg.Smoke.VerifyPrivateHosts, err)
	}
	for _, c := range []struct {
		env  map[string]string
		yaml string
		want string
	}{
		{yaml: "smoke:\n  verify_private_hosts: [edge.internal, \"*.internal\"]\n",
			want: `:2: smoke.verify_private_hosts (HOIST_SMOKE_VERIFY_PRIVATE_HOSTS): entry 2: "*.internal": wildcards are not accepted here`},
		{yaml: "smoke:\n  verify_private_hosts: [169.254.169.254]\n",
			want: `entry 1: "169.254.169.254": cloud metadata address 169.254.169.254 cannot be allowed`},
		{env: map[string]string{"HOIST_SMOKE_VERIFY_PRIVATE_HOSTS": "[fd00:ec2::254]:80"},
			want: `environment: smoke.verify_private_hosts (HOIST_SMOKE_VERIFY_PRIVATE_HOSTS): entry 1: "[fd00:ec2::254]:80": cloud metadata address`},
		{env: map[string]string{"HOIST_SMOKE_VERIFY_PRIVATE_HOSTS": "0.0.0.0:80"}, want: `unspecified address 0.0.0.0 cannot be allowed`},
		{env: map[string]string{"HOIST_SMOKE_VERIFY_PRIVATE_HOSTS": "http://edge.internal/"}, want: `not a URL`},
		{env: map[string]string{"HOIST_SMOKE_VERIFY_PRIVATE_HOSTS": "edge.internal:0"}, want: `port "0" is not a number from 1 to 65535`},
	} {
		_, err := loadServerWith(t, c.yaml, c.env)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %q: error %v, want %q", c.env, c.yaml, err, c.want)
		}
	}
}

func TestSmokeSectionErrors(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		yaml string
		want string
	}{
		{env: map[string]string{"HOIST_PREVIEW_LINKS": "yes please"}, want: `environment: smoke.preview_links (HOIST_PREVIEW_LINKS): "yes please" is not true or false`},
		{env: map[string]string{"HOIST_PREVIEW_TTL": "soon"}, want: `smoke.preview_ttl (HOIST_PREVIEW_TTL): "soon" is not a duration`},
		{env: map[string]string{"HOIST_PREVIEW_TTL": "200h"}, want: `environment: smoke.preview_ttl (HOIST_PREVIEW_TTL): must be between 1s and 168h`},
		{yaml: "smoke:\n  preview_ttl: 10ms\n", want: `:2: smoke.preview_ttl (HOIST_PREVIEW_TTL): must be between 1s and 168h`},
		{yaml: "smoke:\n  chromum: /x\n", want: "field chromum not found"},
		{yaml: "smoke:\n  allow_hosts: [fonts.example.com, 169.254.169.254]\n",
			want: `:2: smoke.allow_hosts (HOIST_SMOKE_ALLOW_HOSTS): entry 2: "169.254.169.254": cloud metadata address 169.254.169.254 cannot be allowed`},
		{env: map[string]string{"HOIST_SMOKE_ALLOW_HOSTS": "localhost"}, want: `environment: smoke.allow_hosts (HOIST_SMOKE_ALLOW_HOSTS): entry 1: "localhost": localhost is this machine`},
		{yaml: "smoke:\n  allow_hosts: [\"https://fonts.example.com/\"]\n", want: `not a URL`},
	} {
		_, err := loadServerWith(t, c.yaml, c.env)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %q: error %v, want %q", c.env, c.yaml, err, c.want)
		}
	}
}

const assetsTarget = "targets:\n  assets: { type: s3, bucket: shots, endpoint: \"http://127.0.0.1:7070\", path_style: true, repos: [] }\n  www: { type: local, dir: /srv/www, repos: [\"*\"] }\n"

func TestSmokeArtifactsTarget(t *testing.T) {
	env := validEnv(t)
	path := writeYAML(t, assetsTarget+"smoke:\n  artifacts_target: assets\n")
	cfg, err := LoadServer(path, envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.Smoke; s.ArtifactsTarget != "assets" || s.ArtifactsPrefix != DefaultArtifactsPrefix || s.ArtifactsDir != "" {
		t.Fatalf("target, default prefix: %+v", s)
	}
	// A prefix without its slash gets one.
	path = writeYAML(t, assetsTarget+"smoke:\n  artifacts_target: assets\n  artifacts_prefix: hoist/shots\n")
	if cfg, err = LoadServer(path, envOf(env)); err != nil || cfg.Smoke.ArtifactsPrefix != "hoist/shots/" {
		t.Fatalf("prefix: %+v %v", cfg, err)
	}
	// The environment alone can choose the bucket.
	env["HOIST_ARTIFACTS_TARGET"] = "assets"
	env["HOIST_ARTIFACTS_PREFIX"] = "a/"
	path = writeYAML(t, assetsTarget)
	if cfg, err = LoadServer(path, envOf(env)); err != nil || cfg.Smoke.ArtifactsTarget != "assets" || cfg.Smoke.ArtifactsPrefix != "a/" || cfg.Smoke.ArtifactsDir != "" {
		t.Fatalf("environment: %+v %v", cfg.Smoke, err)
	}
}

func TestSmokeArtifactsErrors(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		yaml string
		want string
	}{
		{yaml: "smoke:\n  artifacts_target: assets\n",
			want: `:2: smoke.artifacts_target (HOIST_ARTIFACTS_TARGET): no deploy target named "assets" in the server config (have: local)`},
		{yaml: assetsTarget + "smoke:\n  artifacts_target: nope\n",
			want: `:5: smoke.artifacts_target (HOIST_ARTIFACTS_TARGET): no deploy target named "nope" in the server config (have: assets, local, www)`},
		{yaml: assetsTarget + "smoke:\n  artifacts_target: www\n",
			want: `:5: smoke.artifacts_target (HOIST_ARTIFACTS_TARGET): target "www" is of type local, not s3 (for a folder set smoke.artifacts_dir)`},
		{yaml: assetsTarget + "smoke:\n  artifacts_dir: /srv/shots\n  artifacts_target: assets\n",
			want: `:6: smoke.artifacts_target (HOIST_ARTIFACTS_TARGET): set either smoke.artifacts_dir (a folder) or smoke.artifacts_target (an s3 target), not both`},
		{yaml: assetsTarget + "smoke:\n  artifacts_target: assets\n", env: map[string]string{"HOIST_ARTIFACTS_DIR": "/tmp/a"},
			want: `smoke.artifacts_target (HOIST_ARTIFACTS_TARGET): set either smoke.artifacts_dir`},
		{yaml: "smoke:\n  artifacts_prefix: shots/\n",
			want: `:2: smoke.artifacts_prefix (HOIST_ARTIFACTS_PREFIX): needs smoke.artifacts_target`},
		{yaml: assetsTarget + "smoke:\n  artifacts_target: assets\n  artifacts_prefix: /shots/\n",
			want: `:6: smoke.artifacts_prefix (HOIST_ARTIFACTS_PREFIX): "/shots/" is not a key prefix`},
		{yaml: assetsTarget + "smoke:\n  artifacts_target: assets\n  artifacts_prefix: a//b/\n",
			want: `smoke.artifacts_prefix (HOIST_ARTIFACTS_PREFIX): "a//b/" is not a key prefix`},
		{yaml: assetsTarget + "smoke:\n  artifacts_target: assets\n", env: map[string]string{"HOIST_ARTIFACTS_PREFIX": "../up"},
			want: `environment: smoke.artifacts_prefix (HOIST_ARTIFACTS_PREFIX): "../up" is not a key prefix`},
		{env: map[string]string{"HOIST_ARTIFACTS_TARGET": "gone"},
			want: `environment: smoke.artifacts_target (HOIST_ARTIFACTS_TARGET): no deploy target named "gone" in the server config`},
	} {
		_, err := loadServerWith(t, c.yaml, c.env)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %q: error %v, want %q", c.env, c.yaml, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("error of more than one line: %q", err)
		}
	}
}
