package jobs

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/hoist-dev/hoist/internal/store"
)

type jobMetrics struct {
	run        *prometheus.HistogramVec
	wait       *prometheus.HistogramVec
	outcomes   *prometheus.CounterVec
	deliveries *prometheus.CounterVec
	batch      prometheus.Histogram
}

func newJobMetrics(reg prometheus.Registerer, st *store.Store) *jobMetrics {
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
			Name: "hoist_jobs_total", Help: "Job attempts by kind and outcome (completed, failed, cancelled, snoozed).",
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
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "hoist_job_queue_depth", Help: "Jobs waiting to run (available, scheduled or retrying).",
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			n, err := queueDepth(ctx, st)
			if err != nil {
				return -1
			}
			return float64(n)
		}))
	}
	return m
}

func (m *jobMetrics) observe(ev *river.Event) {
	if ev.Job == nil {
		return
	}
	kind := ev.Job.Kind
	outcome := map[river.EventKind]string{
		river.EventKindJobCompleted: "completed",
		river.EventKindJobFailed:    "failed",
		river.EventKindJobCancelled: "cancelled",
		river.EventKindJobSnoozed:   "snoozed",
	}[ev.Kind]
	if outcome == "" {
		return
	}
	m.outcomes.WithLabelValues(kind, outcome).Inc()
	if ev.JobStats != nil {
		m.run.WithLabelValues(kind).Observe(ev.JobStats.RunDuration.Seconds())
		m.wait.WithLabelValues(kind).Observe(ev.JobStats.QueueWaitDuration.Seconds())
	}
}

// delivery counts one webhook delivery outcome.
func (m *jobMetrics) delivery(event, outcome, reason string) {
	m.deliveries.WithLabelValues(event, outcome, reason).Inc()
}
