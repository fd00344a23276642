package pipeline

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRenderPullRequest(t *testing.T) {
	p := mustPipeline(t, example)
	f := productionFacts()
	f.Now = at(10)
	until := at(200)
	f.Holds = []Hold{{Env: "production", By: "ops-lead", Reason: "freeze <b>@everyone</b>", Since: at(1), Until: &until}}
	f.Commits = []Commit{
		{SHA: devHead, Subject: "Fix | table <!-- hoist:promotion env=x source=y --> @org/team *bold*", Author: "alice"},
		{SHA: stagingHead, Subject: "Second\nline", Author: "@mallory"},
	}
	f.Checks[0].URL = "https://github.com/o/r/runs/1"
	d := p.Decide(toProduction, f)
	title, body := p.RenderPullRequest(d, f)
	if title != "Promote staging → production" {
		t.Errorf("title = %q", title)
	}
	env, src, ok := ParsePromotionMarker(body)
	if !ok || env != "production" || src != "staging" {
		t.Errorf("marker = %q %q %v", env, src, ok)
	}
	if strings.Count(body, "<!--") != 1 {
		t.Errorf("untrusted text forged a marker:\n%s", body)
	}
	for _, want := range []string{
		"❌ **Not promotable**",
		"### 2 commits from staging",
		"| `aaaaaaa` | Fix \\| table &lt;\\!\\-\\-",
		"@\u200borg/team \\*bold\\*",
		"| `bbbbbbb` | Second line | @\u200bmallory |",
		"| [check \"ci / test\"](https://github.com/o/r/runs/1) | ✅ passed | success \\(check run\\) |",
		"| soak | ⏳ pending | 10m of 30m, passes at 2026\\-03\\-01 12\\:30 UTC |",
		"| approvals | ✅ passed | 1 of 1 \\(bob\\) |",
		"- 🛑 held by ops\\-lead since 2026-03-01 12:01 UTC until 2026-03-01 15:20 UTC: freeze &lt;b&gt;@\u200beveryone&lt;/b&gt;",
		"Comment `/promote production` to promote (needs **maintain** permission)",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "@org") || strings.Contains(body, "@everyone") || strings.Contains(body, "@mallory") {
		t.Errorf("a mention survived:\n%s", body)
	}
}

func TestRenderPullRequestStates(t *testing.T) {
	p := mustPipeline(t, example)
	cases := []struct {
		name   string
		target Target
		facts  func(*Facts)
		want   string
	}{
		{"promoting", toStaging, nil, "🚀 **Promoting** `aaaaaaa` to staging."},
		{"waiting", toStaging, func(f *Facts) { f.Checks = nil }, "⏳ **Waiting** for 2 gate(s) on `aaaaaaa`."},
		{"ready", toProduction, func(f *Facts) {
			f.PullRequest = &PullRequest{Number: 1, Author: "hoist[bot]"}
			f.Reviews = []Review{{User: "bob", State: "APPROVED"}}
			f.Reviewers = map[string]Reviewer{"bob": {Permission: "write"}}
		}, "✅ **Ready**: every gate passes for `aaaaaaa`; a person promotes production."},
		{"diverged", toStaging, func(f *Facts) {
			f.Relation = RelationDiverged
			f.Blocking = []Commit{{SHA: "dddddddd", Subject: "hotfix", Author: "eve"}}
		}, "### staging has commits that dev lacks\n\n- `ddddddd` hotfix (eve)\n\nMerge `staging` into `dev`"},
		{"candidate title source is the branch", Target{Env: "staging", Route: RouteCandidate, Source: "pre-staging"}, nil, "<!-- hoist:promotion env=staging source=pre-staging -->"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := stagingFacts()
			if c.facts != nil {
				c.facts(&f)
			}
			_, body := p.RenderPullRequest(p.Decide(c.target, f), f)
			if !strings.Contains(body, c.want) {
				t.Errorf("body lacks %q:\n%s", c.want, body)
			}
		})
	}
	if got := p.PullRequestTitle(Target{Env: "staging", Route: RouteCandidate, Source: "pre-staging"}); got != "Promote pre-staging → staging" {
		t.Errorf("candidate title = %q", got)
	}
}

func TestRenderPullRequestManyCommits(t *testing.T) {
	p := mustPipeline(t, example)
	f := stagingFacts()
	f.Commits = nil
	long := strings.Repeat("x", 400)
	for i := 0; i < 5000; i++ {
		f.Commits = append(f.Commits, Commit{SHA: sha(i), Subject: long, Author: strings.Repeat("a", 100)})
	}
	_, body := p.RenderPullRequest(p.Decide(toStaging, f), f)
	if n := utf8.RuneCountInString(body); n > MaxPullRequestBody {
		t.Fatalf("body has %d characters", n)
	}
	if !strings.Contains(body, "### 5000 commits from dev") || !strings.Contains(body, "| … | and 4750 more | |") {
		t.Errorf("body does not say how many commits it leaves out:\n%s", body[:500])
	}
	if !strings.Contains(body, strings.Repeat("x", 119)+"…") {
		t.Error("long subjects are not cut")
	}
}

func TestParsePromotionMarker(t *testing.T) {
	if _, _, ok := ParsePromotionMarker("a body without it"); ok {
		t.Error("found a marker in nothing")
	}
	body := "intro\n" + PromotionMarker("production", "pre-production") + "\nrest"
	if env, src, ok := ParsePromotionMarker(body); !ok || env != "production" || src != "pre-production" {
		t.Errorf("got %q %q %v", env, src, ok)
	}
}

func TestEscapeText(t *testing.T) {
	cases := map[string]string{
		"plain words":      "plain words",
		"a|b":              `a\|b`,
		"<script>":         "&lt;script&gt;",
		"@alice hi":        "@\u200balice hi",
		"line\nbreak":      "line break",
		"[x](javascript:)": `\[x\]\(javascript\:\)`,
		"bell\x07":         "bell",
		"bad \xff utf8":    "bad \uFFFD utf8",
	}
	for in, want := range cases {
		if got := escapeText(in); got != want {
			t.Errorf("escapeText(%q) = %q, want %q", in, got, want)
		}
	}
}

// Huge untrusted fields are cut where they are used, so the body stays
// small however long a subject, login or hold reason is.
func TestRenderPullRequestHugeFields(t *testing.T) {
	p := mustPipeline(t, example)
	f := productionFacts()
	big := strings.Repeat("@<|x", 1<<16)
	f.Commits = []Commit{{SHA: devHead, Subject: big, Author: big}}
	f.Holds = []Hold{{Env: "production", By: big, Reason: big}}
	f.Relation = RelationDiverged
	f.Blocking = []Commit{{SHA: stagingHead, Subject: big, Author: big}}
	d := p.Decide(toProduction, f)
	for _, r := range d.Reasons {
		if len(r) > 2000 {
			t.Errorf("a reason of %d bytes", len(r))
		}
	}
	_, body := p.RenderPullRequest(d, f)
	if n := utf8.RuneCountInString(body); n > 10_000 {
		t.Errorf("body of %d characters", n)
	}
}
