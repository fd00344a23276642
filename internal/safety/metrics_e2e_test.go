package safety_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/safety"
	"github.com/hoist-dev/hoist/internal/safety/safetytest"
	"github.com/hoist-dev/hoist/internal/sitetest"
)

// hoist serve's /metrics after a scripted history of the environment
// "live" of acme/site, a repository the server names in metrics_repos:
// deploy counts, lead times, change failures and restore times are exact.
func TestMetricsMatchScriptedHistory(t *testing.T) {
	s := sitetest.StartSite(t, sitetest.SiteSpec{Tweaks: []func(*serverconfig.Server){func(c *serverconfig.Server) {
		c.Alerts.MetricsRepos = []string{"acme/site"}
	}}})
	ctx := context.Background()
	base := time.Now().UTC().Add(-24 * time.Hour).Truncate(time.Minute)
	m := func(n int) time.Time { return base.Add(time.Duration(n) * time.Minute) }
	r, e := "acme/site", "live"
	history := append(safetytest.History(r, e, base),
		safety.Outcome{Repo: "acme/other", Env: "live", Kind: safety.KindDeploy, OK: true, SHA: "b1", At: m(50)},
	)
	for round := 0; round < 2; round++ { // retried: counted once
		for _, o := range history {
			if err := s.Caps.Outcomes.Record(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
	}
	res, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	got := string(b)
	for _, line := range []string{
		`hoist_deployments_total{env="live",repo="acme/site"} 4`,
		`hoist_lead_time_seconds_sum{env="live",repo="acme/site"} 18000`,
		`hoist_lead_time_seconds_count{env="live",repo="acme/site"} 4`,
		`hoist_lead_time_seconds_bucket{env="live",repo="acme/site",le="3600"} 2`,
		`hoist_change_failures_total{env="live",repo="acme/site"} 3`,
		`hoist_time_to_restore_seconds_sum{env="live",repo="acme/site"} 3900`,
		`hoist_time_to_restore_seconds_count{env="live",repo="acme/site"} 2`,
		`hoist_delivery_outcomes_total{env="live",kind="ci_gate",repo="acme/site",result="failed"} 1`,
		`hoist_delivery_outcomes_total{env="live",kind="deploy",repo="acme/site",result="ok"} 5`,
		`hoist_delivery_outcomes_total{env="live",kind="rollback",repo="acme/site",result="failed"} 1`,
		// A repository the server does not name is counted, unnamed.
		`hoist_deployments_total{env="other",repo="other"} 1`,
	} {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("/metrics lacks %s", line)
		}
	}
	if strings.Contains(got, "acme/other") {
		t.Error("/metrics names a repository the server does not list")
	}
	if t.Failed() {
		var ours []string
		for _, l := range strings.Split(got, "\n") {
			if strings.Contains(l, "hoist_deploy") || strings.Contains(l, "lead_time") || strings.Contains(l, "restore") || strings.Contains(l, "change_fail") || strings.Contains(l, "delivery_outcomes") {
				ours = append(ours, l)
			}
		}
		t.Log(strings.Join(ours, "\n"))
	}
}
