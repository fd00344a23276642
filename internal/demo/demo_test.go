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
	want := []string{"emulator", "start hoist", "install hoist", "generate", "serve the candidate", "smoke-test", "deliver", "redeliver", "forged", "push a change", "staging promoted"}
	if len(rep.Steps) != len(want) {
		t.Fatalf("steps = %d, want %d:\n%s", len(rep.Steps), len(want), rep.Text())
	}
	for i, w := range want {
		if !strings.Contains(rep.Steps[i].Name, w) || !rep.Steps[i].OK {
			t.Errorf("step %d = %+v, want %q and ok", i+1, rep.Steps[i], w)
		}
	}
	shots := 0
	for k := range rep.Steps[5].Links {
		if strings.HasPrefix(k, "screenshot ") {
			shots++
		}
	}
	if shots < 6 { // three pages in two viewports
		t.Errorf("smoke step links %d screenshots, want at least 6", shots)
	}
}
