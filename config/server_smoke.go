package config

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Smoke is the server's section for smoke tests: the browser, where
// screenshots are kept, and whether temporary preview links are handed out.
//
//	smoke:
//	  chromium: /usr/lib/chromium/chromium-headless-shell
//	  artifacts_dir: /var/lib/hoist/artifacts
//	  preview_links: true
//	  preview_ttl: 30m
type Smoke struct {
	// Chromium is the browser binary (HOIST_CHROMIUM); empty finds the
	// installed headless shell.
	Chromium string `yaml:"chromium"`
	// ArtifactsDir holds screenshots by SHA256 (HOIST_ARTIFACTS_DIR);
	// default <data_dir>/artifacts.
	ArtifactsDir string `yaml:"artifacts_dir"`
	// PreviewLinks turns on signed, expiring links to a commit's site
	// (HOIST_PREVIEW_LINKS). Off by default: the site under test is private.
	PreviewLinks bool `yaml:"preview_links"`
	// PreviewTTL is how long such a link works (HOIST_PREVIEW_TTL).
	PreviewTTL time.Duration `yaml:"preview_ttl"`
}

// DefaultPreviewTTL is smoke.preview_ttl when unset.
const DefaultPreviewTTL = 30 * time.Minute

func init() {
	registerServerSection("smoke", func(cfg *Server) {
		if cfg.Smoke.ArtifactsDir == "" {
			cfg.Smoke.ArtifactsDir = filepath.Join(cfg.DataDir, "artifacts")
		}
		if cfg.Smoke.PreviewTTL == 0 {
			cfg.Smoke.PreviewTTL = DefaultPreviewTTL
		}
	}, func(cfg *Server, src serverSources) error {
		if cfg.Smoke.PreviewTTL < time.Second || cfg.Smoke.PreviewTTL > 7*24*time.Hour {
			return src.errorf("smoke.preview_ttl", "HOIST_PREVIEW_TTL", "must be between 1s and 168h, got %s", cfg.Smoke.PreviewTTL)
		}
		return nil
	})
}

// applySmokeEnv reads the HOIST_* overrides of the smoke section.
func applySmokeEnv(cfg *Server, lookup func(string) (string, bool), seen map[string]bool) error {
	if v, ok := lookup("HOIST_CHROMIUM"); ok {
		seen["HOIST_CHROMIUM"] = true
		cfg.Smoke.Chromium = v
	}
	if v, ok := lookup("HOIST_ARTIFACTS_DIR"); ok {
		seen["HOIST_ARTIFACTS_DIR"] = true
		cfg.Smoke.ArtifactsDir = v
	}
	if v, ok := lookup("HOIST_PREVIEW_LINKS"); ok {
		seen["HOIST_PREVIEW_LINKS"] = true
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return &SettingError{Setting: "smoke.preview_links", Env: "HOIST_PREVIEW_LINKS", Source: "environment",
				Problem: fmt.Sprintf("%q is not true or false", v)}
		}
		cfg.Smoke.PreviewLinks = b
	}
	if v, ok := lookup("HOIST_PREVIEW_TTL"); ok {
		seen["HOIST_PREVIEW_TTL"] = true
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return &SettingError{Setting: "smoke.preview_ttl", Env: "HOIST_PREVIEW_TTL", Source: "environment",
				Problem: fmt.Sprintf("%q is not a duration like 30m", v)}
		}
		cfg.Smoke.PreviewTTL = d
	}
	return nil
}
