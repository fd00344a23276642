package serverconfig

import (
	"strings"
	"testing"
	"time"
)

func TestGitHubPacingSettings(t *testing.T) {
	env := validEnv(t)
	cfg, err := LoadServer(writeYAML(t, ""), envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	if g := cfg.GitHub; g.WriteInterval != time.Second || g.WritesPerMinute != 80 || g.SecondaryWait != time.Minute {
		t.Errorf("defaults: write_interval %s, writes_per_minute %d, secondary_wait %s; want 1s, 80, 1m", g.WriteInterval, g.WritesPerMinute, g.SecondaryWait)
	}
	cfg, err = LoadServer(writeYAML(t, "github:\n  write_interval: 50ms\n  writes_per_minute: 1220\n  secondary_wait: 2m\n"), envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	if g := cfg.GitHub; g.WriteInterval != 50*time.Millisecond || g.WritesPerMinute != 1220 || g.SecondaryWait != 2*time.Minute {
		t.Errorf("set: %s, %d, %s", g.WriteInterval, g.WritesPerMinute, g.SecondaryWait)
	}
	for body, want := range map[string]string{
		"github:\n  writes_per_minute: -3\n": ":2: github.writes_per_minute: must be at least 1, got -3",
		"github:\n  write_interval: -1s\n":   ":2: github.write_interval: must be a positive duration, got -1s",
		"github:\n  secondary_wait: -1s\n":   ":2: github.secondary_wait: must be a positive duration, got -1s",
	} {
		path := writeYAML(t, body)
		if _, err := LoadServer(path, envOf(env)); err == nil || !strings.Contains(err.Error(), path+want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
}
