package safety

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Report is the delivery measures of a window, as `hoist report` prints
// them.
type Report struct {
	Since    time.Time    `json:"since"`
	Until    time.Time    `json:"until"`
	Measures []EnvMeasure `json:"environments"`
}

// EnvMeasure is Measures with durations in seconds, for JSON.
type EnvMeasure struct {
	Measures
	LeadTimeSeconds       []float64 `json:"lead_time_seconds"`
	LeadTimeMedianSeconds float64   `json:"lead_time_median_seconds"`
	RestoreSeconds        []float64 `json:"time_to_restore_seconds"`
	RestoreMedianSeconds  float64   `json:"time_to_restore_median_seconds"`
}

// NewReport wraps measures computed over [since, until).
func NewReport(ms []Measures, since, until time.Time) Report {
	r := Report{Since: since.UTC(), Until: until.UTC(), Measures: []EnvMeasure{}}
	for _, m := range ms {
		r.Measures = append(r.Measures, EnvMeasure{Measures: m, LeadTimeSeconds: seconds(m.LeadTimes), LeadTimeMedianSeconds: m.LeadTimeMedian.Seconds(),
			RestoreSeconds: seconds(m.Restores), RestoreMedianSeconds: m.RestoreMedian.Seconds()})
	}
	return r
}

func seconds(ds []time.Duration) []float64 {
	out := make([]float64, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.Seconds())
	}
	return out
}

// WriteJSON writes r as indented JSON.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes r for people: one block per repository and
// environment.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Delivery from %s to %s\n", r.Since.Format("2006-01-02 15:04 UTC"), r.Until.Format("2006-01-02 15:04 UTC"))
	if len(r.Measures) == 0 {
		b.WriteString("\nNo outcomes recorded in this window.\n")
	}
	for _, m := range r.Measures {
		fmt.Fprintf(&b, "\n%s %s\n", m.Repo, m.Env)
		fmt.Fprintf(&b, "  deployments       %d (%.2f a day)\n", m.Deployments, m.PerDay)
		fmt.Fprintf(&b, "  lead time         %s\n", durations(m.LeadTimeMedian, m.LeadTimes, "change"))
		if m.Changes > 0 {
			fmt.Fprintf(&b, "  change failures   %d of %d changes (%s)\n", m.FailedChanges, m.Changes, percent(m.ChangeFailureRate))
		} else {
			b.WriteString("  change failures   no changes\n")
		}
		restore := durations(m.RestoreMedian, m.Restores, "incident")
		if m.Open {
			restore += "; an incident is open"
		}
		fmt.Fprintf(&b, "  time to restore   %s\n", restore)
		fmt.Fprintf(&b, "  outcomes          %d failed of %d\n", m.Failures, m.Samples)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func durations(median time.Duration, ds []time.Duration, what string) string {
	if len(ds) == 0 {
		return "none measured"
	}
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = FormatDuration(d)
	}
	plural := "s"
	if len(ds) == 1 {
		plural = ""
	}
	return fmt.Sprintf("median %s (%d %s%s: %s)", FormatDuration(median), len(ds), what, plural, strings.Join(parts, ", "))
}

func percent(f float64) string {
	s := fmt.Sprintf("%.1f", f*100)
	return strings.TrimSuffix(s, ".0") + "%"
}

// FormatDuration writes d to the second, without zero units: 1h30m, 45m,
// 2d3h, 20s.
func FormatDuration(d time.Duration) string {
	d = d.Round(time.Second)
	if d <= 0 {
		return "0s"
	}
	var b strings.Builder
	for _, u := range []struct {
		n    time.Duration
		unit string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if d >= u.n {
			fmt.Fprintf(&b, "%d%s", d/u.n, u.unit)
			d %= u.n
		}
	}
	return b.String()
}
