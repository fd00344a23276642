package rollout

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/palantir/go-githubapp/githubapp"
	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/store"
)

// CheckName is the check run a rollout keeps on its release commit.
const CheckName = "hoist/fleet"

// Repo is the repository a fleet lives in.
type Repo struct {
	Installation  int64
	Owner, Name   string
	DefaultBranch string
}

// FullName is owner/name.
func (r Repo) FullName() string { return r.Owner + "/" + r.Name }

// Fleet is what a rollout needs to know of a fleet when a release comes.
type Fleet struct {
	// Instances are the names of every instance to upgrade.
	Instances []string
	// Canaries, WaveSize and MaxFailureShare are the rollout's plan (see Plan).
	Canaries        []string
	WaveSize        int
	MaxFailureShare float64
	// DevBranch and ProdBranch are the instance branch patterns, with
	// {name} (default dev-{name} and {name}).
	DevBranch, ProdBranch string
}

// Fleets tells which pushes are releases of a fleet (the fleet core reads
// the template of .github/hoist.yml and its instance store).
type Fleets interface {
	// Release returns the fleet that follows ref (refs/heads/… or
	// refs/tags/…) of repo, with ok false when ref is not a release.
	Release(ctx context.Context, repo Repo, ref string) (f Fleet, ok bool, err error)
}

// Target is one instance stage to bring to a release commit.
type Target struct {
	Repo     Repo
	Instance string
	Stage    Stage
	// Branch is the stage's branch, already at SHA when Gates see it.
	Branch  string
	SHA     string
	Release string
	// Attempt counts the retries of this instance in this rollout.
	Attempt int
}

// Result is how a stage's deploy and gates went.
type Result struct {
	// Pending: not decided yet; asked again a little later.
	Pending bool
	Passed  bool
	// Reason says why it failed (for the fleet table).
	Reason string
	// Link is the stage's public address; Screenshot a public PNG of it.
	Link, Screenshot string
}

// Gates deploy an instance stage whose branch reached a release commit and
// run the gates the fleet template gives that stage (the fleet core's
// deploy and smoke steps). Check is asked until the result is not pending,
// and again after a crash, so it must do nothing twice.
type Gates interface {
	Check(ctx context.Context, t Target) (Result, error)
}

// Service runs rollouts; the zero value is not usable.
type Service struct {
	clients githubapp.ClientCreator
	engine  *jobs.Engine
	db      db
	fleets  Fleets
	gates   Gates
	now     func() time.Time
	// pace is the least time between two writes of one check run; poll how
	// often a pending stage is asked again; gateTimeout how long a stage
	// may stay pending before it fails.
	pace, poll, gateTimeout time.Duration
	dashboard               string
}

// Deps is what a Service needs.
type Deps struct {
	Clients githubapp.ClientCreator
	Engine  *jobs.Engine
	Store   *store.Store
	Fleets  Fleets
	Gates   Gates
	// DashboardURL is the dashboard's base URL, for the check run's
	// details link; empty links nowhere.
	DashboardURL string
	// Pace is the least time between two updates of the check run (default
	// 3s: GitHub's secondary limits allow about one write a second per
	// installation, shared with everything else hoist writes).
	Pace time.Duration
	// Poll is how often a pending stage is asked again (default 2s).
	Poll time.Duration
	// GateTimeout fails a stage pending for longer (default 30m).
	GateTimeout time.Duration
	Now         func() time.Time
}

// New returns a Service.
func New(d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	s := &Service{clients: d.Clients, engine: d.Engine, db: db{st: d.Store, now: d.Now}, fleets: d.Fleets, gates: d.Gates,
		now: d.Now, pace: d.Pace, poll: d.Poll, gateTimeout: d.GateTimeout, dashboard: strings.TrimRight(d.DashboardURL, "/")}
	if s.pace <= 0 {
		s.pace = 3 * time.Second
	}
	if s.poll <= 0 {
		s.poll = 2 * time.Second
	}
	if s.gateTimeout <= 0 {
		s.gateTimeout = 30 * time.Minute
	}
	return s
}

