package verify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/pipeline"
	"github.com/hoist-dev/hoist/internal/publish"
	"github.com/hoist-dev/hoist/internal/repoconfig"
	"github.com/hoist-dev/hoist/internal/store"
)

// RollbackArgs carries out one incident's automatic rollback.
type RollbackArgs struct {
	Incident      int64  `json:"incident"`
	Installation  int64  `json:"installation"`
	Owner         string `json:"owner"`
	Repo          string `json:"repo"`
	DefaultBranch string `json:"default_branch"`
}

// Kind names the job for River.
func (RollbackArgs) Kind() string { return "hoist_verify_rollback" }

// InsertOpts: one job per incident; GitHub hiccups are retried.
func (RollbackArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 8, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// holdKey names the hold an incident puts on its environment.
func holdKey(id int64) string { return fmt.Sprintf("verify:%d", id) }

// smokeConfig is the repository's smoke section: the pages a live site is
// checked with.
func (s *Service) smokeConfig(ctx context.Context, repo *gh.Repo, defaultBranch string) config.RepoSmoke {
	cfg, err := s.d.Configs.LoadRepoConfig(ctx, repo, defaultBranch)
	if err != nil || cfg == nil {
		return config.RepoSmoke{}
	}
	return cfg.Smoke
}

// startIncident begins the automatic rollback of a deployment that failed
// verification, unless one already ran for this environment and a person
// has not yet resolved it (its hold is still active): one automatic
// rollback per incident, never a loop.
func (s *Service) startIncident(ctx context.Context, a VerifyArgs, run Run, reason, checkURL string) error {
	now := s.d.Now()
	if last, ok, err := s.state.latestIncident(ctx, run.Repo, run.Env); err != nil {
		return err
	} else if ok && last.BadDeployment != run.Deployment {
		held, err := s.incidentHeld(ctx, last, now)
		if err != nil {
			return err
		}
		if last.open() || held {
			summary := fmt.Sprintf("The live site of %s in %s failed verification while incident %d (%s) is not resolved; hoist does not roll back twice: %s stays as it is, held, until a person looks at it.",
				short(run.SHA), run.Env, last.ID, last.Stage, run.Env)
			zerolog.Ctx(ctx).Warn().Int64("incident", last.ID).Str("audit", "no second rollback").Msg(summary)
			_ = s.d.Store.Audit(ctx, store.AuditEntry{Repo: run.Repo, Actor: "hoist", Action: "rollback", Env: run.Env, SHA: run.SHA, Outcome: "not_repeated",
				Detail: map[string]any{"incident": last.ID, "reason": reason}})
			return s.d.Alerts.Alert(ctx, Alert{Repo: run.Repo, Env: run.Env, Kind: AlertHeld, SHA: run.SHA, URL: checkURL, At: now, Summary: summary})
		}
	}
	good, found, err := s.state.lastVerified(ctx, run.Repo, run.Env, run.SHA)
	if err != nil {
		return err
	}
	inc := Incident{Repo: run.Repo, Env: run.Env, BadSHA: run.SHA, BadDeployment: run.Deployment, Stage: StagePlanned, Reason: reason}
	if found {
		inc.GoodSHA = good.SHA
	} else {
		inc.Stage = StageStuck
	}
	var created bool
	err = s.d.Store.InTx(ctx, func(tx store.Tx) error {
		var err error
		inc, created, err = s.state.addIncident(ctx, tx, inc)
		if err != nil || !created {
			return err
		}
		if inc.Stage == StageStuck {
			_, _, err = s.d.Store.PutHold(ctx, tx, store.Hold{Key: holdKey(inc.ID), Repo: run.Repo, Env: run.Env, By: "hoist", Since: now,
				Reason: cut(fmt.Sprintf("verification of %s failed (%s); no earlier deployment passed verification to roll back to", short(run.SHA), reason), 500)})
			return err
		}
		_, err = s.d.Engine.InsertTx(ctx, tx, RollbackArgs{Incident: inc.ID, Installation: a.Installation, Owner: a.Owner, Repo: a.Repo,
			DefaultBranch: a.DefaultBranch}, nil)
		return err
	})
	if err != nil || !created {
		return err
	}
	if inc.Stage == StageStuck {
		return s.d.Alerts.Alert(ctx, Alert{Repo: run.Repo, Env: run.Env, Kind: AlertRollbackFailed, SHA: run.SHA, URL: checkURL, At: now,
			Summary: fmt.Sprintf("%s failed verification and no earlier deployment of %s passed it: nothing to roll back to; %s is held.", short(run.SHA), run.Env, run.Env)})
	}
	return nil
}

// incidentHeld reports whether the incident's hold still stops promotions.
func (s *Service) incidentHeld(ctx context.Context, inc Incident, now time.Time) (bool, error) {
	hs, err := s.d.Store.EnvHolds(ctx, inc.Repo, inc.Env, now)
	if err != nil {
		return false, err
	}
	for _, h := range hs {
		if h.Key == holdKey(inc.ID) || strings.HasPrefix(h.Key, holdKey(inc.ID)+":") {
			return true, nil
		}
	}
	return false, nil
}

type rollbackWorker struct {
	river.WorkerDefaults[RollbackArgs]
	s *Service
}

// Timeout: the rollback waits for nothing long; its deploy is a job of its
// own.
func (w *rollbackWorker) Timeout(*river.Job[RollbackArgs]) time.Duration { return 2 * time.Minute }

func (w *rollbackWorker) Work(ctx context.Context, job *river.Job[RollbackArgs]) error {
	s, a := w.s, job.Args
	inc, err := s.state.incident(ctx, a.Incident)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if !inc.open() || inc.Stage == StagePublished {
		return nil
	}
	log := zerolog.Ctx(ctx).With().Str("repo", inc.Repo).Str("env", inc.Env).Str("sha", inc.BadSHA).Int64("incident", inc.ID).Logger()
	ctx = log.WithContext(ctx)
	re := repoconfig.RepoEvent{Installation: a.Installation, Owner: a.Owner, Repo: a.Repo, DefaultBranch: a.DefaultBranch, Actor: "hoist"}
	p, repo, err := s.d.Configs.PipelineFor(ctx, re)
	if err != nil {
		return err
	}
	var env pipeline.Environment
	ok := false
	if p != nil {
		env, ok = p.Env(inc.Env)
	}
	if !ok {
		inc.Stage = StageSuperseded
		return s.state.updateIncident(ctx, inc)
	}
	return s.rollback(ctx, repo, p, env, inc, a)
}

// rollback carries the incident on from its stage:
//
//  1. hold the environment first (the ref move sends a push, and what it
//     starts must already see the hold);
//  2. planned: unless the branch still points at the failed commit (a push
//     landed since: that newer head is deployed and verified for itself,
//     and is never overwritten), create a commit whose tree is the last
//     verified commit's and whose parent is the head: committed;
//  3. committed: fast-forward the branch to it with compare-and-swap; a
//     refusal means a push landed meanwhile: re-read and stand down;
//  4. moved: publish it (deploy by diff, purge; its verification follows
//     when the deploy lands), comment where the failed change came from.
func (s *Service) rollback(ctx context.Context, repo *gh.Repo, p *pipeline.Pipeline, env pipeline.Environment, inc Incident, a RollbackArgs) error {
	log := zerolog.Ctx(ctx)
	now := s.d.Now()
	if _, _, err := s.d.Store.PutHold(ctx, nil, store.Hold{Key: holdKey(inc.ID), Repo: inc.Repo, Env: inc.Env, By: "hoist", Since: now,
		Reason: cut(fmt.Sprintf("verification of %s failed (%s); rolled back automatically to the tree of %s", short(inc.BadSHA), inc.Reason, short(inc.GoodSHA)), 500)}); err != nil {
		return err
	}
	head, err := repo.BranchHead(ctx, env.Branch)
	if err != nil {
		return err
	}
	if inc.Stage == StagePlanned {
		if head != inc.BadSHA {
			return s.supersede(ctx, inc, head)
		}
		goodCommit, _, err := repo.Client.Git.GetCommit(ctx, repo.Owner, repo.Name, inc.GoodSHA)
		if err != nil {
			return fmt.Errorf("read %s: %w", short(inc.GoodSHA), err)
		}
		msg := fmt.Sprintf("Roll %s back to %s\n\nThe live site of %s failed verification: %s\n\nThis commit restores the tree of %s, the last deployment of %s that passed verification. Nothing is removed from the history.",
			env.Name, short(inc.GoodSHA), short(inc.BadSHA), inc.Reason, inc.GoodSHA, env.Name)
		c, _, err := repo.Client.Git.CreateCommit(ctx, repo.Owner, repo.Name, &github.Commit{Message: github.String(msg),
			Tree: &github.Tree{SHA: goodCommit.GetTree().SHA}, Parents: []*github.Commit{{SHA: github.String(inc.BadSHA)}}}, nil)
		if err != nil {
			return fmt.Errorf("create the rollback commit of %s: %w", env.Name, err)
		}
		inc.RollbackSHA, inc.Stage = c.GetSHA(), StageCommitted
		if err := s.state.updateIncident(ctx, inc); err != nil {
			return err
		}
	}
	if inc.Stage == StageCommitted {
		switch head {
		case inc.RollbackSHA:
			// Moved before a restart.
		case inc.BadSHA:
			if s.d.BeforeMove != nil {
				s.d.BeforeMove(inc.Repo, inc.Env)
			}
			err := repo.FastForward(ctx, env.Branch, inc.RollbackSHA)
			if errors.Is(err, gh.ErrNotFastForward) {
				now, herr := repo.BranchHead(ctx, env.Branch)
				if herr != nil {
					return herr
				}
				return s.supersede(ctx, inc, now)
			}
			if err != nil {
				return fmt.Errorf("roll back %s: %w", env.Name, err)
			}
		default:
			return s.supersede(ctx, inc, head)
		}
		inc.Stage = StageMoved
		if err := s.state.updateIncident(ctx, inc); err != nil {
			return err
		}
		_ = s.d.Store.Audit(ctx, store.AuditEntry{Repo: inc.Repo, Actor: "hoist", Action: "rollback", Env: inc.Env, SHA: inc.RollbackSHA, Outcome: "rolled_back",
			Detail: map[string]any{"from": inc.BadSHA, "to_tree_of": inc.GoodSHA, "incident": inc.ID, "reason": inc.Reason, "automatic": true}})
		log.Info().Str("audit", "automatic rollback").Str("to", inc.GoodSHA).Str("commit", inc.RollbackSHA).Msg("environment rolled back after a failed verification")
	}
	if inc.Stage == StageMoved {
		if err := s.d.Publish.Complete(ctx, repo, p, env, publish.Publication{Env: env.Name, SHA: inc.RollbackSHA, Previous: inc.BadSHA,
			Reason: "rollback", Actor: "hoist", DefaultBranch: a.DefaultBranch, Installation: a.Installation,
			Intent: fmt.Sprintf("verify-rollback:%d", inc.ID)}); err != nil {
			return err
		}
		inc.Stage = StagePublished
		if err := s.state.updateIncident(ctx, inc); err != nil {
			return err
		}
	}
	if !inc.Commented {
		s.comment(ctx, repo, env, inc)
		inc.Commented = true
		if err := s.state.updateIncident(ctx, inc); err != nil {
			return err
		}
	}
	return s.d.Alerts.Alert(ctx, Alert{Repo: inc.Repo, Env: inc.Env, Kind: AlertRolledBack, SHA: inc.BadSHA, At: s.d.Now(),
		Summary: fmt.Sprintf("%s failed verification in %s (%s); hoist rolled it back to the tree of %s as %s and holds %s.",
			short(inc.BadSHA), inc.Env, inc.Reason, short(inc.GoodSHA), short(inc.RollbackSHA), inc.Env)})
}

// supersede ends an incident whose branch moved on by a push: the push is
// deployed and verified for itself, so the rollback stands down and
// releases its hold.
func (s *Service) supersede(ctx context.Context, inc Incident, head string) error {
	zerolog.Ctx(ctx).Info().Str("head", head).Int64("incident", inc.ID).Msg("rollback superseded: the branch moved on")
	inc.Stage = StageSuperseded
	if err := s.state.updateIncident(ctx, inc); err != nil {
		return err
	}
	if _, err := s.d.Store.ReleaseHold(ctx, holdKey(inc.ID), "hoist", s.d.Now()); err != nil {
		return err
	}
	return s.d.Store.Audit(ctx, store.AuditEntry{Repo: inc.Repo, Actor: "hoist", Action: "rollback", Env: inc.Env, SHA: head, Outcome: "superseded",
		Detail: map[string]any{"incident": inc.ID, "failed": inc.BadSHA}})
}

// rollbackVerified ends an incident with the verification of its
// rollback: restored, or failed (held, alerted, never rolled back again).
func (s *Service) rollbackVerified(ctx context.Context, repo *gh.Repo, run Run, passed bool, reason, checkURL string) error {
	inc, err := s.state.incident(ctx, run.Incident)
	if err != nil {
		return err
	}
	now := s.d.Now()
	if err := s.d.Outcomes.Record(ctx, run.Repo, run.Env, KindRollback, passed, run.SHA, now); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("verify: rollback outcome not recorded")
	}
	if passed {
		inc.Stage = StageRestored
		return s.state.updateIncident(ctx, inc)
	}
	inc.Stage = StageFailed
	if err := s.state.updateIncident(ctx, inc); err != nil {
		return err
	}
	if _, _, err := s.d.Store.PutHold(ctx, nil, store.Hold{Key: holdKey(inc.ID) + ":failed", Repo: inc.Repo, Env: inc.Env, By: "hoist", Since: now,
		Reason: cut(fmt.Sprintf("the automatic rollback to the tree of %s failed verification too (%s)", short(inc.GoodSHA), reason), 500)}); err != nil {
		return err
	}
	return s.d.Alerts.Alert(ctx, Alert{Repo: run.Repo, Env: run.Env, Kind: AlertRollbackFailed, SHA: run.SHA, URL: checkURL, At: now,
		Summary: fmt.Sprintf("The automatic rollback of %s to the tree of %s failed verification too (%s); %s stays held and is not rolled back again.",
			run.Env, short(inc.GoodSHA), reason, run.Env)})
}

