package chatops_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/internal/store"
)

// droppedComment waits until the emulator has dropped the webhook of a
// comment and returns that delivery.
func (w *cmdWorld) droppedComment(comment int64) emulator.Delivery {
	w.T.Helper()
	return w.GH.WaitForDelivery(func(d emulator.Delivery) bool {
		var p struct {
			Comment struct{ ID int64 } `json:"comment"`
		}
		return d.Event == "issue_comment" && d.Dropped && d.Decode(&p) == nil && p.Comment.ID == comment
	})
}

// redeliver asks the emulator, as the App, to send a delivery again.
func (w *cmdWorld) redeliver(d emulator.Delivery) {
	w.T.Helper()
	var accepted *github.AcceptedError // 202: GitHub queues the redelivery
	if _, _, err := w.GH.Client(w.App.JWT()).Apps.RedeliverHookDelivery(context.Background(), d.ID); err != nil && !errors.As(err, &accepted) {
		w.T.Fatal(err)
	}
}

// A burst of /hold, /unhold, /unhold, /hold on one pull request whose
// webhooks arrive in the reverse order: the commands still run in the order
// they were written, one at a time, so the environment ends held, the
// replies come in order, and the second /unhold finds the hold lifted by
// the first.
func TestCommandsOnAPullRequestRunInTheOrderWritten(t *testing.T) {
	w := startCommands(t)
	ctx := context.Background()
	st := w.Srv.Store()

	w.GH.SetFaults(emulator.Faults{WebhookDropRate: 1})
	bodies := []string{"/hold staging first", "/unhold staging", "/unhold staging", "/hold staging second"}
	var ids []int64
	var dropped []emulator.Delivery
	for _, b := range bodies {
		id := w.say(w.bob, b)
		ids = append(ids, id)
		dropped = append(dropped, w.droppedComment(id))
	}
	w.GH.SetFaults(emulator.Faults{})
	start := time.Now()
	for i := len(dropped) - 1; i >= 0; i-- {
		w.redeliver(dropped[i])
	}

	replies := make([]string, len(ids))
	for i, id := range ids {
		replies[i] = w.answered(id, 1)
	}
	t.Logf("4 commands delivered in reverse order answered in %s", time.Since(start).Round(time.Millisecond))
	contains(t, "the first hold", replies[0], "`staging` is held", "`first`")
	contains(t, "the first unhold", replies[1], "Released 1 hold on `staging`")
	contains(t, "the second unhold", replies[2], "`staging` is not held", "already lifted by @bob")
	contains(t, "the last hold", replies[3], "`staging` is held", "`second`")

	// In order: each command's reply was posted after the previous one's,
	// and each began only once the previous one was answered.
	var runs []store.CommandRun
	for _, id := range ids {
		r, err := st.CommandRun(ctx, id, 1)
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r)
	}
	for i := 1; i < len(runs); i++ {
		if runs[i].ReplyID <= runs[i-1].ReplyID {
			t.Errorf("the reply to %q (%d) came before the reply to %q (%d)", bodies[i], runs[i].ReplyID, bodies[i-1], runs[i-1].ReplyID)
		}
		if runs[i].CreatedAt.Before(runs[i-1].UpdatedAt) {
			t.Errorf("%q began at %s, before %q was answered at %s", bodies[i], runs[i].CreatedAt, bodies[i-1], runs[i-1].UpdatedAt)
		}
	}

	holds, err := st.EnvHolds(ctx, "acme/site", "staging", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(holds) != 1 || holds[0].Reason != "second" {
		t.Fatalf("active holds on staging %+v, want the last /hold's", holds)
	}
	var released int
	if err := st.QueryRow(ctx, `SELECT count(*) FROM holds WHERE released_at IS NOT NULL`).Scan(&released); err != nil || released != 1 {
		t.Fatalf("%d holds released (%v), want 1: two /unholds release a hold once", released, err)
	}
	w.commandJobsDone()
	if n := len(w.replies()); n != len(ids) {
		t.Fatalf("%d replies to %d commands", n, len(ids))
	}
}
