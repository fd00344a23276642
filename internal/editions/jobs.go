package editions

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/pipeline"
	"github.com/hoist-dev/hoist/internal/publish"
	"github.com/hoist-dev/hoist/internal/repoconfig"
	"github.com/hoist-dev/hoist/internal/store"
)

type deployWorker struct {
	river.WorkerDefaults[DeployArgs]
	s *Service
}

// Work deploys the edition, unless its branch moved on (a newer push has
// its own job) or is gone (its removal is planned).
func (w *deployWorker) Work(ctx context.Context, job *river.Job[DeployArgs]) error {
	a := job.Args
	s := w.s
	full := a.Owner + "/" + a.Repo
	log := zerolog.Ctx(ctx).With().Str("repo", full).Str("ref", a.ref()).Str("sha", a.SHA).Logger()
	ctx = log.WithContext(ctx)
	release, held, err := s.lease(ctx, full, a.ref(), job.ID)
	if err != nil {
		return err
	}
	if !held {
		return river.JobSnooze(leaseWait)
	}
	defer release()
	err = s.deploy(ctx, a)
	switch {
	case err == nil, errors.Is(err, errSkip):
		return nil
	case publish.IsPermanent(err) || jobs.IsPermanent(err) || job.Attempt >= job.MaxAttempts:
		log.Warn().Err(err).Msg("edition: deploy failed")
		return river.JobCancel(err)
	}
	log.Warn().Err(err).Int("attempt", job.Attempt).Msg("edition: deploy failed, retrying")
	return err
}