// Workers registers the rollout's jobs.
func (s *Service) Workers(e *jobs.Engine) {
	river.AddWorker(e.Workers(), &instanceWorker{s: s})
	river.AddWorker(e.Workers(), &reportWorker{s: s})
}

// ErrNoRollout is returned for a retry where no rollout is found.
var ErrNoRollout = errors.New("no rollout")

// OnRelease starts the rollout of a pushed ref when it is a release of
// the repository's fleet; a second push of the same commit (a redelivery,
// a tag on a released commit) starts nothing. It returns the rollout's id,
// or 0 when the ref is no release.
func (s *Service) OnRelease(ctx context.Context, repo Repo, ref, sha, actor string) (int64, error) {
	if sha == "" || strings.Trim(sha, "0") == "" {
		return 0, nil
	}
	f, ok, err := s.fleets.Release(ctx, repo, ref)
	if err != nil || !ok {
		return 0, err
	}
	if f.DevBranch == "" {
		f.DevBranch = "dev-{name}"
	}
	if f.ProdBranch == "" {
		f.ProdBranch = "{name}"
	}
	r := Rollout{Repo: repo.FullName(), Installation: repo.Installation, Release: ref, SHA: sha, Actor: actor,
		Spec: Spec{Owner: repo.Owner, Name: repo.Name, DefaultBranch: repo.DefaultBranch, Instances: f.Instances, Canaries: f.Canaries,
			WaveSize: f.WaveSize, MaxFailureShare: f.MaxFailureShare, DevBranch: f.DevBranch, ProdBranch: f.ProdBranch}}
	log := zerolog.Ctx(ctx).With().Str("repo", r.Repo).Str("sha", sha).Str("release", ref).Logger()
	var created bool
	err = s.db.st.InTx(ctx, func(tx store.Tx) error {
		r, created, err = s.db.create(ctx, tx, r)
		if err != nil || !created {
			return err
		}
		return s.advance(ctx, tx, r.ID)
	})
	if err != nil {
		return 0, fmt.Errorf("start rollout of %s@%s: %w", r.Repo, shortSHA(sha), err)
	}
	if created {
		log.Info().Int64("rollout", r.ID).Int("instances", len(f.Instances)).Str("audit", actor).Msg("rollout started")
	} else {
		log.Info().Int64("rollout", r.ID).Msg("release rolled out already; nothing started")
	}
	return r.ID, nil
}

// Retry starts the failed (and skipped) instances of a rollout again, or
// only those named; the rollout resumes where it stopped. It returns the
// instances started again.
func (s *Service) Retry(ctx context.Context, id int64, names []string, actor string) ([]string, error) {
	var out []string
	err := s.db.st.InTx(ctx, func(tx store.Tx) error {
		// The row lock first: a retry waits for a decision being made.
		if _, err := s.db.bump(ctx, tx, id); err != nil {
			return err
		}
		insts, err := s.db.instances(ctx, tx, id)
		if err != nil {
			return err
		}
		states := make(map[string]State, len(insts))
		for _, i := range insts {
			states[i.Name] = i.State
		}
		names, err = Retry(states, names)
		if err != nil {
			return err
		}
		if out, err = s.db.retry(ctx, tx, id, names); err != nil || len(out) == 0 {
			return err
		}
		return s.advance(ctx, tx, id)
	})
	if err != nil {
		return nil, fmt.Errorf("retry rollout %d: %w", id, err)
	}
	zerolog.Ctx(ctx).Info().Int64("rollout", id).Strs("instances", out).Str("audit", actor).Msg("rollout retried")
	return out, nil
}

// Find returns the rollout of repo whose release commit is one of shas,
// the newest first.
func (s *Service) Find(ctx context.Context, repo string, shas ...string) (Rollout, error) {
	for _, sha := range shas {
		if sha == "" {
			continue
		}
		r, err := s.db.bySHA(ctx, nil, repo, sha)
		if err == nil {
			return r, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return r, err
		}
	}
	return Rollout{}, fmt.Errorf("%w of %s at %s", ErrNoRollout, repo, strings.Join(shas, ", "))
}

