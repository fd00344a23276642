// Package releasegroup releases several repositories together: a
// promotion of one member of a release group into one of the group's
// environments moves every member's environment, or none.
//
// It is two-phase. First every member's candidate is evaluated with the
// promotion rules of its own repository (internal/promotion's Evaluate);
// one refusal or pending gate stops the whole group, and each member is
// told why. Then every member's branch is fast-forwarded with GitHub's
// compare-and-swap, one after another, each move recorded; if a later
// move fails, the members already moved are moved back, each guarded
// against a push that landed meanwhile. Only when every member has moved
// is anything deployed. The record of each group promotion (its phase,
// each member's state) is written before every step, so a crash at any
// point is finished by whoever takes the group's turn next: forward while
// every member can still move, backward otherwise.
package releasegroup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/pipeline"
	"github.com/hoist-dev/hoist/internal/promotion"
	"github.com/hoist-dev/hoist/internal/repoconfig"
	"github.com/hoist-dev/hoist/internal/store"
)

// CheckName is the check run that tells each member how a group
// promotion went.
const CheckName = "hoist/release-group"

// Service promotes release groups; the zero value is not usable.
type Service struct {
	clients    githubapp.ClientCreator
	engine     *jobs.Engine
	store      *store.Store
	configs    *repoconfig.Loader
	server     *serverconfig.Server
	promotions *promotion.Service
	moved      func(ctx context.Context, repo string)
	now        func() time.Time

	mu       sync.Mutex
	installs map[string]int64
	groups   map[string]*sync.Mutex
}

// Deps is what a Service needs.
type Deps struct {
	Clients    githubapp.ClientCreator
	Engine     *jobs.Engine
	Store      *store.Store
	Configs    *repoconfig.Loader
	Server     *serverconfig.Server
	Promotions *promotion.Service
	// Moved, for tests, runs after each member's branch moved and the
	// move was recorded (to stop the process there).
	Moved func(ctx context.Context, repo string)
	Now   func() time.Time
}

// New returns a Service and hands it to promotions, which from then on
// pass every promotion of a grouped environment to it.
func New(d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	s := &Service{clients: d.Clients, engine: d.Engine, store: d.Store, configs: d.Configs, server: d.Server,
		promotions: d.Promotions, moved: d.Moved, now: d.Now, installs: map[string]int64{}, groups: map[string]*sync.Mutex{}}
	d.Promotions.SetGroups(s)
	return s
}

// Workers registers the group promotion worker, and a periodic sweep
// that runs as hoist starts (and every minute after): a group promotion
// that a crash or a stopped replica left unfinished is queued again and
// finished in its group's turn, without waiting for a member's next event
// or for the orphaned job to be presumed lost.
func (s *Service) Workers(e *jobs.Engine) {
	river.AddWorker(e.Workers(), &promoteWorker{s: s})
	river.AddWorker(e.Workers(), &sweepWorker{s: s})
	e.AddPeriodic(river.NewPeriodicJob(river.PeriodicInterval(time.Minute),
		func() (river.JobArgs, *river.InsertOpts) { return SweepArgs{}, nil },
		&river.PeriodicJobOpts{ID: "release_group_sweep", RunOnStart: true}))
}

// SweepArgs asks for unfinished group promotions to be queued again.
type SweepArgs struct{}

// Kind names the job for River.
func (SweepArgs) Kind() string { return "hoist_release_group_sweep" }

type sweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	s *Service
}

func (w *sweepWorker) Work(ctx context.Context, _ *river.Job[SweepArgs]) error {
	return w.s.QueueUnfinished(ctx)
}

// PromoteArgs asks for a group promotion, started by one member's
// promotion (its evaluation args).
type PromoteArgs struct {
	Group string                 `json:"group"`
	Start promotion.EvaluateArgs `json:"start"`
	// Round tells a request queued while a group promotion ran from the
	// running one (see queue).
	Round int `json:"round,omitempty"`
}

