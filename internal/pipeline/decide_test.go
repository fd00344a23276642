package pipeline

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

const example = `version: 1
environments:
  dev:        { branch: dev }
  staging:    { branch: staging, promote_from: dev, auto: true,
                gates: { checks: ["ci / test"], smoke: true } }
  production: { branch: main, promote_from: staging, auto: false, permission: maintain,
                gates: { checks: ["ci / test"], smoke: true, soak: 30m, approvals: 1 },
                deploy: { target: site-bucket, url: "https://www.example.com/" } }
  preview:    { branch: preview, gates: { smoke: true } }
candidates:
  - { from: pre-staging, to: staging }
  - { from: pre-production, to: production }
  - { from: pre-preview, to: preview, auto: false }
tags: [ { pattern: "web-*", promote: production }, { pattern: "v*.*.*", promote: production } ]
`

const (
	devHead     = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	stagingHead = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func green(sha string) []Check {
	return []Check{
		{Name: "ci / test", Source: SourceCheckRun, Status: "completed", Conclusion: "success", At: t0},
		{Name: SmokeCheckName, Source: SourceCheckRun, Status: "completed", Conclusion: "success", App: "hoist", At: t0},
	}
}

// stagingFacts are the facts of a fast-forwardable dev → staging promotion
// with every gate green.
func stagingFacts() Facts {
	return Facts{
		SourceHead: devHead, SourceHeadSince: at(0), TargetHead: stagingHead, Relation: RelationAhead,
		Commits:  []Commit{{SHA: devHead, Subject: "Add products page", Author: "alice"}},
		Checks:   green(devHead),
		Now:      at(60),
		Trigger:  TriggerEvent,
		HoistApp: "hoist",
	}
}

func productionFacts() Facts {
	f := stagingFacts()
	f.PullRequest = &PullRequest{Number: 9, Author: "hoist[bot]"}
	f.Reviews = []Review{{User: "bob", State: "APPROVED", SHA: devHead, At: at(1)}}
	f.Reviewers = map[string]Reviewer{"bob": {Permission: "write"}}
	return f
}

var toStaging = Target{Env: "staging", Route: RoutePromote, Source: "dev"}
var toProduction = Target{Env: "production", Route: RoutePromote, Source: "staging"}

func TestDecide(t *testing.T) {
	p := mustPipeline(t, example)
	until := at(120)
	expired := at(30)
	cases := []struct {
		name    string
		target  Target
		facts   func(*Facts)
		base    func() Facts
		want    Outcome
		reasons []string // substrings of the joined reasons
		wait    time.Time
	}{
		{name: "auto promotes when green", target: toStaging, want: OutcomePromote},
		{name: "red check refuses", target: toStaging, facts: func(f *Facts) {
			f.Checks[0].Conclusion = "failure"
		}, want: OutcomeRefuse, reasons: []string{`Gate check "ci / test" failed: failure (check run).`}},
		{name: "missing check waits", target: toStaging, facts: func(f *Facts) {
			f.Checks = f.Checks[1:]
		}, want: OutcomeWait, reasons: []string{`Waiting for check "ci / test": not reported yet.`}},
		{name: "failed smoke refuses", target: toStaging, facts: func(f *Facts) {
			f.Checks[1].Conclusion = "failure"
		}, want: OutcomeRefuse, reasons: []string{"Gate smoke failed"}},
		{name: "failure and pending: refuse wins", target: toStaging, facts: func(f *Facts) {
			f.Checks[0].Conclusion = "failure"
			f.Checks[1].Status, f.Checks[1].Conclusion = "in_progress", ""
		}, want: OutcomeRefuse, reasons: []string{"failed"}},
		{name: "auto off: ready, not promoted", target: toProduction, base: productionFacts, want: OutcomeReady,
			reasons: []string{"comment `/promote production` (needs maintain permission)"}},
		{name: "command bypasses auto off", target: toProduction, base: productionFacts, facts: func(f *Facts) {
			f.Trigger, f.Actor = TriggerCommand, "carol"
		}, want: OutcomePromote},
		{name: "manual bypasses auto off", target: toProduction, base: productionFacts, facts: func(f *Facts) {
			f.Trigger = TriggerManual
		}, want: OutcomePromote},
		{name: "command does not bypass a failing gate", target: toProduction, base: productionFacts, facts: func(f *Facts) {
			f.Trigger = TriggerCommand
			f.Checks[0].Conclusion = "timed_out"
		}, want: OutcomeRefuse, reasons: []string{"timed out"}},
		{name: "command does not bypass a pending gate", target: toProduction, base: productionFacts, facts: func(f *Facts) {
			f.Trigger = TriggerCommand
			f.Now = at(10)
		}, want: OutcomeWait, reasons: []string{"Waiting for soak: 10m of 30m"}, wait: at(30)},
		{name: "soak before: wait until its end", target: toProduction, base: productionFacts, facts: func(f *Facts) {
			f.Now = at(5)
		}, want: OutcomeWait, wait: at(30)},
		{name: "soak and a pending check: wait, with the soak's end", target: toProduction, base: productionFacts, facts: func(f *Facts) {
			f.Now = at(5)
			f.Checks[0].Status, f.Checks[0].Conclusion = "queued", ""
		}, want: OutcomeWait, reasons: []string{"queued", "soak"}, wait: at(30)},
		{name: "approval by the author does not count", target: toProduction, base: productionFacts, facts: func(f *Facts) {
			f.Trigger = TriggerCommand
			f.Reviews = []Review{{User: "hoist[bot]", State: "APPROVED", SHA: devHead}}
		}, want: OutcomeWait, reasons: []string{"approvals: 0 of 1"}},
		{name: "diverged target refuses with the blocking commits", target: toStaging, facts: func(f *Facts) {
			f.Relation = RelationDiverged
			f.Blocking = []Commit{{SHA: "dddddddddddd", Subject: "Hotfix on staging", Author: "eve"}}
		}, want: OutcomeRefuse, reasons: []string{"staging cannot be fast-forwarded to aaaaaaa: it has 1 commit that dev lacks (ddddddd Hotfix on staging). Merge staging into dev (or revert those commits on staging), then hoist promotes again; hoist never force-pushes."}},
		{name: "up to date", target: toStaging, facts: func(f *Facts) {
			f.TargetHead = devHead
		}, want: OutcomeUpToDate, reasons: []string{"staging is already at aaaaaaa."}},
		{name: "target ahead of source", target: toStaging, facts: func(f *Facts) {
			f.Relation = RelationBehind
		}, want: OutcomeUpToDate, reasons: []string{"staging already contains aaaaaaa"}},
		{name: "no source", target: toStaging, facts: func(f *Facts) {
			f.SourceHead = ""
		}, want: OutcomeRefuse, reasons: []string{"dev has no commit to promote"}},
		{name: "unknown environment", target: Target{Env: "qa", Route: RoutePromote, Source: "dev"}, want: OutcomeRefuse, reasons: []string{"qa is not an environment"}},
		{name: "held until: refuse, re-evaluate when it ends", target: toStaging, facts: func(f *Facts) {
			f.Holds = []Hold{{Env: "staging", By: "bob", Reason: "release freeze", Since: at(0), Until: &until}}
		}, want: OutcomeRefuse, reasons: []string{"staging is held by bob: release freeze (until 2026-03-01 14:00 UTC)."}, wait: until},
		{name: "held open-ended: no timer", target: toStaging, facts: func(f *Facts) {
			f.Holds = []Hold{{Env: "staging", By: "bob"}}
		}, want: OutcomeRefuse, reasons: []string{"until someone says /unhold staging"}},
		{name: "a hold on every environment", target: toStaging, facts: func(f *Facts) {
			f.Holds = []Hold{{By: "ops", Reason: "incident"}}
		}, want: OutcomeRefuse, reasons: []string{"held by ops: incident"}},
		{name: "expired hold does not count", target: toStaging, facts: func(f *Facts) {
			f.Holds = []Hold{{Env: "staging", By: "bob", Until: &expired}}
		}, want: OutcomePromote},
		{name: "a hold on another environment does not count", target: toStaging, facts: func(f *Facts) {
			f.Holds = []Hold{{Env: "production", By: "bob"}}
		}, want: OutcomePromote},
		{name: "held and red: both reasons, no timer", target: toStaging, facts: func(f *Facts) {
			f.Holds = []Hold{{Env: "staging", By: "bob", Until: &until}}
			f.Checks[0].Conclusion = "failure"
		}, want: OutcomeRefuse, reasons: []string{"held by bob", "failed"}},
		{name: "candidate route: automatic by default", target: Target{Env: "staging", Route: RouteCandidate, Source: "pre-staging"}, want: OutcomePromote},
		{name: "candidate with auto false: ready", target: Target{Env: "preview", Route: RouteCandidate, Source: "pre-preview"}, want: OutcomeReady},
		{name: "tag route promotes although auto is off", target: Target{Env: "production", Route: RouteTag, Source: "web-1.2.0", SHA: devHead}, base: productionFacts, want: OutcomePromote},
		{name: "new branch is created", target: toStaging, facts: func(f *Facts) {
			f.TargetHead, f.Relation = "", ""
		}, want: OutcomePromote},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base := stagingFacts
			if c.base != nil {
				base = c.base
			}
			f := base()
			if c.facts != nil {
				c.facts(&f)
			}
			d := p.Decide(c.target, f)
			joined := strings.Join(d.Reasons, "\n")
			if d.Outcome != c.want {
				t.Fatalf("outcome %s, want %s; reasons:\n%s", d.Outcome, c.want, joined)
			}
			for _, r := range c.reasons {
				if !strings.Contains(joined, r) {
					t.Errorf("reasons lack %q:\n%s", r, joined)
				}
			}
			if !d.WaitUntil.Equal(c.wait) {
				t.Errorf("WaitUntil = %v, want %v", d.WaitUntil, c.wait)
			}
			if d.Target != c.target {
				t.Errorf("target = %+v", d.Target)
			}
		})
	}
}

