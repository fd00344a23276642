package smokegate

import (
	"context"
	"errors"
	"fmt"

	"github.com/hoist-dev/hoist/internal/checks"
	"github.com/hoist-dev/hoist/internal/store"
)

// SmokeImages returns the screenshots hoist attached to one of its
// hoist/smoke check runs, as the check run shows them: GitHub's API does
// not return a check run's output.images, so the dashboard asks here for
// its thumbnails. A check run hoist did not post, or one still running,
// has none.
func (s *Gate) SmokeImages(ctx context.Context, repo string, checkRunID int64) ([]checks.Image, error) {
	if s.store == nil {
		return nil, nil
	}
	run, err := s.store.SmokeRunByCheck(ctx, repo, checkRunID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("smoke images of check run %d: %w", checkRunID, err)
	}
	rep := decodeReport(run.Report)
	if rep == nil {
		return nil, nil
	}
	s.smoke.mu.Lock()
	base := s.smoke.publicURL
	s.smoke.mu.Unlock()
	// Signed for this repository: the dashboard shows them only to the
	// repository's readers.
	return smokeImagesAt(rep, s.artifactURL(run.Repo, base)), nil
}
