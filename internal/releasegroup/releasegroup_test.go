package releasegroup_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/internal/releasegroup"
	"github.com/hoist-dev/hoist/internal/testenv"
)

// TestGroupPromotesEveryMemberOrNone: a member whose gates pass waits for
// the other; when both pass, both move; when one member's gate fails,
// neither moves and each is told why; once it passes, both move.
func TestGroupPromotesEveryMemberOrNone(t *testing.T) {
	groupPromotesEveryMemberOrNone(t, startPair(t, nil))
}

// TestGroupPromotesEveryMemberOrNonePostgres is the same on PostgreSQL:
// the group's record, its lock and its members' moves are the store's.
func TestGroupPromotesEveryMemberOrNonePostgres(t *testing.T) {
	groupPromotesEveryMemberOrNone(t, startPairOn(t, testenv.Postgres(t), nil))
}

func groupPromotesEveryMemberOrNone(t *testing.T, p *pair) {
	frontStart, backStart := p.front.Head("staging"), p.back.Head("staging")

	// The backend passes first: it does not move alone while the
	// frontend's check is pending.
	f1 := p.front.Commit("index.html", "<h1>front 1</h1>", "Front one")
	p.front.Push("dev")
	b1 := p.back.Commit("api.txt", "api 1", "Back one")
	p.back.Push("dev")
	p.back.Status(b1, "success")
	stays(t, p.back, "staging", backStart, 2*time.Second)
	stays(t, p.front, "staging", frontStart, 0)

	// The frontend passes: both move, each recorded and deployed.
	p.front.Status(f1, "success")
	p.front.WaitAudit("staging", f1, "promoted")
	p.back.WaitAudit("staging", b1, "promoted")
	if got := p.front.Head("staging"); got != f1 {
		t.Fatalf("frontend staging = %s, want %s", got, f1)
	}
	if got := p.back.Head("staging"); got != b1 {
		t.Fatalf("backend staging = %s, want %s", got, b1)
	}
	for _, c := range []struct {
		r   string
		run func() string
	}{
		{"frontend", func() string {
			r := p.front.CheckRun(f1, releasegroup.CheckName)
			return r.GetConclusion() + " " + r.GetOutput().GetSummary()
		}},
		{"backend", func() string {
			r := p.back.CheckRun(b1, releasegroup.CheckName)
			return r.GetConclusion() + " " + r.GetOutput().GetSummary()
		}},
	} {
		if got := c.run(); !strings.HasPrefix(got, "success") || !strings.Contains(got, "acme/backend") || !strings.Contains(got, "acme/site") {
			t.Errorf("%s %s: %s", c.r, releasegroup.CheckName, got)
		}
	}

	// The backend's gate fails: neither moves, and both are told why.
	f2 := p.front.Commit("index.html", "<h1>front 2</h1>", "Front two")
	p.front.Push("dev")
	b2 := p.back.Commit("api.txt", "api 2", "Back two")
	p.back.Push("dev")
	p.back.Status(b2, "failure")
	p.front.Status(f2, "success")
	frontRun := p.front.CheckRun(f2, releasegroup.CheckName)
	backRun := p.back.CheckRun(b2, releasegroup.CheckName)
	for name, run := range map[string]string{
		"frontend": frontRun.GetConclusion() + " " + frontRun.GetOutput().GetSummary(),
		"backend":  backRun.GetConclusion() + " " + backRun.GetOutput().GetSummary(),
	} {
		if !strings.HasPrefix(run, "failure") || !strings.Contains(run, "no member moved") ||
			!strings.Contains(run, "acme/backend: ") || !strings.Contains(run, "ci / test") {
			t.Errorf("%s %s: %s", name, releasegroup.CheckName, run)
		}
	}
	stays(t, p.front, "staging", f1, 2*time.Second)
	stays(t, p.back, "staging", b1, 0)
	// /status says so on each member.
	for _, repo := range []string{"acme/site", "acme/backend"} {
		lines, err := p.Caps.Groups.StatusLines(context.Background(), repo)
		if err != nil {
			t.Fatal(err)
		}
		if len(lines) != 1 || !strings.Contains(lines[0], "**web** → `staging`: refused") || !strings.Contains(lines[0], "ci / test") {
			t.Errorf("/status of %s: %q", repo, lines)
		}
	}
	if n := len(auditOf(t, p.Site, "acme/site", "release_group")); n < 2 {
		t.Errorf("%d release_group audit entries of acme/site, want the success and the refusal", n)
	}

	// The backend is fixed: both move.
	p.back.Status(b2, "success")
	p.front.WaitAudit("staging", f2, "promoted")
	p.back.WaitAudit("staging", b2, "promoted")
	if a, b := p.front.Head("staging"), p.back.Head("staging"); a != f2 || b != b2 {
		t.Fatalf("staging heads %s %s, want %s %s", a, b, f2, b2)
	}
	// Each promotion was recorded once.
	for _, r := range []struct{ repo, sha string }{{"acme/site", f1}, {"acme/site", f2}, {"acme/backend", b1}, {"acme/backend", b2}} {
		n := 0
		for _, e := range auditOf(t, p.Site, r.repo, "promote") {
			if e == fmt.Sprintf("staging %s promoted", r.sha) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s %s promoted %d times, want 1", r.repo, r.sha[:7], n)
		}
	}
}

// TestALaterMoveThatFailsMovesTheFirstBack: GitHub refuses to move the
// second member's branch, so the member already moved is moved back and
// both are told; the group does not try the same commits again by itself.
func TestALaterMoveThatFailsMovesTheFirstBack(t *testing.T) {
	p := startPair(t, nil)
	frontStart, backStart := p.front.Head("staging"), p.back.Head("staging")
	p.GH.SetFaults(emulator.Faults{Routes: []emulator.RouteFault{{Method: "PATCH", Path: "/repos/acme/site/git/refs/*", ErrorRate: 1, ErrorStatus: 422}}})
	f1 := p.front.Commit("index.html", "<h1>front 1</h1>", "Front one")
	p.front.Push("dev")
	b1 := p.back.Commit("api.txt", "api 1", "Back one")
	p.back.Push("dev")
	p.back.Status(b1, "success")
	p.front.Status(f1, "success")
	hasRun(t, p.back, b1, "failure", "moved back", "restored", "acme/site: moving staging")
	hasRun(t, p.front, f1, "failure", "moved back")
	if a, b := p.front.Head("staging"), p.back.Head("staging"); a != frontStart || b != backStart {
		t.Fatalf("staging heads %s %s, want both where they were: %s %s", a[:7], b[:7], frontStart[:7], backStart[:7])
	}
	// No loop: one failed attempt, however many events follow.
	time.Sleep(3 * time.Second)
	recs, err := p.Caps.Groups.Records(context.Background(), "web", "staging", 20)
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, r := range recs {
		if r.Phase == releasegroup.PhaseFailed {
			failed++
		}
	}
	if failed != 1 {
		t.Fatalf("%d failed group promotions, want 1", failed)
	}
	stays(t, p.back, "staging", backStart, time.Second)
}
