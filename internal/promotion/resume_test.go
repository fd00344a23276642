package promotion_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/internal/sitetest"
)

// A promotion is two writes: the branch moves, then GitHub records the
// deployment. When the second fails, the evaluation's retry finds the
// branch up to date; it must still publish what the first attempt left
// pending, and exactly once.
func TestPromotionWhoseDeploymentFailedIsPublishedOnRetry(t *testing.T) {
	r := startRig(t, goodYML)
	ctx := context.Background()
	// The branches' first pushes are published before GitHub fails, so
	// that only the promotion's evaluation can complete what it left.
	start := r.Head("staging")
	sitetest.Eventually(t, 20*time.Second, func() (bool, string) {
		return len(deployments(r, "staging", start)) == 1 && len(deployments(r, "dev", start)) == 1, "first pushes not published"
	})
	r.GH.SetFaults(emulator.Faults{Routes: []emulator.RouteFault{{Method: "POST", Path: "/repos/{owner}/{repo}/deployments", ErrorRate: 1, ErrorStatus: 502}}})

	c1 := r.Commit("public/index.html", "<h1>one</h1>", "First feature")
	r.Push("dev")
	r.Status(c1, "success")
	r.WaitAudit("staging", c1, "promoted")
	// The evaluation failed after the branch moved.
	sitetest.Eventually(t, 20*time.Second, func() (bool, string) {
		var n int
		err := r.Srv.Store().QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'hoist_evaluate_promotion' AND errors IS NOT NULL`).Scan(&n)
		if err != nil {
			return false, err.Error()
		}
		return n > 0, "no evaluation failed"
	})
	if got := r.Head("staging"); got != c1 {
		t.Fatalf("staging = %s, want %s: the branch should have moved before the deployment failed", got, c1)
	}
	if deps := deployments(r, "staging", c1); len(deps) != 0 {
		t.Fatalf("%d deployments of staging at %s while GitHub refused them", len(deps), c1[:7])
	}

	// GitHub recovers: the retry publishes the promotion.
	r.GH.SetFaults(emulator.Faults{})
	sitetest.Eventually(t, 30*time.Second, func() (bool, string) {
		deps := deployments(r, "staging", c1)
		return len(deps) > 0, fmt.Sprintf("no deployment of staging at %s after the retry", c1[:7])
	})

	// And the next promotion goes through as usual.
	c2 := r.Commit("public/index.html", "<h1>two</h1>", "Second feature")
	r.Push("dev")
	r.Status(c2, "success")
	r.WaitAudit("staging", c2, "promoted")
	sitetest.Eventually(t, 20*time.Second, func() (bool, string) {
		return len(deployments(r, "staging", c2)) == 1, "no deployment of staging at " + c2[:7]
	})
	time.Sleep(time.Second)
	for _, sha := range []string{c1, c2} {
		if deps := deployments(r, "staging", sha); len(deps) != 1 {
			t.Errorf("%d deployments of staging at %s, want 1", len(deps), sha[:7])
		}
		if n := auditCount(r, "staging", sha, "promoted"); n != 1 {
			t.Errorf("%d promotions of %s recorded, want 1", n, sha[:7])
		}
	}
	var pending int
	if err := r.Srv.Store().QueryRow(ctx, `SELECT count(*) FROM pending_publications`).Scan(&pending); err != nil {
		t.Fatal(err)
	}
	if pending != 0 {
		t.Errorf("%d publications still pending", pending)
	}
}
