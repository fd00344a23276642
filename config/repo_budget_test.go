package config

import (
	"strings"
	"testing"
	"time"
)

func TestRepoFailureBudget(t *testing.T) {
	cfg, err := LoadRepoConfig(RepoConfigPath, []byte(`version: 1
environments:
  staging:
    failure_budget: { rate: 5% }
  production:
    failure_budget:
      rate: 0.5%
      window: 7d
      min_samples: 10
      on_exhausted: hold
`))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := cfg.Environments.Get("staging")
	if b := s.FailureBudget; b == nil || b.RateValue != 0.05 || b.WindowValue != 30*24*time.Hour || b.MinSamples != 20 || b.OnExhausted != "pr" {
		t.Errorf("staging budget with defaults: %+v", b)
	}
	p, _ := cfg.Environments.Get("production")
	if b := p.FailureBudget; b == nil || b.RateValue != 0.005 || b.WindowValue != 7*24*time.Hour || b.MinSamples != 10 || b.OnExhausted != "hold" {
		t.Errorf("production budget: %+v", b)
	}

	for _, c := range []struct{ doc, want string }{
		{"version: 1\nenvironments:\n  staging:\n    failure_budget: { rate: 5 }\n",
			`.github/hoist.yml:4:29: rate "5" must be a percentage such as 5% or 0.5%`},
		{"version: 1\nenvironments:\n  staging:\n    failure_budget: { rate: 5%, window: 30m }\n",
			`.github/hoist.yml:4:41: window "30m" must be a number of days or hours such as 30d, 7d or 12h`},
		{"version: 1\nenvironments:\n  staging:\n    failure_budget: { rate: 5%, on_exhausted: stop }\n",
			`.github/hoist.yml:4:47: on_exhausted "stop" must be pr (wait for a person) or hold (refuse until the rate recovers)`},
		{"version: 1\nenvironments:\n  staging:\n    failure_budget: { rate: 5%, min_samples: 0 }\n",
			`.github/hoist.yml:4:46: min_samples must be between 1 and 100000, got 0`},
		{"version: 1\nenvironments:\n  staging:\n    failure_budget: { window: 7d }\n",
			`.github/hoist.yml:4:21: failure_budget needs rate`},
		{"version: 1\nenvironments:\n  staging:\n    failure_budget: { rate: 101% }\n",
			`.github/hoist.yml:4:29: rate "101%" must be a percentage between 0% and 100%`},
		{"version: 1\nenvironments:\n  staging:\n    failure_budget: { rate: 5%, window: 400d }\n",
			`.github/hoist.yml:4:41: window 400d is longer than a year (366d)`},
	} {
		_, err := LoadRepoConfig(RepoConfigPath, []byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %s", c.doc, err, c.want)
		}
	}
}
