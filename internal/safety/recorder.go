package safety

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/store"
)

// Recorder stores outcomes (table delivery_outcomes) and keeps the
// delivery metrics; the zero value is not usable.
type Recorder struct {
	store   *store.Store
	metrics *metrics
	now     func() time.Time
}

// Deps is what a Recorder needs.
type Deps struct {
	Store *store.Store
	// Registerer receives the delivery metrics; nil registers none.
	Registerer prometheus.Registerer
	// MetricsRepos are the repositories (owner/name) whose outcomes carry
	// their own repo and env labels; every other repository's are counted
	// under repo="other", env="other" (see docs/metrics.md).
	MetricsRepos []string
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// NewRecorder returns a Recorder.
func NewRecorder(d Deps) *Recorder {
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Recorder{store: d.Store, metrics: newMetrics(d.Registerer, d.MetricsRepos), now: d.Now}
}

// Now is the recorder's clock.
func (r *Recorder) Now() time.Time { return r.now() }

// restoreLookback bounds how far back an incident's start is looked for
// when an outcome ends it.
const restoreLookback = 90 * 24 * time.Hour

// Record stores o once (by its Key) and, the first time, counts it in the
// metrics. A nil Recorder records nothing, so a capability can be built
// without one.
func (r *Recorder) Record(ctx context.Context, o Outcome) error {
	if r == nil {
		return nil
	}
	if o.Repo == "" || o.Env == "" || !o.Kind.Valid() {
		return fmt.Errorf("safety: record outcome: repo, env and a known kind are required (got %q, %q, %q)", o.Repo, o.Env, o.Kind)
	}
	if o.At.IsZero() {
		o.At = r.now()
	}
	o.At = o.At.UTC()
	if o.Key == "" {
		o.Key = DefaultKey(o)
	}
	okInt := 0
	if o.OK {
		okInt = 1
	}
	var first any
	if !o.FirstCommitAt.IsZero() {
		first = o.FirstCommitAt.UTC()
	}
	reason := o.Reason
	if o.Restore && reason == "" {
		reason = restoreReason
	}
	n, err := r.store.Exec(ctx, `INSERT INTO delivery_outcomes (outcome_key, repo, env, kind, ok, sha, reason, at, first_commit_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (outcome_key) DO NOTHING`,
		o.Key, o.Repo, o.Env, string(o.Kind), okInt, o.SHA, truncate(reason, 1000), o.At, first)
	if err != nil {
		return fmt.Errorf("safety: record %s outcome of %s in %s: %w", o.Kind, o.Repo, o.Env, err)
	}
	if n == 0 {
		return nil // recorded by an earlier attempt
	}
	zerolog.Ctx(ctx).Info().Str("repo", o.Repo).Str("env", o.Env).Str("sha", o.SHA).Str("kind", string(o.Kind)).
		Bool("ok", o.OK).Str("reason", o.Reason).Msg("delivery outcome recorded")
	r.metrics.count(o)
	if o.restores() {
		// The incident this ends, if any, is read back from the store so
		// that every replica measures it the same way.
		past, err := r.Outcomes(ctx, o.Repo, o.Env, o.At.Add(-restoreLookback))
		if err != nil {
			return err
		}
		for _, inc := range Incidents(past) {
			if inc.End.Equal(o.At) {
				r.metrics.restored(o, inc.End.Sub(inc.Start))
			}
		}
	}
	return nil
}

// restoreReason marks a restoring deploy in the store (it has no column
// of its own).
const restoreReason = "restore"

// Outcomes lists the outcomes of repo's env (repo or env empty: all) at or
// after since, oldest first.
func (r *Recorder) Outcomes(ctx context.Context, repo, env string, since time.Time) ([]Outcome, error) {
	q := `SELECT outcome_key, repo, env, kind, ok, sha, reason, at, first_commit_at FROM delivery_outcomes WHERE at >= ?`
	args := []any{since.UTC()}
	if repo != "" {
		q += ` AND repo = ?`
		args = append(args, repo)
	}
	if env != "" {
		q += ` AND env = ?`
		args = append(args, env)
	}
	rows, err := r.store.Query(ctx, q+` ORDER BY at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("safety: list outcomes: %w", err)
	}
	defer rows.Close()
	var out []Outcome
	for rows.Next() {
		var o Outcome
		var kind string
		var ok int
		var first sql.NullTime
		if err := rows.Scan(&o.Key, &o.Repo, &o.Env, &kind, &ok, &o.SHA, &o.Reason, &o.At, &first); err != nil {
			return nil, fmt.Errorf("safety: read outcome: %w", err)
		}
		o.Kind, o.OK, o.At = Kind(kind), ok == 1, o.At.UTC()
		if first.Valid {
			o.FirstCommitAt = first.Time.UTC()
		}
		if o.Kind == KindDeploy && o.OK && o.Reason == restoreReason {
			o.Restore, o.Reason = true, ""
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("safety: list outcomes: %w", err)
	}
	return out, nil
}

// BudgetCounts counts the outcomes of repo's env in the window ending now:
// failures and samples, for pipeline.BudgetFacts.
func (r *Recorder) BudgetCounts(ctx context.Context, repo, env string, window time.Duration) (failures, samples int, err error) {
	since := r.now().Add(-window)
	outs, err := r.Outcomes(ctx, repo, env, since)
	if err != nil {
		return 0, 0, err
	}
	failures, samples = BudgetCounts(outs, repo, env, since)
	return failures, samples, nil
}

// Report computes the measures of every repository and environment (or
// only repo's) over the window [now-window, now).
func (r *Recorder) Report(ctx context.Context, repo string, window time.Duration) ([]Measures, error) {
	now := r.now()
	since := now.Add(-window)
	// Incidents that began before the window but ended in it count; the
	// extra lookback finds their start.
	outs, err := r.Outcomes(ctx, repo, "", since.Add(-restoreLookback))
	if err != nil {
		return nil, err
	}
	return Compute(outs, since, now.Add(time.Nanosecond)), nil
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
