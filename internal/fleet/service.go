package fleet

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/riverqueue/river"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/deploy"
	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/pipeline"
	"github.com/hoist-dev/hoist/internal/publish"
	"github.com/hoist-dev/hoist/internal/site"
	"github.com/hoist-dev/hoist/internal/smoke"
	"github.com/hoist-dev/hoist/internal/store"
)

// Configs reads a repository's configuration in force.
type Configs interface {
	LoadRepoConfig(ctx context.Context, repo *gh.Repo, defaultBranch string) (*config.RepoConfig, error)
}

// Stages deploys and rewrites the sites of instance stages
// (publish.Publisher).
type Stages interface {
	StageTree(ctx context.Context, repo *gh.Repo, installation int64, branch, sha, root string, extra []publish.ExtraFile) (site.Tree, string, func(), error)
	DeployStage(ctx context.Context, full string, env pipeline.Environment, tree site.Tree, treeID string, pub config.RepoPublish) (*deploy.Result, error)
	PutStageFile(ctx context.Context, full string, env pipeline.Environment, path string, body []byte, pub config.RepoPublish) error
	Purge(ctx context.Context, repo *gh.Repo, p *pipeline.Pipeline, env pipeline.Environment, req publish.PurgeRequest) (publish.PurgeResult, error)
}

// Smoker runs the smoke test on a stage's site (smokegate.Gate).
type Smoker interface {
	SmokeTree(ctx context.Context, cfg *config.RepoConfig, tree site.Tree) (*smoke.Report, error)
}

// Deps is what the fleet needs.
type Deps struct {
	Clients githubapp.ClientCreator
	Engine  *jobs.Engine
	Store   *store.Store
	Configs Configs
	Stages  Stages
	// Smoke is nil where the server runs no smoke tests; a stage whose
	// gates ask for smoke then fails its launch with the reason.
	Smoke  Smoker
	Server *serverconfig.Server
	// DNS is nil unless the server config has fleet.dns.
	DNS DNS
	// InstallationFor finds the App's installation on a repository.
	InstallationFor func(ctx context.Context, owner, repo string) (int64, error)
	Now             func() time.Time
}

// Service is the fleet capability.
type Service struct {
	d     Deps
	store *Store
	now   func() time.Time
}

// New returns the fleet service.
func New(d Deps) *Service {
	now := d.Now
	if now == nil {
		now = func() time.Time { return time.Now().UTC() }
	}
	st := NewStore(d.Store)
	st.now = now
	return &Service{d: d, store: st, now: now}
}

// Store is the fleet's tables.
func (s *Service) Store() *Store { return s.store }

// Workers registers the fleet's jobs.
func (s *Service) Workers(e *jobs.Engine) {
	river.AddWorker(e.Workers(), &launchWorker{s: s})
	river.AddWorker(e.Workers(), &dailyWorker{s: s})
	e.AddPeriodic(river.NewPeriodicJob(river.PeriodicInterval(24*time.Hour),
		func() (river.JobArgs, *river.InsertOpts) { return DailyArgs{}, nil },
		&river.PeriodicJobOpts{ID: "fleet_daily"}))
}

// Error is a refusal the caller can act on, with the HTTP status it maps
// to; nothing was changed.
type Error struct {
	Status  int
	Message string
	// Err is the cause when there is one (a *config.SettingsError), for
	// callers that show each problem at its place.
	Err error
}

func (e *Error) Error() string { return e.Message }

// Unwrap is the cause.
func (e *Error) Unwrap() error { return e.Err }

func refuse(status int, format string, args ...any) error {
	return &Error{Status: status, Message: fmt.Sprintf(format, args...)}
}

// repoCtx is a repository with its client, default branch and fleet.
type repoCtx struct {
	repo          *gh.Repo
	installation  int64
	defaultBranch string
	cfg           *config.RepoConfig
}

