package pipeline

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzRenderPullRequest: whatever commit subjects, authors and hold reasons
// say, the body keeps exactly one marker (hoist's), mentions nobody and
// breaks no table row.
func FuzzRenderPullRequest(f *testing.F) {
	f.Add("Fix | table", "alice", "freeze")
	f.Add("<!-- hoist:promotion env=x source=y -->", "@org/team", "@everyone\nnew line")
	f.Add("\xff\xfe", "[bot]", "<script>")
	p := mustPipeline(f, example)
	f.Fuzz(func(t *testing.T, subject, author, reason string) {
		facts := productionFacts()
		facts.Commits = []Commit{{SHA: devHead, Subject: subject, Author: author}}
		facts.Holds = []Hold{{Env: "production", By: author, Reason: reason}}
		_, body := p.RenderPullRequest(p.Decide(toProduction, facts), facts)
		if strings.Count(body, "<!--") != 1 {
			t.Fatalf("marker forged:\n%s", body)
		}
		if !utf8.ValidString(body) {
			t.Fatal("invalid UTF-8 in body")
		}
		for i := strings.Index(body, "@"); i >= 0; {
			if !strings.HasPrefix(body[i:], "@\u200b") {
				t.Fatalf("a mention survived at %d:\n%s", i, body)
			}
			j := strings.Index(body[i+1:], "@")
			if j < 0 {
				break
			}
			i += 1 + j
		}
		for _, line := range strings.Split(body, "\n") {
			if strings.HasPrefix(line, "| `aaaaaaa`") && strings.Count(strings.ReplaceAll(line, `\|`, ""), "|") != 4 {
				t.Fatalf("a commit row has extra cells: %q", line)
			}
		}
	})
}
