package releasegroup_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/internal/sitetest"
)

// TestPromoteCommandMovesTheGroup: with staging promoted by a person, a
// /promote in one member's issue hands the promotion to the group, whose
// reply says so; both members move, and /status lists the group's
// promotion.
func TestPromoteCommandMovesTheGroup(t *testing.T) {
	byHand := strings.Replace(memberYML, "auto: true", "auto: false", 1)
	s := sitetest.StartSite(t, sitetest.SiteSpec{ServerYAML: groupServerYAML, RepoYML: byHand, Repos: []string{"backend"},
		Branches: []string{"main", "dev", "staging"}})
	front, back := s.SiteRepo(), s.AddRepo("acme/backend", s.UserToken, byHand, "main", "dev", "staging")
	ctx := context.Background()

	f1 := front.Commit("index.html", "<h1>front 1</h1>", "Front one")
	front.Push("dev")
	front.Status(f1, "success")
	b1 := back.Commit("api.txt", "api 1", "Back one")
	back.Push("dev")
	back.Status(b1, "success")
	issue, _, err := s.Alice.Issues.Create(ctx, "acme", "site", &github.IssueRequest{Title: github.String("Release")})
	if err != nil {
		t.Fatal(err)
	}
	say := func(body string) string {
		t.Helper()
		c, _, err := s.Alice.Issues.CreateComment(ctx, "acme", "site", issue.GetNumber(), &github.IssueComment{Body: github.String(body)})
		if err != nil {
			t.Fatal(err)
		}
		var reply string
		sitetest.Eventually(t, 60*time.Second, func() (bool, string) {
			cs, _, err := s.Alice.Issues.ListComments(ctx, "acme", "site", issue.GetNumber(), nil)
			if err != nil {
				return false, err.Error()
			}
			for _, x := range cs {
				if x.GetID() > c.GetID() && strings.Contains(x.GetBody(), "`"+strings.TrimSpace(body)+"`") {
					reply = x.GetBody()
					return true, ""
				}
			}
			return false, "no reply to " + body
		})
		return reply
	}
	reply := say("/promote staging")
	if !strings.Contains(reply, "release group") || !strings.Contains(reply, "hoist/release-group") {
		t.Fatalf("reply to /promote:\n%s", reply)
	}
	front.WaitAudit("staging", f1, "promoted")
	back.WaitAudit("staging", b1, "promoted")
	if a, b := front.Head("staging"), back.Head("staging"); a != f1 || b != b1 {
		t.Fatalf("staging heads %s %s, want %s %s", a[:7], b[:7], f1[:7], b1[:7])
	}
	status := say("/status")
	if !strings.Contains(status, "Release groups:") || !strings.Contains(status, "**web** → `staging`: done") {
		t.Fatalf("/status:\n%s", status)
	}
}
