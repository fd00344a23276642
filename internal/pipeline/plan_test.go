package pipeline

import (
	"fmt"
	"reflect"
	"testing"
)

func TestPlan(t *testing.T) {
	p := mustPipeline(t, example)
	cases := []struct {
		name string
		ev   Event
		want []Target
	}{
		{"push to dev re-evaluates staging", Event{Kind: EventPush, Branch: "dev"},
			[]Target{{Env: "staging", Route: RoutePromote, Source: "dev"}}},
		{"refs/heads/ is accepted", Event{Kind: EventPush, Branch: "refs/heads/dev"},
			[]Target{{Env: "staging", Route: RoutePromote, Source: "dev"}}},
		{"push to staging: production from it, and staging's own promotions", Event{Kind: EventPush, Branch: "staging"},
			[]Target{
				{Env: "staging", Route: RoutePromote, Source: "dev"},
				{Env: "staging", Route: RouteCandidate, Source: "pre-staging"},
				{Env: "production", Route: RoutePromote, Source: "staging"},
			}},
		{"push to a candidate branch", Event{Kind: EventPush, Branch: "pre-production"},
			[]Target{{Env: "production", Route: RouteCandidate, Source: "pre-production"}}},
		{"push to main (production's branch)", Event{Kind: EventPush, Branch: "main"},
			[]Target{
				{Env: "production", Route: RoutePromote, Source: "staging"},
				{Env: "production", Route: RouteCandidate, Source: "pre-production"},
			}},
		{"push to an unrelated branch", Event{Kind: EventPush, Branch: "feature/x"}, nil},
		{"tag web-1.2.0", Event{Kind: EventTag, Tag: "web-1.2.0", SHA: devHead},
			[]Target{{Env: "production", Route: RouteTag, Source: "web-1.2.0", SHA: devHead}}},
		{"tag given as a ref", Event{Kind: EventTag, Tag: "refs/tags/v1.2.3", SHA: devHead},
			[]Target{{Env: "production", Route: RouteTag, Source: "v1.2.3", SHA: devHead}}},
		{"tag matching nothing", Event{Kind: EventTag, Tag: "other-1", SHA: devHead}, nil},
		{"check on dev's head", Event{Kind: EventCheck, SHA: devHead, Heads: map[string]string{"dev": devHead, "staging": stagingHead}},
			[]Target{{Env: "staging", Route: RoutePromote, Source: "dev"}}},
		{"check on a commit that is head of two branches", Event{Kind: EventCheck, SHA: devHead, Heads: map[string]string{"dev": devHead, "staging": devHead, "pre-staging": devHead}},
			[]Target{
				{Env: "staging", Route: RoutePromote, Source: "dev"},
				{Env: "staging", Route: RouteCandidate, Source: "pre-staging"},
				{Env: "production", Route: RoutePromote, Source: "staging"},
			}},
		{"check on a waiting tag", Event{Kind: EventCheck, SHA: devHead, Heads: map[string]string{"refs/tags/web-2": devHead}},
			[]Target{{Env: "production", Route: RouteTag, Source: "web-2", SHA: devHead}}},
		{"check on an old commit", Event{Kind: EventCheck, SHA: "0ld", Heads: map[string]string{"dev": devHead}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := p.Plan(c.ev)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("Plan = %+v\nwant   %+v", got, c.want)
			}
		})
	}
}

func TestMatchTag(t *testing.T) {
	p := mustPipeline(t, `version: 1
environments: { production: {}, staging: {} }
tags:
  - { pattern: "web-*", promote: production }
  - { pattern: "v*.*.*", promote: production }
  - { pattern: "rc-[0-9]*", promote: staging }
  - { pattern: "web-*-rc", promote: staging }
`)
	cases := map[string][]string{
		"web-1.2.0":           {"production"},
		"web-":                {"production"},
		"refs/tags/web-1.2.0": {"production"},
		"other-1":             nil,
		"xweb-1":              nil,
		"web/1":               nil, // * does not cross /
		"v1.2.3":              {"production"},
		"v1.2":                nil,
		"v10.20.30-beta":      {"production"},
		"rc-1":                {"staging"},
		"rc-x":                nil,
		"web-2-rc":            {"production", "staging"},
	}
	for tag, want := range cases {
		var got []string
		for _, r := range p.MatchTag(tag) {
			got = append(got, r.Env)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("MatchTag(%q) = %v, want %v", tag, got, want)
		}
	}
}

func TestRouteFor(t *testing.T) {
	p := mustPipeline(t, example)
	cases := map[string]Target{
		"staging":    {Env: "staging", Route: RoutePromote, Source: "dev"},
		"production": {Env: "production", Route: RoutePromote, Source: "staging"},
		"preview":    {Env: "preview", Route: RouteCandidate, Source: "pre-preview"},
	}
	for env, want := range cases {
		if got, ok := p.RouteFor(env); !ok || got != want {
			t.Errorf("RouteFor(%s) = %+v, %v", env, got, ok)
		}
	}
	if _, ok := p.RouteFor("dev"); ok {
		t.Error("dev has no route in")
	}
	if _, ok := p.RouteFor("nope"); ok {
		t.Error("unknown environment has a route")
	}
}

func sha(i int) string { return fmt.Sprintf("%040x", i) }