// Rollout returns a rollout and its instances.
func (s *Service) Rollout(ctx context.Context, id int64) (Rollout, []Instance, error) {
	r, err := s.db.get(ctx, nil, id)
	if err != nil {
		return r, nil, err
	}
	insts, err := s.db.instances(ctx, nil, id)
	return r, insts, err
}

// Rollouts returns the newest rollouts of repo.
func (s *Service) Rollouts(ctx context.Context, repo string, limit int) ([]Rollout, error) {
	return s.db.list(ctx, repo, limit)
}

// advance asks the planner what the rollout does next and does it, in tx:
// starts instances (their jobs commit with their state), skips the rest
// and stops, or finishes; and queues a report of the change.
func (s *Service) advance(ctx context.Context, tx store.Tx, id int64) error {
	if _, err := s.db.bump(ctx, tx, id); err != nil {
		return err
	}
	r, err := s.db.get(ctx, tx, id)
	if err != nil {
		return err
	}
	if r.State == RolloutRunning {
		insts, err := s.db.instances(ctx, tx, id)
		if err != nil {
			return err
		}
		states := make(map[string]State, len(insts))
		for _, i := range insts {
			states[i.Name] = i.State
		}
		d := r.Spec.Plan().Next(states)
		log := zerolog.Ctx(ctx).With().Str("repo", r.Repo).Str("sha", r.SHA).Int64("rollout", id).Logger()
		switch d.Verdict {
		case VerdictStart:
			started, err := s.db.start(ctx, tx, id, d.Start)
			if err != nil {
				return err
			}
			for n, attempt := range started {
				if _, err := s.engine.InsertTx(ctx, tx, InstanceArgs{RolloutID: id, Instance: n, Attempt: attempt}, nil); err != nil {
					return fmt.Errorf("queue instance %s: %w", n, err)
				}
			}
			log.Info().Int("wave", d.Wave).Strs("instances", d.Start).Msg("rollout wave started")
		case VerdictStop:
			if err := s.db.skip(ctx, tx, id, d.Skip); err != nil {
				return err
			}
			if err := s.db.setState(ctx, tx, id, RolloutStopped, d.Reason); err != nil {
				return err
			}
			log.Warn().Str("reason", d.Reason).Msg("rollout stopped")
		case VerdictFinish:
			if err := s.db.setState(ctx, tx, id, RolloutFinished, d.Reason); err != nil {
				return err
			}
			log.Info().Int("upgraded", d.Upgraded).Int("failed", d.Failed).Msg("rollout finished")
		}
	}
	v, err := s.db.bump(ctx, tx, id)
	if err != nil {
		return err
	}
	_, err = s.engine.InsertTx(ctx, tx, ReportArgs{RolloutID: id, Version: v}, nil)
	return err
}

// Branch is the branch of stage of instance under spec's patterns.
func (sp Spec) Branch(stage Stage, instance string) string {
	p := sp.ProdBranch
	if stage == StageDev {
		p = sp.DevBranch
	}
	return strings.ReplaceAll(p, "{name}", instance)
}

func (s *Service) repo(r Rollout) (*gh.Repo, error) {
	c, err := s.clients.NewInstallationClient(r.Installation)
	if err != nil {
		return nil, fmt.Errorf("github client of installation %d: %w", r.Installation, err)
	}
	return gh.NewRepo(c, r.Spec.Owner, r.Spec.Name), nil
}

// URL is the dashboard page of a rollout, or "" without a dashboard.
func (s *Service) URL(r Rollout) string {
	if s.dashboard == "" {
		return ""
	}
	return s.dashboard + path.Join("/fleets", r.Spec.Owner, r.Spec.Name, "rollouts", fmt.Sprint(r.ID))
}

func shortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
