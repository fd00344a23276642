package demo_test

import (
	"context"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/demo"
	"github.com/hoist-dev/hoist/internal/testenv"
)

// The demo is the README's first command: it must run the whole flow and
// say so step by step.
func TestDemoRunsEveryStep(t *testing.T) {
	chromium := testenv.Chromium(t)
	rep, err := demo.Run(context.Background(), demo.Options{
		DataDir: t.TempDir(), ChromiumPath: chromium, Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Fatalf("demo failed:\n%s", rep.Text())
	}
	want := []string{"emulator", "edge", "start hoist", "install hoist", "content change", "pushes pre-staging", "smoke-test",
		"staging fast-forwarded", "deployed by diff", "pull request", "injected data", "deliver", "redeliver", "forged", "dashboard",
		"rolled back automatically", "fleet template", "launch two fleet instances", "colour at run time", "roll a release out"}
	if len(rep.Steps) != len(want) {
		t.Fatalf("steps = %d, want %d:\n%s", len(rep.Steps), len(want), rep.Text())
	}
	for i, w := range want {
		if !strings.Contains(rep.Steps[i].Name, w) || !rep.Steps[i].OK {
			t.Errorf("step %d = %+v, want %q and ok", i+1, rep.Steps[i], w)
		}
	}
	// The smoke step links the check run's screenshots: three pages in
	// two viewports, and the failing step the broken page's.
	for _, at := range []int{6, 10} {
		shots := 0
		for k, u := range rep.Steps[at].Links {
			if strings.HasPrefix(k, "screenshot ") && strings.HasPrefix(u, rep.HoistURL+"/artifacts/") {
				shots++
			}
		}
		if shots == 0 || at == 6 && shots < 6 {
			t.Errorf("step %d links %d screenshots:\n%s", at+1, shots, rep.Text())
		}
	}
	// The rollback step names the failed and the restored commit and the
	// hold.
	if d := rep.Steps[15].Detail; !strings.Contains(d, "hoist/verify failed on") || !strings.Contains(d, "holds staging: verification of") {
		t.Errorf("rollback step: %s", d)
	}
	// The fleet section: both instances served at both hostnames, one
	// colour changed without touching the other, the release rolled out.
	if d := rep.Steps[17].Detail; !strings.Contains(d, "coyote (#d2691e) and runner (#1e90ff) live") || len(rep.Steps[17].Links) != 4 {
		t.Errorf("launch step: %s %v", d, rep.Steps[17].Links)
	}
	if d := rep.Steps[18].Detail; !strings.Contains(d, "2 files written") || !strings.Contains(d, "runner still #1e90ff") {
		t.Errorf("colour step: %s", d)
	}
	if d := rep.Steps[19].Detail; !strings.Contains(d, "hoist/fleet success (2 of 2 upgraded") || !strings.Contains(d, "Release 2") {
		t.Errorf("rollout step: %s", d)
	}
	// With Varnish installed the purge is real: the edge served the
	// coming-soon page from its cache until hoist purged it.
	if testenv.HaveVarnish() && !strings.Contains(rep.Steps[8].Detail, "Varnish purged") {
		t.Errorf("deploy step: %s", rep.Steps[8].Detail)
	}
	if testenv.HaveVarnish() && !strings.Contains(rep.Steps[18].Detail, "2 purged (the edge purged by key") {
		t.Errorf("colour step: %s", rep.Steps[18].Detail)
	}
}