func (s *Service) deploy(ctx context.Context, a DeployArgs) error {
	log := zerolog.Ctx(ctx)
	full := a.Owner + "/" + a.Repo
	re := repoconfig.RepoEvent{Installation: a.Installation, Owner: a.Owner, Repo: a.Repo, DefaultBranch: a.DefaultBranch, Actor: a.Actor}
	p, repo, err := s.d.Configs.PipelineFor(ctx, re)
	if err != nil {
		return err
	}
	if p == nil || (a.Pull == 0 && !p.IsEditionBranch(a.Branch)) || (a.Pull != 0 && !p.Editions.PullRequests) {
		log.Info().Msg("edition: no longer published by the configuration")
		return errSkip
	}
	// GitHub is the truth: a branch that moved on has a newer job, a
	// deleted one (or a closed pull request) a planned removal.
	if a.Pull != 0 {
		pr, err := repo.Pull(ctx, a.Pull)
		if err != nil {
			return err
		}
		if pr.State != "open" || pr.HeadSHA != a.SHA {
			log.Info().Str("state", pr.State).Str("head", pr.HeadSHA).Msg("edition: pull request closed or moved on; not deployed")
			return errSkip
		}
	} else {
		head, err := repo.BranchHead(ctx, a.Branch)
		if errors.Is(err, gh.ErrNotFound) {
			log.Info().Msg("edition: branch is gone; not deployed")
			return errSkip
		}
		if err != nil {
			return err
		}
		if head != a.SHA {
			log.Info().Str("head", head).Msg("edition: branch moved on; not deployed")
			return errSkip
		}
	}

	name := p.Editions.EditionOf(a.Branch)
	if a.Pull != 0 {
		name = config.PullEdition(a.Pull)
	}
	refuse := func(err error) error {
		log.Warn().Err(err).Str("edition", name).Str("audit", "edition refused").Msg("edition refused")
		_ = s.d.Store.Audit(ctx, store.AuditEntry{Repo: full, Actor: actorOr(a.Actor), Action: "edition", Env: EnvPrefix + name, SHA: a.SHA,
			Outcome: "refused", Detail: map[string]any{"ref": a.ref(), "error": err.Error()}})
		return errSkip
	}
	rel, err := config.EditionPrefix(p.Editions.Path, name, takenPrefixes(p))
	if err != nil {
		return refuse(err)
	}
	if s.d.Server == nil {
		return refuse(errors.New("the server has no deploy targets"))
	}
	tc, prefix, err := s.d.Server.DeployTarget(p.Editions.Target, full, rel)
	if err != nil {
		return refuse(err)
	}
	pageURL := ""
	if p.Editions.URL != "" {
		pageURL = strings.TrimSuffix(p.Editions.URL, "/") + "/" + rel
	} else if tc.PublicURL != "" {
		u, err := url.JoinPath(tc.PublicURL, prefix)
		if err == nil {
			pageURL = u
		}
	}
	row, err := s.d.Store.ClaimEdition(ctx, store.Edition{Repo: full, Ref: a.ref(), Name: name, Target: p.Editions.Target, Prefix: prefix,
		URL: pageURL, Installation: a.Installation})
	if errors.Is(err, store.ErrEditionTaken) {
		return refuse(fmt.Errorf("edition %s at %q: %w", name, rel, err))
	}
	if err != nil {
		return err
	}

	env := EnvPrefix + name
	dep, err := repo.CreateDeployment(ctx, a.SHA, env, fmt.Sprintf("edition %s at %s", name, short(a.SHA)), false,
		map[string]any{"reason": "edition", "ref": a.ref()})
	if err != nil {
		return err
	}
	if err := repo.SetDeploymentStatus(ctx, dep.ID, "in_progress", "", "", "deploying "+short(a.SHA)+" to edition "+name); err != nil {
		return err
	}
	f := folder(p, name, a.Branch, rel, pageURL)
	copyFrom := ""
	if row.OldPrefix != "" {
		// A renamed edition: its files are copied from the old folder
		// inside the store rather than uploaded again.
		copyFrom = strings.TrimPrefix(row.OldPrefix, strings.TrimSuffix(prefix, rel))
	}
	res, err := s.d.Publisher.DeployFolder(ctx, repo, a.Installation, p, f, a.SHA, copyFrom)
	if err != nil {
		if serr := repo.SetDeploymentStatus(ctx, dep.ID, "failure", "", "", "deploy failed: "+err.Error()); serr != nil {
			log.Warn().Err(serr).Msg("edition: could not set the failure status")
		}
		_ = s.d.Store.Audit(ctx, store.AuditEntry{Repo: full, Actor: actorOr(a.Actor), Action: "deploy", Env: env, SHA: a.SHA,
			Outcome: "failure", Detail: map[string]any{"ref": a.ref(), "error": err.Error()}})
		return err
	}
	if pageURL == "" {
		pageURL = res.PublicURL
	}
	if err := repo.SetDeploymentStatus(ctx, dep.ID, "success", pageURL, "", fmt.Sprintf("edition %s is at %s: %s", name, short(a.SHA), res.Summary)); err != nil {
		return err
	}
	if err := s.d.Store.EditionDeployed(ctx, full, a.ref(), a.SHA, dep.ID); err != nil {
		return err
	}
	_ = s.d.Store.Audit(ctx, store.AuditEntry{Repo: full, Actor: actorOr(a.Actor), Action: "deploy", Env: env, SHA: a.SHA, Outcome: "success",
		Detail: map[string]any{"ref": a.ref(), "prefix": prefix, "url": pageURL, "written": res.Written, "deleted": res.Deleted,
			"purge_requests": res.PurgeRequests, "deployment": dep.ID}})
	log.Info().Str("edition", name).Str("url", pageURL).Str("audit", "edition deployed").Msg("edition deployed")

	if row.OldPrefix != "" {
		old := folder(p, row.OldName, a.Branch, "", row.URL)
		if _, err := s.d.Publisher.RemoveFolder(ctx, repo, old, row.OldPrefix); err != nil {
			return fmt.Errorf("remove the old folder of edition %s: %w", row.OldName, err)
		}
		if row.OldDeployment != 0 {
			if err := repo.SetDeploymentStatus(ctx, row.OldDeployment, "inactive", "", "", "renamed to edition "+name); err != nil {
				log.Warn().Err(err).Msg("edition: could not mark the old deployment inactive")
			}
		}
		if err := s.d.Store.EditionMoved(ctx, full, a.ref(), row.OldPrefix); err != nil {
			return err
		}
		_ = s.d.Store.Audit(ctx, store.AuditEntry{Repo: full, Actor: actorOr(a.Actor), Action: "edition", Env: EnvPrefix + row.OldName,
			Outcome: "renamed", Detail: map[string]any{"ref": a.ref(), "to": name, "prefix": row.OldPrefix}})
	}
	if a.Pull != 0 {
		return s.comment(ctx, repo, full, a, row.Comment, commentBody(a.Pull, name, pageURL, a.SHA))
	}
	return nil
}

