package pipeline

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/hoist-dev/hoist/config"
)

// FailureBudget is how often changes may fail on their way into an
// environment: at most Rate (a fraction) of the outcomes of Window, once
// there are MinSamples of them.
type FailureBudget struct {
	Rate       float64
	Window     time.Duration
	MinSamples int
	// Hold refuses promotions while the budget is exhausted; otherwise
	// automatic promotions wait for a person on the promotion pull request.
	Hold bool
}

func failureBudget(b *config.RepoFailureBudget) *FailureBudget {
	if b == nil {
		return nil
	}
	return &FailureBudget{Rate: b.RateValue, Window: b.WindowValue, MinSamples: b.MinSamples, Hold: b.OnExhausted == "hold"}
}

// BudgetFacts are the outcomes recorded for an environment over its
// budget's window: Failures of Samples. Known is false when they were not
// counted (no budget, or no record kept), and then the budget says nothing.
type BudgetFacts struct {
	Known    bool
	Failures int
	Samples  int
}

// BudgetVerdict is what a failure budget says of the outcomes counted.
type BudgetVerdict struct {
	FailureBudget
	Failures, Samples int
	// Exhausted is set when the window holds at least MinSamples outcomes
	// and more than Rate of them failed.
	Exhausted bool
}

// EvaluateBudget judges f against b; nil when b is nil or f unknown.
func EvaluateBudget(b *FailureBudget, f BudgetFacts) *BudgetVerdict {
	if b == nil || !f.Known {
		return nil
	}
	v := &BudgetVerdict{FailureBudget: *b, Failures: f.Failures, Samples: f.Samples}
	// Compared in whole numbers: failures > rate × samples, without the
	// rounding of a division (5 % of 20 is exactly 1).
	v.Exhausted = f.Samples >= b.MinSamples && f.Samples > 0 &&
		float64(f.Failures) > b.Rate*float64(f.Samples)+1e-9
	return v
}

// FailureRate is Failures/Samples (0 without samples).
func (v BudgetVerdict) FailureRate() float64 {
	if v.Samples == 0 {
		return 0
	}
	return float64(v.Failures) / float64(v.Samples)
}

// Sentence states the budget, such as "The failure budget of production
// is exhausted: 3 of 20 outcomes failed in the last 30d (15%, budget 5%)."
func (v BudgetVerdict) Sentence(env string) string {
	state := "is within budget"
	if v.Exhausted {
		state = "is exhausted"
	}
	return fmt.Sprintf("The failure budget of %s %s: %d of %d outcomes failed in the last %s (%s, budget %s).",
		env, state, v.Failures, v.Samples, FormatWindow(v.Window), FormatPercent(v.FailureRate()), FormatPercent(v.Rate))
}

// BudgetPullRequest reports whether the decision is an automatic
// promotion that an exhausted failure budget handed to a person: it is
// carried by a promotion pull request like a promotion with auto off.
func (d Decision) BudgetPullRequest() bool {
	return d.Budget != nil && d.Budget.Exhausted && !d.Budget.Hold && d.Outcome == OutcomeReady
}

// FormatPercent writes a fraction as a percentage with at most one
// decimal: 0.05 → "5%", 0.125 → "12.5%".
func FormatPercent(f float64) string {
	s := fmt.Sprintf("%.1f", math.Round(f*1000)/10)
	return strings.TrimSuffix(s, ".0") + "%"
}

// FormatWindow writes a window in days when whole, else in hours.
func FormatWindow(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return fmt.Sprintf("%dh", d/time.Hour)
}