// Kind names the job for River.
func (PromoteArgs) Kind() string { return "hoist_release_group_promote" }

// InsertOpts: unique while queued or running, so a burst of members'
// evaluations queues one group promotion (queue adds one follow-up behind
// a running one).
func (PromoteArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateScheduled}}}
}

// queue queues a group promotion. A request arriving while the same one
// runs may come after it read the members' heads, so it must not be
// dropped: it queues one follow-up (the next Round).
func (s *Service) queue(ctx context.Context, args PromoteArgs, opts *river.InsertOpts) error {
	for range 4 {
		res, err := s.engine.Insert(ctx, args, opts)
		if err != nil {
			return fmt.Errorf("queue the release group %s: %w", args.Group, err)
		}
		if !res.UniqueSkippedAsDuplicate || res.Job == nil || res.Job.State != rivertype.JobStateRunning {
			return nil
		}
		var running PromoteArgs
		if err := json.Unmarshal(res.Job.EncodedArgs, &running); err != nil {
			return fmt.Errorf("read running group promotion: %w", err)
		}
		args.Round = running.Round + 1
	}
	return nil
}

// Take is called by promotions when a decision says promote: a member of
// a group in force for env hands the promotion to the group (queued as a
// job) and does not move alone.
func (s *Service) Take(ctx context.Context, repo *gh.Repo, p *pipeline.Pipeline, env pipeline.Environment, a promotion.EvaluateArgs, d pipeline.Decision) (bool, error) {
	re := promotion.RepoEvent{Installation: a.Installation, Owner: a.Owner, Repo: a.Repo, DefaultBranch: a.DefaultBranch, Actor: a.Actor}
	g, grouped, err := s.resolve(ctx, re, p, env.Name)
	if !grouped {
		return false, nil
	}
	var nf errNotInForce
	if errors.As(err, &nf) {
		return true, s.refuseAlone(ctx, repo, env, a, d, g, nf.msg)
	}
	if err != nil {
		return true, err
	}
	if err := s.queue(ctx, PromoteArgs{Group: g.Name, Start: a}, nil); err != nil {
		return true, err
	}
	zerolog.Ctx(ctx).Info().Str("group", g.Name).Str("sha", d.SHA).Msg("promotion handed to its release group")
	return true, nil
}

// refuseAlone records and reports, once per candidate, that a repository
// whose group is not in force does not move.
func (s *Service) refuseAlone(ctx context.Context, repo *gh.Repo, env pipeline.Environment, a promotion.EvaluateArgs, d pipeline.Decision, g Group, why string) error {
	full := repo.FullName()
	if g.Name == "" {
		g.Name = "(unnamed)"
	}
	g.Members = []string{strings.ToLower(full)}
	rec := &Record{ID: uuid.NewString(), Group: g.Name, Key: g.Key(), Env: env.Name, Phase: PhaseRefused, Reason: why,
		Actor: a.Actor, Trigger: a.Trigger,
		Members: []Member{{Repo: strings.ToLower(full), Installation: a.Installation, Branch: env.Branch, From: d.From, To: d.SHA, State: StateRefused,
			Outcome: string(pipeline.OutcomeRefuse), Reasons: []string{why}}}}
	last, err := s.latest(ctx, g, env.Name)
	if err != nil {
		return err
	}
	if last != nil && sameCandidates(last, rec) {
		return nil
	}
	if err := s.save(ctx, rec); err != nil {
		return err
	}
	zerolog.Ctx(ctx).Warn().Str("group", g.Name).Str("sha", d.SHA).Str("audit", a.Actor).Msg(why)
	return s.report(ctx, g, rec)
}

type promoteWorker struct {
	river.WorkerDefaults[PromoteArgs]
	s *Service
}

// Timeout: publishing every member deploys each.
func (w *promoteWorker) Timeout(*river.Job[PromoteArgs]) time.Duration { return jobs.DeployTimeout }

