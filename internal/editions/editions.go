// Package editions publishes branches and pull requests as editions of
// their own, beside the environments: a push to a matching branch (or an
// update of a pull request, when pull request editions are on) deploys
// that commit under the edition's folder, purges it, records the GitHub
// deployment edition/<name> with its URL and, for a pull request,
// comments the URL once. A deleted branch or a closed pull request
// removes the edition, its files and its cache after a grace period,
// unless the branch comes back first. It owns its jobs and the editions
// table; the files are written and removed through internal/publish.
package editions

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/pipeline"
	"github.com/hoist-dev/hoist/internal/publish"
	"github.com/hoist-dev/hoist/internal/repoconfig"
	"github.com/hoist-dev/hoist/internal/store"
)

// Publisher writes, purges and removes an edition's folder
// (internal/publish implements it).
type Publisher interface {
	DeployFolder(ctx context.Context, repo *gh.Repo, installation int64, p *pipeline.Pipeline, f publish.Folder, sha, copyFrom string) (publish.FolderResult, error)
	RemoveFolder(ctx context.Context, repo *gh.Repo, f publish.Folder, prefix string) (publish.FolderResult, error)
}

// Configs is the configuration in force of a repository
// (internal/repoconfig implements it).
type Configs interface {
	PipelineFor(ctx context.Context, re repoconfig.RepoEvent) (*pipeline.Pipeline, *gh.Repo, error)
}

// Deps is what the editions need.
type Deps struct {
	Clients   githubapp.ClientCreator
	Engine    *jobs.Engine
	Store     *store.Store
	Configs   Configs
	Publisher Publisher
	// Server has the deploy targets (their public URLs).
	Server *serverconfig.Server
	// Now is the clock of grace periods (time.Now when nil).
	Now func() time.Time
}

// Service publishes and removes editions.
type Service struct {
	d Deps
}

// New returns the editions service.
func New(d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Service{d: d}
}

// Workers registers the deploy and removal workers.
func (s *Service) Workers(e *jobs.Engine) {
	river.AddWorker(e.Workers(), &deployWorker{s: s})
	river.AddWorker(e.Workers(), &removeWorker{s: s})
}

// EnvPrefix is the start of every edition's GitHub deployment environment.
const EnvPrefix = "edition/"

// Ref names a branch's or pull request's edition in the store.
func branchRef(branch string) string { return "branch:" + branch }
func pullRef(number int) string      { return "pr:" + strconv.Itoa(number) }

func repoEvent(inst *github.Installation, r *github.Repository, sender *github.User) repoconfig.RepoEvent {
	re := repoconfig.EventOf(inst, r, sender)
	if re.Owner == "" {
		re.Owner = r.GetOwner().GetName()
	}
	return re
}

// OnPush queues the deploy of a pushed branch's edition, when the branch
// is one; a branch pushed again within its grace period keeps its
// edition.
func (s *Service) OnPush(ctx context.Context, ev *github.PushEvent) error {
	branch, ok := strings.CutPrefix(ev.GetRef(), "refs/heads/")
	if !ok || ev.GetDeleted() {
		return nil
	}
	r := ev.GetRepo()
	re := repoconfig.RepoEvent{Installation: ev.GetInstallation().GetID(), Owner: r.GetOwner().GetLogin(), Repo: r.GetName(),
		DefaultBranch: r.GetDefaultBranch(), Actor: ev.GetSender().GetLogin()}
	if re.Owner == "" {
		re.Owner = r.GetOwner().GetName()
	}
	p, _, err := s.d.Configs.PipelineFor(ctx, re)
	if err != nil {
		if jobs.IsPermanent(err) {
			return nil // the hoist/config check run reports it
		}
		return err
	}
	if p == nil || !p.IsEditionBranch(branch) {
		return nil
	}
	if err := s.callOffRemoval(ctx, re.Owner+"/"+re.Repo, branchRef(branch)); err != nil {
		return err
	}
	return s.queueDeploy(ctx, DeployArgs{Installation: re.Installation, Owner: re.Owner, Repo: re.Repo, DefaultBranch: re.DefaultBranch,
		Branch: branch, SHA: ev.GetAfter(), Actor: re.Actor})
}

