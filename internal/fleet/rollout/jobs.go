package rollout

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/internal/fleet"
	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/store"
)

// instanceAttempts bounds the job's retries of GitHub or gate errors; the
// last one fails the instance visibly.
const instanceAttempts = 8

// InstanceArgs brings one instance through its stages in one attempt of a
// rollout. Unique by its arguments: one job per instance and attempt.
type InstanceArgs struct {
	RolloutID int64  `json:"rollout_id"`
	Instance  string `json:"instance"`
	Attempt   int    `json:"attempt"`
}

// Kind names the job for River.
func (InstanceArgs) Kind() string { return "hoist_fleet_rollout_instance" }

// InsertOpts: one job per instance and attempt, ever.
func (InstanceArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: instanceAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateScheduled,
		rivertype.JobStateRetryable, rivertype.JobStateCompleted}}}
}

type instanceWorker struct {
	river.WorkerDefaults[InstanceArgs]
	s *Service
}

// Timeout covers one pass: a branch move and one look at the gates (a
// deploy and smoke test of a small site).
func (w *instanceWorker) Timeout(*river.Job[InstanceArgs]) time.Duration { return jobs.DeployTimeout }

// Work moves the instance's current stage to the release commit with
// compare-and-swap and asks its gates; dev passed moves on to prod in the
// same pass. Each stage's outcome is recorded before the next begins, so
// a crash resumes at the stage it was at, and the branch move is a no-op
// the second time.
func (w *instanceWorker) Work(ctx context.Context, job *river.Job[InstanceArgs]) error {
	s, a := w.s, job.Args
	inst, err := s.db.instance(ctx, nil, a.RolloutID, a.Instance)
	if err != nil {
		return err
	}
	if inst.Attempt != a.Attempt || inst.State != StateRunning {
		return nil // a retry began a newer attempt, or this one is over
	}
	r, err := s.db.get(ctx, nil, a.RolloutID)
	if err != nil {
		return err
	}
	log := zerolog.Ctx(ctx).With().Str("repo", r.Repo).Str("sha", r.SHA).Str("instance", inst.Name).Logger()
	ctx = log.WithContext(ctx)
	repo, err := s.repo(r)
	if err != nil {
		return err
	}
	last := job.Attempt >= job.MaxAttempts
	for {
		branch := r.Spec.Branch(inst.Stage, inst.Name)
		if err := repo.FastForward(ctx, branch, r.SHA); err != nil {
			if errors.Is(err, gh.ErrNotFastForward) {
				return s.finish(ctx, job, inst, StateFailed, fmt.Sprintf("%s has commits the release lacks; hoist does not force-push", branch))
			}
			if last {
				return s.finish(ctx, job, inst, StateFailed, fmt.Sprintf("could not move %s: %v", branch, err))
			}
			return err
		}
		t := Target{Repo: Repo{Installation: r.Installation, Owner: r.Spec.Owner, Name: r.Spec.Name, DefaultBranch: r.Spec.DefaultBranch},
			Instance: inst.Name, Stage: inst.Stage, Branch: branch, SHA: r.SHA, Release: r.Release, Attempt: inst.Attempt}
		// The stage's deployment on GitHub, as a launch records it: made
		// before the deploy, found again on a later pass.
		dep, err := s.deployment(t).Begin(ctx, repo, "upgrading instance "+inst.Name+" to "+releaseName(r.Release))
		if err != nil {
			if last || jobs.IsPermanent(err) {
				return s.finish(ctx, job, inst, StateFailed, fmt.Sprintf("%s: %v", branch, err))
			}
			return err
		}
		failed := func(reason string) error {
			// The rollout's record decides; the status only shows it.
			if err := repo.SetDeploymentStatus(context.WithoutCancel(ctx), dep, "failure", "", "", reason); err != nil {
				log.Warn().Err(err).Str("env", branch).Msg("deployment status failure not set")
			}
			return s.finish(ctx, job, inst, StateFailed, reason)
		}
		res, err := s.gates.Check(ctx, t)
		if err != nil {
			if last || jobs.IsPermanent(err) {
				return failed(fmt.Sprintf("%s: %v", branch, err))
			}
			return err
		}
		if res.Pending {
			if s.now().Sub(inst.UpdatedAt) > s.gateTimeout {
				return failed(fmt.Sprintf("%s: the gates did not decide within %s", branch, s.gateTimeout))
			}
			return river.JobSnooze(s.poll)
		}
		inst.Link, inst.Screenshot = res.Link, res.Screenshot
		if !res.Passed {
			reason := res.Reason
			if reason == "" {
				reason = "the gates failed"
			}
			log.Warn().Str("branch", branch).Str("reason", reason).Msg("instance stage failed")
			return failed(branch + ": " + reason)
		}
		if err := repo.SetDeploymentStatus(ctx, dep, "success", res.Link, "", "instance "+inst.Name+" runs "+releaseName(r.Release)); err != nil {
			if !last {
				// Again: the deploy converges, the deployment is found.
				return err
			}
			log.Warn().Err(err).Str("env", branch).Msg("deployment status success not set")
		}
		if inst.Stage == StageProd {
			return s.finish(ctx, job, inst, StateUpgraded, "")
		}
		inst.Stage = StageProd
		err = s.db.st.InTx(ctx, func(tx store.Tx) error {
			ok, err := s.db.setInstance(ctx, tx, inst)
			if err != nil || !ok {
				return err
			}
			v, err := s.db.bump(ctx, tx, r.ID)
			if err != nil {
				return err
			}
			_, err = s.engine.InsertTx(ctx, tx, ReportArgs{RolloutID: r.ID, Version: v}, nil)
			return err
		})
		if err != nil {
			return err
		}
		log.Info().Str("branch", branch).Msg("instance dev stage passed")
	}
}

