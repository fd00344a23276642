package app

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/internal/fleet"
	"github.com/hoist-dev/hoist/internal/fleet/rollout"
	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/publish"
	"github.com/hoist-dev/hoist/internal/repoconfig"
	"github.com/hoist-dev/hoist/internal/smoke"
	"github.com/hoist-dev/hoist/internal/smokegate"
)

// fleetRollouts are the fleet core as rollouts see it: the template of
// .github/hoist.yml says which pushes are releases, the instance store
// which instances follow them, and a stage is checked and deployed as a
// launch does it (the release's tree with the instance's settings file,
// smoke-tested when the stage's gates ask, then deployed).
type fleetRollouts struct {
	clients githubapp.ClientCreator
	configs *repoconfig.Loader
	fleet   *fleet.Service
	stages  *publish.Publisher
	smoke   *smokegate.Gate
}

func (f *fleetRollouts) load(ctx context.Context, r rollout.Repo) (*gh.Repo, *config.RepoConfig, error) {
	c, err := f.clients.NewInstallationClient(r.Installation)
	if err != nil {
		return nil, nil, err
	}
	repo := gh.NewRepo(c, r.Owner, r.Name)
	cfg, err := f.configs.LoadRepoConfig(ctx, repo, r.DefaultBranch)
	if err != nil {
		return nil, nil, err
	}
	return repo, cfg, nil
}

func (f *fleetRollouts) Release(ctx context.Context, r rollout.Repo, ref string) (rollout.Fleet, bool, error) {
	_, cfg, err := f.load(ctx, r)
	if err != nil || cfg == nil || !cfg.Fleet.Defined {
		if jobs.IsPermanent(err) {
			err = nil // a broken file gets its own check run
		}
		return rollout.Fleet{}, false, err
	}
	rel := cfg.Fleet.Release
	switch {
	case rel.Branch != "" && ref == "refs/heads/"+rel.Branch:
	case rel.Tags != "" && strings.HasPrefix(ref, "refs/tags/"):
		if ok, _ := path.Match(rel.Tags, strings.TrimPrefix(ref, "refs/tags/")); !ok {
			return rollout.Fleet{}, false, nil
		}
	default:
		return rollout.Fleet{}, false, nil
	}
	insts, err := f.fleet.Store().List(ctx, r.FullName())
	if err != nil {
		return rollout.Fleet{}, false, err
	}
	out, skipped := rolloutFleet(cfg.Fleet, insts)
	if len(skipped) > 0 {
		zerolog.Ctx(ctx).Warn().Str("repo", r.FullName()).Str("release", ref).Strs("canaries", skipped).
			Msg("fleet.rollout.canaries names instances that are not live; the rollout goes on without them")
	}
	return out, len(out.Instances) > 0, nil
}

// rolloutFleet is what a rollout of tpl's release follows: its live
// instances and the template's rollout plan. Canaries that are not live
// instances are left out of the plan and returned: the template outlives
// instances (one deleted or suspended after it was named a canary, or not
// launched yet), and a stale name should not hold every release back, so
// the rollout goes on without it and the name is logged for the
// repository's people to fix. The config check cannot catch them, since
// instances live in hoist's database, not in the file.
func rolloutFleet(tpl config.RepoFleet, insts []fleet.Instance) (rollout.Fleet, []string) {
	out := rollout.Fleet{WaveSize: tpl.Rollout.Wave, MaxFailureShare: tpl.Rollout.MaxFailuresValue,
		DevBranch: tpl.Staging.Branch, ProdBranch: tpl.Production.Branch}
	live := map[string]bool{}
	for _, in := range insts {
		// Suspended, launching and deleted instances keep what they run.
		if in.State == fleet.StateLive {
			out.Instances = append(out.Instances, in.Name)
			live[in.Name] = true
		}
	}
	var skipped []string
	for _, c := range tpl.Rollout.Canaries {
		if live[c] {
			out.Canaries = append(out.Canaries, c)
		} else {
			skipped = append(skipped, c)
		}
	}
	return out, skipped
}

func (f *fleetRollouts) Check(ctx context.Context, t rollout.Target) (rollout.Result, error) {
	repo, cfg, err := f.load(ctx, t.Repo)
	if err != nil {
		return rollout.Result{}, err
	}
	if cfg == nil || !cfg.Fleet.Defined {
		return rollout.Result{}, jobs.Permanent(errors.New("the repository no longer has a fleet"))
	}
	in, err := f.fleet.Store().Get(ctx, t.Repo.FullName(), t.Instance)
	if err != nil {
		return rollout.Result{}, err
	}
	stage := config.FleetStaging
	if t.Stage == rollout.StageProd {
		stage = config.FleetProduction
	}
	st, _ := cfg.Fleet.Stage(stage)
	env := fleet.StageEnv(cfg.Fleet, stage, t.Instance)
	tree, treeID, closeTree, err := f.stages.StageTree(ctx, repo, t.Repo.Installation, env.Branch, t.SHA, cfg.Site.Root,
		[]publish.ExtraFile{fleet.SettingsFile(cfg.Fleet, in.Settings)})
	if err != nil {
		return rollout.Result{}, err
	}
	defer closeTree()
	res := rollout.Result{Link: env.URL}
	if st.Gates.Smoke {
		// Smoke before deploy, as a launch does: a stage whose gate fails
		// keeps serving what it served.
		rep, err := f.smoke.SmokeTree(ctx, cfg, tree)
		if err != nil {
			return res, err
		}
		if rep.Conclusion == smoke.Failure {
			res.Reason = "smoke test failed: " + rep.Title
			return res, nil
		}
	}
	if _, err := f.stages.DeployStage(ctx, t.Repo.FullName(), env, tree, treeID, cfg.Deploy); err != nil {
		return res, fmt.Errorf("deploy %s: %w", env.Name, err)
	}
	res.Passed = true
	return res, nil
}
