package flow

import (
	"context"
	"fmt"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/internal/deploy"
	"github.com/hoist-dev/hoist/internal/smoke"
)

// artifactStore opens where screenshots are kept: the folder, or the s3
// deploy target named by smoke.artifacts_target, whose client (endpoint,
// path style, credentials) is the one deploys use.
func (s *Service) artifactStore(cfg *config.Server) (smoke.ArtifactStore, error) {
	name := cfg.Smoke.ArtifactsTarget
	if name == "" {
		return smoke.NewDirStore(cfg.Smoke.ArtifactsDir)
	}
	// Opening a target only reads configuration; nothing is sent yet.
	t, tc, err := s.openTarget(context.Background(), name)
	if err != nil {
		return nil, fmt.Errorf("smoke.artifacts_target %s: %w", name, err)
	}
	st, ok := t.(*deploy.S3Target)
	if !ok {
		return nil, fmt.Errorf("smoke.artifacts_target %s: not an s3 target", name)
	}
	return smoke.NewS3Store(st.Client(), tc.Bucket, cfg.Smoke.ArtifactsPrefix), nil
}