func (s *Service) open(ctx context.Context, full string) (*repoCtx, error) {
	owner, name, ok := strings.Cut(full, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return nil, refuse(http.StatusBadRequest, "%q is not owner/repo", full)
	}
	inst, err := s.d.InstallationFor(ctx, owner, name)
	if err != nil {
		return nil, refuse(http.StatusNotFound, "hoist is not installed on %s", full)
	}
	return s.openWith(ctx, inst, owner, name, "")
}

func (s *Service) openWith(ctx context.Context, inst int64, owner, name, defaultBranch string) (*repoCtx, error) {
	client, err := s.d.Clients.NewInstallationClient(inst)
	if err != nil {
		return nil, fmt.Errorf("client for installation %d: %w", inst, err)
	}
	repo := gh.NewRepo(client, owner, name)
	if defaultBranch == "" {
		r, _, err := client.Repositories.Get(ctx, owner, name)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", repo.FullName(), err)
		}
		defaultBranch = r.GetDefaultBranch()
	}
	cfg, err := s.d.Configs.LoadRepoConfig(ctx, repo, defaultBranch)
	if err != nil {
		return nil, fmt.Errorf("configuration of %s: %w", repo.FullName(), err)
	}
	if cfg == nil || !cfg.Fleet.Defined {
		return nil, refuse(http.StatusNotFound, "%s has no fleet: add a fleet section to %s", repo.FullName(), config.RepoConfigPath)
	}
	return &repoCtx{repo: repo, installation: inst, defaultBranch: defaultBranch, cfg: cfg}, nil
}

// release resolves the current release: the release branch's head, or the
// newest tag matching the pattern (GitHub lists tags newest name first).
func (s *Service) release(ctx context.Context, rc *repoCtx) (ref, sha string, err error) {
	rel := rc.cfg.Fleet.Release
	if rel.Branch != "" {
		sha, err := rc.repo.BranchHead(ctx, rel.Branch)
		if err != nil {
			return "", "", fmt.Errorf("release branch %s: %w", rel.Branch, err)
		}
		return rel.Branch, sha, nil
	}
	opts := &github.ListOptions{PerPage: 100}
	for page := 0; page < 10; page++ {
		tags, resp, err := rc.repo.Client.Repositories.ListTags(ctx, rc.repo.Owner, rc.repo.Name, opts)
		if err != nil {
			return "", "", fmt.Errorf("release tags: %w", err)
		}
		for _, t := range tags {
			if ok, _ := path.Match(rel.Tags, t.GetName()); ok {
				return t.GetName(), t.GetCommit().GetSHA(), nil
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return "", "", refuse(http.StatusConflict, "no tag matches the release pattern %q yet", rel.Tags)
}

// StageEnv is a stage of an instance as an environment: its branch names
// it (deployments, editions), its folder is its prefix, its hostname its
// URL. The rollout upgrades stages through the same environment.
func StageEnv(f config.RepoFleet, stage, name string) pipeline.Environment {
	st, _ := f.Stage(stage)
	env := pipeline.Environment{Name: config.FleetExpand(st.Branch, name), Branch: config.FleetExpand(st.Branch, name),
		Deploy: config.RepoDeploy{Target: f.Target, Prefix: config.FleetExpand(st.Prefix, name)}, Purge: st.Purge}
	if st.Host != "" {
		env.URL = "https://" + config.FleetExpand(st.Host, name) + "/"
		env.Deploy.URL = env.URL
	}
	return env
}

// SettingsFile is the settings document as written into each stage.
func SettingsFile(f config.RepoFleet, settings map[string]any) publish.ExtraFile {
	return publish.ExtraFile{Path: f.Settings.File, Body: settingsJSON(settings)}
}

// lookup returns an instance of the repository, or a refusal.
func (s *Service) lookup(ctx context.Context, full, name string) (Instance, error) {
	in, err := s.store.Get(ctx, full, name)
	if errors.Is(err, ErrNotFound) {
		return Instance{}, refuse(http.StatusNotFound, "%s has no instance %q", full, name)
	}
	return in, err
}
