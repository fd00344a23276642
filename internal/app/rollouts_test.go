package app

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/internal/fleet"
	"github.com/hoist-dev/hoist/internal/fleet/rollout"
)

const rolloutTemplate = `version: 1
fleet:
  release: { branch: main }
  target: instances
  rollout:
    canaries: [zeta, gone, paused, zeta2]
    wave: 3
    max_failures: 25%
`

// The template's rollout keys reach the plan a release follows; canaries
// that are not live instances are left out and reported.
func TestRolloutFleetFollowsTemplate(t *testing.T) {
	cfg, err := config.LoadRepoConfig("", []byte(rolloutTemplate))
	if err != nil {
		t.Fatal(err)
	}
	var insts []fleet.Instance
	for i := range 8 {
		insts = append(insts, fleet.Instance{Name: fmt.Sprintf("i%d", i), State: fleet.StateLive})
	}
	insts = append(insts, fleet.Instance{Name: "zeta", State: fleet.StateLive}, fleet.Instance{Name: "zeta2", State: fleet.StateLive},
		fleet.Instance{Name: "paused", State: fleet.StateSuspended})

	f, skipped := rolloutFleet(cfg.Fleet, insts)
	if !reflect.DeepEqual(skipped, []string{"gone", "paused"}) {
		t.Errorf("skipped canaries = %v, want [gone paused]", skipped)
	}
	if !reflect.DeepEqual(f.Canaries, []string{"zeta", "zeta2"}) || f.WaveSize != 3 || f.MaxFailureShare != 0.25 ||
		f.DevBranch != "dev-{name}" || f.ProdBranch != "{name}" || len(f.Instances) != 10 {
		t.Fatalf("fleet = %+v", f)
	}
	plan := rollout.Plan{Instances: f.Instances, Canaries: f.Canaries, WaveSize: f.WaveSize, MaxFailureShare: f.MaxFailureShare}
	want := [][]string{{"zeta", "zeta2"}, {"i0", "i1", "i2"}, {"i3", "i4", "i5"}, {"i6", "i7"}}
	if got := plan.Waves(); !reflect.DeepEqual(got, want) {
		t.Errorf("waves = %v, want %v", got, want)
	}
	if got := plan.FailureLimit(); got != 2 { // 25% of 10 live instances
		t.Errorf("failure limit = %d, want 2", got)
	}

	// Without the keys: no canary, waves of 10, 10% may fail.
	cfg, err = config.LoadRepoConfig("", []byte("version: 1\nfleet: { release: { branch: main }, target: instances }\n"))
	if err != nil {
		t.Fatal(err)
	}
	f, skipped = rolloutFleet(cfg.Fleet, insts)
	if len(f.Canaries) != 0 || len(skipped) != 0 || f.WaveSize != 10 || f.MaxFailureShare != 0.1 {
		t.Fatalf("defaults: %+v, skipped %v", f, skipped)
	}
}
