package serverconfig

import (
	"time"
)

// Retention says how long hoist keeps what grows with use, so that nothing
// grows forever. A periodic job deletes what is older (max_age) or beyond
// the newest max_rows; 0 turns a limit off.
//
//	retention:
//	  interval: 1h
//	  deliveries:   { max_age: 720h, max_rows: 200000 }
//	  audit:        { max_age: 8760h }
//	  smoke_runs:   { max_age: 2160h, max_rows: 100000 }
//	  command_runs: { max_age: 2160h }
//	  artifacts:    { max_age: 2160h }
//	  mirrors:      { max_age: 720h }
type Retention struct {
	// Interval is how often the pruning job runs.
	Interval time.Duration `yaml:"interval"`
	// Deliveries are the webhook deliveries with their payloads. Whatever
	// the limits, a delivery is kept for MinDeliveryAge, since its id is
	// what recognises a redelivery, and never while it is still queued.
	Deliveries RetentionLimit `yaml:"deliveries"`
	// Audit is the audit log.
	Audit RetentionLimit `yaml:"audit"`
	// SmokeRuns are smoke-test runs with their reports; a run still
	// queued or in progress is never deleted.
	SmokeRuns RetentionLimit `yaml:"smoke_runs"`
	// CommandRuns are the records that make a comment's commands run once.
	CommandRuns RetentionLimit `yaml:"command_runs"`
	// Artifacts are screenshots (artifacts_dir or the s3 artifacts target),
	// by when they were last stored; max_rows does not apply.
	Artifacts RetentionLimit `yaml:"artifacts"`
	// Mirrors are the local git mirrors, by when they were last fetched;
	// max_rows does not apply.
	Mirrors RetentionLimit `yaml:"mirrors"`
}

// RetentionLimit bounds one kind of record by age and by count.
type RetentionLimit struct {
	MaxAge  time.Duration `yaml:"max_age"`
	MaxRows int           `yaml:"max_rows"`
}

// MinDeliveryAge is the shortest time a delivery is kept: GitHub lets an
// App's deliveries be redelivered for 3 days, and the stored delivery id
// is what makes a redelivery do nothing twice.
const MinDeliveryAge = 72 * time.Hour

// MinArtifactAge is the shortest retention of screenshots: a screenshot
// stored again is refreshed at most once a day, so anything shorter could
// delete one a report still shows.
const MinArtifactAge = 48 * time.Hour

// Retention defaults (docs/server.md).
var defaultRetention = Retention{
	Interval:    time.Hour,
	Deliveries:  RetentionLimit{MaxAge: 30 * 24 * time.Hour, MaxRows: 200_000},
	Audit:       RetentionLimit{MaxAge: 365 * 24 * time.Hour},
	SmokeRuns:   RetentionLimit{MaxAge: 90 * 24 * time.Hour, MaxRows: 100_000},
	CommandRuns: RetentionLimit{MaxAge: 90 * 24 * time.Hour},
	Artifacts:   RetentionLimit{MaxAge: 90 * 24 * time.Hour},
	Mirrors:     RetentionLimit{MaxAge: 30 * 24 * time.Hour},
}

func init() {
	registerServerSection("retention", func(cfg *Server) {
		r, d := &cfg.Retention, defaultRetention
		if r.Interval == 0 {
			r.Interval = d.Interval
		}
		for _, p := range []struct{ v, d *RetentionLimit }{
			{&r.Deliveries, &d.Deliveries}, {&r.Audit, &d.Audit}, {&r.SmokeRuns, &d.SmokeRuns},
			{&r.CommandRuns, &d.CommandRuns}, {&r.Artifacts, &d.Artifacts}, {&r.Mirrors, &d.Mirrors},
		} {
			// Unset (zero) takes the default; a negative value turns the
			// limit off.
			if p.v.MaxAge == 0 {
				p.v.MaxAge = p.d.MaxAge
			}
			if p.v.MaxRows == 0 {
				p.v.MaxRows = p.d.MaxRows
			}
			p.v.MaxAge = max(p.v.MaxAge, 0)
			p.v.MaxRows = max(p.v.MaxRows, 0)
		}
	}, func(cfg *Server, src serverSources) error {
		r := &cfg.Retention
		if r.Interval < time.Minute {
			return src.errorf("retention.interval", "", "must be at least 1m, got %s", r.Interval)
		}
		if r.Deliveries.MaxAge > 0 && r.Deliveries.MaxAge < MinDeliveryAge {
			return src.errorf("retention.deliveries.max_age", "", "must be at least %s (GitHub redelivers for 3 days; the delivery id recognises a redelivery), got %s", MinDeliveryAge, r.Deliveries.MaxAge)
		}
		if r.Artifacts.MaxAge > 0 && r.Artifacts.MaxAge < MinArtifactAge {
			return src.errorf("retention.artifacts.max_age", "", "must be at least %s, got %s", MinArtifactAge, r.Artifacts.MaxAge)
		}
		if r.Artifacts.MaxRows != 0 {
			return src.errorf("retention.artifacts.max_rows", "", "does not apply to artifacts; use max_age")
		}
		if r.Mirrors.MaxRows != 0 {
			return src.errorf("retention.mirrors.max_rows", "", "does not apply to mirrors; use max_age")
		}
		return nil
	})
}
