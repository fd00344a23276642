package config

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
	path := writeYAML(t, "smoke:\n  chromium: /opt/chrome\n  artifacts_dir: /srv/shots\n  preview_links: true\n  preview_ttl: 10m\n")
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
	cfg, err = LoadServer(path, envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.Smoke; s.Chromium != env["HOIST_CHROMIUM"] || s.ArtifactsDir != "/tmp/a" || s.PreviewLinks || s.PreviewTTL != 45*time.Minute {
		t.Fatalf("environment: %+v", s)
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
	} {
		env := validEnv(t)
		for k, v := range c.env {
			env[k] = v
		}
		path := ""
		if c.yaml != "" {
			path = writeYAML(t, c.yaml)
		}
		_, err := LoadServer(path, envOf(env))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %q: error %v, want %q", c.env, c.yaml, err, c.want)
		}
	}
}