func (w *promoteWorker) Work(ctx context.Context, job *river.Job[PromoteArgs]) error {
	a := job.Args.Start
	ctx = zerolog.Ctx(ctx).With().Str("group", job.Args.Group).Str("env", a.Env).Str("repo", a.Owner+"/"+a.Repo).Logger().WithContext(ctx)
	return w.s.Promote(ctx, a)
}

// Promote runs the group promotion that the member a.Owner/a.Repo asked
// for, in the group's turn: first anything a crash left unfinished, then
// phase one (evaluate every member) and phase two (move every member, or
// move the moved ones back).
func (s *Service) Promote(ctx context.Context, a promotion.EvaluateArgs) error {
	re := promotion.RepoEvent{Installation: a.Installation, Owner: a.Owner, Repo: a.Repo, DefaultBranch: a.DefaultBranch, Actor: a.Actor}
	p, repo, err := s.configs.PipelineFor(ctx, re)
	if err != nil || p == nil {
		return err
	}
	env, ok := p.Env(a.Env)
	if !ok {
		return nil
	}
	g, grouped, err := s.resolve(ctx, re, p, a.Env)
	if !grouped {
		return nil // the group left the configuration since
	}
	var nf errNotInForce
	if errors.As(err, &nf) {
		return s.refuseAlone(ctx, repo, env, a, pipeline.Decision{}, g, nf.msg)
	}
	if err != nil {
		return err
	}
	return s.locked(ctx, g, a.Env, func(ctx context.Context) error {
		if err := s.recover(ctx, g, a.Env); err != nil {
			return err
		}
		return s.promote(ctx, g, a)
	})
}

// locked runs fn in the group's turn for env: in this process (a mutex)
// and among replicas (the store's lock).
func (s *Service) locked(ctx context.Context, g Group, env string, fn func(ctx context.Context) error) error {
	key := g.Key() + " " + env
	s.mu.Lock()
	m := s.groups[key]
	if m == nil {
		m = &sync.Mutex{}
		s.groups[key] = m
	}
	s.mu.Unlock()
	m.Lock()
	defer m.Unlock()
	return s.store.WithLock(ctx, "hoist release group "+key, fn)
}

// recover finishes what a crash left unfinished.
func (s *Service) recover(ctx context.Context, g Group, env string) error {
	recs, err := s.unfinished(ctx, g, env)
	if err != nil {
		return err
	}
	for _, rec := range recs {
		zerolog.Ctx(ctx).Info().Str("promotion", rec.ID).Str("phase", rec.Phase).Msg("finishing an unfinished release group promotion")
		if err := s.carry(ctx, g, rec); err != nil {
			return err
		}
	}
	return nil
}

