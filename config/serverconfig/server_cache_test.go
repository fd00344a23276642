package serverconfig

import (
	"strings"
	"testing"
)

func TestGitHubCacheSetting(t *testing.T) {
	env := validEnv(t)
	for _, tc := range []struct {
		body string
		want int
	}{{"", DefaultGitHubCacheMB}, {"github:\n  cache_mb: 8\n", 8}, {"github:\n  cache_mb: -1\n", -1}} {
		path := ""
		if tc.body != "" {
			path = writeYAML(t, tc.body)
		}
		cfg, err := LoadServer(path, envOf(env))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.GitHub.CacheMB != tc.want {
			t.Errorf("%q: cache_mb %d, want %d", tc.body, cfg.GitHub.CacheMB, tc.want)
		}
	}
	path := writeYAML(t, "github:\n  cache_mb: -5\n")
	if _, err := LoadServer(path, envOf(env)); err == nil || !strings.Contains(err.Error(), path+":2: github.cache_mb: must be -1 (off) or a size in MiB, got -5") {
		t.Errorf("cache_mb -5: %v", err)
	}
}
