package verify_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/checks"
	"github.com/hoist-dev/hoist/internal/sitetest"
	"github.com/hoist-dev/hoist/internal/verify"
)

// TestVerifyRefusesPrivateURL: a repository whose verify.url points at a
// service on this machine (hoist's own /metrics, a database console, the
// metadata service) gets a failed hoist/verify check run and a failed
// deployment saying why, before any browser starts: the service receives
// no request, its secret is in no check run, and nothing is rolled back.
// The server allows only its own edge (smoke.verify_private_hosts).
func TestVerifyRefusesPrivateURL(t *testing.T) {
	const secret = "s3cr3t-metrics-token-93c2"
	var hits atomic.Int32
	inside := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, "<!doctype html><title>metrics</title><ul><li class=\"product\">%s</li></ul>", secret)
	}))
	t.Cleanup(func() { inside.CloseClientConnections(); inside.Close() })

	w := startWorldVerifying(t, nil, nil, inside.URL+"/metrics")
	head := w.Head("staging")
	run := w.verifyRun(head)
	out := run.GetOutput()
	const reason = "verify url host 127.0.0.1 is a loopback address; hoist does not browse private addresses unless the server allows the host (smoke.verify_private_hosts)"
	if run.GetConclusion() != "failure" || out.GetTitle() != "Verification refused" || !strings.Contains(out.GetSummary(), checks.Escape(reason)) {
		t.Fatalf("hoist/verify = %s %q: %q", run.GetConclusion(), out.GetTitle(), out.GetSummary())
	}
	if state, ok := w.GH.CheckRunState(run.GetID()); !ok || len(state.Output.Images) != 0 {
		t.Fatalf("check run images: %+v", state.Output)
	}
	for _, s := range []string{out.GetTitle(), out.GetSummary(), out.GetText()} {
		if strings.Contains(s, secret) {
			t.Fatalf("the secret is in the check run: %q", s)
		}
	}
	sitetest.Eventually(t, 30*time.Second, func() (bool, string) {
		sts := w.statuses(head)
		return hasState(sts, "failure", "verification refused: verify url host 127.0.0.1 is a loopback address"), strings.Join(sts, " | ")
	})
	sitetest.Eventually(t, 10*time.Second, func() (bool, string) {
		k := w.alerts.kinds()
		return slices.Contains(k, verify.AlertVerifyFailed), strings.Join(k, ",")
	})
	// Not a failure of the site: nothing counted, held or moved.
	time.Sleep(time.Second)
	if n := hits.Load(); n != 0 {
		t.Fatalf("the service inside received %d requests", n)
	}
	if got := w.Head("staging"); got != head {
		t.Fatalf("staging moved to %s", got)
	}
	if o := w.outcomes.all(); len(o) != 0 {
		t.Fatalf("outcomes %v", o)
	}
}
