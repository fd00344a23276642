package web

import (
	"context"
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/pipeline"
	"github.com/hoist-dev/hoist/internal/safety"
)

// DeliverySource is the record of outcomes per environment
// (safety.Recorder), for the delivery measures and failure budgets.
type DeliverySource interface {
	Outcomes(ctx context.Context, repo, env string, since time.Time) ([]safety.Outcome, error)
}

// deliveryWindow is the window of the dashboard's delivery measures.
const deliveryWindow = 30 * 24 * time.Hour

// DeliveryView is one environment's delivery measures and failure budget.
type DeliveryView struct {
	Env         string
	Deployments int
	PerDay      string
	LeadTime    string
	ChangeFail  string
	Restore     string
	// Budget states the failure budget ("" when the environment has
	// none); Exhausted marks one that stops automatic promotions.
	Budget    string
	Exhausted bool
	// Chart is the deployments per day (bars) and each change's lead time
	// (dots), drawn here as SVG: no script runs on the page.
	Chart template.HTML
}

// delivery adds the delivery measures of v's environments.
func (d *Dashboard) delivery(ctx context.Context, v *RepoView) {
	if d.opts.Delivery == nil {
		return
	}
	now := d.opts.Now()
	since := now.Add(-deliveryWindow)
	longest := deliveryWindow
	for _, e := range v.Envs {
		if e.budget != nil && e.budget.Window > longest {
			longest = e.budget.Window
		}
	}
	// Incidents may have begun a while before the window.
	outs, err := d.opts.Delivery.Outcomes(ctx, v.FullName, "", now.Add(-longest-7*24*time.Hour))
	if err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Str("repo", v.FullName).Msg("dashboard: read delivery outcomes")
		v.Errors = append(v.Errors, "could not read the delivery outcomes")
		return
	}
	byEnv := map[string]safety.Measures{}
	for _, m := range safety.Compute(outs, since, now.Add(time.Nanosecond)) {
		byEnv[m.Env] = m
	}
	for _, e := range v.Envs {
		m, has := byEnv[e.Name]
		if !has && e.budget == nil {
			continue
		}
		dv := DeliveryView{Env: e.Name, Deployments: m.Deployments, PerDay: fmt.Sprintf("%.2f", m.PerDay),
			LeadTime: medianText(m.LeadTimeMedian, len(m.LeadTimes)), Restore: medianText(m.RestoreMedian, len(m.Restores)), ChangeFail: "—"}
		if m.Changes > 0 {
			dv.ChangeFail = fmt.Sprintf("%s (%d of %d)", pipeline.FormatPercent(m.ChangeFailureRate), m.FailedChanges, m.Changes)
		}
		if m.Open {
			dv.Restore += ", an incident is open"
		}
		if e.budget != nil {
			f, n := safety.BudgetCounts(outs, v.FullName, e.Name, now.Add(-e.budget.Window))
			bv := pipeline.EvaluateBudget(e.budget, pipeline.BudgetFacts{Known: true, Failures: f, Samples: n})
			dv.Budget, dv.Exhausted = bv.Sentence(e.Name), bv.Exhausted
			if bv.Exhausted && bv.Hold {
				dv.Budget += " Promotions are held."
			} else if bv.Exhausted {
				dv.Budget += " Automatic promotions wait for a person."
			}
		}
		dv.Chart = deliveryChart(outs, v.FullName, e.Name, since, now)
		v.Delivery = append(v.Delivery, dv)
	}
}

func medianText(d time.Duration, n int) string {
	if n == 0 {
		return "—"
	}
	return fmt.Sprintf("%s (median of %d)", safety.FormatDuration(d), n)
}

// deliveryChart draws 30 daily bars of landed changes and, over them, one
// dot per change at its lead time (log scale from a minute to 30 days).
// Every number in it is computed here; no text from outside is embedded.
func deliveryChart(outs []safety.Outcome, repo, env string, since, now time.Time) template.HTML {
	const w, h, days = 240, 48, 30
	var counts [days]int
	type dot struct {
		day  int
		lead time.Duration
	}
	var dots []dot
	for _, o := range outs {
		if o.Repo != repo || o.Env != env || o.Kind != safety.KindDeploy || !o.OK || o.Restore || o.At.Before(since) || o.At.After(now) {
			continue
		}
		day := int(o.At.Sub(since) / (24 * time.Hour))
		if day >= days {
			day = days - 1
		}
		counts[day]++
		if !o.FirstCommitAt.IsZero() && !o.FirstCommitAt.After(o.At) {
			dots = append(dots, dot{day, o.At.Sub(o.FirstCommitAt)})
		}
	}
	peak := 1
	for _, c := range counts {
		peak = max(peak, c)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="deployments per day and lead times, last 30 days">`, w, h, w, h)
	bw := float64(w) / days
	for i, c := range counts {
		if c == 0 {
			continue
		}
		bh := float64(h-4) * float64(c) / float64(peak)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#8fbcbb"><title>%d</title></rect>`,
			float64(i)*bw+1, float64(h)-bh, bw-2, bh, c)
	}
	for _, d := range dots {
		// log10 of seconds: 60 s (1.78) at the bottom, 30 days (6.41) at the top.
		y := float64(h-3) - float64(h-6)*(log10(d.lead.Seconds())-1.78)/(6.41-1.78)
		y = min(max(y, 3), float64(h-3))
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="#bf616a"><title>%s</title></circle>`,
			float64(d.day)*bw+bw/2, y, safety.FormatDuration(d.lead))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // #nosec G203 -- numbers and durations formatted here only
}

func log10(x float64) float64 {
	if x < 1 {
		return 0
	}
	return math.Log10(x)
}