// OnPullRequest queues the deploy of a pull request's edition when it is
// opened, reopened or pushed to, and plans its removal when it is closed.
func (s *Service) OnPullRequest(ctx context.Context, ev *github.PullRequestEvent) error {
	pr := ev.GetPullRequest()
	re := repoEvent(ev.GetInstallation(), ev.GetRepo(), ev.GetSender())
	switch ev.GetAction() {
	case "opened", "reopened", "synchronize":
	case "closed":
		return s.planRemoval(ctx, re, pullRef(pr.GetNumber()))
	default:
		return nil
	}
	p, _, err := s.d.Configs.PipelineFor(ctx, re)
	if err != nil {
		if jobs.IsPermanent(err) {
			return nil
		}
		return err
	}
	if p == nil || !p.Editions.PullRequests {
		return nil
	}
	if !strings.EqualFold(pr.GetHead().GetRepo().GetFullName(), ev.GetRepo().GetFullName()) {
		// A fork's content would be published under this repository's
		// address by anyone who opens a pull request.
		zerolog.Ctx(ctx).Info().Str("repo", ev.GetRepo().GetFullName()).Int("pull", pr.GetNumber()).
			Msg("edition: pull request from a fork is not published")
		return nil
	}
	if err := s.callOffRemoval(ctx, re.Owner+"/"+re.Repo, pullRef(pr.GetNumber())); err != nil {
		return err
	}
	return s.queueDeploy(ctx, DeployArgs{Installation: re.Installation, Owner: re.Owner, Repo: re.Repo, DefaultBranch: re.DefaultBranch,
		Branch: pr.GetHead().GetRef(), SHA: pr.GetHead().GetSHA(), Pull: pr.GetNumber(), Actor: re.Actor})
}

// OnDelete plans the removal of a deleted branch's edition after the
// grace period. A branch without an edition (an environment's, say) has
// nothing to remove: nothing is planned.
func (s *Service) OnDelete(ctx context.Context, ev *github.DeleteEvent) error {
	if ev.GetRefType() != "branch" {
		return nil
	}
	return s.planRemoval(ctx, repoEvent(ev.GetInstallation(), ev.GetRepo(), ev.GetSender()), branchRef(ev.GetRef()))
}

// callOffRemoval cancels the planned removal of ref's edition: its branch
// was pushed again (or its pull request reopened) within the grace
// period. The removal job, should it run all the same, finds the plan
// withdrawn and ends.
func (s *Service) callOffRemoval(ctx context.Context, full, ref string) error {
	e, ok, err := s.d.Store.EditionOf(ctx, full, ref)
	if err != nil || !ok || e.RemoveAt.IsZero() {
		return err
	}
	if err := s.d.Store.CancelEditionRemoval(ctx, full, ref); err != nil {
		return err
	}
	if e.RemoveJob != 0 {
		if err := s.d.Engine.Cancel(ctx, e.RemoveJob); err != nil {
			return err
		}
	}
	zerolog.Ctx(ctx).Info().Str("repo", full).Str("ref", ref).Str("edition", e.Name).Str("audit", "edition removal called off").
		Msg("edition: removal called off")
	return nil
}

func (s *Service) queueDeploy(ctx context.Context, a DeployArgs) error {
	if _, err := s.d.Engine.Insert(ctx, a, nil); err != nil {
		return fmt.Errorf("queue edition deploy of %s/%s %s: %w", a.Owner, a.Repo, a.ref(), err)
	}
	return nil
}

// planRemoval schedules the removal of ref's edition, if the event's
// installation published one, after the configured grace period.
func (s *Service) planRemoval(ctx context.Context, re repoconfig.RepoEvent, ref string) error {
	full := re.Owner + "/" + re.Repo
	log := zerolog.Ctx(ctx).With().Str("repo", full).Str("ref", ref).Logger()
	e, ok, err := s.d.Store.EditionOf(ctx, full, ref)
	if err != nil {
		return err
	}
	if !ok || e.Installation != re.Installation {
		log.Debug().Msg("edition: no edition to remove")
		return nil
	}
	grace := config.RepoDefaultEditionGrace
	if p, _, err := s.d.Configs.PipelineFor(ctx, re); err == nil && p != nil {
		grace = p.Editions.Grace
	}
	// Milliseconds, as the store keeps them: the job names this very plan.
	at := time.UnixMilli(s.d.Now().Add(grace).UnixMilli())
	planned, err := s.d.Store.ScheduleEditionRemoval(ctx, full, ref, re.Installation, at)
	if err != nil || !planned {
		return err
	}
	a := RemoveArgs{Installation: re.Installation, Owner: re.Owner, Repo: re.Repo, DefaultBranch: re.DefaultBranch, Ref: ref,
		RemoveAt: at.UnixMilli(), Actor: re.Actor}
	res, err := s.d.Engine.Insert(ctx, a, &river.InsertOpts{ScheduledAt: at})
	if err != nil {
		return fmt.Errorf("queue removal of edition %s of %s: %w", e.Name, full, err)
	}
	if err := s.d.Store.EditionRemovalJob(ctx, full, ref, at, res.Job.ID); err != nil {
		return err
	}
	log.Info().Str("edition", e.Name).Time("remove_at", at).Str("audit", "edition removal planned").Msg("edition: removal planned")
	return nil
}

