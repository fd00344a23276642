package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/publish"
	"github.com/hoist-dev/hoist/internal/smoke"
	"github.com/hoist-dev/hoist/internal/store"
)

// LaunchRequest asks for a new instance.
type LaunchRequest struct {
	Repo     string         `json:"-"` // owner/name
	Name     string         `json:"name"`
	Plan     Plan           `json:"plan"`
	Settings map[string]any `json:"settings"`
	// Actor is who asked (a GitHub login or an API token's name).
	Actor string `json:"-"`
}

// Launch checks the request, stores the instance and queues its launch in
// one transaction; the launch runs as a job and resumes after a crash. A
// refusal (bad name, taken name, settings the schema refuses, no fleet)
// is an *Error and changes nothing.
func (s *Service) Launch(ctx context.Context, req LaunchRequest) (Instance, error) {
	rc, err := s.open(ctx, req.Repo)
	if err != nil {
		return Instance{}, err
	}
	f := rc.cfg.Fleet
	if msg := f.CheckInstanceName(req.Name); msg != "" {
		return Instance{}, refuse(http.StatusUnprocessableEntity, "%s", msg)
	}
	switch req.Plan {
	case "":
		req.Plan = PlanTrial
	case PlanTrial, PlanPaid:
	default:
		return Instance{}, refuse(http.StatusUnprocessableEntity, "plan %q is not trial or paid", req.Plan)
	}
	settings, err := f.Settings.Schema.Resolve(req.Settings)
	if err != nil {
		return Instance{}, refuse(http.StatusUnprocessableEntity, "settings refused by the fleet's schema: %v", err)
	}
	if old, err := s.store.Get(ctx, rc.repo.FullName(), req.Name); err == nil {
		if old.State == StateDeleted && old.DeletedAt != nil {
			return Instance{}, refuse(http.StatusConflict, "instance %q of %s was deleted; its name is free once its data is purged, after %s",
				req.Name, rc.repo.FullName(), old.DeletedAt.Add(f.Trial.DeleteGrace).Format(time.RFC3339))
		}
		return Instance{}, refuse(http.StatusConflict, "instance %q of %s exists already; choose another name", req.Name, rc.repo.FullName())
	}
	ref, sha, err := s.release(ctx, rc)
	if err != nil {
		return Instance{}, err
	}
	in := Instance{Repo: rc.repo.FullName(), Name: req.Name, Plan: req.Plan, Settings: settings, Version: ref, SHA: sha, CreatedBy: req.Actor}
	if req.Plan == PlanTrial {
		exp := s.now().Add(time.Duration(f.Trial.Days) * 24 * time.Hour)
		in.ExpiresAt = &exp
	}
	args := LaunchArgs{Installation: rc.installation, Owner: rc.repo.Owner, Repo: rc.repo.Name, DefaultBranch: rc.defaultBranch, Name: req.Name}
	in, err = s.store.create(ctx, in, func(tx store.Tx) error {
		_, err := s.d.Engine.InsertTx(ctx, tx, args, nil)
		return err
	})
	if errors.Is(err, ErrExists) {
		return Instance{}, refuse(http.StatusConflict, "instance %q of %s exists already; choose another name", req.Name, rc.repo.FullName())
	}
	if err != nil {
		return Instance{}, err
	}
	zerolog.Ctx(ctx).Info().Str("repo", in.Repo).Str("instance", in.Name).Str("sha", sha).Str("audit", "fleet launch").Str("actor", req.Actor).Msg("fleet instance launch queued")
	return in, nil
}

// LaunchArgs is the launch of one instance.
type LaunchArgs struct {
	Installation  int64  `json:"installation"`
	Owner         string `json:"owner"`
	Repo          string `json:"repo"`
	DefaultBranch string `json:"default_branch"`
	Name          string `json:"name"`
}

// Kind names the job for River.
func (LaunchArgs) Kind() string { return "hoist_fleet_launch" }

