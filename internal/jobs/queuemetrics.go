package jobs

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/store"
)

// queueStates are the job states the queue collector reports: jobs that
// wait (available now, scheduled for later, retryable after a failure)
// and jobs that run. Finished states (completed, cancelled, discarded) are
// counted as they happen by hoist_jobs_total instead; counting them in the
// table would only measure River's retention.
var queueStates = []string{"available", "scheduled", "retryable", "running"}

// queueRow is one (kind, state) group of River's job table.
type queueRow struct {
	kind, state string
	count       float64
	// age is the age in seconds of the group's oldest job: for available
	// jobs since they became available, for running ones since their
	// attempt started; 0 for scheduled and retryable jobs, which are not
	// late yet.
	age float64
}

// queueCollector reports the depth of River's queue and the age of its
// oldest jobs per job kind and state. One GROUP BY over the unfinished
// jobs serves all series; its result is kept for maxAge, so that several
// Prometheus servers scraping every replica cost the database one query
// per maxAge per replica, not one per scrape.
type queueCollector struct {
	st     *store.Store
	maxAge time.Duration
	log    zerolog.Logger
	now    func() time.Time

	depth, age, total, scrapeErrors *prometheus.Desc

	mu      sync.Mutex
	at      time.Time
	rows    []queueRow
	err     error
	kinds   map[string]bool // every kind seen, reported as 0 once it is gone
	queries int             // queries run, for tests
}

func newQueueCollector(st *store.Store, maxAge time.Duration, log zerolog.Logger) *queueCollector {
	return &queueCollector{
		st: st, maxAge: maxAge, log: log, now: time.Now, kinds: map[string]bool{},
		depth: prometheus.NewDesc("hoist_job_queue_jobs",
			"Unfinished jobs in the queue by job kind and state (available, scheduled, retryable, running).",
			[]string{"kind", "state"}, nil),
		age: prometheus.NewDesc("hoist_job_queue_oldest_age_seconds",
			"Age of the oldest job by kind and state: available since it became available, running since its attempt started.",
			[]string{"kind", "state"}, nil),
		total: prometheus.NewDesc("hoist_job_queue_depth",
			"Jobs waiting to run (available, scheduled or retrying), all kinds; -1 when the database did not answer.",
			nil, nil),
		scrapeErrors: prometheus.NewDesc("hoist_job_queue_scrape_error",
			"1 when the latest query of the job queue failed (the queue series are then absent).",
			nil, nil),
	}
}

// sawKind makes kind's series appear at the next query, at 0 when none
// of its jobs wait: a kind that ran once is known from then on.
func (c *queueCollector) sawKind(kind string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.kinds[kind] {
		c.kinds[kind] = true
		c.at = time.Time{}
	}
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depth
	ch <- c.age
	ch <- c.total
	ch <- c.scrapeErrors
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	rows, err := c.snapshot()
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.total, prometheus.GaugeValue, -1)
		ch <- prometheus.MustNewConstMetric(c.scrapeErrors, prometheus.GaugeValue, 1)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.scrapeErrors, prometheus.GaugeValue, 0)
	waiting := 0.0
	for _, r := range rows {
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, r.count, r.kind, r.state)
		if r.state == "available" || r.state == "running" {
			ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, r.age, r.kind, r.state)
		}
		if r.state != "running" {
			waiting += r.count
		}
	}
	ch <- prometheus.MustNewConstMetric(c.total, prometheus.GaugeValue, waiting)
}

// snapshot returns the cached rows, querying again when they are older
// than maxAge. Concurrent scrapes wait for one query rather than each
// sending their own.
func (c *queueCollector) snapshot() ([]queueRow, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && c.now().Sub(c.at) < c.maxAge {
		return c.rows, c.err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	found, err := c.query(ctx)
	c.queries++
	c.at = c.now()
	if err != nil {
		c.log.Warn().Err(err).Msg("metrics: could not read the job queue")
		c.rows, c.err = nil, err
		return nil, err
	}
	// Every kind ever seen keeps its series at 0, so that an alert on
	// "depth > N" sees the value fall rather than the series vanish.
	byKey := map[[2]string]queueRow{}
	for _, r := range found {
		c.kinds[r.kind] = true
		byKey[[2]string{r.kind, r.state}] = r
	}
	rows := make([]queueRow, 0, len(c.kinds)*len(queueStates))
	for kind := range c.kinds {
		for _, state := range queueStates {
			r, ok := byKey[[2]string{kind, state}]
			if !ok {
				r = queueRow{kind: kind, state: state}
			}
			rows = append(rows, r)
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].kind != rows[j].kind {
			return rows[i].kind < rows[j].kind
		}
		return rows[i].state < rows[j].state
	})
	c.rows, c.err = rows, nil
	return rows, nil
}

// query groups the unfinished jobs by kind and state. River's index on
// (state, queue, priority, scheduled_at, id) serves the state filter, so
// completed jobs kept for inspection are not read. The age is computed by
// the database, on the clock River itself compares scheduled_at with.
func (c *queueCollector) query(ctx context.Context) ([]queueRow, error) {
	var age string
	switch c.st.Dialect() {
	case store.Postgres:
		age = `coalesce(extract(epoch FROM now() - min(CASE state WHEN 'running' THEN attempted_at ELSE scheduled_at END)), 0)`
	default:
		age = `coalesce((julianday('now') - julianday(min(CASE state WHEN 'running' THEN attempted_at ELSE scheduled_at END))) * 86400.0, 0)`
	}
	rows, err := c.st.Query(ctx, `SELECT kind, state, count(*), `+age+`
		FROM river_job WHERE state IN ('available', 'scheduled', 'retryable', 'running')
		GROUP BY kind, state`)
	if err != nil {
		return nil, fmt.Errorf("jobs: queue metrics: %w", err)
	}
	defer rows.Close()
	var out []queueRow
	for rows.Next() {
		var r queueRow
		var n int64
		if err := rows.Scan(&r.kind, &r.state, &n, &r.age); err != nil {
			return nil, fmt.Errorf("jobs: queue metrics: %w", err)
		}
		r.count = float64(n)
		if r.state == "scheduled" || r.state == "retryable" || r.age < 0 {
			r.age = 0
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
