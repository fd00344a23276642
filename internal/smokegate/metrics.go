package smokegate

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hoist-dev/hoist/internal/jobs"
)

// metrics are the smoke test metrics. The only label is the outcome, from
// a fixed set: a repository or commit label would grow without bound, and
// the check runs and the audit log say which run it was.
type metrics struct {
	runs     *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	return &metrics{
		runs: jobs.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hoist_smoke_runs_total",
			Help: "Smoke test attempts by outcome: the site's verdict (success, failure, neutral), or error when the run itself could not complete.",
		}, []string{"outcome"})),
		duration: jobs.Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hoist_smoke_duration_seconds",
			Help:    "Time of a smoke test attempt, from the configuration read to the completed check run, by outcome.",
			Buckets: []float64{0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300},
		}, []string{"outcome"})),
	}
}

// observe counts one attempt: conclusion is the report's, empty when the
// run failed before one was reached.
func (m *metrics) observe(conclusion string, d time.Duration) {
	switch conclusion {
	case "success", "failure", "neutral":
	default:
		conclusion = "error"
	}
	m.runs.WithLabelValues(conclusion).Inc()
	m.duration.WithLabelValues(conclusion).Observe(d.Seconds())
}
