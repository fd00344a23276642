package publish

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/purge"
)

// metrics are the deploy and purge metrics. Labels are the target's type
// (s3, local) and the CDN's type (fastly, cloudfront, cloudflare,
// varnish), both from the server's configuration: never a repository, an
// environment or a commit, whose number grows without bound; the audit
// log and the deployment statuses carry those.
type metrics struct {
	deploys  *prometheus.CounterVec
	duration *prometheus.HistogramVec
	objects  *prometheus.CounterVec
	bytes    *prometheus.CounterVec
	purges   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	return &metrics{
		deploys: jobs.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hoist_deploys_total",
			Help: "Deploy attempts by target type and outcome: success, retrying (failed, will run again), failed (gave up).",
		}, []string{"target_type", "outcome"})),
		duration: jobs.Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hoist_deploy_duration_seconds",
			Help:    "Time of a deploy attempt, from the configuration read to the purge, by target type and outcome (success, failure).",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600},
		}, []string{"target_type", "outcome"})),
		objects: jobs.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hoist_deploy_objects_total",
			Help: "Objects written by deploys, by target type and operation (uploaded, copied, deleted).",
		}, []string{"target_type", "operation"})),
		bytes: jobs.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hoist_deploy_uploaded_bytes_total",
			Help: "Bytes uploaded by deploys, by target type.",
		}, []string{"target_type"})),
		purges: jobs.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hoist_purges_total",
			Help: "CDN purges after a deploy, by CDN type and outcome (success, failure).",
		}, []string{"cdn_type", "outcome"})),
	}
}

// observe counts one deploy attempt; sum is what it got to (nil when it
// stopped before the target was known), final whether a failure is the
// last attempt.
func (m *metrics) observe(sum *publishSummary, d time.Duration, err error, final bool) {
	target := "unknown"
	if sum != nil && sum.targetType != "" {
		target = sum.targetType
	}
	outcome, timing := "success", "success"
	if err != nil {
		outcome, timing = "retrying", "failure"
		if final {
			outcome = "failed"
		}
	}
	m.deploys.WithLabelValues(target, outcome).Inc()
	m.duration.WithLabelValues(target, timing).Observe(d.Seconds())
	if sum == nil {
		return
	}
	if res := sum.result; res != nil {
		m.objects.WithLabelValues(target, "uploaded").Add(float64(res.Uploaded))
		m.objects.WithLabelValues(target, "copied").Add(float64(res.Copied))
		m.objects.WithLabelValues(target, "deleted").Add(float64(res.Deleted))
		m.bytes.WithLabelValues(target).Add(float64(res.Bytes))
	}
	if sum.purger != nil {
		for i, o := range sum.purger.Outcomes {
			kind := "unknown"
			if i < len(sum.purger.CDNs) {
				kind = cdnLabel(sum.purger.CDNs[i].Type)
			}
			result := "success"
			if o.Err != nil {
				result = "failure"
			}
			m.purges.WithLabelValues(kind, result).Inc()
		}
	}
}

// cdnLabel keeps the label to the CDN types hoist knows.
func cdnLabel(t purge.Type) string {
	switch t {
	case purge.Fastly, purge.CloudFront, purge.Cloudflare, purge.Varnish:
		return string(t)
	}
	return "other"
}

// targetLabel keeps the label to the target types hoist knows.
func targetLabel(t string) string {
	switch t {
	case "s3", "local":
		return t
	}
	return "other"
}