// commentMarker marks hoist's comment with a pull request's edition, so a
// retry after a lost answer finds it instead of posting a second.
func commentMarker(pull int) string { return "<!-- hoist:edition pr-" + strconv.Itoa(pull) + " -->" }

func commentBody(pull int, name, pageURL, sha string) string {
	where := pageURL
	if where == "" {
		where = "(this server gives the target no public URL)"
	}
	return fmt.Sprintf("%s\nThe edition **%s** of this pull request is published at %s (commit %s); it is updated on every push and removed when the pull request is closed.",
		commentMarker(pull), name, where, short(sha))
}

// comment puts the edition's URL on the pull request: once, then by
// editing that comment.
func (s *Service) comment(ctx context.Context, repo *gh.Repo, full string, a DeployArgs, id int64, body string) error {
	if id == 0 {
		found, err := repo.FindComment(ctx, a.Pull, "", commentMarker(a.Pull))
		if err != nil {
			return err
		}
		if found != nil {
			id = found.ID
		}
	}
	if id != 0 {
		if err := repo.EditComment(ctx, id, body); err == nil || !errors.Is(err, gh.ErrNotFound) {
			if err == nil {
				err = s.d.Store.EditionCommented(ctx, full, a.ref(), id)
			}
			return err
		}
		// Deleted by someone: post it again.
	}
	id, err := repo.Comment(ctx, a.Pull, body)
	if err != nil {
		return err
	}
	return s.d.Store.EditionCommented(ctx, full, a.ref(), id)
}

type removeWorker struct {
	river.WorkerDefaults[RemoveArgs]
	s *Service
}

// Work removes the edition whose removal is still planned for this time.
func (w *removeWorker) Work(ctx context.Context, job *river.Job[RemoveArgs]) error {
	a := job.Args
	s := w.s
	full := a.Owner + "/" + a.Repo
	log := zerolog.Ctx(ctx).With().Str("repo", full).Str("ref", a.Ref).Logger()
	ctx = log.WithContext(ctx)
	release, held, err := s.lease(ctx, full, a.Ref, job.ID)
	if err != nil {
		return err
	}
	if !held {
		return river.JobSnooze(leaseWait)
	}
	defer release()
	err = s.remove(ctx, a)
	switch {
	case err == nil, errors.Is(err, errSkip):
		return nil
	case publish.IsPermanent(err) || jobs.IsPermanent(err) || job.Attempt >= job.MaxAttempts:
		log.Warn().Err(err).Msg("edition: removal failed")
		return river.JobCancel(err)
	}
	log.Warn().Err(err).Int("attempt", job.Attempt).Msg("edition: removal failed, retrying")
	return err
}

