package purge

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/deploy"
)

func TestRequestForADeploy(t *testing.T) {
	r := &deploy.Result{Edition: "production", EditionKey: "e-production", Commit: "abc", DeployID: "d1",
		Changes: deploy.ChangeSet{
			Modified: []deploy.Change{{Path: "index.html", Keys: []string{"e-production", "p-1"}}},
			Deleted:  []deploy.Change{{Path: "old/index.html", Keys: []string{"e-production", "p-2"}}},
		}}
	req := RequestFor(r, Extra{Paths: []string{"/health.html", "/"}, Keys: []string{"menu"}})
	if req.ID != "production@abc@d1" || req.EditionKey != "e-production" || len(req.Changes) != 3 {
		t.Fatalf("request = %+v", req)
	}
	if c := req.Changes[2]; c.Path != "health.html" || c.Keys[1] != deploy.PathKey("production", "health.html") {
		t.Fatalf("extra path = %+v", c)
	}
	if k := req.Changes[0].Keys; len(k) != 3 || k[2] != "menu" {
		t.Fatalf("extra key = %v", k)
	}
	if r.Changes.Modified[0].Keys[len(r.Changes.Modified[0].Keys)-1] == "menu" {
		t.Fatal("RequestFor changed the deploy result's keys")
	}
	// Another deploy of the same commit (a rollback) is another purge.
	r2 := *r
	r2.DeployID = "d2"
	if RequestFor(&r2, Extra{}).ID == req.ID {
		t.Fatal("two deploys of one commit share a purge id")
	}
	// Nothing changed: nothing to purge, extras included.
	if req := RequestFor(&deploy.Result{Edition: "production", SameTree: true}, Extra{Paths: []string{"/"}}); len(req.Changes) != 0 || req.ID != "" {
		t.Fatalf("same tree: %+v", req)
	}
	merged := req.Merge(Request{Changes: []Change{{Path: "index.html"}, {Path: "b.css"}}})
	if len(merged.Changes) != 4 || merged.Changes[3].Path != "b.css" {
		t.Fatalf("merge = %+v", merged.Changes)
	}
	for u, want := range map[string]string{"/": "index.html", "/docs/": "docs/index.html", "/a.css": "a.css", "b/c.html": "b/c.html"} {
		if got := SitePath(u); got != want {
			t.Errorf("SitePath(%q) = %q, want %q", u, got, want)
		}
	}
}

// A failed purge names the CDN once: the adapter says what failed (nodes,
// batches), the caller which CDN it was, so a CDN called "varnish" does not
// read "varnish varnish".
func TestPurgeErrorNamesTheCDNOnce(t *testing.T) {
	node := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusForbidden)
	}))
	defer node.Close()
	p := &DeployPurger{
		CDNs:    []CDNConfig{{Name: "varnish", Type: Varnish, Nodes: []string{node.URL}}},
		Options: []Option{WithRetry(RetryPolicy{Attempts: 1, Base: time.Millisecond})},
	}
	r := &deploy.Result{Edition: "production", EditionKey: "e-production", Commit: "abc", DeployID: "d1",
		Changes: deploy.ChangeSet{Modified: []deploy.Change{{Path: "index.html", Keys: []string{"e-production", "p-1"}}}}}
	err := p.Purge(context.Background(), r)
	if err == nil {
		t.Fatal("purge against a refusing node succeeded")
	}
	msg := err.Error()
	if n := strings.Count(msg, "varnish"); n != 1 {
		t.Errorf("%q names varnish %d times, want once", msg, n)
	}
	if !strings.HasPrefix(msg, "purge varnish: 1 of 1 node failed: node "+node.URL) {
		t.Errorf("error = %q", msg)
	}
}