// comment tells where the failed change came from: on its pull request
// when it was merged from one, else on the commit. A comment that cannot
// be posted is logged; the incident goes on.
func (s *Service) comment(ctx context.Context, repo *gh.Repo, env pipeline.Environment, inc Incident) {
	log := zerolog.Ctx(ctx)
	body := fmt.Sprintf("⏪ **%s was rolled back automatically.** The live site of %s failed verification after it was deployed:\n\n> %s\n\n"+
		"hoist restored the tree of %s (the last deployment that passed) as the new commit %s on `%s`, deployed and purged it, and holds **%s** so that nothing moves it forward again until a person looks. "+
		"The failed change is still in the history; fix it, then release the hold with `/unhold %s`.",
		env.Name, inc.BadSHA, strings.ReplaceAll(inc.Reason, "\n", " "), inc.GoodSHA, inc.RollbackSHA, env.Branch, env.Name, env.Name)
	pr, err := repo.MergedInto(ctx, inc.BadSHA, env.Branch)
	if err != nil {
		log.Warn().Err(err).Msg("verify: pull request of the failed commit not found")
	}
	if pr != nil {
		if _, err := repo.Comment(ctx, pr.Number, body); err != nil {
			log.Warn().Err(err).Int("pull_request", pr.Number).Msg("verify: rollback comment not posted")
		}
		return
	}
	if _, _, err := repo.Client.Repositories.CreateComment(ctx, repo.Owner, repo.Name, inc.BadSHA, &github.RepositoryComment{Body: github.String(body)}); err != nil {
		log.Warn().Err(err).Msg("verify: rollback comment on the commit not posted")
	}
}