func (s *Service) remove(ctx context.Context, a RemoveArgs) error {
	log := zerolog.Ctx(ctx)
	full := a.Owner + "/" + a.Repo
	e, ok, err := s.d.Store.EditionOf(ctx, full, a.Ref)
	if err != nil {
		return err
	}
	if !ok || e.RemoveAt.IsZero() || e.RemoveAt.UnixMilli() != a.RemoveAt || e.Installation != a.Installation {
		// Called off (the branch came back) or planned again later.
		return errSkip
	}
	repo, err := s.repo(a.Installation, a.Owner, a.Repo)
	if err != nil {
		return err
	}
	// A delete event is only a hint: the branch must really be gone (the
	// pull request really closed) on GitHub, so a replayed or stale event
	// removes nothing that still exists.
	back, err := refExists(ctx, repo, a.Ref)
	if err != nil {
		return err
	}
	if back {
		log.Info().Str("edition", e.Name).Msg("edition: its ref exists again; removal called off")
		return s.d.Store.CancelEditionRemoval(ctx, full, a.Ref)
	}
	re := repoconfig.RepoEvent{Installation: a.Installation, Owner: a.Owner, Repo: a.Repo, DefaultBranch: a.DefaultBranch, Actor: a.Actor}
	var purges []config.RepoPurge
	if p, _, err := s.d.Configs.PipelineFor(ctx, re); err == nil && p != nil && p.Editions.Target == e.Target {
		purges = p.Editions.Purge
	}
	p := &pipeline.Pipeline{Editions: config.RepoEditions{Target: e.Target, Purge: purges}}
	removed := publish.FolderResult{}
	for _, place := range []struct{ name, prefix string }{{e.OldName, e.OldPrefix}, {e.Name, e.Prefix}} {
		if place.prefix == "" {
			continue
		}
		res, err := s.d.Publisher.RemoveFolder(ctx, repo, folder(p, place.name, "", "", e.URL), place.prefix)
		if err != nil {
			return err
		}
		removed.Deleted += res.Deleted
		removed.PurgeRequests += res.PurgeRequests
	}
	for _, id := range []int64{e.OldDeployment, e.Deployment} {
		if id == 0 {
			continue
		}
		if err := repo.SetDeploymentStatus(ctx, id, "inactive", "", "", "edition "+e.Name+" removed"); err != nil {
			log.Warn().Err(err).Msg("edition: could not mark the deployment inactive")
		}
	}
	if pull, ok := strings.CutPrefix(a.Ref, "pr:"); ok && e.Comment != 0 {
		n, _ := strconv.Atoi(pull)
		body := fmt.Sprintf("%s\nThe edition **%s** of this pull request was removed when the pull request was closed.", commentMarker(n), e.Name)
		if err := repo.EditComment(ctx, e.Comment, body); err != nil {
			log.Warn().Err(err).Msg("edition: could not update the comment")
		}
	}
	if _, err := s.d.Store.DeleteEdition(ctx, full, a.Ref, e.RemoveAt); err != nil {
		return err
	}
	_ = s.d.Store.Audit(ctx, store.AuditEntry{Repo: full, Actor: actorOr(a.Actor), Action: "edition", Env: EnvPrefix + e.Name, SHA: e.SHA,
		Outcome: "removed", Detail: map[string]any{"ref": a.Ref, "prefix": e.Prefix, "deleted": removed.Deleted, "purge_requests": removed.PurgeRequests}})
	log.Info().Str("edition", e.Name).Int("deleted", removed.Deleted).Str("audit", "edition removed").Msg("edition removed")
	return nil
}

// refExists reports whether the branch of ref exists (for a pull
// request: whether it is open).
func refExists(ctx context.Context, repo *gh.Repo, ref string) (bool, error) {
	if n, ok := strings.CutPrefix(ref, "pr:"); ok {
		num, err := strconv.Atoi(n)
		if err != nil {
			return false, jobs.Permanent(fmt.Errorf("edition ref %q", ref))
		}
		pr, err := repo.Pull(ctx, num)
		if errors.Is(err, gh.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return pr.State == "open", nil
	}
	branch, ok := strings.CutPrefix(ref, "branch:")
	if !ok {
		return false, jobs.Permanent(fmt.Errorf("edition ref %q", ref))
	}
	_, err := repo.BranchHead(ctx, branch)
	if errors.Is(err, gh.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func actorOr(a string) string {
	if a == "" {
		return "hoist"
	}
	return a
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
