package serverconfig

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hoist-dev/hoist/internal/smoke/fence"
)

// Smoke is the server's section for smoke tests: the browser, where
// screenshots are kept, and whether temporary preview links are handed out.
//
//	smoke:
//	  chromium: /usr/lib/chromium/chromium-headless-shell
//	  artifacts_dir: /var/lib/hoist/artifacts
//	  preview_links: true
//	  preview_ttl: 30m
//
// Screenshots go to a folder (artifacts_dir) or, with artifacts_target, to
// an S3 deploy target from `targets:` under artifacts_prefix:
//
//	smoke:
//	  artifacts_target: assets
//	  artifacts_prefix: .hoist/artifacts/
type Smoke struct {
	// Chromium is the browser binary (HOIST_CHROMIUM); empty finds the
	// installed headless shell.
	Chromium string `yaml:"chromium"`
	// ArtifactsDir holds screenshots by SHA256 (HOIST_ARTIFACTS_DIR);
	// default <data_dir>/artifacts unless ArtifactsTarget is set.
	ArtifactsDir string `yaml:"artifacts_dir"`
	// ArtifactsTarget names an s3 target of `targets:` that holds the
	// screenshots instead (HOIST_ARTIFACTS_TARGET); hoist still serves them.
	ArtifactsTarget string `yaml:"artifacts_target"`
	// ArtifactsPrefix is the key prefix in that bucket
	// (HOIST_ARTIFACTS_PREFIX); default DefaultArtifactsPrefix.
	ArtifactsPrefix string `yaml:"artifacts_prefix"`
	// PreviewLinks turns on signed, expiring links to a commit's site
	// (HOIST_PREVIEW_LINKS). Off by default: the site under test is private.
	PreviewLinks bool `yaml:"preview_links"`
	// PreviewTTL is how long such a link works (HOIST_PREVIEW_TTL).
	PreviewTTL time.Duration `yaml:"preview_ttl"`
	// AllowHosts lists the hosts besides the site under test that the
	// browser may load from, such as a font CDN (HOIST_SMOKE_ALLOW_HOSTS,
	// comma-separated): "fonts.example.com", "*.example.com",
	// "cdn.example.com:8443". They are reached on public addresses only;
	// everything else a page asks for is refused and reported.
	AllowHosts []string `yaml:"allow_hosts"`
	// VerifyPrivateHosts lists the live sites post-deploy verification may
	// browse although their host is, or resolves to, a private, loopback
	// or link-local address or one of this machine's
	// (HOIST_SMOKE_VERIFY_PRIVATE_HOSTS, comma-separated): an edge on the
	// private network such as "edge.internal" (ports 80 and 443) or
	// "127.0.0.1:6081". Matched exactly against the verify URL's host and
	// port, no wildcards; a cloud metadata address is never allowed.
	// Without an entry such a verify URL is refused before any browser
	// starts: it comes from a repository's .github/hoist.yml.
	VerifyPrivateHosts []string `yaml:"verify_private_hosts"`
	// BrowserUser is the user Chromium runs as when hoist runs as root
	// (HOIST_SMOKE_BROWSER_USER): a name or uid[:gid]; default nobody.
	BrowserUser string `yaml:"browser_user"`
	// ArtifactTTL is how long a signed screenshot or report URL works
	// (HOIST_ARTIFACT_TTL): long enough for check runs on GitHub to keep
	// showing their images; default DefaultArtifactTTL.
	ArtifactTTL time.Duration `yaml:"artifact_ttl"`
}

// DefaultArtifactTTL is smoke.artifact_ttl when unset.
const DefaultArtifactTTL = 30 * 24 * time.Hour

// DefaultPreviewTTL is smoke.preview_ttl when unset.
const DefaultPreviewTTL = 30 * time.Minute

// DefaultArtifactsPrefix is smoke.artifacts_prefix when unset: a deploy
// leaves keys under .hoist/ alone, so screenshots may share a bucket with a
// site hoist deploys at its root.
const DefaultArtifactsPrefix = ".hoist/artifacts/"