// InsertOpts: one launch job per instance.
func (LaunchArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 5, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

type launchWorker struct {
	river.WorkerDefaults[LaunchArgs]
	s *Service
}

func (w *launchWorker) Timeout(*river.Job[LaunchArgs]) time.Duration { return jobs.DeployTimeout }

func (w *launchWorker) NextRetry(job *river.Job[LaunchArgs]) time.Time {
	return time.Now().Add(time.Duration(job.Attempt) * 2 * time.Second)
}

// Work runs the steps of the launch that are not recorded as done. Every
// step is also safe to repeat (create-if-absent, find-before-create, a
// deploy that converges), so a crash between a step's effect and its
// record does it no second time either.
func (w *launchWorker) Work(ctx context.Context, job *river.Job[LaunchArgs]) error {
	s, a := w.s, job.Args
	full := a.Owner + "/" + a.Repo
	log := zerolog.Ctx(ctx).With().Str("repo", full).Str("instance", a.Name).Logger()
	ctx = log.WithContext(ctx)
	in, err := s.store.Get(ctx, full, a.Name)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if in.State != StateLaunching {
		return nil
	}
	err = s.runLaunch(ctx, a, in)
	if err == nil {
		return nil
	}
	last := jobs.IsPermanent(err) || job.Attempt >= job.MaxAttempts
	log.Warn().Err(err).Int("attempt", job.Attempt).Bool("final", last).Msg("fleet launch step failed")
	if !last {
		return err
	}
	failed, reason := StateFailed, err.Error()
	if _, uerr := s.store.Apply(ctx, full, a.Name, Update{State: &failed, Reason: &reason,
		Audit: store.AuditEntry{Actor: "hoist", Action: "fleet.launch", Outcome: "failure", Detail: map[string]any{"error": reason}}}); uerr != nil {
		return uerr
	}
	return river.JobCancel(err)
}

// Launch steps, in order; each stage runs its own.
const (
	StepBranch     = "branch"
	StepDeployment = "deployment"
	StepDeploy     = "deploy"
	StepSmoke      = "smoke"
	StepDNS        = "dns"
	StepLive       = "live"
)

// stepDetail is what a step recorded.
type stepDetail struct {
	Deployment int64  `json:"deployment,omitempty"`
	DNSRecord  string `json:"dns_record,omitempty"`
	Uploaded   int    `json:"uploaded,omitempty"`
	Smoke      string `json:"smoke,omitempty"`
	// Tree is the id of the stage's tree the smoke test passed on.
	Tree string `json:"tree,omitempty"`
}

func (s *Service) runLaunch(ctx context.Context, a LaunchArgs, in Instance) error {
	rc, err := s.openWith(ctx, a.Installation, a.Owner, a.Repo, a.DefaultBranch)
	if err != nil {
		var refusal *Error
		if errors.As(err, &refusal) {
			return jobs.Permanent(err)
		}
		return err
	}
	full := rc.repo.FullName()
	done := map[string]stepDetail{}
	steps, err := s.store.Steps(ctx, full, in.Name)
	if err != nil {
		return err
	}
	for _, st := range steps {
		var d stepDetail
		_ = json.Unmarshal([]byte(st.Detail), &d)
		done[st.Name] = d
	}
	record := func(step string, d stepDetail) error {
		b, _ := json.Marshal(d)
		first, err := s.store.StepDone(ctx, full, in.Name, step, string(b))
		if err == nil && first {
			zerolog.Ctx(ctx).Info().Str("step", step).Msg("fleet launch step done")
		}
		done[step] = d
		return err
	}
	f := rc.cfg.Fleet
	file := SettingsFile(f, in.Settings)
	for _, stage := range config.FleetStageNames {
		env := StageEnv(f, stage, in.Name)
		st, _ := f.Stage(stage)
		key := func(step string) string { return stage + "." + step }

		if _, ok := done[key(StepBranch)]; !ok {
			if err := createBranch(ctx, rc.repo, env.Branch, in.SHA); err != nil {
				return err
			}
			if err := record(key(StepBranch), stepDetail{}); err != nil {
				return err
			}
		}
		depID := done[key(StepDeployment)].Deployment
		if _, ok := done[key(StepDeployment)]; !ok {
			d := StageDeployment{Env: env.Name, SHA: in.SHA, Instance: in.Name, Stage: stage,
				Kind: LaunchDeployment, Intent: full + "/" + in.Name + "/" + stage, Description: "launch of instance " + in.Name}
			id, err := d.Begin(ctx, rc.repo, "launching instance "+in.Name)
			if err != nil {
				return err
			}
			depID = id
			if err := record(key(StepDeployment), stepDetail{Deployment: id}); err != nil {
				return err
			}
		}
		fail := func(err error) error {
			if depID != 0 {
				_ = rc.repo.SetDeploymentStatus(context.WithoutCancel(ctx), depID, "failure", "", "", reasonText("launch failed", err))
			}
			return err
		}
		// The deploy and the smoke test need the stage's tree: the release
		// plus the settings file.
		_, deployed := done[key(StepDeploy)]
		_, smoked := done[key(StepSmoke)]
		if !deployed || (st.Gates.Smoke && !smoked) {
			tree, treeID, closeTree, err := s.d.Stages.StageTree(ctx, rc.repo, a.Installation, env.Branch, in.SHA, rc.cfg.Site.Root, []publish.ExtraFile{file})
			if err != nil {
				return fail(err)
			}
			if st.Gates.Smoke && !smoked {
				// Smoke before deploy: a stage whose gate fails is never
				// published.
				// Both stages of a new instance hold the same tree (the
				// release and the same settings): a tree that passed once
				// is not tested again.
				if prev, ok := done[config.FleetStaging+"."+StepSmoke]; ok && stage != config.FleetStaging && prev.Tree != "" && prev.Tree == treeID {
					if err := record(key(StepSmoke), stepDetail{Smoke: "passed on staging's identical tree", Tree: treeID}); err != nil {
						closeTree()
						return err
					}
					smoked = true
				}
			}
			if st.Gates.Smoke && !smoked {
				if s.d.Smoke == nil {
					closeTree()
					return fail(jobs.Permanent(fmt.Errorf("stage %s needs a smoke test and this server runs none", stage)))
				}
				rep, err := s.d.Smoke.SmokeTree(ctx, rc.cfg, tree)
				if err != nil {
					closeTree()
					return fail(err)
				}
				if rep.Conclusion == smoke.Failure {
					closeTree()
					return fail(jobs.Permanent(fmt.Errorf("the smoke test of stage %s failed", stage)))
				}
				if err := record(key(StepSmoke), stepDetail{Smoke: string(rep.Conclusion), Tree: treeID}); err != nil {
					closeTree()
					return err
				}
			}
			if !deployed {
				res, err := s.d.Stages.DeployStage(ctx, full, env, tree, treeID, rc.cfg.Deploy)
				if err != nil {
					closeTree()
					return fail(err)
				}
				if err := record(key(StepDeploy), stepDetail{Uploaded: res.Uploaded}); err != nil {
					closeTree()
					return err
				}
			}
			closeTree()
		}
		if _, ok := done[key(StepDNS)]; !ok && s.d.DNS != nil && st.Host != "" {
			host := config.FleetExpand(st.Host, in.Name)
			id, _, err := s.d.DNS.Ensure(ctx, host)
			if err != nil {
				return fail(err)
			}
			if err := record(key(StepDNS), stepDetail{DNSRecord: id}); err != nil {
				return err
			}
		}
		if _, ok := done[key(StepLive)]; !ok {
			if depID != 0 {
				if err := rc.repo.SetDeploymentStatus(ctx, depID, "success", env.URL, "", "instance "+in.Name+" is live"); err != nil {
					return err
				}
			}
			if err := record(key(StepLive), stepDetail{}); err != nil {
				return err
			}
		}
	}
	live := StateLive
	reason := ""
	_, err = s.store.Apply(ctx, full, in.Name, Update{State: &live, Reason: &reason,
		Audit: store.AuditEntry{Actor: "hoist", Action: "fleet.launch", SHA: in.SHA, Outcome: "success",
			Detail: map[string]any{"launched_by": in.CreatedBy, "seconds": s.now().Sub(in.CreatedAt).Seconds()}}})
	return err
}

// Payload keys that mark an instance stage's deployment with what made it,
// so that a retry finds the deployment (gh.Repo.DeploymentWith) instead of
// making a second one.
const (
	LaunchDeployment  = "hoist_fleet_launch"
	RolloutDeployment = "hoist_fleet_rollout"
)

// StageDeployment is the GitHub deployment of a commit to an instance
// stage's environment (StageEnv's name: the stage's branch). A launch and
// a rollout record each stage they deploy with one, so that GitHub's
// environment page shows what each stage runs.
type StageDeployment struct {
	Env, SHA string
	Instance string
	// Stage is config.FleetStaging or config.FleetProduction.
	Stage string
	// Kind (LaunchDeployment, RolloutDeployment) and Intent, kept in the
	// payload, say which launch or rollout made it.
	Kind, Intent string
	Description  string
}

// Begin finds the deployment its Kind and Intent mark among those of SHA
// to Env, or creates it, and sets it in_progress with the description
// status; after a crash or a retry the deployment is found again, not made
// twice. It returns the deployment's id.
func (d StageDeployment) Begin(ctx context.Context, repo *gh.Repo, status string) (int64, error) {
	id, err := repo.DeploymentWith(ctx, d.Env, d.SHA, d.Kind, d.Intent)
	if err != nil {
		return 0, err
	}
	if id == 0 {
		dep, err := repo.CreateDeployment(ctx, d.SHA, d.Env, d.Description, d.Stage == config.FleetProduction,
			map[string]any{d.Kind: d.Intent, "instance": d.Instance, "stage": d.Stage})
		if err != nil {
			return 0, err
		}
		id = dep.ID
	}
	// The status only reports progress: the work goes on without it.
	if err := repo.SetDeploymentStatus(ctx, id, "in_progress", "", "", status); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Str("env", d.Env).Str("sha", d.SHA).Msg("deployment status in_progress not set")
	}
	return id, nil
}

