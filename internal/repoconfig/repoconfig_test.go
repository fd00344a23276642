package repoconfig

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/internal/checks"
)

func TestConfigFailureOutputNamesEveryMistakeWithinGitHubLimits(t *testing.T) {
	var errs config.RepoConfigErrors
	for i := 1; i <= 60; i++ {
		errs = append(errs, &config.RepoConfigError{File: config.RepoConfigPath, Line: i, Column: 3,
			Message: fmt.Sprintf("mistake %d with *markdown* and <html> %s", i, strings.Repeat("x", 2000))})
	}
	out := ConfigFailureOutput(errs, config.RepoConfigLastGood, "0123456789abcdef")
	if !strings.Contains(out.Summary, "last good configuration stays in force") || !strings.Contains(out.Summary, "`0123456`") {
		t.Errorf("summary does not say the last good configuration is in force:\n%.300s", out.Summary)
	}
	if !strings.Contains(out.Summary, "`.github/hoist.yml:60:3`") || strings.Contains(out.Summary, "<html>") {
		t.Errorf("summary lacks a place or lets HTML through:\n%.300s", out.Summary)
	}
	if out.Title != "60 mistakes in .github/hoist.yml" || len(out.Annotations) != 60 {
		t.Fatalf("title %q, %d annotations", out.Title, len(out.Annotations))
	}
	a := out.Annotations[41]
	if a.Path != config.RepoConfigPath || a.StartLine != 42 || a.EndLine != 42 || a.StartColumn != 3 || a.Level != checks.Failure {
		t.Errorf("annotation 42 = %+v", a)
	}
	reqs, err := out.Requests("")
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 2 || len(reqs[0].Annotations) != 50 || len(reqs[1].Annotations) != 10 {
		t.Fatalf("requests: %d, want 50 annotations with the create and 10 with an update", len(reqs))
	}
	for _, r := range reqs {
		if len(r.GetSummary()) > checks.MaxSummaryBytes {
			t.Errorf("summary of %d bytes", len(r.GetSummary()))
		}
	}

	none := ConfigFailureOutput(errs[:1], config.RepoConfigBroken, "")
	if none.Title != "1 mistake in .github/hoist.yml" || !strings.Contains(none.Summary, "hoist does nothing in this repository") {
		t.Errorf("without a good configuration: %q\n%s", none.Title, none.Summary)
	}
}

func TestTouchesConfig(t *testing.T) {
	commit := func(added, modified, removed []string) *github.HeadCommit {
		return &github.HeadCommit{Added: added, Modified: modified, Removed: removed}
	}
	for _, c := range []struct {
		name string
		ev   github.PushEvent
		want bool
	}{
		{"other files", github.PushEvent{Commits: []*github.HeadCommit{commit([]string{"a"}, []string{"public/index.html"}, nil)}}, false},
		{"modified", github.PushEvent{Commits: []*github.HeadCommit{commit(nil, nil, nil), commit(nil, []string{config.RepoConfigPath}, nil)}}, true},
		{"added", github.PushEvent{Commits: []*github.HeadCommit{commit([]string{config.RepoConfigPath}, nil, nil)}}, true},
		{"removed", github.PushEvent{Commits: []*github.HeadCommit{commit(nil, nil, []string{config.RepoConfigPath})}}, true},
		{"similar name", github.PushEvent{Commits: []*github.HeadCommit{commit(nil, []string{"docs/.github/hoist.yml"}, nil)}}, false},
		{"new branch", github.PushEvent{Created: github.Bool(true), Commits: []*github.HeadCommit{commit(nil, nil, nil)}}, true},
		{"forced", github.PushEvent{Forced: github.Bool(true), Commits: []*github.HeadCommit{commit(nil, nil, nil)}}, true},
		{"no commit list", github.PushEvent{}, true},
	} {
		if got := touchesConfig(&c.ev); got != c.want {
			t.Errorf("%s: touchesConfig = %v, want %v", c.name, got, c.want)
		}
	}
	var many []*github.HeadCommit
	for range 20 {
		many = append(many, commit(nil, []string{"x"}, nil))
	}
	if !touchesConfig(&github.PushEvent{Commits: many}) {
		t.Error("a push listing 20 commits may hold more; the file must be checked")
	}
}