func init() {
	registerServerSection("smoke", func(cfg *Server) {
		// On PostgreSQL, with neither set, screenshots are kept in the
		// database, which every replica shares.
		if cfg.Smoke.ArtifactsDir == "" && cfg.Smoke.ArtifactsTarget == "" && !cfg.Shared() {
			cfg.Smoke.ArtifactsDir = filepath.Join(cfg.DataDir, "artifacts")
		}
		if cfg.Smoke.ArtifactsTarget != "" && cfg.Smoke.ArtifactsPrefix == "" {
			cfg.Smoke.ArtifactsPrefix = DefaultArtifactsPrefix
		}
		if cfg.Smoke.PreviewTTL == 0 {
			cfg.Smoke.PreviewTTL = DefaultPreviewTTL
		}
		if cfg.Smoke.ArtifactTTL == 0 {
			cfg.Smoke.ArtifactTTL = DefaultArtifactTTL
		}
	}, func(cfg *Server, src serverSources) error {
		if cfg.Smoke.ArtifactTTL < time.Hour || cfg.Smoke.ArtifactTTL > 400*24*time.Hour {
			return src.errorf("smoke.artifact_ttl", "HOIST_ARTIFACT_TTL", "must be between 1h and 9600h (400 days), got %s", cfg.Smoke.ArtifactTTL)
		}
		if cfg.Smoke.PreviewTTL < time.Second || cfg.Smoke.PreviewTTL > 7*24*time.Hour {
			return src.errorf("smoke.preview_ttl", "HOIST_PREVIEW_TTL", "must be between 1s and 168h, got %s", cfg.Smoke.PreviewTTL)
		}
		for i, h := range cfg.Smoke.AllowHosts {
			if _, err := fence.ParseRule(h); err != nil {
				return src.errorf("smoke.allow_hosts", "HOIST_SMOKE_ALLOW_HOSTS", "entry %d: %v", i+1, err)
			}
		}
		for i, h := range cfg.Smoke.VerifyPrivateHosts {
			if _, err := fence.ParsePrivateRule(h); err != nil {
				return src.errorf("smoke.verify_private_hosts", "HOIST_SMOKE_VERIFY_PRIVATE_HOSTS", "entry %d: %v", i+1, err)
			}
		}
		return validateArtifacts(cfg, src)
	})
}

// validateArtifacts checks where screenshots go: a folder, or an s3 target
// under a prefix that is a plain key prefix ending in "/".
func validateArtifacts(cfg *Server, src serverSources) error {
	sm := &cfg.Smoke
	if sm.ArtifactsTarget == "" {
		if sm.ArtifactsPrefix != "" {
			return src.errorf("smoke.artifacts_prefix", "HOIST_ARTIFACTS_PREFIX", "needs smoke.artifacts_target (the s3 target the prefix is in)")
		}
		return nil
	}
	if sm.ArtifactsDir != "" {
		return src.errorf("smoke.artifacts_target", "HOIST_ARTIFACTS_TARGET", "set either smoke.artifacts_dir (a folder) or smoke.artifacts_target (an s3 target), not both")
	}
	t, err := cfg.Target(sm.ArtifactsTarget)
	if err != nil {
		return src.errorf("smoke.artifacts_target", "HOIST_ARTIFACTS_TARGET", "%v", err)
	}
	if t.Type != "s3" {
		return src.errorf("smoke.artifacts_target", "HOIST_ARTIFACTS_TARGET", "target %q is of type %s, not s3 (for a folder set smoke.artifacts_dir)", sm.ArtifactsTarget, t.Type)
	}
	p := sm.ArtifactsPrefix
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	if strings.HasPrefix(p, "/") || strings.Contains(p, "//") || strings.ContainsAny(p, "\\\x00\n\r") ||
		slices.ContainsFunc(strings.Split(strings.TrimSuffix(p, "/"), "/"), func(s string) bool { return s == "." || s == ".." }) {
		return src.errorf("smoke.artifacts_prefix", "HOIST_ARTIFACTS_PREFIX", "%q is not a key prefix like .hoist/artifacts/ (no leading '/', no empty, '.' or '..' parts)", sm.ArtifactsPrefix)
	}
	sm.ArtifactsPrefix = p
	return nil
}

// applySmokeEnv reads the HOIST_* overrides of the smoke section.
func applySmokeEnv(cfg *Server, lookup func(string) (string, bool), seen map[string]bool) error {
	str := envString(lookup, seen)
	str("HOIST_CHROMIUM", &cfg.Smoke.Chromium)
	str("HOIST_ARTIFACTS_DIR", &cfg.Smoke.ArtifactsDir)
	str("HOIST_ARTIFACTS_TARGET", &cfg.Smoke.ArtifactsTarget)
	str("HOIST_ARTIFACTS_PREFIX", &cfg.Smoke.ArtifactsPrefix)
	str("HOIST_SMOKE_BROWSER_USER", &cfg.Smoke.BrowserUser)
	hosts := func(name string, dst *[]string) {
		v, ok := lookup(name)
		if !ok {
			return
		}
		seen[name] = true
		*dst = nil
		for _, h := range strings.Split(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				*dst = append(*dst, h)
			}
		}
	}
	hosts("HOIST_SMOKE_ALLOW_HOSTS", &cfg.Smoke.AllowHosts)
	hosts("HOIST_SMOKE_VERIFY_PRIVATE_HOSTS", &cfg.Smoke.VerifyPrivateHosts)
	if v, ok := lookup("HOIST_PREVIEW_LINKS"); ok {
		seen["HOIST_PREVIEW_LINKS"] = true
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return &SettingError{Setting: "smoke.preview_links", Env: "HOIST_PREVIEW_LINKS", Source: "environment",
				Problem: fmt.Sprintf("%q is not true or false", v)}
		}
		cfg.Smoke.PreviewLinks = b
	}
	if v, ok := lookup("HOIST_ARTIFACT_TTL"); ok {
		seen["HOIST_ARTIFACT_TTL"] = true
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return &SettingError{Setting: "smoke.artifact_ttl", Env: "HOIST_ARTIFACT_TTL", Source: "environment",
				Problem: fmt.Sprintf("%q is not a duration like 720h", v)}
		}
		cfg.Smoke.ArtifactTTL = d
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
