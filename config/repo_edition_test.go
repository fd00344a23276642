package config

import (
	"strings"
	"testing"
)

func TestEditionSegmentIsOneSafeSegment(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"main", "main"},
		{"release-1.2", "release-1.2"},
		{"pr-42", "pr-42"},
	} {
		if got := EditionSegment(c.in); got != c.want {
			t.Errorf("EditionSegment(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	attacks := []string{"../../etc", "..", ".", "/", "feature/a", "feature-a", "Feature/A", "ünïcode branch",
		"with space", "a\x00b", `a\b`, "%2e%2e", "🚀", strings.Repeat("x", 300), "-", ".hidden", "a..b"}
	seen := map[string]string{}
	for _, in := range attacks {
		got := EditionSegment(in)
		if got == "" || got == "." || got == ".." || strings.ContainsAny(got, "/\\% \x00") || strings.Contains(got, "..") ||
			len(got) > maxEditionSegment || strings.HasPrefix(got, ".") || strings.HasPrefix(got, "-") {
			t.Errorf("EditionSegment(%q) = %q, not one safe segment", in, got)
		}
		if other, ok := seen[got]; ok {
			t.Errorf("%q and %q share the edition %q", in, other, got)
		}
		seen[got] = in
		if again := EditionSegment(in); again != got {
			t.Errorf("EditionSegment(%q) is not stable: %q then %q", in, got, again)
		}
	}
}

func TestEditionPrefixStaysInItsPlace(t *testing.T) {
	envs := []string{"production/", "staging/", "v/1.2/"}
	p, err := EditionPrefix("branches/{branch}/", "../../etc", envs)
	if err != nil || !strings.HasPrefix(p, "branches/etc-") || strings.Count(p, "/") != 2 {
		t.Fatalf("../../etc: %q %v", p, err)
	}
	if p, err := EditionPrefix("v/{branch}", "1.3", envs); err != nil || p != "v/1.3/" {
		t.Fatalf("v/1.3: %q %v", p, err)
	}
	// A branch named like an environment's folder must not take it over.
	for _, c := range []struct{ tmpl, branch string }{
		{"{branch}", "production"},
		{"{branch}/", "staging"},
		{"v/{branch}/", "1.2"},
		{"{branch}", "v"},
	} {
		if p, err := EditionPrefix(c.tmpl, c.branch, envs); err == nil || !strings.Contains(err.Error(), "overlaps") {
			t.Errorf("EditionPrefix(%q, %q) = %q, %v; want an overlap refused", c.tmpl, c.branch, p, err)
		}
	}
	// The template is also the URL's path: a leading / is that path's,
	// and the folder is still under the repository's.
	if p, err := EditionPrefix("/v/{edition}/", "x", nil); err != nil || p != "v/x/" {
		t.Errorf("/v/{edition}/ = %q, %v", p, err)
	}
	for _, tmpl := range []string{"//abs/{branch}", "../{branch}", "/../{edition}", "no-placeholder/", "a//{branch}"} {
		if p, err := EditionPrefix(tmpl, "x", nil); err == nil {
			t.Errorf("template %q accepted: %q", tmpl, p)
		}
	}
}

func TestEditionNamesOfBranches(t *testing.T) {
	cfg := load(t, `version: 1
environments:
  production: { branch: main }
editions:
  branches: [ "feature/*", "pr-*" ]
  pull_requests: true
  target: site
  names: [ { branch: release/1.2, name: "1.2" } ]
`)
	e := cfg.Editions
	if e.Path != RepoDefaultEditionPath || e.Grace != RepoDefaultEditionGrace {
		t.Fatalf("defaults: path %q grace %s", e.Path, e.Grace)
	}
	for branch, want := range map[string]bool{"feature/a": true, "feature/a/b": false, "release/1.2": true, "main": false, "pr-3": true} {
		if got := e.MatchBranch(branch); got != want {
			t.Errorf("MatchBranch(%q) = %v", branch, got)
		}
	}
	if got := e.EditionOf("release/1.2"); got != "1.2" {
		t.Errorf("named edition = %q", got)
	}
	if got := e.EditionOf("feature/a"); !strings.HasPrefix(got, "feature-a-") {
		t.Errorf("feature/a = %q", got)
	}
	// A branch called like a pull request's edition never takes its folder.
	if got := e.EditionOf("pr-3"); got == PullEdition(3) || !strings.HasPrefix(got, "pr-3-") {
		t.Errorf("branch pr-3 = %q, must not be the edition of pull request 3", got)
	}
	p, err := EditionPrefix("/v/{edition}/", e.EditionOf("feature/a"), []string{"production/"})
	if err != nil || !strings.HasPrefix(p, "v/feature-a-") || strings.HasPrefix(p, "/") {
		t.Fatalf("EditionPrefix = %q, %v", p, err)
	}
	zero := load(t, "version: 1\neditions: { branches: [ \"x-*\" ], target: site, grace: 0 }\n")
	if zero.Editions.Grace != 0 {
		t.Errorf("grace: 0 became %s", zero.Editions.Grace)
	}
}
