package safety_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/internal/safety"
	"github.com/hoist-dev/hoist/internal/sitetest"
)

// budgetYML gives staging a failure budget of 20 % over a number of outcomes at
// least (7); an exhausted budget hands automatic promotions to a person.
const budgetYML = `version: 1
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: true, gates: { checks: ["ci / test"] },
             failure_budget: { rate: 20%, window: 30d, min_samples: 7, on_exhausted: pr } }
`

// A budget exhausted by failures turns the automatic promotion into a
// promotion pull request that /status explains, and promotions are
// automatic again once successes bring the rate back within budget.
func TestBudgetExhaustedTurnsPromotionIntoPullRequest(t *testing.T) {
	s := sitetest.StartSite(t, sitetest.SiteSpec{RepoYML: budgetYML, Branches: []string{"main", "dev", "staging"}})
	ctx := context.Background()

	// The first push deployed staging: one success. One change lands:
	// its CI gate and its deploy are two more.
	s.Commit("public/index.html", "<h1>v1</h1>", "First page")
	a := s.Promote()
	// Two changes fail their CI gate: one failure each.
	for i, page := range []string{"<h1>v2</h1>", "<h1>v3</h1>"} {
		sha := s.Commit("public/index.html", page, "Broken change")
		s.Push("dev")
		s.Status(sha, "failure")
		s.WaitAudit("staging", sha, "refuse")
		if i == 0 {
			assertCounts(t, s, 1, 4)
		}
	}
	// Five outcomes are fewer than min_samples: still automatic. The
	// promotion adds two successes: 2 of 7 failed, 28.6 % > 20 %.
	s.Commit("public/index.html", "<h1>v4</h1>", "Fixed")
	c := s.Promote()
	assertCounts(t, s, 2, 7)
	if c == a {
		t.Fatal("no new commit")
	}

	// The budget is exhausted: a green commit waits for a person on a
	// promotion pull request.
	s.Commit("public/index.html", "<h1>v5</h1>", "Next change")
	d := s.Git(s.Work, "rev-parse", "HEAD")
	s.Push("dev")
	s.Status(d, "success")
	s.WaitAudit("staging", d, "ready")
	if got := s.Head("staging"); got != c {
		t.Fatalf("staging moved to %s under an exhausted budget", got)
	}
	var pr *github.PullRequest
	sitetest.Eventually(t, 30*time.Second, func() (bool, string) {
		prs := openPulls(t, s, "dev", "staging")
		if len(prs) != 1 {
			return false, "no promotion pull request"
		}
		pr = prs[0]
		body := pr.GetBody()
		return strings.Contains(body, "**Ready for a person**") && strings.Contains(body, "the failure budget of staging is exhausted\\: 2 of 7 outcomes failed in the last 30d") &&
			strings.Contains(body, "28\\.6%"), body
	})

	// /status says so.
	if _, _, err := s.Alice.Issues.CreateComment(ctx, "acme", "site", pr.GetNumber(), &github.IssueComment{Body: github.String("/status")}); err != nil {
		t.Fatal(err)
	}
	sitetest.Eventually(t, 60*time.Second, func() (bool, string) {
		cs, _, err := s.Alice.Issues.ListComments(ctx, "acme", "site", pr.GetNumber(), nil)
		if err != nil {
			return false, err.Error()
		}
		var bodies []string
		for _, c := range cs {
			if strings.Contains(c.GetBody(), "**Failure budgets**") {
				return strings.Contains(c.GetBody(), "**Exhausted**: automatic promotions wait for a person"), c.GetBody()
			}
			bodies = append(bodies, c.GetBody())
		}
		return false, strings.Join(bodies, "\n---\n")
	})

	// Successes (verifications, here recorded directly) bring the rate to
	// 2 of 10, 20 %: within budget, and the next change is automatic again.
	for i := 0; i < 3; i++ {
		if err := s.Caps.Outcomes.Record(ctx, safety.Outcome{Repo: "acme/site", Env: "staging", Kind: safety.KindVerify, OK: true,
			SHA: c, Key: "verify-test-" + string(rune('a'+i))}); err != nil {
			t.Fatal(err)
		}
	}
	e := s.Commit("public/index.html", "<h1>v6</h1>", "Another change")
	if got := s.Promote(); got != e || s.Head("staging") != e {
		t.Fatalf("staging at %s, want %s promoted automatically", s.Head("staging"), e)
	}
	sitetest.Eventually(t, 30*time.Second, func() (bool, string) {
		return len(openPulls(t, s, "dev", "staging")) == 0, "the promotion pull request is still open"
	})
}

func assertCounts(t *testing.T, s *sitetest.Site, failures, samples int) {
	t.Helper()
	sitetest.Eventually(t, 30*time.Second, func() (bool, string) {
		f, n, err := s.Caps.Outcomes.BudgetCounts(context.Background(), "acme/site", "staging", 30*24*time.Hour)
		if err != nil {
			return false, err.Error()
		}
		return f == failures && n == samples, fmt.Sprintf("counts %d/%d", f, n)
	})
}

func openPulls(t *testing.T, s *sitetest.Site, head, base string) []*github.PullRequest {
	t.Helper()
	prs, _, err := s.Alice.PullRequests.List(context.Background(), "acme", "site",
		&github.PullRequestListOptions{State: "open", Head: "acme:" + head, Base: base})
	if err != nil {
		t.Fatal(err)
	}
	return prs
}
