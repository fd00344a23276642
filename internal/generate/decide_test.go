package generate

import (
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/config"
)

func TestDecide(t *testing.T) {
	s := Settings{Workflow: "build-site.yml", Environments: []string{"staging", "production"}, DefaultEnvironment: "staging"}
	for _, tc := range []struct {
		settings Settings
		env      string
		want     string
		refusal  string
	}{
		{s, "", "staging", ""},
		{s, "production", "production", ""},
		{s, "qa", "", "unknown_environment"},
		{Settings{Workflow: "b.yml", Environments: []string{"a", "b"}}, "", "", "missing_environment"},
		{Settings{Environments: []string{"staging"}, DefaultEnvironment: "staging"}, "staging", "", "no_workflow"},
	} {
		got, r := decide(tc.settings, Trigger{Owner: "acme", Repo: "site", Environment: tc.env})
		code := ""
		if r != nil {
			code = r.Code
			if !strings.Contains(r.Message, "acme/site") && code != "missing_environment" {
				t.Errorf("refusal %q does not name the repository", r.Message)
			}
		}
		if got != tc.want || code != tc.refusal {
			t.Errorf("decide(%+v, %q) = %q, %q; want %q, %q", tc.settings, tc.env, got, code, tc.want, tc.refusal)
		}
	}
}

func TestSettingsFromConfig(t *testing.T) {
	cfg, err := config.LoadRepoConfig("hoist.yml", []byte(`version: 1
environments:
  staging: { branch: staging }
  production: { branch: main }
candidates:
  - { from: pre-production, to: production }
generate: { dispatch_type: content-changed, workflow: build-site.yml }
`))
	if err != nil {
		t.Fatal(err)
	}
	s := SettingsFromConfig(cfg, "main")
	if s.Workflow != "build-site.yml" || s.DispatchType != "content-changed" || s.Debounce != 30*time.Second ||
		s.Ref != "main" || s.DefaultEnvironment != "production" || strings.Join(s.Environments, ",") != "staging,production" {
		t.Fatalf("%+v", s)
	}
}

func TestCutReason(t *testing.T) {
	long := strings.Repeat("é", 600)
	got := cutReason(long)
	if n := len([]rune(got)); n != maxReasonRunes || !strings.HasSuffix(got, "…") {
		t.Fatalf("cut to %d runes: %q…", n, got[:10])
	}
	if cutReason("  short \n") != "short" {
		t.Fatal("reason not trimmed")
	}
}