func TestDecidePromoteFields(t *testing.T) {
	p := mustPipeline(t, example)
	d := p.Decide(toStaging, stagingFacts())
	if d.Outcome != OutcomePromote || d.SHA != devHead || d.From != stagingHead || d.Create {
		t.Errorf("decision = %+v", d)
	}
	if len(d.Gates) != 2 || len(d.Pending) != 0 || len(d.Failed) != 0 {
		t.Errorf("gates = %+v", d.Gates)
	}
	f := stagingFacts()
	f.TargetHead = ""
	if d := p.Decide(toStaging, f); !d.Create || d.From != "" {
		t.Errorf("a missing branch must be created: %+v", d)
	}
}

func TestDecideDivergedListsBlocking(t *testing.T) {
	p := mustPipeline(t, example)
	f := stagingFacts()
	f.Relation = RelationDiverged
	for i := 0; i < 7; i++ {
		f.Blocking = append(f.Blocking, Commit{SHA: strings.Repeat(string(rune('0'+i)), 40), Subject: "fix"})
	}
	d := p.Decide(toStaging, f)
	if d.Outcome != OutcomeRefuse || !reflect.DeepEqual(d.Blocking, f.Blocking) {
		t.Fatalf("decision = %+v", d)
	}
	if !strings.Contains(d.Reasons[0], "7 commits that dev lacks (0000000 fix, 1111111 fix, 2222222 fix, 3333333 fix, 4444444 fix, and 2 more)") {
		t.Errorf("reason = %s", d.Reasons[0])
	}
}

