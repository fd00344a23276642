package serverconfig

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Dashboard is the server's section for the dashboard and its GitHub
// sign-in. The dashboard is off (GET / answers 404) unless the section is
// given: it shows private repositories, so a person signs in with GitHub
// and sees only what GitHub lets them read.
//
//	dashboard:
//	  client_id: Iv1.0123456789abcdef          # the App's OAuth client id
//	  client_secret: ${HOIST_CLIENT_SECRET}    # the App's client secret
//	  session_key: ${HOIST_SESSION_KEY}        # ≥ 32 bytes, signs cookies
//
// The same sign-in guards the preview origin (preview_addr, preview_url):
// a preview opens only for a person with write access.
type Dashboard struct {
	// ClientID and ClientSecret are the GitHub App's OAuth credentials
	// (the App's settings page, "Client secrets"); ${NAME} reads them
	// from the environment.
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret"`
	// SessionKey signs session cookies and the sign-in state (at least
	// DashboardMinKey bytes; ${NAME} reads it from the environment).
	SessionKey string `yaml:"session_key"`
	// GitHubWebURL is where people sign in; empty derives it from
	// github.url (api.github.com → https://github.com, GitHub Enterprise
	// Server's /api/v3/ → its host, else github.url itself).
	GitHubWebURL string `yaml:"github_web_url"`
	// AccessTTL is how long what a person may read is remembered before
	// GitHub is asked again (default 1m).
	AccessTTL time.Duration `yaml:"access_ttl"`
	// SessionTTL is how long a sign-in lasts (default 8h, like GitHub's
	// user-to-server tokens).
	SessionTTL time.Duration `yaml:"session_ttl"`
}

// Enabled reports whether the dashboard (and sign-in) is configured.
func (d Dashboard) Enabled() bool { return d.ClientID != "" }

// String keeps secrets out of logs and %v.
func (d Dashboard) String() string {
	return fmt.Sprintf("{client_id: %s, client_secret: [redacted], session_key: [redacted]}", d.ClientID)
}

// DashboardMinKey is the shortest session key accepted.
const DashboardMinKey = 32

func init() {
	registerServerSection("dashboard", func(cfg *Server) {
		d := &cfg.Dashboard
		if d.AccessTTL == 0 {
			d.AccessTTL = time.Minute
		}
		if d.SessionTTL == 0 {
			d.SessionTTL = 8 * time.Hour
		}
	}, validateDashboard)
}

func validateDashboard(cfg *Server, src serverSources) error {
	d := &cfg.Dashboard
	var err error
	if d.ClientID, err = expandSecret(src, "dashboard.client_id", d.ClientID); err != nil {
		return err
	}
	if d.ClientSecret, err = expandSecret(src, "dashboard.client_secret", d.ClientSecret); err != nil {
		return err
	}
	if d.SessionKey, err = expandSecret(src, "dashboard.session_key", d.SessionKey); err != nil {
		return err
	}
	// A setting missing from the section is pointed at the section's line.
	missing := func(setting, format string, args ...any) error {
		err := src.errorf(setting, "", format, args...)
		if se, ok := err.(*SettingError); ok && se.Source == "" && src.lines["dashboard"] > 0 {
			se.Source = fmt.Sprintf("%s:%d", src.file, src.lines["dashboard"])
		}
		return err
	}
	if d.ClientID != "" || d.ClientSecret != "" || d.SessionKey != "" {
		switch {
		case d.ClientID == "":
			return missing("dashboard.client_id", "is required with the dashboard section: the App's OAuth client id")
		case d.ClientSecret == "":
			return missing("dashboard.client_secret", "is required with the dashboard section: the App's OAuth client secret")
		case len(d.SessionKey) < DashboardMinKey:
			// Never echo the key.
			return missing("dashboard.session_key", "is %d bytes; use at least %d (for example: openssl rand -hex 32)", len(d.SessionKey), DashboardMinKey)
		}
	}
	if d.GitHubWebURL != "" {
		if err := checkServerURL(d.GitHubWebURL); err != nil {
			return src.errorf("dashboard.github_web_url", "", "%v", err)
		}
	}
	if d.AccessTTL < time.Second || d.AccessTTL > time.Hour {
		return src.errorf("dashboard.access_ttl", "", "must be between 1s and 1h, got %s", d.AccessTTL)
	}
	if d.SessionTTL < time.Minute || d.SessionTTL > 30*24*time.Hour {
		return src.errorf("dashboard.session_ttl", "", "must be between 1m and 720h, got %s", d.SessionTTL)
	}
	if cfg.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(cfg.MetricsAddr); err != nil {
			return src.errorf("metrics_addr", "HOIST_METRICS_ADDR", "%q is not a listen address like 127.0.0.1:9090", cfg.MetricsAddr)
		}
	}
	return validatePreviewOrigin(cfg, src)
}