// promote is phase one, then phase two when every member may move.
func (s *Service) promote(ctx context.Context, g Group, a promotion.EvaluateArgs) error {
	log := zerolog.Ctx(ctx)
	rec := &Record{ID: uuid.NewString(), Group: g.Name, Key: g.Key(), Env: a.Env, Actor: a.Actor, Trigger: a.Trigger, Start: a}
	start := strings.ToLower(a.Owner + "/" + a.Repo)
	var waitUntil time.Time
	var refused, waiting []string
	moving := 0
	for _, m := range g.Members {
		// The member that asked is evaluated along its own route (a tag, a
		// candidate branch, a command); the others as an event would,
		// so a command in one repository never skips another's rules
		// beyond what its gates already allow.
		var t pipeline.Target
		trigger, actor := pipeline.TriggerEvent, ""
		if m == start {
			t = pipeline.Target{Env: a.Env, Route: pipeline.Route(a.Route), Source: a.Source, SHA: a.SHA}
			trigger, actor = pipeline.Trigger(a.Trigger), a.Actor
		}
		c, err := s.promotions.Evaluate(ctx, g.Events[m], a.Env, t, trigger, actor)
		if err != nil {
			return fmt.Errorf("release group %s: evaluate %s: %w", g.Name, m, err)
		}
		d := c.Decision
		mem := Member{Repo: m, Installation: g.Events[m].Installation, Branch: c.Env.Branch, From: d.From, To: d.SHA,
			Outcome: string(d.Outcome), Reasons: d.Reasons, Source: c.Target.Source, Route: string(c.Target.Route)}
		switch d.Outcome {
		case pipeline.OutcomePromote, pipeline.OutcomeReady:
			// Ready: every gate passes; only a person's word is missing,
			// and the member that asked gave it for the group.
			mem.State = StatePlanned
			moving++
		case pipeline.OutcomeUpToDate:
			mem.State = StateUpToDate
		case pipeline.OutcomeWait:
			mem.State = StateRefused
			waiting = append(waiting, fmt.Sprintf("%s waits: %s", m, strings.Join(d.Reasons, " ")))
			if !d.WaitUntil.IsZero() && (waitUntil.IsZero() || d.WaitUntil.Before(waitUntil)) {
				waitUntil = d.WaitUntil
			}
		default:
			mem.State = StateRefused
			refused = append(refused, fmt.Sprintf("%s: %s", m, strings.Join(d.Reasons, " ")))
		}
		rec.Members = append(rec.Members, mem)
	}
	switch {
	case len(refused) > 0:
		rec.Phase = PhaseRefused
		rec.Reason = "No member moves: " + strings.Join(append(refused, waiting...), " ")
		return s.finishRefused(ctx, g, rec)
	case len(waiting) > 0:
		// Not a failure: the member still waiting is evaluated again on
		// its own next event (or at waitUntil), and hands the group back.
		log.Info().Strs("waiting", waiting).Msg("release group waits for a member")
		if !waitUntil.IsZero() {
			return s.queue(ctx, PromoteArgs{Group: g.Name, Start: a}, &river.InsertOpts{ScheduledAt: waitUntil})
		}
		return nil
	case moving == 0:
		return nil
	}
	// A promotion of these very commits that failed and was undone is
	// not tried again by events (its own reports would start it again,
	// and it would move and move back without end); a person's command
	// or a new commit tries again.
	if t := pipeline.Trigger(a.Trigger); t != pipeline.TriggerCommand && t != pipeline.TriggerManual {
		last, err := s.latest(ctx, g, a.Env)
		if err != nil {
			return err
		}
		if last != nil && last.Phase == PhaseFailed && samePlan(last, rec) {
			log.Info().Str("promotion", last.ID).Msg("release group: these commits failed to move together before; waiting for a command or a new commit")
			return nil
		}
	}
	rec.Phase = PhaseMoving
	if err := s.save(ctx, rec); err != nil {
		return err
	}
	log.Info().Str("promotion", rec.ID).Str("audit", a.Actor).Msg("release group promotion: every member's gates pass; moving")
	return s.carry(ctx, g, rec)
}

// finishRefused records a refusal and tells every member, once per
// candidate set: the check runs it posts start evaluations again, which
// refuse the same candidates without another report.
func (s *Service) finishRefused(ctx context.Context, g Group, rec *Record) error {
	last, err := s.latest(ctx, g, rec.Env)
	if err != nil {
		return err
	}
	if last != nil && sameCandidates(last, rec) {
		return nil
	}
	if err := s.save(ctx, rec); err != nil {
		return err
	}
	zerolog.Ctx(ctx).Info().Str("promotion", rec.ID).Str("reason", rec.Reason).Msg("release group promotion refused")
	return s.report(ctx, g, rec)
}

// sameCandidates reports whether two records ended alike for the same
// commits.
func sameCandidates(a, b *Record) bool {
	if a.Phase != b.Phase || a.Reason != b.Reason || len(a.Members) != len(b.Members) {
		return false
	}
	for i := range a.Members {
		if a.Members[i].Repo != b.Members[i].Repo || a.Members[i].To != b.Members[i].To || a.Members[i].From != b.Members[i].From {
			return false
		}
	}
	return true
}