// DeployArgs is one deploy of a branch's or pull request's edition.
type DeployArgs struct {
	Installation  int64  `json:"installation"`
	Owner         string `json:"owner"`
	Repo          string `json:"repo"`
	DefaultBranch string `json:"default_branch"`
	Branch        string `json:"branch"`
	SHA           string `json:"sha"`
	// Pull is the pull request's number for its edition; 0 for a branch.
	Pull  int    `json:"pull,omitempty"`
	Actor string `json:"actor,omitempty"`
}

// Kind names the job for River.
func (DeployArgs) Kind() string { return "hoist_edition_deploy" }

// InsertOpts: unique by arguments, so a redelivered push deploys once.
func (DeployArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 5, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

func (a DeployArgs) ref() string {
	if a.Pull != 0 {
		return pullRef(a.Pull)
	}
	return branchRef(a.Branch)
}

// RemoveArgs is the planned removal of an edition, at RemoveAt (unix
// milliseconds). The job does nothing when the plan was called off or
// replaced by a later one (the store's remove_at is another), or when the
// branch exists again or the pull request is open again.
type RemoveArgs struct {
	Installation  int64  `json:"installation"`
	Owner         string `json:"owner"`
	Repo          string `json:"repo"`
	DefaultBranch string `json:"default_branch"`
	Ref           string `json:"ref"`
	RemoveAt      int64  `json:"remove_at"`
	Actor         string `json:"actor,omitempty"`
}

// Kind names the job for River.
func (RemoveArgs) Kind() string { return "hoist_edition_remove" }

// InsertOpts: unique by arguments, so a redelivered delete plans once.
func (RemoveArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 8, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// leaseWait is how long a job waits for another of the same edition.
const leaseWait = time.Second

// lease takes the edition's lease (one deploy or removal of a ref at a
// time, across replicas) and returns its release, or false when another
// job holds it.
func (s *Service) lease(ctx context.Context, full, ref string, job int64) (func(), bool, error) {
	key := "edition " + ref
	holder := "edition-job-" + strconv.FormatInt(job, 10)
	lease := 15 * time.Minute
	if s.d.Server != nil && s.d.Server.Jobs.RescueAfter > 0 {
		lease = s.d.Server.Jobs.RescueAfter
	}
	held, _, err := s.d.Store.AcquirePublish(ctx, full, key, holder, time.Now().Add(lease))
	if err != nil || !held {
		return nil, false, err
	}
	return func() {
		if err := s.d.Store.ReleasePublish(context.WithoutCancel(ctx), full, key, holder); err != nil {
			zerolog.Ctx(ctx).Warn().Err(err).Msg("edition: release lease")
		}
	}, true, nil
}

func (s *Service) repo(installation int64, owner, name string) (*gh.Repo, error) {
	client, err := s.d.Clients.NewInstallationClient(installation)
	if err != nil {
		return nil, fmt.Errorf("client for installation %d: %w", installation, err)
	}
	return gh.NewRepo(client, owner, name), nil
}

// folder is where the edition called name of p is published.
func folder(p *pipeline.Pipeline, name, branch, prefix, url string) publish.Folder {
	return publish.Folder{Name: EnvPrefix + name, Branch: branch, Target: p.Editions.Target, Prefix: prefix, URL: url,
		Purge: p.Editions.Purge}
}

// takenPrefixes are the folders of the environments on the editions'
// target, which no edition may write into or over.
func takenPrefixes(p *pipeline.Pipeline) []string {
	var out []string
	for _, e := range p.Environments {
		if e.Deploy.Target == p.Editions.Target && e.Deploy.Target != "" {
			out = append(out, e.Deploy.Prefix)
		}
	}
	return out
}

// errSkip ends a job that has nothing to do.
var errSkip = errors.New("skip")
