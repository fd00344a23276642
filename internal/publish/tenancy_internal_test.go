package publish

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/deploy"
	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/pipeline"
	"github.com/hoist-dev/hoist/internal/purge"
)

// TestDeployAndPurgeRefuseAtActTime is the defence in depth: a
// configuration that reaches the deploy job without the hoist/config check
// (a last good one from before the server config changed, say) is refused
// there too, permanently, with a reason fit for the deployment status, and
// no purge request leaves.
func TestDeployAndPurgeRefuseAtActTime(t *testing.T) {
	var requests atomic.Int64
	cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { requests.Add(1) }))
	t.Cleanup(cdn.Close)
	s := &Publisher{cfg: &serverconfig.Server{
		Targets: serverconfig.Targets{"site": {TargetConfig: deploy.TargetConfig{Type: "local", Dir: t.TempDir()}, Repos: []string{"acme"}}},
		CDNs:    purge.CDNs{{Name: "edge", Type: purge.Varnish, Nodes: []string{cdn.URL}, Repos: []string{"acme/site"}}},
	}}
	ctx := context.Background()
	env := pipeline.Environment{Name: "staging", Deploy: config.RepoDeploy{Target: "site", Prefix: "acme/site/staging/"},
		Purge: []config.RepoPurge{{CDN: "edge", Keys: []string{"e-staging"}}}}

	_, _, _, err := s.target(ctx, "evil/site", env)
	var perm permanentDeployError
	if !errors.As(err, &perm) || !strings.Contains(reason("deploy failed", err), `deploy target "site" is not open to evil/site`) {
		t.Fatalf("evil's deploy: %v", err)
	}
	if _, _, err := s.cdnsFor(ctx, "evil/site", env); !errors.As(err, &perm) || !strings.Contains(err.Error(), `cdn "edge" is not open to evil/site`) {
		t.Fatalf("evil's purge: %v", err)
	}
	if _, err := s.Purge(ctx, gh.NewRepo(nil, "evil", "site"), nil, env, PurgeRequest{All: true}); err == nil {
		t.Fatal("evil's /purge all was accepted")
	}
	for _, p := range []string{"../../acme/site/staging/", "/acme/", "%2e%2e/acme/"} {
		hostile := env
		hostile.Deploy.Prefix = p
		if _, _, _, err := s.target(ctx, "acme/blog", hostile); !errors.As(err, &perm) {
			t.Errorf("prefix %q: %v", p, err)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Fatalf("%d purge requests reached the CDN", n)
	}

	// acme's own: its folder, its keys, under its prefix.
	_, _, prefix, err := s.target(ctx, "acme/site", env)
	if err != nil || prefix != "acme/site/acme/site/staging/" {
		t.Fatalf("acme/site: %q, %v", prefix, err)
	}
	_, extra, err := s.cdnsFor(ctx, "acme/site", env)
	if err != nil || len(extra.Keys) != 1 || extra.Keys[0] != "acme/site/e-staging" {
		t.Fatalf("acme/site's extra keys: %v, %v", extra.Keys, err)
	}
}
