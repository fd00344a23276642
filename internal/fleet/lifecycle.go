package fleet

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/internal/pipeline"
	"github.com/hoist-dev/hoist/internal/publish"
	"github.com/hoist-dev/hoist/internal/store"
)

// A suspended instance serves a maintenance page in place of each of its
// pages; every other file, its branches, settings and history stay. The
// pages come back from the release's tree on resume.

// trialEnded is the reason of a suspension at the end of a trial.
const trialEnded = "The trial of this site has ended."

// maintenancePage is what a suspended instance's pages serve.
func maintenancePage(name, reason string) []byte {
	return []byte(`<!doctype html><meta charset="utf-8"><title>Unavailable</title>` +
		`<h1>This site is unavailable</h1><p>` + html.EscapeString(reason) + `</p><!-- hoist: instance ` + html.EscapeString(name) + ` suspended -->` + "\n")
}

// Deleter removes a stage's folder once a deleted instance's grace period
// ended (publish.Publisher).
type Deleter interface {
	DeleteStage(ctx context.Context, full string, env pipeline.Environment) (int, error)
}

// Suspend serves the maintenance page on every page of both stages and
// marks the instance suspended. Nothing is deleted.
func (s *Service) Suspend(ctx context.Context, full, name, actor, reason string) (Instance, error) {
	rc, err := s.open(ctx, full)
	if err != nil {
		return Instance{}, err
	}
	in, err := s.lookup(ctx, rc.repo.FullName(), name)
	if err != nil {
		return Instance{}, err
	}
	if in.State != StateLive {
		return Instance{}, refuse(http.StatusConflict, "instance %q is %s; only a live instance can be suspended", name, in.State)
	}
	if reason == "" {
		reason = "suspended by " + actor
	}
	if err := s.rewritePages(ctx, rc, in, maintenancePage(name, reason)); err != nil {
		return Instance{}, err
	}
	st := StateSuspended
	return s.store.Apply(ctx, rc.repo.FullName(), name, Update{State: &st, Reason: &reason,
		Audit: store.AuditEntry{Actor: actor, Action: "fleet.suspend", Outcome: "success", Detail: map[string]any{"reason": reason}}})
}

// Resume puts the release's pages back and marks the instance live.
func (s *Service) Resume(ctx context.Context, full, name, actor string) (Instance, error) {
	rc, err := s.open(ctx, full)
	if err != nil {
		return Instance{}, err
	}
	in, err := s.lookup(ctx, rc.repo.FullName(), name)
	if err != nil {
		return Instance{}, err
	}
	if in.State != StateSuspended {
		return Instance{}, refuse(http.StatusConflict, "instance %q is %s, not suspended", name, in.State)
	}
	if in.Plan == PlanTrial && (in.Reason == trialEnded || in.ExpiresAt != nil && !s.now().Before(*in.ExpiresAt)) {
		return Instance{}, refuse(http.StatusConflict, "the trial of %q has ended; upgrade it to paid to resume it", name)
	}
	if err := s.rewritePages(ctx, rc, in, nil); err != nil {
		return Instance{}, err
	}
	st, none := StateLive, ""
	return s.store.Apply(ctx, rc.repo.FullName(), name, Update{State: &st, Reason: &none,
		Audit: store.AuditEntry{Actor: actor, Action: "fleet.resume", Outcome: "success"}})
}

// Upgrade makes a trial instance paid: no expiry any more. A suspended
// trial is resumed.
func (s *Service) Upgrade(ctx context.Context, full, name, actor string) (Instance, error) {
	in, err := s.lookup(ctx, full, name)
	if err != nil {
		return Instance{}, err
	}
	if in.Plan == PlanPaid {
		return in, nil
	}
	if in.State == StateDeleted {
		return Instance{}, refuse(http.StatusConflict, "instance %q is deleted", name)
	}
	paid := PlanPaid
	var none *time.Time
	in, err = s.store.Apply(ctx, full, name, Update{Plan: &paid, ExpiresAt: &none,
		Audit: store.AuditEntry{Actor: actor, Action: "fleet.upgrade", Outcome: "success", Detail: map[string]any{"from": "trial", "to": "paid"}}})
	if err != nil || in.State != StateSuspended {
		return in, err
	}
	return s.Resume(ctx, full, name, actor)
}

// Delete removes an instance's branches and DNS records at once, serves
// the maintenance page meanwhile, and keeps its folders, settings and
// history for the fleet's grace period (trial.delete_grace), after which
// the daily job purges them. confirm must repeat the name.
func (s *Service) Delete(ctx context.Context, full, name, confirm, actor string) (Instance, error) {
	rc, err := s.open(ctx, full)
	if err != nil {
		return Instance{}, err
	}
	in, err := s.lookup(ctx, rc.repo.FullName(), name)
	if err != nil {
		return Instance{}, err
	}
	if confirm != name {
		return Instance{}, refuse(http.StatusPreconditionFailed, "to delete %q, confirm with its name (confirm=%s)", name, name)
	}
	if in.State == StateDeleted || in.State == StateLaunching {
		return Instance{}, refuse(http.StatusConflict, "instance %q is %s", name, in.State)
	}
	if in.State == StateLive {
		if err := s.rewritePages(ctx, rc, in, maintenancePage(name, "This site was closed.")); err != nil {
			return Instance{}, err
		}
	}
	f := rc.cfg.Fleet
	for _, stage := range config.FleetStageNames {
		env := StageEnv(f, stage, name)
		if head, err := rc.repo.BranchHead(ctx, env.Branch); err == nil && head != "" {
			if _, err := rc.repo.Client.Git.DeleteRef(ctx, rc.repo.Owner, rc.repo.Name, "heads/"+env.Branch); err != nil {
				return Instance{}, fmt.Errorf("delete branch %s: %w", env.Branch, err)
			}
		}
		st, _ := f.Stage(stage)
		if s.d.DNS != nil && st.Host != "" {
			if err := s.d.DNS.Remove(ctx, config.FleetExpand(st.Host, name)); err != nil {
				return Instance{}, err
			}
		}
	}
	deleted, now := StateDeleted, s.now()
	return s.store.Apply(ctx, rc.repo.FullName(), name, Update{State: &deleted, DeletedAt: &now,
		Audit: store.AuditEntry{Actor: actor, Action: "fleet.delete", Outcome: "success",
			Detail: map[string]any{"settings": in.Settings, "purge_after": now.Add(f.Trial.DeleteGrace)}}})
}