// createBranch creates branch at sha unless it exists there; a branch of
// that name at another commit is someone else's and refuses the launch.
func createBranch(ctx context.Context, repo *gh.Repo, branch, sha string) error {
	head, err := repo.BranchHead(ctx, branch)
	switch {
	case err == nil && head == sha:
		return nil
	case err == nil:
		return jobs.Permanent(fmt.Errorf("branch %s exists at %s, not at the release %s; hoist does not move it", branch, short(head), short(sha)))
	case !errors.Is(err, gh.ErrNotFound):
		return err
	}
	_, _, err = repo.Client.Git.CreateRef(ctx, repo.Owner, repo.Name, &github.Reference{
		Ref: github.String("refs/heads/" + branch), Object: &github.GitObject{SHA: github.String(sha)},
	})
	if err != nil {
		// Created meanwhile (a retried request whose answer was lost).
		if head, herr := repo.BranchHead(ctx, branch); herr == nil && head == sha {
			return nil
		}
		return fmt.Errorf("create branch %s: %w", branch, err)
	}
	return nil
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// reasonText is a deployment status description (≤ 140 characters).
func reasonText(what string, err error) string {
	msg := what + ": " + err.Error()
	if r := []rune(msg); len(r) > 140 {
		return string(r[:139]) + "…"
	}
	return msg
}

func settingsJSON(settings map[string]any) []byte {
	if settings == nil {
		settings = map[string]any{}
	}
	b, err := json.MarshalIndent(settings, "", "  ")
	if err != nil {
		// Settings come from JSON and were validated; they encode.
		panic(fmt.Sprintf("fleet: settings do not encode: %v", err))
	}
	return append(b, '\n')
}
