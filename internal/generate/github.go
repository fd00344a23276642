package generate

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/internal/gh"
)

// ClientRepos returns a RepoFor over the App's installation clients.
func ClientRepos(cc githubapp.ClientCreator) func(ctx context.Context, installationID int64, owner, name string) (*gh.Repo, error) {
	return func(_ context.Context, installationID int64, owner, name string) (*gh.Repo, error) {
		c, err := cc.NewInstallationClient(installationID)
		if err != nil {
			return nil, fmt.Errorf("client for installation %d: %w", installationID, err)
		}
		return gh.NewRepo(c, owner, name), nil
	}
}

// AppInstallations returns an InstallationFor that asks GitHub, as the
// App, which installation covers a repository, remembering answers for
// five minutes (a burst of triggers asks once).
func AppInstallations(cc githubapp.ClientCreator) (func(ctx context.Context, owner, repo string) (int64, error), error) {
	app, err := cc.NewAppClient()
	if err != nil {
		return nil, fmt.Errorf("generate: app client: %w", err)
	}
	svc := githubapp.NewCachingInstallationsService(githubapp.NewInstallationsService(app), 5*time.Minute, 10*time.Minute)
	return func(ctx context.Context, owner, repo string) (int64, error) {
		inst, err := svc.GetByRepository(ctx, owner, repo)
		if err != nil {
			var nf githubapp.InstallationNotFound
			if errors.As(err, &nf) {
				return 0, fmt.Errorf("%s/%s: %w", owner, repo, ErrNotInstalled)
			}
			return 0, fmt.Errorf("installation of %s/%s: %w", owner, repo, err)
		}
		return inst.ID, nil
	}, nil
}

// SettingsTTL is how long RepoConfigSettings remembers a repository's
// settings: a burst of triggers reads .github/hoist.yml once, and a
// changed file applies within this time.
const SettingsTTL = 10 * time.Second

// ConfigSource is the configuration in force on a branch
// (repoconfig.Loader): the file when valid, else the last good one (nil
// when there is none) with the file's mistakes in broken.
type ConfigSource interface {
	InForce(ctx context.Context, repo *gh.Repo, branch string) (cfg *config.RepoConfig, broken, err error)
}

// RepoConfigSettings returns a SettingsLookup that reads the configuration
// in force on the repository's default branch from configs, as promotions
// do. A repository without the file has no generation configured; a file
// with mistakes leaves the last good configuration in force, and with none
// before it is ErrBadConfig with the loader's message (which names file,
// line and key). Answers are remembered for SettingsTTL; errors are not.
func RepoConfigSettings(repoFor func(ctx context.Context, installationID int64, owner, name string) (*gh.Repo, error), configs ConfigSource) SettingsLookup {
	type cached struct {
		s       Settings
		expires time.Time
	}
	var mu sync.Mutex
	cache := map[string]cached{}
	read := readRepoConfigSettings(repoFor, configs)
	return func(ctx context.Context, installationID int64, owner, name string) (Settings, error) {
		k := fmt.Sprintf("%d/%s/%s", installationID, strings.ToLower(owner), strings.ToLower(name))
		now := time.Now()
		mu.Lock()
		c, ok := cache[k]
		mu.Unlock()
		if ok && now.Before(c.expires) {
			return c.s, nil
		}
		s, err := read(ctx, installationID, owner, name)
		if err != nil {
			return Settings{}, err
		}
		mu.Lock()
		for key, c := range cache { // keep the map as small as the set of active repositories
			if now.After(c.expires) {
				delete(cache, key)
			}
		}
		cache[k] = cached{s: s, expires: now.Add(SettingsTTL)}
		mu.Unlock()
		return s, nil
	}
}

func readRepoConfigSettings(repoFor func(ctx context.Context, installationID int64, owner, name string) (*gh.Repo, error), configs ConfigSource) SettingsLookup {
	return func(ctx context.Context, installationID int64, owner, name string) (Settings, error) {
		repo, err := repoFor(ctx, installationID, owner, name)
		if err != nil {
			return Settings{}, err
		}
		r, resp, err := repo.Client.Repositories.Get(ctx, owner, name)
		if err != nil {
			if resp != nil && resp.StatusCode == http.StatusNotFound {
				return Settings{}, fmt.Errorf("%s/%s: %w", owner, name, ErrNotInstalled)
			}
			return Settings{}, fmt.Errorf("read %s/%s: %w", owner, name, err)
		}
		branch := r.GetDefaultBranch()
		cfg, broken, err := configs.InForce(ctx, repo, branch)
		if errors.Is(err, gh.ErrNoConfig) {
			return Settings{Ref: branch}, nil
		}
		if err != nil {
			return Settings{}, err
		}
		if cfg == nil {
			return Settings{}, fmt.Errorf("%w: %s/%s: %v", ErrBadConfig, owner, name, broken)
		}
		if broken != nil {
			zerolog.Ctx(ctx).Warn().Err(broken).Str("repo", owner+"/"+name).
				Msg(config.RepoConfigPath + " has mistakes; generation follows the last good configuration")
		}
		return SettingsFromConfig(cfg, branch), nil
	}
}

// SettingsFromConfig takes a repository configuration's generate section.
// The default environment is the target of the first candidate (where a
// generated site goes first), or the only environment when there is one.
func SettingsFromConfig(cfg *config.RepoConfig, ref string) Settings {
	s := Settings{
		DispatchType: cfg.Generate.DispatchType,
		Workflow:     cfg.Generate.Workflow,
		Debounce:     cfg.Generate.Debounce,
		Ref:          ref,
		Environments: cfg.Environments.Names(),
	}
	switch {
	case len(cfg.Candidates) > 0:
		s.DefaultEnvironment = cfg.Candidates[0].To
	case len(s.Environments) == 1:
		s.DefaultEnvironment = s.Environments[0]
	}
	return s
}
