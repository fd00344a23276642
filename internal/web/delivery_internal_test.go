package web

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/pipeline"
	"github.com/hoist-dev/hoist/internal/safety"
)

type fakeDelivery []safety.Outcome

func (f fakeDelivery) Outcomes(_ context.Context, repo, env string, since time.Time) ([]safety.Outcome, error) {
	var out []safety.Outcome
	for _, o := range f {
		if o.Repo == repo && (env == "" || o.Env == env) && !o.At.Before(since) {
			out = append(out, o)
		}
	}
	return out, nil
}

// The repository page shows each environment's delivery measures, an
// exhausted budget, and the chart as inline SVG (no script).
func TestDeliveryView(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	r := "acme/site"
	src := fakeDelivery{
		{Repo: r, Env: "staging", Kind: safety.KindDeploy, OK: true, SHA: "a1", At: now.Add(-48 * time.Hour), FirstCommitAt: now.Add(-49 * time.Hour)},
		{Repo: r, Env: "staging", Kind: safety.KindDeploy, OK: true, SHA: "a2", At: now.Add(-2 * time.Hour), FirstCommitAt: now.Add(-5 * time.Hour)},
		{Repo: r, Env: "staging", Kind: safety.KindCIGate, OK: false, SHA: "a3", At: now.Add(-time.Hour)},
		{Repo: r, Env: "staging", Kind: safety.KindRollback, OK: false, SHA: "a2", At: now.Add(-30 * time.Minute)},
	}
	d := NewDashboard(DashboardOptions{Delivery: src, Now: func() time.Time { return now }})
	v := &RepoView{FullName: r, Envs: []EnvView{
		{Name: "dev"},
		{Name: "staging", budget: &pipeline.FailureBudget{Rate: 0.05, Window: 30 * 24 * time.Hour, MinSamples: 4}},
	}}
	d.delivery(context.Background(), v)
	if len(v.Delivery) != 1 {
		t.Fatalf("delivery views: %+v", v.Delivery)
	}
	dv := v.Delivery[0]
	if dv.Deployments != 2 || dv.LeadTime != "1h (median of 2)" || dv.ChangeFail != "50% (1 of 2)" || !dv.Exhausted ||
		!strings.Contains(dv.Budget, "2 of 4 outcomes failed") || !strings.Contains(dv.Restore, "an incident is open") {
		t.Errorf("view: %+v", dv)
	}
	chart := string(dv.Chart)
	if !strings.HasPrefix(chart, "<svg") || strings.Count(chart, "<rect") != 2 || strings.Count(chart, "<circle") != 2 || strings.Contains(chart, "<script") {
		t.Errorf("chart: %s", chart)
	}
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, "dashboard.html", &Page{Title: r, Single: true, Now: now, Repos: []*RepoView{v}}); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{"Delivery, last 30 days", "budget exhausted", "<svg class=\"chart\"", "Automatic promotions wait for a person."} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}
