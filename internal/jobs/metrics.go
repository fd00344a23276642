package jobs

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/store"
)

type jobMetrics struct {
	run        *prometheus.HistogramVec
	wait       *prometheus.HistogramVec
	outcomes   *prometheus.CounterVec
	deliveries *prometheus.CounterVec
	batch      prometheus.Histogram
	queue      *queueCollector
}

// queueCacheFor is how long one query of the job queue serves scrapes: a
// Prometheus server scrapes every 15–60 s, so a few seconds keeps the
// series fresh while several servers scraping at once cost one query.
const queueCacheFor = 5 * time.Second

func newJobMetrics(reg prometheus.Registerer, st *store.Store, log zerolog.Logger) *jobMetrics {
	m := &jobMetrics{
		run: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "hoist_job_run_seconds", Help: "Time a job attempt spent running, by job kind.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"kind"}),
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "hoist_job_queue_wait_seconds", Help: "Time a job waited between becoming available and starting, by job kind.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"kind"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hoist_jobs_total", Help: "Job attempts by kind and outcome: completed, retried (failed, will run again), discarded (failed its last attempt), cancelled (gave up: a permanent failure), snoozed.",
		}, []string{"kind", "outcome"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hoist_deliveries_total",
			Help: "Webhook deliveries by event and outcome (accepted, duplicate, ignored, rejected, handled, failed); rejected carries a reason.",
		}, []string{"event", "outcome", "reason"}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hoist_intake_batch_deliveries",
			Help:    "Deliveries persisted by one intake group commit (one transaction).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128},
		}),
	}
	if reg != nil {
		reg.MustRegister(m.run, m.wait, m.outcomes, m.deliveries, m.batch)
		m.queue = newQueueCollector(st, queueCacheFor, log)
		reg.MustRegister(m.queue)
	}
	return m
}

func (m *jobMetrics) observe(ev *river.Event) {
	if ev.Job == nil {
		return
	}
	kind := ev.Job.Kind
	outcome := ""
	switch ev.Kind {
	case river.EventKindJobCompleted:
		outcome = "completed"
	case river.EventKindJobCancelled:
		outcome = "cancelled"
	case river.EventKindJobSnoozed:
		outcome = "snoozed"
	case river.EventKindJobFailed:
		// River reports every failed attempt as failed; the job's new
		// state tells a retry from the end.
		outcome = "retried"
		if ev.Job.State == rivertype.JobStateDiscarded {
			outcome = "discarded"
		}
	}
	if outcome == "" {
		return
	}
	m.outcomes.WithLabelValues(kind, outcome).Inc()
	if m.queue != nil {
		m.queue.sawKind(kind)
	}
	if ev.JobStats != nil {
		m.run.WithLabelValues(kind).Observe(ev.JobStats.RunDuration.Seconds())
		m.wait.WithLabelValues(kind).Observe(ev.JobStats.QueueWaitDuration.Seconds())
	}
}

// delivery counts one webhook delivery outcome.
func (m *jobMetrics) delivery(event, outcome, reason string) {
	m.deliveries.WithLabelValues(event, outcome, reason).Inc()
}
