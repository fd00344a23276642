package chatops_test

import (
	"context"
	"strings"
	"testing"
	"time"

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
