package smokegate

import (
	"context"
	"fmt"
	"time"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/internal/site"
	"github.com/hoist-dev/hoist/internal/smoke"
)

// SmokeTree runs the repository's smoke test on tree, served privately as
// every candidate is, without a check run: a fleet launch tests each
// stage's site with the instance's settings file in it, which is no
// commit's tree. It waits for the browser while another run holds it.
func (s *Gate) SmokeTree(ctx context.Context, cfg *config.RepoConfig, tree site.Tree) (*smoke.Report, error) {
	if err := s.smokeReady(); err != nil {
		return nil, err
	}
	opts, err := smoke.ConfigOptions(cfg.Smoke)
	if err != nil {
		return nil, fmt.Errorf("smoke options: %w", err)
	}
	opts.ChromiumPath = s.smoke.chromium
	opts.AllowHosts = s.smoke.allowHosts
	opts.BrowserUser = s.smoke.browserUser
	select {
	case s.smoke.browsers <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(5 * time.Minute):
		return nil, fmt.Errorf("the browser stayed busy for 5 minutes")
	}
	defer func() { <-s.smoke.browsers }()
	return s.smokeTree(ctx, tree, opts)
}