func TestDecideLongFormOnly(t *testing.T) {
	p := mustPipeline(t, example+"commands: { short_form: false }\n")
	d := p.Decide(toProduction, productionFacts())
	if d.Outcome != OutcomeReady || !strings.Contains(d.Reasons[0], "`/hoist promote production`") {
		t.Errorf("decision = %+v", d)
	}
}

func TestDecideUnrelatedRefusesWithoutWaiting(t *testing.T) {
	p := mustPipeline(t, example)
	f := stagingFacts()
	f.Relation = RelationUnrelated
	d := p.Decide(toStaging, f)
	if d.Outcome != OutcomeRefuse || !d.WaitUntil.IsZero() || len(d.Blocking) != 0 {
		t.Fatalf("decision = %+v", d)
	}
	if len(d.Reasons) != 1 || !strings.Contains(d.Reasons[0], "no common ancestor") || !strings.Contains(d.Reasons[0], "never force-pushes") {
		t.Errorf("reasons = %q", d.Reasons)
	}
}

// A rejoin is carried to the decision only with the relation it stands
// for; a diverged branch is refused whatever the facts say.
func TestDecideRejoin(t *testing.T) {
	p := mustPipeline(t, example)
	f := stagingFacts()
	f.Rejoin = true
	if d := p.Decide(toStaging, f); d.Outcome != OutcomePromote || !d.Rejoin || d.SHA != devHead || d.From != stagingHead {
		t.Errorf("rejoin decision = %+v", d)
	}
	f.Relation = RelationDiverged
	if d := p.Decide(toStaging, f); d.Outcome != OutcomeRefuse || d.Rejoin {
		t.Errorf("diverged decision = %+v", d)
	}
	f = stagingFacts()
	f.Rejoin = true
	f.Holds = []Hold{{Env: "staging", By: "hoist", Reason: "verification failed"}}
	if d := p.Decide(toStaging, f); d.Outcome != OutcomeRefuse {
		t.Errorf("a held rejoin must be refused: %+v", d)
	}
}
