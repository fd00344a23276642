package safety

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// maxEnvsPerRepo bounds the env label of a listed repository: a repository
// configuration may name any number of environments.
const maxEnvsPerRepo = 20

// metrics are the delivery series. Labels repo and env carry a repository's
// names only when the server lists it (metrics_repos); every other one
// counts under "other", so the series stay bounded by configuration.
type metrics struct {
	outcomes   *prometheus.CounterVec
	deploys    *prometheus.CounterVec
	failed     *prometheus.CounterVec
	leadTime   *prometheus.HistogramVec
	restore    *prometheus.HistogramVec
	listed     map[string]bool
	mu         sync.Mutex
	envsOfRepo map[string]map[string]bool
}

// deliveryBuckets span minutes to weeks: lead times and restore times.
var deliveryBuckets = []float64{60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400, 30 * 86400}

func newMetrics(reg prometheus.Registerer, repos []string) *metrics {
	m := &metrics{
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hoist_delivery_outcomes_total",
			Help: "Outcomes recorded per environment, by kind (ci_gate, smoke, deploy, verify, rollback) and result (ok, failed)."},
			[]string{"repo", "env", "kind", "result"}),
		deploys: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hoist_deployments_total",
			Help: "Changes that landed in an environment (deploys that succeeded; restores excluded): deployment frequency."},
			[]string{"repo", "env"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hoist_change_failures_total",
			Help: "Failures of deployed changes (a failed deploy or verification, a rollback): with hoist_deployments_total, the change failure rate."},
			[]string{"repo", "env"}),
		leadTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "hoist_lead_time_seconds",
			Help: "Lead time for changes: from the oldest commit a deploy brought to the deploy landing.", Buckets: deliveryBuckets},
			[]string{"repo", "env"}),
		restore: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "hoist_time_to_restore_seconds",
			Help: "Time to restore: from the first failure of the live environment to the next deploy that landed or verification that passed.", Buckets: deliveryBuckets},
			[]string{"repo", "env"}),
		listed:     map[string]bool{},
		envsOfRepo: map[string]map[string]bool{},
	}
	for _, r := range repos {
		m.listed[r] = true
	}
	if reg != nil {
		reg.MustRegister(m.outcomes, m.deploys, m.failed, m.leadTime, m.restore)
	}
	return m
}

// labels maps a repository and environment to their label values.
func (m *metrics) labels(repo, env string) (string, string) {
	if !m.listed[repo] {
		return "other", "other"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	envs := m.envsOfRepo[repo]
	if envs == nil {
		envs = map[string]bool{}
		m.envsOfRepo[repo] = envs
	}
	if !envs[env] && len(envs) >= maxEnvsPerRepo {
		return repo, "other"
	}
	envs[env] = true
	return repo, env
}

func (m *metrics) count(o Outcome) {
	repo, env := m.labels(o.Repo, o.Env)
	m.outcomes.WithLabelValues(repo, env, string(o.Kind), o.Result()).Inc()
	if o.change() && o.OK {
		m.deploys.WithLabelValues(repo, env).Inc()
		if !o.FirstCommitAt.IsZero() && !o.FirstCommitAt.After(o.At) {
			m.leadTime.WithLabelValues(repo, env).Observe(o.At.Sub(o.FirstCommitAt).Seconds())
		}
	}
	if o.breaks() {
		m.failed.WithLabelValues(repo, env).Inc()
	}
}

func (m *metrics) restored(o Outcome, d time.Duration) {
	repo, env := m.labels(o.Repo, o.Env)
	m.restore.WithLabelValues(repo, env).Observe(d.Seconds())
}
