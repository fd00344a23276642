package safety_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/safety"
	"github.com/hoist-dev/hoist/internal/store"
	"github.com/hoist-dev/hoist/internal/testenv"
)

func TestRecorderSQLite(t *testing.T) {
	s, err := store.Open(context.Background(), store.Options{SQLitePath: filepath.Join(t.TempDir(), "hoist.db"), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	exerciseRecorder(t, s)
}

func TestRecorderPostgres(t *testing.T) {
	s, err := store.Open(context.Background(), store.Options{DatabaseURL: testenv.Postgres(t), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	exerciseRecorder(t, s)
}

func exerciseRecorder(t *testing.T, s *store.Store) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	now := t0.Add(24 * time.Hour)
	reg := prometheus.NewRegistry()
	rec := safety.NewRecorder(safety.Deps{Store: s, Registerer: reg, MetricsRepos: []string{"acme/site"}, Now: func() time.Time { return now }})
	m := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }
	history := []safety.Outcome{
		{Key: "deploy:1", Repo: "acme/site", Env: "production", Kind: safety.KindDeploy, OK: true, SHA: "a1", At: m(100), FirstCommitAt: m(70)},
		{Key: "verify:2", Repo: "acme/site", Env: "production", Kind: safety.KindVerify, OK: false, SHA: "a2", At: m(205), Reason: "/ answered 503"},
		{Key: "rollback:2", Repo: "acme/site", Env: "production", Kind: safety.KindRollback, OK: false, SHA: "a2", At: m(210)},
		{Key: "deploy:3", Repo: "acme/site", Env: "production", Kind: safety.KindDeploy, OK: true, SHA: "a1", At: m(225), Restore: true},
		{Repo: "other/repo", Env: "dev", Kind: safety.KindSmoke, OK: false, SHA: "b1", At: m(300)},
	}
	for round := 0; round < 2; round++ { // the second round is a retry of every job: nothing new
		for _, o := range history {
			if err := rec.Record(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
	}
	outs, err := rec.Outcomes(ctx, "", "", t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != len(history) {
		t.Fatalf("stored %d outcomes, want %d (idempotent by key)", len(outs), len(history))
	}
	if o := outs[0]; !o.FirstCommitAt.Equal(m(70)) || !o.At.Equal(m(100)) || !o.OK || o.Kind != safety.KindDeploy {
		t.Errorf("first outcome read back as %+v", o)
	}
	if o := outs[3]; !o.Restore || o.Reason != "" {
		t.Errorf("restore read back as %+v", o)
	}
	if o := outs[4]; o.Key != "smoke:other/repo:dev:b1:failed" {
		t.Errorf("default key %q", o.Key)
	}
	f, n, err := rec.BudgetCounts(ctx, "acme/site", "production", 30*24*time.Hour)
	if err != nil || f != 2 || n != 4 {
		t.Errorf("budget counts %d/%d %v, want 2/4", f, n, err)
	}
	ms, err := rec.Report(ctx, "acme/site", 30*24*time.Hour)
	if err != nil || len(ms) != 1 || ms[0].Deployments != 1 || len(ms[0].Restores) != 1 || ms[0].Restores[0] != 20*time.Minute {
		t.Errorf("report %+v %v", ms, err)
	}

	const want = `
# HELP hoist_time_to_restore_seconds Time to restore: from the first failure of the live environment to the next deploy that landed or verification that passed.
# TYPE hoist_time_to_restore_seconds histogram
hoist_time_to_restore_seconds_bucket{env="production",repo="acme/site",le="60"} 0
hoist_time_to_restore_seconds_bucket{env="production",repo="acme/site",le="300"} 0
hoist_time_to_restore_seconds_bucket{env="production",repo="acme/site",le="900"} 0
hoist_time_to_restore_seconds_bucket{env="production",repo="acme/site",le="1800"} 1
hoist_time_to_restore_seconds_bucket{env="production",repo="acme/site",le="3600"} 1
hoist_time_to_restore_seconds_bucket{env="production",repo="acme/site",le="10800"} 1
hoist_time_to_restore_seconds_bucket{env="production",repo="acme/site",le="21600"} 1
hoist_time_to_restore_seconds_bucket{env="production",repo="acme/site",le="43200"} 1
hoist_time_to_restore_seconds_bucket{env="production",repo="acme/site",le="86400"} 1
hoist_time_to_restore_seconds_bucket{env="production",repo="acme/site",le="172800"} 1
hoist_time_to_restore_seconds_bucket{env="production",repo="acme/site",le="604800"} 1
hoist_time_to_restore_seconds_bucket{env="production",repo="acme/site",le="2.592e+06"} 1
hoist_time_to_restore_seconds_bucket{env="production",repo="acme/site",le="+Inf"} 1
hoist_time_to_restore_seconds_sum{env="production",repo="acme/site"} 1200
hoist_time_to_restore_seconds_count{env="production",repo="acme/site"} 1
# HELP hoist_deployments_total Changes that landed in an environment (deploys that succeeded; restores excluded): deployment frequency.
# TYPE hoist_deployments_total counter
hoist_deployments_total{env="production",repo="acme/site"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "hoist_time_to_restore_seconds", "hoist_deployments_total"); err != nil {
		t.Error(err)
	}
	// A repository the server does not list is counted, but not named.
	if got := testutil.ToFloat64(mustCounter(t, reg, "hoist_delivery_outcomes_total", map[string]string{"repo": "other", "env": "other", "kind": "smoke", "result": "failed"})); got != 1 {
		t.Errorf("unlisted repository's outcome counted %v times", got)
	}
	if err := rec.Record(ctx, safety.Outcome{Repo: "acme/site", Env: "production", Kind: "coffee"}); err == nil {
		t.Error("an unknown kind was recorded")
	}
}

// mustCounter finds one series of a gathered counter family.
func mustCounter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue metric
				}
			}
			return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "x", Help: "x"}, func() float64 { return m.GetCounter().GetValue() })
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return nil
}
