// Package rollout brings every instance of a fleet to a release: a pure
// planner decides the waves and when to stop, durable jobs move each
// instance's branches (dev-{name} first, then {name}) and wait for their
// gates, and one check run on the release commit shows the fleet table.
package rollout

import (
	"fmt"
	"math"
	"slices"
)

// State is where one instance is in a rollout.
type State string

const (
	// StatePending has not started; it waits for its wave.
	StatePending State = "pending"
	// StateRunning is being upgraded (one of its stages is moving or
	// waiting for its gates).
	StateRunning State = "running"
	// StateUpgraded passed every stage's gates at the release.
	StateUpgraded State = "upgraded"
	// StateFailed failed a stage's gates (or could not be moved); the
	// reason says which.
	StateFailed State = "failed"
	// StateSkipped was never started: the rollout stopped first.
	StateSkipped State = "skipped"
)

// Done reports whether s is final for this attempt.
func (s State) Done() bool { return s == StateUpgraded || s == StateFailed || s == StateSkipped }

// Plan is how a release reaches a fleet: canaries first, then waves of
// WaveSize instances, stopping once more than MaxFailureShare of all
// instances have failed.
type Plan struct {
	// Instances are every instance of the fleet, by name.
	Instances []string
	// Canaries go first, in their own wave, in this order; names that are
	// not instances are ignored.
	Canaries []string
	// WaveSize is how many instances upgrade at once after the canaries;
	// zero or less is all of them.
	WaveSize int
	// MaxFailureShare is the share of all instances (0 to 1) that may fail
	// before the rollout stops: it stops once failures exceed it, so 0
	// stops at the first failure and 1 never stops.
	MaxFailureShare float64
}

// Waves returns the instances in the order they upgrade: the canaries,
// then the others by name in groups of WaveSize.
func (p Plan) Waves() [][]string {
	known := make(map[string]bool, len(p.Instances))
	for _, n := range p.Instances {
		known[n] = true
	}
	var waves [][]string
	var canary []string
	inCanary := map[string]bool{}
	for _, c := range p.Canaries {
		if known[c] && !inCanary[c] {
			canary = append(canary, c)
			inCanary[c] = true
		}
	}
	if len(canary) > 0 {
		waves = append(waves, canary)
	}
	rest := make([]string, 0, len(p.Instances))
	seen := map[string]bool{}
	for _, n := range p.Instances {
		if !inCanary[n] && !seen[n] {
			rest = append(rest, n)
			seen[n] = true
		}
	}
	slices.Sort(rest)
	size := p.WaveSize
	if size <= 0 {
		size = len(rest)
	}
	for len(rest) > 0 {
		k := min(size, len(rest))
		waves = append(waves, rest[:k:k])
		rest = rest[k:]
	}
	return waves
}

// FailureLimit is how many instances may fail before the rollout stops:
// the largest count that is not more than MaxFailureShare of all.
func (p Plan) FailureLimit() int {
	share := min(max(p.MaxFailureShare, 0), 1)
	// The small epsilon keeps a share such as 0.1 of 20 at 2 despite
	// floating point (0.1*20 = 2.0000000000000004 or 1.9999999999999998).
	return int(math.Floor(share*float64(len(p.Instances)) + 1e-9))
}

// Verdict is what a rollout should do next.
type Verdict string

const (
	// VerdictStart starts the instances of Decision.Start.
	VerdictStart Verdict = "start"
	// VerdictWait waits for running instances.
	VerdictWait Verdict = "wait"
	// VerdictStop stops: failures exceed the share. Running instances
	// finish; pending ones are skipped.
	VerdictStop Verdict = "stop"
	// VerdictFinish ends the rollout: every instance is done.
	VerdictFinish Verdict = "finish"
)

// Decision is the planner's answer after an outcome.
type Decision struct {
	Verdict Verdict
	// Wave is the index of the wave being started or waited for.
	Wave int
	// Start are the instances to start now (VerdictStart).
	Start []string
	// Skip are the pending instances a stop leaves behind (VerdictStop).
	Skip []string
	// Failed and Upgraded count the instances so far.
	Failed, Upgraded int
	// Reason says why, in words for the check run.
	Reason string
}

// Next decides what happens after the instances reached states (missing
// names are pending). The earliest wave with work decides: its pending
// instances start, and the next wave waits until it is done, so a later
// wave never starts beside an earlier one.
func (p Plan) Next(states map[string]State) Decision {
	var d Decision
	for _, n := range p.Instances {
		switch states[n] {
		case StateFailed:
			d.Failed++
		case StateUpgraded:
			d.Upgraded++
		}
	}
	waves := p.Waves()
	running := false
	for _, w := range waves {
		for _, n := range w {
			if states[n] == StateRunning {
				running = true
			}
		}
	}
	if limit := p.FailureLimit(); d.Failed > limit {
		d.Reason = fmt.Sprintf("%d of %d instances failed, more than the %s allowed (%d)", d.Failed, len(p.Instances), percent(p.MaxFailureShare), limit)
		for _, w := range waves {
			for _, n := range w {
				if st := states[n]; st == "" || st == StatePending {
					d.Skip = append(d.Skip, n)
				}
			}
		}
		if running {
			// Running instances finish before the stop is final, so no
			// branch is left half-way.
			d.Verdict = VerdictWait
			return d
		}
		d.Verdict = VerdictStop
		return d
	}
	for i, w := range waves {
		var pending []string
		busy := false
		for _, n := range w {
			switch states[n] {
			case "", StatePending:
				pending = append(pending, n)
			case StateRunning:
				busy = true
			}
		}
		if len(pending) > 0 {
			d.Verdict, d.Wave, d.Start = VerdictStart, i, pending
			d.Reason = fmt.Sprintf("wave %d of %d", i+1, len(waves))
			return d
		}
		if busy {
			d.Verdict, d.Wave = VerdictWait, i
			d.Reason = fmt.Sprintf("wave %d of %d running", i+1, len(waves))
			return d
		}
	}
	d.Verdict = VerdictFinish
	d.Reason = fmt.Sprintf("%d upgraded, %d failed", d.Upgraded, d.Failed)
	return d
}

// Retry returns the failed (or skipped) instances among names to start
// again, or all of them when names is empty; a name that is neither is an
// error, so a mistyped retry says so.
func Retry(states map[string]State, names []string) ([]string, error) {
	retryable := func(s State) bool { return s == StateFailed || s == StateSkipped }
	if len(names) == 0 {
		var out []string
		for n, s := range states {
			if retryable(s) {
				out = append(out, n)
			}
		}
		slices.Sort(out)
		return out, nil
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		s, ok := states[n]
		if !ok {
			return nil, fmt.Errorf("%q is not an instance of this rollout", n)
		}
		if !retryable(s) {
			return nil, fmt.Errorf("%s is %s, not failed", n, s)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

func percent(share float64) string {
	return fmt.Sprintf("%g%%", math.Round(share*1000)/10)
}
