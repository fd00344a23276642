package publish_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/hoist-dev/hoist/internal/publish"
	"github.com/hoist-dev/hoist/internal/sitetest"
	"github.com/hoist-dev/hoist/internal/world"
)

// Helpers of this package's tests only; the test world is sitetest.Site.

// purgeGate holds purge requests until it is opened, so a test can look at
// the edge between the deploy and the purge; it counts them.
type purgeGate struct {
	fail     atomic.Bool // answer every purge with a network error
	mu       sync.Mutex
	closed   bool
	open     chan struct{}
	waiting  chan struct{}
	requests atomic.Int64
}

func newPurgeGate() *purgeGate {
	return &purgeGate{open: make(chan struct{}), waiting: make(chan struct{}, 100)}
}

func (g *purgeGate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed, g.open = true, make(chan struct{})
}

func (g *purgeGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		close(g.open)
		g.closed = false
	}
}

func (g *purgeGate) RoundTrip(r *http.Request) (*http.Response, error) {
	g.requests.Add(1)
	if g.fail.Load() {
		return nil, fmt.Errorf("connection refused (test)")
	}
	g.mu.Lock()
	closed, open := g.closed, g.open
	g.mu.Unlock()
	if closed {
		g.waiting <- struct{}{}
		select {
		case <-open:
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

func fetch(t *testing.T, addr, p string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + p)
	if err != nil {
		t.Fatalf("GET %s: %v", p, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func shippedVCL() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "examples", "varnish", "hoist.vcl")
}

// waitState waits until the newest deployment of env for sha has the
// status state, and returns its description.
func waitState(w *sitetest.Site, env, sha, state string) string {
	w.T.Helper()
	ctx := context.Background()
	var last, desc string
	reached := func() bool {
		deps, _, err := w.Alice.Repositories.ListDeployments(ctx, "acme", "site", &github.DeploymentsListOptions{Environment: env, SHA: sha})
		if err != nil {
			w.T.Fatal(err)
		}
		if len(deps) == 0 {
			return false
		}
		sts, _, err := w.Alice.Repositories.ListDeploymentStatuses(ctx, "acme", "site", deps[0].GetID(), nil)
		if err != nil {
			w.T.Fatal(err)
		}
		if len(sts) == 0 {
			return false
		}
		last, desc = sts[0].GetState()+" "+sts[0].GetDescription(), sts[0].GetDescription()
		return sts[0].GetState() == state
	}
	if world.WaitFor(60*time.Second, reached) != nil {
		w.T.Fatalf("deployment of %s to %s never %s; last %q", sha, env, state, last)
	}
	return desc
}

// deployCheck is the newest hoist/deploy check run on sha.
func deployCheck(w *sitetest.Site, sha string) *github.CheckRun {
	w.T.Helper()
	runs, _, err := w.Alice.Checks.ListCheckRunsForRef(context.Background(), "acme", "site", sha,
		&github.ListCheckRunsOptions{CheckName: github.String(publish.DeployCheckName)})
	if err != nil {
		w.T.Fatal(err)
	}
	if len(runs.CheckRuns) == 0 {
		w.T.Fatalf("no %s check run on %s", publish.DeployCheckName, sha)
	}
	return runs.CheckRuns[0]
}

// outputOf is the summary of the hoist/deploy check run on sha titled title.
func outputOf(t *testing.T, w *sitetest.Site, sha, title string) string {
	runs, _, err := w.Alice.Checks.ListCheckRunsForRef(context.Background(), "acme", "site", sha,
		&github.ListCheckRunsOptions{CheckName: github.String(publish.DeployCheckName), Filter: github.String("all")})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs.CheckRuns {
		if r.GetOutput().GetTitle() == title {
			return r.GetOutput().GetSummary()
		}
	}
	return ""
}