// deployment is the GitHub deployment of t's stage: the release commit to
// the stage's environment, the same one a launch deploys to.
func (s *Service) deployment(t Target) fleet.StageDeployment {
	stage := config.FleetStaging
	if t.Stage == StageProd {
		stage = config.FleetProduction
	}
	return fleet.StageDeployment{Env: t.Branch, SHA: t.SHA, Instance: t.Instance, Stage: stage, Kind: fleet.RolloutDeployment,
		Intent: t.Repo.FullName() + "/" + t.Instance + "/" + stage, Description: "upgrade of instance " + t.Instance + " to " + releaseName(t.Release)}
}

// releaseName is a release ref without refs/heads/ or refs/tags/.
func releaseName(ref string) string {
	return strings.TrimPrefix(strings.TrimPrefix(ref, "refs/heads/"), "refs/tags/")
}

// finish records the instance's outcome, lets the planner decide what
// follows, and completes the job, all in one transaction: a crash before
// it commits runs the pass again; after it, nothing runs twice.
func (s *Service) finish(ctx context.Context, job *river.Job[InstanceArgs], inst Instance, state State, reason string) error {
	inst.State, inst.Reason = state, reason
	err := s.db.st.InTx(ctx, func(tx store.Tx) error {
		ok, err := s.db.setInstance(ctx, tx, inst)
		if err != nil {
			return err
		}
		if ok {
			if err := s.advance(ctx, tx, inst.RolloutID); err != nil {
				return err
			}
		}
		return jobs.CompleteTx(ctx, tx, job)
	})
	if err != nil {
		return err
	}
	zerolog.Ctx(ctx).Info().Str("state", string(state)).Str("reason", reason).Msg("instance rollout finished")
	return nil
}

// ReportArgs shows a rollout's change on its check run. Every change
// queues one (Version is the rollout's version after it); the report
// jobs take turns at most once per pace, and a job finding its version
// shown already does nothing, so a burst of changes is one update.
type ReportArgs struct {
	RolloutID int64 `json:"rollout_id"`
	Version   int64 `json:"version"`
}

// Kind names the job for River.
func (ReportArgs) Kind() string { return "hoist_fleet_rollout_report" }

// InsertOpts retries GitHub's errors a while.
func (ReportArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 10} }

// creating is how long a report that took its turn may take to create the
// check run; past it, the report is taken for lost and another creates it.
const creating = 30 * time.Second

type reportWorker struct {
	river.WorkerDefaults[ReportArgs]
	s *Service
}

func (w *reportWorker) Work(ctx context.Context, job *river.Job[ReportArgs]) error {
	s, a := w.s, job.Args
	r, err := s.db.get(ctx, nil, a.RolloutID)
	if err != nil {
		return err
	}
	// A retried attempt writes again: the turn it took may not have
	// reached GitHub.
	if r.Reported >= a.Version && job.Attempt == 1 {
		return nil
	}
	if !r.ReportedAt.IsZero() {
		since := s.now().Sub(r.ReportedAt)
		if since < s.pace {
			return river.JobSnooze(s.pace - since)
		}
		// Another report is creating the check run: wait for it rather
		// than create a second one.
		if r.CheckRunID == 0 && since < creating && job.Attempt == 1 {
			return river.JobSnooze(s.pace)
		}
	}
	if job.Attempt == 1 {
		ok, err := s.db.claimReport(ctx, r.ID, r.Reported, r.Version)
		if err != nil {
			return err
		}
		if !ok {
			// Another report took this turn; look again after it.
			return river.JobSnooze(s.pace)
		}
	}
	return s.report(ctx, r.ID)
}
