package pipeline

import (
	"testing"

	"github.com/hoist-dev/hoist/config"
)

func TestWantsPullRequest(t *testing.T) {
	cfg, err := config.LoadRepoConfig("", []byte(`version: 1
environments:
  dev: { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: true }
  qa: { branch: qa, promote_from: staging, auto: true, gates: { approvals: 1 } }
  production: { branch: main, promote_from: staging }
candidates:
  - { from: pre-staging, to: staging }
  - { from: pre-production, to: production, auto: false }
tags: [ { pattern: "web-*", promote: production } ]
`))
	if err != nil {
		t.Fatal(err)
	}
	p := New(cfg)
	for _, c := range []struct {
		t    Target
		want bool
	}{
		{Target{Env: "staging", Route: RoutePromote, Source: "dev"}, false},
		{Target{Env: "production", Route: RoutePromote, Source: "staging"}, true},
		{Target{Env: "qa", Route: RoutePromote, Source: "staging"}, true},
		{Target{Env: "staging", Route: RouteCandidate, Source: "pre-staging"}, false},
		{Target{Env: "production", Route: RouteCandidate, Source: "pre-production"}, true},
		{Target{Env: "production", Route: RouteTag, Source: "web-1"}, false},
		{Target{Env: "nowhere", Route: RoutePromote, Source: "dev"}, false},
	} {
		if got := p.WantsPullRequest(c.t); got != c.want {
			t.Errorf("WantsPullRequest(%+v) = %v, want %v", c.t, got, c.want)
		}
	}
	if KeepPullRequest(Decision{Outcome: OutcomeUpToDate, SHA: "abc"}) || !KeepPullRequest(Decision{Outcome: OutcomeReady, SHA: "abc"}) ||
		!KeepPullRequest(Decision{Outcome: OutcomeRefuse, SHA: "abc"}) {
		t.Error("KeepPullRequest: want a pull request exactly while the environment lacks the commit")
	}
}

func TestApprovalsBranch(t *testing.T) {
	p := mustPipeline(t, `version: 1
environments:
  dev: { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: true }
  production: { branch: main, promote_from: staging, gates: { approvals: 1 } }
  docs: { branch: docs, gates: { approvals: 1 } }
tags: [ { pattern: "web-*", promote: production }, { pattern: "s-*", promote: staging }, { pattern: "d-*", promote: docs } ]
`)
	for _, c := range []struct {
		t    Target
		want string
	}{
		{Target{Env: "production", Route: RoutePromote, Source: "staging"}, "staging"},
		{Target{Env: "production", Route: RouteTag, Source: "web-1"}, "staging"},
		{Target{Env: "staging", Route: RouteTag, Source: "s-1"}, ""},
		{Target{Env: "staging", Route: RoutePromote, Source: "dev"}, ""},
		{Target{Env: "docs", Route: RouteTag, Source: "d-1"}, ""},
	} {
		if got := p.ApprovalsBranch(c.t); got != c.want {
			t.Errorf("ApprovalsBranch(%+v) = %q, want %q", c.t, got, c.want)
		}
	}
}
