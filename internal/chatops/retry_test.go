package chatops_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/hoist-dev/hoist/emulator"
)

// commandAttempts waits until the command job of comment has failed at
// least n attempts and returns its recorded errors.
func (w *cmdWorld) commandAttempts(comment int64, n int) string {
	w.T.Helper()
	var errs string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var count int
		err := w.Srv.Store().QueryRow(context.Background(), `SELECT COALESCE(json_array_length(errors), 0), COALESCE(json(errors), '')
			FROM river_job WHERE kind = 'hoist_pr_command' AND json_extract(args, '$.comment_id') = ?`, comment).Scan(&count, &errs)
		if err == nil && count >= n {
			return errs
		}
	}
	w.T.Fatalf("the command job of comment %d did not fail %d attempts; errors %s", comment, n, errs)
	return ""
}

// A 502 on a read that /status makes, or on its reply, is retried with
// River's backoff: the person gets the status, once, not "failed".
func TestTransientGitHubErrorsAreRetriedBeforeAnyoneIsTold(t *testing.T) {
	w := startCommands(t)
	for _, c := range []struct {
		name  string
		fault emulator.RouteFault
	}{
		{"a read", emulator.RouteFault{Method: "GET", Path: "/repos/acme/site/git/ref/heads/staging", ErrorRate: 1, ErrorStatus: 502}},
		{"the reply", emulator.RouteFault{Method: "POST", Path: "/repos/{owner}/{repo}/issues/{issue_number}/comments", ErrorRate: 1, ErrorStatus: 502}},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := len(w.replies())
			// The comment is written before the fault (which would refuse
			// it too), and its webhook is held back until the fault is on.
			w.GH.SetFaults(emulator.Faults{WebhookDropRate: 1})
			id := w.say(w.bob, "/status")
			d := w.droppedComment(id)
			w.GH.SetFaults(emulator.Faults{Routes: []emulator.RouteFault{c.fault}})
			w.redeliver(d)
			errs := w.commandAttempts(id, 1)
			w.GH.SetFaults(emulator.Faults{})
			if !strings.Contains(errs, "502") {
				t.Errorf("the failed attempt recorded %s, want the 502", errs)
			}
			reply := w.answered(id, 1)
			contains(t, "the status", reply, "`/status` is done", "| `staging` | `staging` |")
			if strings.Contains(reply, "Sorry") || strings.Contains(reply, "502") {
				t.Fatalf("the reply tells of the transient error:\n%s", reply)
			}
			if n := len(w.replies()) - before; n != 1 {
				t.Fatalf("%d replies to one /status, want 1", n)
			}
		})
	}
}

// A /deploy whose deployment GitHub created but whose status write failed
// is retried with the same deployment: one deployment of the head, which
// succeeds, not a second one beside a deployment stuck without a status.
func TestRedeployRetriedKeepsItsDeployment(t *testing.T) {
	w := startCommands(t)
	ctx := context.Background()
	head := w.Head("staging")
	w.GH.SetFaults(emulator.Faults{WebhookDropRate: 1})
	id := w.say(w.bob, "/deploy staging")
	d := w.droppedComment(id)
	w.GH.SetFaults(emulator.Faults{Routes: []emulator.RouteFault{
		{Method: "POST", Path: "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses", ErrorRate: 1, ErrorStatus: 502}}})
	w.redeliver(d)
	w.commandAttempts(id, 1)
	w.GH.SetFaults(emulator.Faults{})
	reply := w.answered(id, 1)
	contains(t, "the reply", reply, "Deployed `staging` again")
	deps, _, err := w.Alice.Repositories.ListDeployments(ctx, "acme", "site", &github.DeploymentsListOptions{Environment: "staging", SHA: head})
	if err != nil {
		t.Fatal(err)
	}
	var redeploys []*github.Deployment // the push of the branch has its own
	for _, dep := range deps {
		if strings.HasPrefix(dep.GetDescription(), "redeploy ") {
			redeploys = append(redeploys, dep)
		}
	}
	if len(redeploys) != 1 {
		t.Fatalf("%d redeployments of %s to staging after one /deploy, want 1", len(redeploys), head[:7])
	}
	sts, _, err := w.Alice.Repositories.ListDeploymentStatuses(ctx, "acme", "site", redeploys[0].GetID(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) == 0 || sts[0].GetState() != "success" {
		t.Fatalf("the deployment's statuses: %v, want success", sts)
	}
	if n := w.audited(id, "deploy", "redeploy"); n != 1 {
		t.Fatalf("the retried /deploy is audited %d times, want once", n)
	}
}

// audited counts the audit entries of action and outcome that comment's
// command wrote.
func (w *cmdWorld) audited(comment int64, action, outcome string) int {
	w.T.Helper()
	entries, err := w.Srv.Store().AuditLog(context.Background(), "acme/site", 500)
	if err != nil {
		w.T.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if c, _ := e.Detail["comment"].(float64); e.Action == action && e.Outcome == outcome && int64(c) == comment {
			n++
		}
	}
	return n
}

// A /rollback whose branch move succeeded but whose deployment status
// write failed is retried: the retry finds the branch moved and finishes,
// and the rollback is in the audit log once, not once per attempt.
func TestRollbackRetriedIsAuditedOnce(t *testing.T) {
	w := startCommands(t)
	v2 := w.greenOnDev("v2")
	w.answered(w.say(w.bob, "/promote staging"), 1)
	v3 := w.greenOnDev("v3")
	w.answered(w.say(w.bob, "/promote staging"), 1)
	if got := w.Head("staging"); got != v3 {
		t.Fatalf("staging = %s, want %s", got, v3)
	}
	w.GH.SetFaults(emulator.Faults{WebhookDropRate: 1})
	id := w.say(w.bob, "/rollback staging")
	d := w.droppedComment(id)
	w.GH.SetFaults(emulator.Faults{Routes: []emulator.RouteFault{
		{Method: "POST", Path: "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses", ErrorRate: 1, ErrorStatus: 502}}})
	w.redeliver(d)
	errs := w.commandAttempts(id, 1)
	w.GH.SetFaults(emulator.Faults{})
	contains(t, "the reply", w.answered(id, 1), "Rolled `staging` back from `"+v3[:7]+"` to `"+v2[:7]+"`")
	t.Logf("first attempt failed with %s", errs)
	if got := w.Head("staging"); got != v2 {
		t.Fatalf("staging = %s after the retried /rollback, want %s", got, v2)
	}
	if n := w.audited(id, "rollback", "rolled_back"); n != 1 {
		t.Fatalf("the retried /rollback is audited %d times, want once", n)
	}
}