// validatePreviewOrigin checks the preview listener: previews run a site's
// own scripts, so they are served on an origin of their own, never on
// public_url's host (where the dashboard's cookies live).
func validatePreviewOrigin(cfg *Server, src serverSources) error {
	if cfg.PreviewAddr == "" && cfg.PreviewURL == "" {
		if cfg.Smoke.PreviewLinks {
			return src.errorf("smoke.preview_links", "HOIST_PREVIEW_LINKS", "needs preview_addr and preview_url: previews are served on an origin of their own")
		}
		return nil
	}
	if cfg.PreviewAddr == "" {
		return src.errorf("preview_url", "HOIST_PREVIEW_URL", "needs preview_addr (HOIST_PREVIEW_ADDR): the listen address of the preview origin")
	}
	if _, _, err := net.SplitHostPort(cfg.PreviewAddr); err != nil {
		return src.errorf("preview_addr", "HOIST_PREVIEW_ADDR", "%q is not a listen address like :8081", cfg.PreviewAddr)
	}
	if cfg.PreviewURL == "" {
		return src.errorf("preview_addr", "HOIST_PREVIEW_ADDR", "needs preview_url (HOIST_PREVIEW_URL): where people reach the preview origin")
	}
	if err := checkServerURL(cfg.PreviewURL); err != nil {
		return src.errorf("preview_url", "HOIST_PREVIEW_URL", "%v", err)
	}
	pu, _ := url.Parse(cfg.PreviewURL)
	mu, _ := url.Parse(cfg.PublicURL)
	if strings.EqualFold(pu.Hostname(), mu.Hostname()) {
		// Cookies ignore the port: a site on the same host could read or
		// plant cookies of the dashboard.
		return src.errorf("preview_url", "HOIST_PREVIEW_URL", "%q has the host of public_url; use a host of its own (another domain, not only another port)", cfg.PreviewURL)
	}
	if !cfg.Dashboard.Enabled() {
		return src.errorf("preview_url", "HOIST_PREVIEW_URL", "needs the dashboard section: a preview opens after signing in with GitHub with write access")
	}
	cfg.Smoke.PreviewLinks = true
	cfg.PreviewURL = strings.TrimSuffix(cfg.PreviewURL, "/")
	return nil
}

// applyDashboardEnv reads the HOIST_* overrides of the listeners.
func applyDashboardEnv(cfg *Server, lookup func(string) (string, bool), seen map[string]bool) {
	str := envString(lookup, seen)
	str("HOIST_METRICS_ADDR", &cfg.MetricsAddr)
	str("HOIST_PREVIEW_ADDR", &cfg.PreviewAddr)
	str("HOIST_PREVIEW_URL", &cfg.PreviewURL)
}

// GitHubWebURL is where people sign in with GitHub, without a trailing
// slash.
func (cfg *Server) GitHubWebURL() string {
	if cfg.Dashboard.GitHubWebURL != "" {
		return strings.TrimSuffix(cfg.Dashboard.GitHubWebURL, "/")
	}
	u, err := url.Parse(cfg.GitHub.URL)
	if err != nil {
		return "https://github.com"
	}
	if strings.EqualFold(u.Host, "api.github.com") {
		return "https://github.com"
	}
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/api/v3")
	return strings.TrimSuffix(u.String(), "/")
}
