package serverconfig

import (
	"fmt"
	"net/url"
	"regexp"
	"time"
)

// Alerts is where hoist posts alerts (failed verifications, rollbacks,
// exhausted failure budgets) and which repositories' delivery metrics carry
// their names.
//
//	alerts:
//	  webhook_url: ${HOIST_ALERT_WEBHOOK_URL}   # Slack-compatible incoming webhook
//	  pace: 10m                                 # least time between alike alerts
//	  metrics_repos: [acme/site, acme/docs]     # repo and env labels of delivery metrics
type Alerts struct {
	// WebhookURL receives {"text": "..."} posts. It is a secret (the
	// token is in the URL): write ${NAME} to read it from the environment;
	// it is never logged. Empty turns alerts off.
	WebhookURL string `yaml:"webhook_url"`
	// Pace is the least time between two alerts of one kind, repository
	// and environment (default 10m); the ones in between are counted in
	// the next.
	Pace time.Duration `yaml:"pace"`
	// MetricsRepos are the repositories (owner/name) whose delivery
	// metrics carry repo and env labels; every other repository is counted
	// under "other", so that the series stay bounded (docs/metrics.md).
	MetricsRepos []string `yaml:"metrics_repos"`
}

// String keeps the webhook URL out of logs and %v.
func (a Alerts) String() string {
	u := "off"
	if a.WebhookURL != "" {
		u = "[redacted]"
	}
	return fmt.Sprintf("{webhook_url: %s, pace: %s, metrics_repos: %v}", u, a.Pace, a.MetricsRepos)
}

var repoFullName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$`)

func init() {
	registerServerSection("alerts", func(cfg *Server) {
		if cfg.Alerts.Pace == 0 {
			cfg.Alerts.Pace = 10 * time.Minute
		}
	}, validateAlerts)
}

func validateAlerts(cfg *Server, src serverSources) error {
	a := &cfg.Alerts
	var err error
	if a.WebhookURL, err = expandSecret(src, "alerts.webhook_url", a.WebhookURL); err != nil {
		return err
	}
	if a.WebhookURL != "" {
		// Never echo the URL: it holds the webhook's token.
		u, err := url.Parse(a.WebhookURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return src.errorf("alerts.webhook_url", "", "must be an absolute http(s) URL, such as a Slack incoming webhook's")
		}
	}
	if a.Pace < time.Second || a.Pace > 24*time.Hour {
		return src.errorf("alerts.pace", "", "must be between 1s and 24h, got %s", a.Pace)
	}
	for _, r := range a.MetricsRepos {
		if !repoFullName.MatchString(r) {
			return src.errorf("alerts.metrics_repos", "", "%q is not a repository's owner/name", r)
		}
	}
	return nil
}

// MarshalYAML prints the section with the webhook URL redacted.
func (a Alerts) MarshalYAML() (any, error) {
	type plain Alerts // without this method
	p := plain(a)
	if p.WebhookURL != "" {
		p.WebhookURL = "[redacted]"
	}
	return p, nil
}
