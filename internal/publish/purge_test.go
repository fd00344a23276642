package publish

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/deploy"
	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/pipeline"
	"github.com/hoist-dev/hoist/internal/purge"
	"github.com/hoist-dev/hoist/internal/testenv"
)

// TestPurgeByPathsOrAll is the /purge command's seam on a real Varnish:
// named paths are purged by their path keys and nothing else, all purges
// the edition key.
func TestPurgeByPathsOrAll(t *testing.T) {
	var version atomic.Int64
	version.Store(1)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := purge.SitePath(r.URL.Path)
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("x-amz-meta-surrogate-key", deploy.EditionKey("acme/site/staging")+" "+deploy.PathKey("acme/site/staging", p))
		fmt.Fprintf(w, "v%d %s", version.Load(), p)
	}))
	t.Cleanup(origin.Close)
	_, file, _, _ := runtime.Caller(0)
	node := testenv.Varnish(t, filepath.Join(filepath.Dir(file), "..", "..", "examples", "varnish", "hoist.vcl"), origin.Listener.Addr().String())
	get := func(p string) string {
		resp, err := http.Get("http://" + node + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	for _, p := range []string{"/", "/a.html", "/docs/"} {
		get(p)
	}
	version.Store(2)
	if got := get("/"); got != "v1 index.html" {
		t.Fatalf("not cached: %q", got)
	}

	s := &Publisher{cfg: &serverconfig.Server{CDNs: purge.CDNs{{Name: "edge", Type: purge.Varnish, Nodes: []string{"http://" + node}, Repos: []string{"acme/site"}}}}}
	repo := gh.NewRepo(nil, "acme", "site")
	env := pipeline.Environment{Name: "staging", Purge: []config.RepoPurge{{CDN: "edge"}}}
	ctx := context.Background()
	res, err := s.Purge(ctx, repo, nil, env, PurgeRequest{Env: "staging", Paths: []string{"/", "/docs/"}, Actor: "alice"})
	if err != nil || res.Requests["edge"] != 1 || !strings.Contains(res.Summary, "edge: purged 2 keys in 1 requests") {
		t.Fatalf("purge paths = %+v, %v", res, err)
	}
	if got, docs, a := get("/"), get("/docs/"), get("/a.html"); got != "v2 index.html" || docs != "v2 docs/index.html" || a != "v1 a.html" {
		t.Fatalf("after purging / and /docs/: %q %q %q", got, docs, a)
	}
	if _, err := s.Purge(ctx, repo, nil, env, PurgeRequest{Env: "staging", All: true}); err != nil {
		t.Fatal(err)
	}
	if a := get("/a.html"); a != "v2 a.html" {
		t.Fatalf("after purging all: %q", a)
	}

	if _, err := s.Purge(ctx, repo, nil, pipeline.Environment{Name: "dev"}, PurgeRequest{All: true}); !errors.Is(err, ErrPurgeUnavailable) {
		t.Fatalf("no CDN: %v", err)
	}
	bad := pipeline.Environment{Name: "staging", Purge: []config.RepoPurge{{CDN: "fastly-main"}}}
	if _, err := s.Purge(ctx, repo, nil, bad, PurgeRequest{All: true}); err == nil || !strings.Contains(err.Error(), `no cdn named "fastly-main"`) {
		t.Fatalf("unknown CDN: %v", err)
	}
}
