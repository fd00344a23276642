package serverconfig

import "time"

// RecoverDeliveries is the recovery of missed webhooks: every Every, hoist
// lists the App's webhook deliveries of the last Window through GitHub's
// API and asks GitHub to redeliver, at most MaxPerRun a run, those whose
// every attempt failed and that hoist has not stored (a webhook sent while
// every replica was down). `hoist deliveries recover` does the same once.
//
//	github:
//	  recover_deliveries: { every: 5m, window: 24h, max_per_run: 100 }
type RecoverDeliveries struct {
	// Disabled turns the periodic job off (the command still works).
	Disabled bool `yaml:"disabled"`
	// Every is how often the job runs; it also runs when hoist starts.
	Every time.Duration `yaml:"every"`
	// Window is how far back deliveries are looked at; at most GitHub's
	// 3 days of delivery log.
	Window time.Duration `yaml:"window"`
	// MaxPerRun bounds the redeliveries asked for in one run; the rest
	// wait for the next run.
	MaxPerRun int `yaml:"max_per_run"`
}

// Recovery defaults and bounds (docs/server.md).
const (
	DefaultRecoverEvery     = 5 * time.Minute
	DefaultRecoverWindow    = 24 * time.Hour
	DefaultRecoverMaxPerRun = 100
	// MaxRecoverWindow is GitHub's retention of an App's delivery log.
	MaxRecoverWindow = 72 * time.Hour
)

func init() {
	registerServerSection("github.recover_deliveries", func(cfg *Server) {
		r := &cfg.GitHub.RecoverDeliveries
		if r.Every == 0 {
			r.Every = DefaultRecoverEvery
		}
		if r.Window == 0 {
			r.Window = DefaultRecoverWindow
		}
		if r.MaxPerRun == 0 {
			r.MaxPerRun = DefaultRecoverMaxPerRun
		}
	}, func(cfg *Server, src serverSources) error {
		r := cfg.GitHub.RecoverDeliveries
		if r.Every < time.Minute {
			return src.errorf("github.recover_deliveries.every", "", "must be at least 1m, got %s", r.Every)
		}
		if r.Window < time.Minute || r.Window > MaxRecoverWindow {
			return src.errorf("github.recover_deliveries.window", "", "must be between 1m and %s (GitHub keeps 3 days of deliveries), got %s", MaxRecoverWindow, r.Window)
		}
		if r.Window < r.Every {
			return src.errorf("github.recover_deliveries.window", "", "must be at least every (%s), or deliveries between two runs are never looked at; got %s", r.Every, r.Window)
		}
		if r.MaxPerRun < 1 || r.MaxPerRun > 1000 {
			return src.errorf("github.recover_deliveries.max_per_run", "", "must be between 1 and 1000, got %d", r.MaxPerRun)
		}
		return nil
	})
}
