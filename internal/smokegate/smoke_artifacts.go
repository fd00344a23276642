package smokegate

import (
	"context"
	"fmt"
	"time"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/deploy"
	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/site"
	"github.com/hoist-dev/hoist/internal/smoke"
)

// artifactStore opens where screenshots are kept: the folder, or the s3
// deploy target named by smoke.artifacts_target, whose client (endpoint,
// path style, credentials) is the one deploys use.
func (s *Gate) artifactStore(cfg *serverconfig.Server) (smoke.ArtifactStore, error) {
	name := cfg.Smoke.ArtifactsTarget
	if name == "" {
		return smoke.NewDirStore(cfg.Smoke.ArtifactsDir)
	}
	// Opening a target only reads configuration; nothing is sent yet.
	t, tc, err := s.targets.OpenTarget(context.Background(), name)
	if err != nil {
		return nil, fmt.Errorf("smoke.artifacts_target %s: %w", name, err)
	}
	st, ok := t.(*deploy.S3Target)
	if !ok {
		return nil, fmt.Errorf("smoke.artifacts_target %s: not an s3 target", name)
	}
	return smoke.NewS3Store(st.Client(), tc.Bucket, cfg.Smoke.ArtifactsPrefix), nil
}

// addPruners registers the retention of screenshots (retention.artifacts)
// and git mirrors (retention.mirrors). An S3 artifact store is shared by
// every replica and pruned by one of them; a folder and the mirrors are
// this process's own and pruned by it.
func (s *Gate) addPruners(cfg *serverconfig.Server, e *jobs.Engine) {
	if age := cfg.Retention.Artifacts.MaxAge; age > 0 {
		e.AddPruner("artifacts", cfg.Smoke.ArtifactsTarget != "", func(ctx context.Context) (map[string]int64, error) {
			s.smoke.mu.Lock()
			p, ok := s.smoke.artifacts.(smoke.ArtifactPruner)
			s.smoke.mu.Unlock()
			if !ok {
				return nil, nil
			}
			n, err := p.Prune(ctx, time.Now().Add(-age))
			return map[string]int64{"artifacts": n}, err
		})
	}
	if age := cfg.Retention.Mirrors.MaxAge; age > 0 {
		e.AddPruner("mirrors", false, func(ctx context.Context) (map[string]int64, error) {
			n, err := site.PruneMirrors(ctx, cfg.DataDir, time.Now().Add(-age), s.forgetMirror)
			return map[string]int64{"mirrors": n}, err
		})
	}
}

// forgetMirror closes and drops an open mirror before retention deletes it;
// the next job that needs it opens (and fetches) it afresh.
func (s *Gate) forgetMirror(owner, repo string) {
	st := &s.smoke
	st.mu.Lock()
	defer st.mu.Unlock()
	if m, ok := st.mirrors[owner+"/"+repo]; ok {
		_ = m.Close()
		delete(st.mirrors, owner+"/"+repo)
	}
}
