package repoconfig

import (
	"context"
	"errors"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/store"
)

// LoadRepoConfig is the configuration of the default branch as read, for
// jobs that act on it without deciding which one is in force (chooseConfig
// does that): nil when the repository has none; a broken one is permanent.
func (s *Loader) LoadRepoConfig(ctx context.Context, repo *gh.Repo, defaultBranch string) (*config.RepoConfig, error) {
	lc, err := s.loadConfig(ctx, repo, defaultBranch)
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

// loadConfig is configLoader().Load with the configuration also checked
// against this server (vetConfig).
func (s *Loader) loadConfig(ctx context.Context, repo *gh.Repo, branch string) (*gh.LoadedConfig, error) {
	lc, err := s.configs.Load(ctx, repo, branch)
	return s.vetConfig(repo, lc, err)
}

// loadConfigAt is configLoader().LoadAt, checked against this server.
func (s *Loader) loadConfigAt(ctx context.Context, repo *gh.Repo, sha string) (*gh.LoadedConfig, error) {
	lc, err := s.configs.LoadAt(ctx, repo, sha)
	return s.vetConfig(repo, lc, err)
}

// vetConfig turns a configuration that parses but names a deploy target or
// CDN the repository may not use (or a prefix that leaves its folder) into
// a broken one, with each mistake at its file:line:col: it is reported by
// the hoist/config check run and never comes into force. The loader's
// cached value is shared, so a copy carries the mistakes.
func (s *Loader) vetConfig(repo *gh.Repo, lc *gh.LoadedConfig, err error) (*gh.LoadedConfig, error) {
	if err != nil || lc == nil || lc.Config == nil || s.cfg == nil {
		return lc, err
	}
	if verr := s.cfg.CheckRepoConfig(lc.Config, repo.FullName()); verr != nil {
		bad := *lc
		bad.Config, bad.Err = nil, verr
		return &bad, &gh.InvalidConfigError{Loaded: &bad}
	}
	return lc, nil
}

// vetLastGood drops a stored configuration that this server would now
// refuse for the repository (the server config changed since).
func (s *Loader) vetLastGood(repo string, cfg *config.RepoConfig) *config.RepoConfig {
	if cfg == nil || s.cfg == nil {
		return cfg
	}
	if s.cfg.CheckRepoConfig(cfg, repo) != nil {
		return nil
	}
	return cfg
}

// InForce is the configuration in force on repo's branch, for those that
// show or use it without acting on a change of it (the dashboard,
// generation), read as promotions read it: the file when it is valid;
// when it has mistakes, the last good one (nil when there is none) with
// the mistakes in broken. err is gh.ErrNoConfig for a repository without
// one, or why it could not be read. Nothing is stored.
func (s *Loader) InForce(ctx context.Context, repo *gh.Repo, branch string) (cfg *config.RepoConfig, broken, err error) {
	lc, err := s.loadConfig(ctx, repo, branch)
	if err == nil {
		return lc.Config, nil, nil
	}
	if !errors.Is(err, gh.ErrInvalidConfig) {
		return nil, nil, err
	}
	broken = err
	if s.store == nil {
		return nil, broken, nil
	}
	stored, serr := s.store.LastGoodRepoConfig(ctx, repo.FullName())
	switch {
	case errors.Is(serr, store.ErrNotFound):
		return nil, broken, nil
	case serr != nil:
		return nil, nil, serr
	}
	// The stored file was valid when stored; one that no longer parses
	// (a newer hoist is stricter) is no good either.
	last, _ := config.LoadRepoConfig(config.RepoConfigPath, stored.Content)
	return s.vetLastGood(repo.FullName(), last), broken, nil
}
