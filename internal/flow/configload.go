package flow

import (
	"context"
	"errors"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/jobs"
)

// configLoader is the Service's one reader of repository configurations
// (gh.ConfigLoader: the repository's own file, else its owner's .github
// repository, cached by commit), made on first use so that New stays as it
// is.
func (s *Service) configLoader() *gh.ConfigLoader {
	s.extra.mu.Lock()
	defer s.extra.mu.Unlock()
	if s.extra.configs == nil {
		s.extra.configs = gh.NewConfigLoader(0)
	}
	return s.extra.configs
}

// SetConfigLoader replaces the configuration loader (tests use a small
// cache or count reads). Call it before the server starts.
func (s *Service) SetConfigLoader(l *gh.ConfigLoader) {
	s.extra.mu.Lock()
	defer s.extra.mu.Unlock()
	s.extra.configs = l
}

// loadRepoConfig is the configuration of the default branch as read, for
// jobs that act on it without deciding which one is in force (chooseConfig
// does that): nil when the repository has none; a broken one is permanent.
func (s *Service) loadRepoConfig(ctx context.Context, repo *gh.Repo, defaultBranch string) (*config.RepoConfig, error) {
	lc, err := s.configLoader().Load(ctx, repo, defaultBranch)
	switch {
	case errors.Is(err, gh.ErrNoConfig):
		return nil, nil
	case errors.Is(err, gh.ErrInvalidConfig):
		return nil, jobs.Permanent(err)
	case err != nil:
		return nil, err
	}
	return lc.Config, nil
}