// rewritePages writes body over every page (.html) of both stages, or with
// body nil the release's own pages back, and purges each stage whole.
func (s *Service) rewritePages(ctx context.Context, rc *repoCtx, in Instance, body []byte) error {
	f := rc.cfg.Fleet
	full := rc.repo.FullName()
	for _, stage := range config.FleetStageNames {
		env := StageEnv(f, stage, in.Name)
		tree, _, closeTree, err := s.d.Stages.StageTree(ctx, rc.repo, rc.installation, env.Branch, in.SHA, rc.cfg.Site.Root, []publish.ExtraFile{SettingsFile(f, in.Settings)})
		if err != nil {
			return err
		}
		for _, e := range tree.Entries() {
			if !strings.HasSuffix(e.Path, ".html") {
				continue
			}
			content := body
			if content == nil {
				r, err := tree.Open(e.Path)
				if err != nil {
					closeTree()
					return err
				}
				content, err = io.ReadAll(r)
				r.Close()
				if err != nil {
					closeTree()
					return err
				}
			}
			if err := s.d.Stages.PutStageFile(ctx, full, env, e.Path, content, rc.cfg.Deploy); err != nil {
				closeTree()
				return err
			}
		}
		closeTree()
		if len(env.Purge) > 0 {
			if _, err := s.d.Stages.Purge(ctx, rc.repo, nil, env, publish.PurgeRequest{Env: env.Name, All: true, Actor: "hoist"}); err != nil {
				zerolog.Ctx(ctx).Warn().Err(err).Str("repo", full).Str("env", env.Name).Msg("fleet: purge after rewriting pages failed")
			}
		}
	}
	return nil
}

// DailyArgs is the daily lifecycle pass over every fleet.
type DailyArgs struct{}

// Kind names the job for River.
func (DailyArgs) Kind() string { return "hoist_fleet_daily" }

type dailyWorker struct {
	river.WorkerDefaults[DailyArgs]
	s *Service
}

func (w *dailyWorker) Work(ctx context.Context, _ *river.Job[DailyArgs]) error {
	return w.s.Daily(ctx, w.s.now())
}

// Daily warns trials about to end, suspends the ended ones and purges
// deleted instances whose grace period is over.
func (s *Service) Daily(ctx context.Context, now time.Time) error {
	log := zerolog.Ctx(ctx)
	// Each fleet's warning time is checked below; trials ending within a
	// month are looked at.
	trials, err := s.store.Trials(ctx, now.Add(31*24*time.Hour))
	if err != nil {
		return err
	}
	var errs []error
	for _, in := range trials {
		rc, err := s.openRepo(ctx, in.Repo)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		f := rc.cfg.Fleet
		switch {
		case !now.Before(*in.ExpiresAt):
			if _, err := s.Suspend(ctx, in.Repo, in.Name, "hoist", trialEnded); err != nil {
				errs = append(errs, fmt.Errorf("suspend %s of %s: %w", in.Name, in.Repo, err))
			}
		case in.WarnedAt == nil && now.Add(f.Trial.Warn).After(*in.ExpiresAt):
			warned := now
			if _, err := s.store.Apply(ctx, in.Repo, in.Name, Update{WarnedAt: &warned,
				Audit: store.AuditEntry{Actor: "hoist", Action: "fleet.trial_warning", Outcome: "success",
					Detail: map[string]any{"expires_at": in.ExpiresAt.Format(time.RFC3339)}}}); err != nil {
				errs = append(errs, err)
			}
			log.Info().Str("repo", in.Repo).Str("instance", in.Name).Time("expires_at", *in.ExpiresAt).Str("audit", "fleet trial warning").Msg("fleet trial ends soon")
		}
	}
	deleted, err := s.store.Deleted(ctx, now)
	if err != nil {
		return err
	}
	for _, in := range deleted {
		rc, err := s.openRepo(ctx, in.Repo)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		f := rc.cfg.Fleet
		if in.DeletedAt.Add(f.Trial.DeleteGrace).After(now) {
			continue
		}
		if del, ok := s.d.Stages.(Deleter); ok {
			for _, stage := range config.FleetStageNames {
				if _, err := del.DeleteStage(ctx, in.Repo, StageEnv(f, stage, in.Name)); err != nil {
					errs = append(errs, err)
				}
			}
		}
		if err := s.store.Purge(ctx, in.Repo, in.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		_ = s.d.Store.Audit(ctx, store.AuditEntry{Repo: in.Repo, Actor: "hoist", Action: "fleet.purge", Outcome: "success", Detail: map[string]any{"instance": in.Name}})
	}
	if len(errs) > 0 {
		return fmt.Errorf("fleet daily: %d problems, first: %w", len(errs), errs[0])
	}
	return nil
}

// openRepo opens a repository the store names (already checked once).
func (s *Service) openRepo(ctx context.Context, full string) (*repoCtx, error) {
	return s.open(ctx, full)
}