func TestCoalesceBurst(t *testing.T) {
	// A burst of 20 pushes to the source; all pass their gates.
	var queue []QueueEntry
	for i := 1; i <= 20; i++ {
		queue = append(queue, QueueEntry{SHA: sha(i), Eligible: true, DescendsFromTarget: true})
	}
	got, skipped, ok := Coalesce(sha(0), queue)
	if !ok || got != sha(20) {
		t.Fatalf("chose %s, want the newest %s", got, sha(20))
	}
	if len(skipped) != 19 || skipped[0] != sha(1) || skipped[18] != sha(19) {
		t.Errorf("skipped = %d entries", len(skipped))
	}
}

func TestCoalesce(t *testing.T) {
	e := func(i int, eligible, desc bool) QueueEntry {
		return QueueEntry{SHA: sha(i), Eligible: eligible, DescendsFromTarget: desc}
	}
	cases := []struct {
		name    string
		target  string
		queue   []QueueEntry
		want    string
		skipped []string
	}{
		{"newest eligible, skipping a pending tail", sha(0),
			[]QueueEntry{e(1, true, true), e(2, true, true), e(3, false, true), e(4, false, true)}, sha(2), []string{sha(1)}},
		{"nothing eligible", sha(0), []QueueEntry{e(1, false, true), e(2, false, true)}, "", nil},
		{"empty queue", sha(0), nil, "", nil},
		{"never backwards: entries up to the target's place are ignored", sha(3),
			[]QueueEntry{e(1, true, true), e(2, true, true), e(3, true, true), e(4, false, true)}, "", nil},
		{"after the target's place", sha(2),
			[]QueueEntry{e(1, true, true), e(2, true, true), e(3, true, true), e(4, true, true)}, sha(4), []string{sha(3)}},
		{"a non-descendant is never chosen, however new", sha(0),
			[]QueueEntry{e(1, true, true), e(2, true, true), e(3, true, false)}, sha(2), []string{sha(1)}},
		{"the target itself is not a promotion", sha(5), []QueueEntry{e(5, true, true)}, "", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, skipped, ok := Coalesce(c.target, c.queue)
			if got != c.want || ok != (c.want != "") || !reflect.DeepEqual(skipped, c.skipped) {
				t.Errorf("Coalesce = %q %v %v, want %q %v", got, skipped, ok, c.want, c.skipped)
			}
		})
	}
}

// Whatever the queue, the chosen commit comes after the target's place and
// is eligible and a descendant: exhaustively over small queues.
func TestCoalesceNeverBackwards(t *testing.T) {
	for n := 0; n <= 6; n++ {
		for mask := 0; mask < 1<<(2*n); mask++ {
			var queue []QueueEntry
			for i := 0; i < n; i++ {
				queue = append(queue, QueueEntry{SHA: sha(i), Eligible: mask>>(2*i)&1 == 1, DescendsFromTarget: mask>>(2*i+1)&1 == 1})
			}
			for target := -1; target < n; target++ {
				ts := sha(target + 100)
				if target >= 0 {
					ts = sha(target)
				}
				got, _, ok := Coalesce(ts, queue)
				if !ok {
					continue
				}
				idx := -1
				for i, q := range queue {
					if q.SHA == got {
						idx = i
					}
				}
				if idx <= target || !queue[idx].Eligible || !queue[idx].DescendsFromTarget {
					t.Fatalf("queue %+v target %d: chose index %d", queue, target, idx)
				}
				for i := idx + 1; i < n; i++ {
					if queue[i].Eligible && queue[i].DescendsFromTarget {
						t.Fatalf("queue %+v: chose %d but %d is newer and fit", queue, idx, i)
					}
				}
			}
		}
	}
}

func TestDeployment(t *testing.T) {
	p := mustPipeline(t, example)
	cases := []struct {
		env, defaultBranch string
		want               Deployment
	}{
		{"production", "main", Deployment{Environment: "production", URL: "https://www.example.com/", Production: true}},
		{"production", "dev", Deployment{Environment: "production", URL: "https://www.example.com/", Production: true}},
		{"staging", "main", Deployment{Environment: "staging"}},
		{"dev", "dev", Deployment{Environment: "dev", Production: true}},
		{"dev", "", Deployment{Environment: "dev"}},
	}
	for _, c := range cases {
		got, ok := p.Deployment(c.env, c.defaultBranch)
		if !ok || got != c.want {
			t.Errorf("Deployment(%s, %s) = %+v, want %+v", c.env, c.defaultBranch, got, c.want)
		}
	}
	if _, ok := p.Deployment("nope", "main"); ok {
		t.Error("unknown environment")
	}
}

func TestSmokeEnvs(t *testing.T) {
	p := mustPipeline(t, example)
	cases := map[string][]string{
		"pre-staging":    {"staging"},
		"pre-production": {"production"},
		"dev":            {"staging"},    // staging has a smoke gate and promotes from dev
		"staging":        {"production"}, // production too, from staging
		"main":           nil,
		"feature/x":      nil,
	}
	for branch, want := range cases {
		if got := p.SmokeEnvs(branch); !reflect.DeepEqual(got, want) {
			t.Errorf("SmokeEnvs(%s) = %v, want %v", branch, got, want)
		}
	}
}