// samePlan reports whether two records move the same members between
// the same commits.
func samePlan(a, b *Record) bool {
	if len(a.Members) != len(b.Members) {
		return false
	}
	for i := range a.Members {
		if a.Members[i].Repo != b.Members[i].Repo || a.Members[i].To != b.Members[i].To || a.Members[i].From != b.Members[i].From {
			return false
		}
	}
	return true
}

// carry takes an unfinished record to its end, phase by phase, saving
// before each next step so that a crash anywhere resumes here.
func (s *Service) carry(ctx context.Context, g Group, rec *Record) error {
	for !rec.Finished() {
		var err error
		switch rec.Phase {
		case PhaseMoving:
			err = s.move(ctx, g, rec)
		case PhasePublishing:
			err = s.publish(ctx, g, rec)
		case PhaseRollingBack:
			err = s.rollBack(ctx, g, rec)
		default:
			return fmt.Errorf("release group %s: unknown phase %q of %s", rec.Group, rec.Phase, rec.ID)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// repoOf is the member's repository, read through its installation.
func (s *Service) repoOf(g Group, m Member) (*gh.Repo, error) {
	re, ok := g.Events[m.Repo]
	if !ok {
		owner, name, _ := strings.Cut(m.Repo, "/")
		re = promotion.RepoEvent{Installation: m.Installation, Owner: owner, Repo: name}
	}
	return s.configs.Repo(re)
}

// move is phase two: fast-forward each planned member with
// compare-and-swap. A branch found at To moved already (before a
// crash); at From it moves now; anywhere else someone else moved it, and
// the group must not overwrite that.
func (s *Service) move(ctx context.Context, g Group, rec *Record) error {
	log := zerolog.Ctx(ctx)
	for i := range rec.Members {
		m := &rec.Members[i]
		if m.State != StatePlanned {
			continue
		}
		repo, err := s.repoOf(g, *m)
		if err != nil {
			return err
		}
		head, err := repo.BranchHead(ctx, m.Branch)
		if err != nil && !errors.Is(err, gh.ErrNotFound) {
			return err
		}
		var failure string
		switch head {
		case m.To:
		case m.From:
			if err := repo.FastForward(ctx, m.Branch, m.To); err != nil {
				// The write may have been applied with its answer lost:
				// the branch says.
				after, rerr := repo.BranchHead(ctx, m.Branch)
				if rerr != nil && !errors.Is(rerr, gh.ErrNotFound) {
					return rerr
				}
				if after != m.To {
					failure = fmt.Sprintf("%s: moving %s to %s failed: %v", m.Repo, m.Branch, short(m.To), err)
				}
			}
		default:
			failure = fmt.Sprintf("%s: %s moved to %s while the group was promoting, so it was not moved", m.Repo, m.Branch, short(head))
		}
		if failure != "" {
			log.Warn().Str("member", m.Repo).Msg(failure)
			m.State, m.Reasons = StateFailed, []string{failure}
			rec.Phase, rec.Reason = PhaseRollingBack, failure
			return s.save(ctx, rec)
		}
		m.State = StateMoved
		if err := s.save(ctx, rec); err != nil {
			return err
		}
		log.Info().Str("member", m.Repo).Str("sha", m.To).Str("audit", rec.Actor).Msg("release group member moved")
		if s.moved != nil {
			s.moved(ctx, m.Repo)
		}
	}
	rec.Phase = PhasePublishing
	return s.save(ctx, rec)
}

// rollBack moves every moved member back to From, each only while its
// branch is still at To (never over a push that landed since), then
// reports the failure to every member.
func (s *Service) rollBack(ctx context.Context, g Group, rec *Record) error {
	log := zerolog.Ctx(ctx)
	for i := range rec.Members {
		m := &rec.Members[i]
		if m.State == StatePlanned {
			// Never moved: nothing to undo.
			m.State = StateRefused
			m.Reasons = []string{"not moved: " + rec.Reason}
			continue
		}
		if m.State != StateMoved {
			continue
		}
		repo, err := s.repoOf(g, *m)
		if err != nil {
			return err
		}
		head, err := repo.BranchHead(ctx, m.Branch)
		if err != nil && !errors.Is(err, gh.ErrNotFound) {
			return err
		}
		switch {
		case head == m.From:
			m.State = StateRestored // moved back before a crash
		case head != m.To:
			m.State = StateRestoreFailed
			m.Reasons = []string{fmt.Sprintf("%s moved on to %s after the group moved it, so it was left there: look at the branch", m.Branch, short(head))}
		case m.From == "":
			m.State = StateRestoreFailed
			m.Reasons = []string{fmt.Sprintf("%s did not exist before the group created it; delete it by hand if it should not", m.Branch)}
		default:
			// GitHub has no compare-and-swap for a move backwards; read,
			// move and read again, as /rollback does: a push in the
			// instant between is reported, never hidden.
			if err := repo.ForceMove(ctx, m.Branch, m.From); err != nil {
				return fmt.Errorf("release group %s: move %s of %s back: %w", rec.Group, m.Branch, m.Repo, err)
			}
			after, err := repo.BranchHead(ctx, m.Branch)
			if err != nil {
				return err
			}
			if after == m.From {
				m.State = StateRestored
			} else {
				m.State = StateRestoreFailed
				m.Reasons = []string{fmt.Sprintf("%s points at %s right after it was moved back to %s: someone pushed at the same moment; look at the branch", m.Branch, short(after), short(m.From))}
			}
		}
		log.Warn().Str("member", m.Repo).Str("state", m.State).Str("audit", rec.Actor).Msg("release group member moved back")
		if err := s.save(ctx, rec); err != nil {
			return err
		}
	}
	rec.Phase = PhaseFailed
	if err := s.save(ctx, rec); err != nil {
		return err
	}
	return s.report(ctx, g, rec)
}

// publish deploys every moved member, now that all have moved.
func (s *Service) publish(ctx context.Context, g Group, rec *Record) error {
	for i := range rec.Members {
		m := &rec.Members[i]
		if m.State != StateMoved {
			continue
		}
		owner, name, _ := strings.Cut(m.Repo, "/")
		re := promotion.RepoEvent{Installation: m.Installation, Owner: owner, Repo: name, Actor: rec.Actor}
		actor := rec.Actor
		if t := pipeline.Trigger(rec.Trigger); t != pipeline.TriggerCommand && t != pipeline.TriggerManual {
			actor = "hoist"
		}
		pub := promotion.Publication{Env: rec.Env, SHA: m.To, Previous: m.From, Reason: "promote", Actor: actor, Source: m.Source,
			Route: m.Route, Installation: m.Installation, Intent: "group:" + rec.ID + ":" + m.Repo}
		audit := store.AuditEntry{Repo: m.Repo, Actor: actor, Action: "promote", Env: rec.Env, SHA: m.To, Outcome: "promoted",
			Detail: map[string]any{"from": m.From, "source": m.Source, "route": m.Route, "trigger": rec.Trigger,
				"release_group": rec.Group, "group_promotion": rec.ID, "members": g.Members}}
		if err := s.promotions.PublishMove(ctx, re, pub, audit); err != nil {
			return fmt.Errorf("release group %s: publish %s: %w", rec.Group, m.Repo, err)
		}
		m.State = StatePublished
		if err := s.save(ctx, rec); err != nil {
			return err
		}
	}
	rec.Phase = PhaseDone
	if err := s.save(ctx, rec); err != nil {
		return err
	}
	return s.report(ctx, g, rec)
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
