package pipeline

import (
	"strings"
	"testing"
	"time"
)

const budgetExample = `version: 1
environments:
  dev:        { branch: dev }
  staging:    { branch: staging, promote_from: dev, auto: true,
                failure_budget: { rate: 5%, window: 30d, min_samples: 20 } }
  production: { branch: main, promote_from: staging, auto: true,
                failure_budget: { rate: 0.5%, window: 7d, min_samples: 10, on_exhausted: hold } }
`

func TestBudgetVerdict(t *testing.T) {
	b := &FailureBudget{Rate: 0.05, Window: 30 * 24 * time.Hour, MinSamples: 20}
	for _, c := range []struct {
		failures, samples int
		exhausted         bool
	}{
		{1, 20, false}, // exactly 5 %: within budget
		{2, 20, true},  // 10 %
		{2, 39, true},  // 5.1 %
		{2, 40, false}, // 5 %
		{5, 19, false}, // too few samples to judge
		{0, 0, false},
	} {
		v := EvaluateBudget(b, BudgetFacts{Known: true, Failures: c.failures, Samples: c.samples})
		if v.Exhausted != c.exhausted {
			t.Errorf("%d of %d: exhausted = %v, want %v", c.failures, c.samples, v.Exhausted, c.exhausted)
		}
	}
	if EvaluateBudget(b, BudgetFacts{}) != nil || EvaluateBudget(nil, BudgetFacts{Known: true}) != nil {
		t.Error("a budget without counts (or counts without a budget) should say nothing")
	}
	v := EvaluateBudget(b, BudgetFacts{Known: true, Failures: 3, Samples: 20})
	if got, want := v.Sentence("staging"), "The failure budget of staging is exhausted: 3 of 20 outcomes failed in the last 30d (15%, budget 5%)."; got != want {
		t.Errorf("sentence %q, want %q", got, want)
	}
	if FormatPercent(0.005) != "0.5%" || FormatWindow(12*time.Hour) != "12h" {
		t.Error("formatting")
	}
}

func TestDecideBudgetExhausted(t *testing.T) {
	p := mustPipeline(t, budgetExample)
	f := stagingFacts()
	f.Checks = nil
	f.Budget = BudgetFacts{Known: true, Failures: 3, Samples: 20}

	// pr: the automatic promotion becomes a person's, on a pull request.
	d := p.Decide(toStaging, f)
	if d.Outcome != OutcomeReady || !d.BudgetPullRequest() || !strings.Contains(d.Reasons[0], "exhausted") || !strings.Contains(d.Reasons[0], "/promote staging") {
		t.Fatalf("exhausted budget: %s %v", d.Outcome, d.Reasons)
	}
	if !p.BudgetMayWantPullRequest(toStaging) || p.WantsPullRequest(toStaging) {
		t.Error("the budget's pull request is looked for only through BudgetMayWantPullRequest")
	}
	// A person's /promote goes ahead.
	f.Trigger = TriggerCommand
	if d := p.Decide(toStaging, f); d.Outcome != OutcomePromote {
		t.Errorf("a person's promotion under an exhausted pr budget: %s %v", d.Outcome, d.Reasons)
	}
	// Back within budget: automatic again.
	f.Trigger = TriggerEvent
	f.Budget = BudgetFacts{Known: true, Failures: 3, Samples: 60}
	if d := p.Decide(toStaging, f); d.Outcome != OutcomePromote || d.Budget == nil || d.Budget.Exhausted {
		t.Errorf("recovered budget: %s %v", d.Outcome, d.Reasons)
	}

	// hold: refused, for people too, with the reason.
	f.Budget = BudgetFacts{Known: true, Failures: 1, Samples: 10}
	f.Trigger = TriggerCommand
	d = p.Decide(toProduction, f)
	if d.Outcome != OutcomeRefuse || len(d.Reasons) != 1 || !strings.Contains(d.Reasons[0], "held until it is back within budget") || d.BudgetPullRequest() {
		t.Errorf("exhausted hold budget: %s %v", d.Outcome, d.Reasons)
	}
	if p.BudgetMayWantPullRequest(toProduction) {
		t.Error("a hold budget opens no pull request")
	}
}

func TestRenderBudgetPullRequest(t *testing.T) {
	p := mustPipeline(t, budgetExample)
	f := stagingFacts()
	f.Checks = nil
	f.Budget = BudgetFacts{Known: true, Failures: 3, Samples: 20}
	d := p.Decide(toStaging, f)
	_, body := p.RenderPullRequest(d, f)
	if !strings.Contains(body, "✋ **Ready for a person**: every gate passes for `aaaaaaa`, but the failure budget of staging is exhausted\\: 3 of 20 outcomes failed") {
		t.Errorf("body:\n%s", body)
	}
}
