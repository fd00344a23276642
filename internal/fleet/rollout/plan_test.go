package rollout

import (
	"fmt"
	"reflect"
	"testing"
)

func names(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("c%02d", i+1)
	}
	return out
}

func TestWaves(t *testing.T) {
	for _, tc := range []struct {
		name string
		plan Plan
		want [][]string
	}{
		{"canaries then waves", Plan{Instances: []string{"e", "d", "c", "b", "a"}, Canaries: []string{"c"}, WaveSize: 2},
			[][]string{{"c"}, {"a", "b"}, {"d", "e"}}},
		{"canaries keep their order, unknown and repeated ones dropped", Plan{Instances: []string{"a", "b", "c"}, Canaries: []string{"c", "zz", "a", "c"}, WaveSize: 5},
			[][]string{{"c", "a"}, {"b"}}},
		{"no wave size is one wave", Plan{Instances: []string{"b", "a", "c"}}, [][]string{{"a", "b", "c"}}},
		{"uneven last wave", Plan{Instances: names(5), WaveSize: 2}, [][]string{{"c01", "c02"}, {"c03", "c04"}, {"c05"}}},
		{"only canaries", Plan{Instances: []string{"a"}, Canaries: []string{"a"}, WaveSize: 3}, [][]string{{"a"}}},
		{"empty fleet", Plan{WaveSize: 3}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.plan.Waves(); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("waves %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFailureLimit(t *testing.T) {
	for _, tc := range []struct {
		n     int
		share float64
		want  int
	}{
		{20, 0.1, 2}, {20, 0.05, 1}, {20, 0.049, 0}, {20, 0, 0}, {20, 1, 20}, {20, 1.5, 20}, {20, -1, 0},
		{100, 0.07, 7}, {3, 0.34, 1}, {3, 1.0 / 3, 1}, {10, 0.3, 3}, {0, 0.5, 0},
	} {
		if got := (Plan{Instances: names(tc.n), MaxFailureShare: tc.share}).FailureLimit(); got != tc.want {
			t.Errorf("limit of %g of %d = %d, want %d", tc.share, tc.n, got, tc.want)
		}
	}
}

func TestNext(t *testing.T) {
	p := Plan{Instances: names(6), Canaries: []string{"c06"}, WaveSize: 2, MaxFailureShare: 0.2} // limit 1
	st := func(kv ...string) map[string]State {
		m := map[string]State{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = State(kv[i+1])
		}
		return m
	}
	for _, tc := range []struct {
		name     string
		states   map[string]State
		verdict  Verdict
		start    []string
		skip     []string
		wave     int
		failures int
	}{
		{"first the canary", st(), VerdictStart, []string{"c06"}, nil, 0, 0},
		{"wait for the canary", st("c06", "running"), VerdictWait, nil, nil, 0, 0},
		{"canary passed: first wave", st("c06", "upgraded"), VerdictStart, []string{"c01", "c02"}, nil, 1, 0},
		{"a wave waits for the one before", st("c06", "upgraded", "c01", "running", "c02", "upgraded"), VerdictWait, nil, nil, 1, 0},
		{"failures at the limit go on", st("c06", "failed", "c01", "upgraded", "c02", "upgraded"), VerdictStart, []string{"c03", "c04"}, nil, 2, 1},
		{"partly started wave starts the rest", st("c06", "upgraded", "c01", "upgraded"), VerdictStart, []string{"c02"}, nil, 1, 0},
		{"over the limit stops, pending skipped", st("c06", "failed", "c01", "failed", "c02", "upgraded"), VerdictStop, nil, []string{"c03", "c04", "c05"}, 0, 2},
		{"over the limit waits for running ones first", st("c06", "failed", "c01", "failed", "c02", "running"), VerdictWait, nil, []string{"c03", "c04", "c05"}, 0, 2},
		{"all done", st("c06", "upgraded", "c01", "upgraded", "c02", "upgraded", "c03", "upgraded", "c04", "failed", "c05", "upgraded"), VerdictFinish, nil, nil, 0, 1},
		{"skipped instances end the rollout", st("c06", "upgraded", "c01", "skipped", "c02", "skipped", "c03", "skipped", "c04", "skipped", "c05", "skipped"), VerdictFinish, nil, nil, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := p.Next(tc.states)
			if d.Verdict != tc.verdict || !reflect.DeepEqual(d.Start, tc.start) || !reflect.DeepEqual(d.Skip, tc.skip) || d.Failed != tc.failures {
				t.Fatalf("got %+v, want %s start %v skip %v failed %d", d, tc.verdict, tc.start, tc.skip, tc.failures)
			}
			if tc.verdict == VerdictStart && d.Wave != tc.wave {
				t.Fatalf("wave %d, want %d", d.Wave, tc.wave)
			}
			if d.Reason == "" {
				t.Fatal("no reason given")
			}
		})
	}
}

// The thresholds at their edges on a fleet of 20 with a 10% share: two
// failures go on, a third stops; a 0% share stops at the first; 100%
// never stops.
func TestNextThresholdEdges(t *testing.T) {
	for _, tc := range []struct {
		share  float64
		failed int
		want   Verdict
	}{
		{0.1, 2, VerdictStart}, {0.1, 3, VerdictStop}, {0, 0, VerdictStart}, {0, 1, VerdictStop},
		{1, 19, VerdictStart}, {0.05, 1, VerdictStart}, {0.05, 2, VerdictStop}, {0.15, 3, VerdictStart}, {0.15, 4, VerdictStop},
	} {
		p := Plan{Instances: names(20), WaveSize: 5, MaxFailureShare: tc.share}
		states := map[string]State{}
		for i, n := range p.Instances[:tc.failed] {
			_ = i
			states[n] = StateFailed
		}
		// The first wave is the first five: fill it with upgraded ones
		// beyond the failures so the next decision is about wave two or later.
		for _, n := range p.Instances[tc.failed:max(tc.failed, 5)] {
			states[n] = StateUpgraded
		}
		if got := p.Next(states).Verdict; got != tc.want {
			t.Errorf("share %g with %d failed: %s, want %s", tc.share, tc.failed, got, tc.want)
		}
	}
}

// A retry of a stopped rollout resumes it: retried instances start again,
// then the waves left behind.
func TestRetry(t *testing.T) {
	states := map[string]State{"a": StateUpgraded, "b": StateFailed, "c": StateSkipped, "d": StateFailed}
	all, err := Retry(states, nil)
	if err != nil || !reflect.DeepEqual(all, []string{"b", "c", "d"}) {
		t.Fatalf("retry all: %v %v", all, err)
	}
	one, err := Retry(states, []string{"d", "d"})
	if err != nil || !reflect.DeepEqual(one, []string{"d"}) {
		t.Fatalf("retry one: %v %v", one, err)
	}
	if _, err := Retry(states, []string{"a"}); err == nil {
		t.Fatal("retry of an upgraded instance accepted")
	}
	if _, err := Retry(states, []string{"nope"}); err == nil {
		t.Fatal("retry of an unknown instance accepted")
	}
	if none, err := Retry(map[string]State{"a": StateUpgraded}, nil); err != nil || len(none) != 0 {
		t.Fatalf("retry all with none failed: %v %v", none, err)
	}
	p := Plan{Instances: []string{"a", "b", "c", "d"}, WaveSize: 1, MaxFailureShare: 0.25}
	for _, n := range all {
		states[n] = StatePending
	}
	if d := p.Next(states); d.Verdict != VerdictStart || !reflect.DeepEqual(d.Start, []string{"b"}) {
		t.Fatalf("after retry: %+v", d)
	}
}
