package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/logging"
	"github.com/hoist-dev/hoist/internal/store"
)

// HookDeliveries is the part of GitHub's API that recovery uses: the
// App's webhook delivery log. go-github's AppsService of a client that
// authenticates as the App (its JWT) is one.
type HookDeliveries interface {
	ListHookDeliveries(ctx context.Context, opts *github.ListCursorOptions) ([]*github.HookDelivery, *github.Response, error)
	RedeliverHookDelivery(ctx context.Context, deliveryID int64) (*github.HookDelivery, *github.Response, error)
}

// RecoverOptions configure the recovery of missed deliveries.
type RecoverOptions struct {
	// App returns the App's delivery log API; called once per run, so a
	// fresh JWT signs each run.
	App func() (HookDeliveries, error)
	// Window is how far back a periodic run looks; MaxPerRun bounds the
	// redeliveries one run asks for.
	Window    time.Duration
	MaxPerRun int
	// Every is how often the periodic job runs (EnableRecovery); it also
	// runs when the engine starts.
	Every time.Duration
	// Lease is how long a claimed, not yet asked GUID is left to the
	// process that claimed it before another may ask (default 10m).
	Lease time.Duration
	// PerPage is how many log entries one list request asks for (default
	// 100, GitHub's most).
	PerPage int
	// MaxTries bounds how often one GUID is asked for (default 3): a
	// request GitHub refused, or one it accepted whose redelivered attempt
	// failed too, is asked again until then. RetryAfter is the first wait
	// before asking again (default Every, else 5m); it doubles each time.
	MaxTries   int
	RetryAfter time.Duration
	Logger     zerolog.Logger
	Registerer prometheus.Registerer
	Now        func() time.Time
}

// Recoverer finds webhook deliveries GitHub could not deliver to hoist
// (hoist was down, or answered an error before storing them) and asks
// GitHub to redeliver them. The redelivery goes through normal intake,
// where its delivery id, the GUID, is the key that makes it count once.
type Recoverer struct {
	st        *store.Store
	opts      RecoverOptions
	log       zerolog.Logger
	recovered prometheus.Counter
	runs      *prometheus.CounterVec
	retries   *prometheus.CounterVec
	gaveUp    prometheus.Counter
}

// NewRecoverer prepares recovery over st, registering its metrics.
func NewRecoverer(st *store.Store, opts RecoverOptions) *Recoverer {
	if opts.Lease <= 0 {
		opts.Lease = 10 * time.Minute
	}
	if opts.PerPage <= 0 {
		opts.PerPage = 100
	}
	if opts.MaxPerRun <= 0 {
		opts.MaxPerRun = 100
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxTries <= 0 {
		opts.MaxTries = 3
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = cmp.Or(opts.Every, 5*time.Minute)
	}
	r := &Recoverer{st: st, opts: opts, log: opts.Logger.With().Str("component", "delivery-recovery").Logger(),
		recovered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hoist_deliveries_recovered_total",
			Help: "Missed webhook deliveries (every attempt failed, not stored by hoist) that GitHub accepted to redeliver.",
		}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hoist_delivery_recovery_runs_total", Help: "Runs of the recovery of missed deliveries, by result (ok, error).",
		}, []string{"result"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hoist_delivery_redelivery_retries_total",
			Help: "Redeliveries asked for again, by why: request_failed (GitHub did not accept the last request), redelivery_failed (it did, and the redelivered attempt failed too).",
		}, []string{"reason"}),
		gaveUp: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hoist_delivery_redeliveries_given_up_total",
			Help: "Missed deliveries hoist stopped asking GitHub to redeliver after recover_deliveries' most tries.",
		}),
	}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(r.recovered, r.runs, r.retries, r.gaveUp)
	}
	return r
}

// MissedDelivery is a GUID none of whose attempts succeeded, as the
// delivery log shows it.
type MissedDelivery struct {
	GUID string
	// AttemptID is the newest attempt, the one redelivered.
	AttemptID      int64
	Event, Action  string
	InstallationID int64
	RepositoryID   int64
	// First is when the first attempt listed was made; Attempts how many
	// were listed, LastStatus what the newest one says.
	First      time.Time
	Attempts   int
	LastStatus string
	// Err is why asking for it failed (Report.Failed).
	Err error
	// Tries is how often hoist asked for it before this run; Retry says
	// why it is asked again ("request_failed", "redelivery_failed"), empty
	// for a first request.
	Tries int
	Retry string
	// firstID is the oldest attempt's id: GitHub's ids grow with time, so
	// it orders GUIDs by when GitHub first sent them.
	firstID int64
}

// Report is what one run found and did.
type Report struct {
	Since  time.Time
	DryRun bool
	// Pages and Attempts are what was listed; GUIDs how many events they
	// were attempts of.
	Pages, Attempts, GUIDs int
	// Succeeded GUIDs had a successful attempt; Stored ones failed at
	// GitHub but hoist has them (it stored them and then failed to
	// answer); AskedBefore were asked for by an earlier run or another
	// replica.
	Succeeded, Stored, AskedBefore int
	// Missed are the rest, oldest first: what a run asks for.
	Missed []MissedDelivery
	// Asked are those GitHub accepted to redeliver in this run; Failed
	// those it could not be asked for; Deferred were left for the next
	// run by MaxPerRun or a rate limit.
	Asked, Failed []MissedDelivery
	Deferred      int
	// GaveUp are missed GUIDs asked for MaxTries times already, which
	// hoist asks for no more.
	GaveUp int
}

// Run looks at the App's deliveries since now-window and, unless dryRun,
// asks GitHub to redeliver the missed ones, oldest first, at most
// MaxPerRun, each GUID once across runs and replicas. Replicas sharing
// PostgreSQL take turns (an advisory lock); the per-GUID claim in the
// store is what makes a GUID asked for once even so.
func (r *Recoverer) Run(ctx context.Context, window time.Duration, dryRun bool) (rep Report, err error) {
	defer func() {
		result := "ok"
		if err != nil {
			result = "error"
		}
		if !dryRun {
			r.runs.WithLabelValues(result).Inc()
		}
	}()
	err = r.st.WithLock(ctx, "hoist:recover-deliveries", func(ctx context.Context) error {
		var err error
		rep, err = r.run(ctx, window, dryRun)
		return err
	})
	return rep, err
}

func (r *Recoverer) run(ctx context.Context, window time.Duration, dryRun bool) (Report, error) {
	start := r.opts.Now()
	rep := Report{Since: start.Add(-window), DryRun: dryRun}
	api, err := r.opts.App()
	if err != nil {
		return rep, fmt.Errorf("recover deliveries: app client: %w", err)
	}
	groups, err := r.list(ctx, api, &rep)
	if err != nil {
		return rep, err
	}
	var failed []string
	for guid, m := range groups {
		if m == nil {
			rep.Succeeded++
			continue
		}
		failed = append(failed, guid)
	}
	known, err := r.st.KnownDeliveries(ctx, failed)
	if err != nil {
		return rep, fmt.Errorf("recover deliveries: %w", err)
	}
	states, err := r.st.RedeliveryStates(ctx, failed)
	if err != nil {
		return rep, fmt.Errorf("recover deliveries: %w", err)
	}
	for _, guid := range failed {
		st, requested := states[guid]
		switch {
		case known[guid]:
			rep.Stored++
		case !requested:
			rep.Missed = append(rep.Missed, *groups[guid])
		case st.GaveUp:
			rep.GaveUp++
		case st.RetryAt == nil:
			// Asked before retries were kept, or claimed: a claim whose
			// process died is taken over after the lease.
			if !st.Asked && st.ClaimedAt.Before(start.Add(-r.opts.Lease)) {
				rep.Missed = append(rep.Missed, *groups[guid])
			} else {
				rep.AskedBefore++
			}
		case start.Before(*st.RetryAt):
			rep.AskedBefore++ // waiting for its retry
		case st.Tries >= r.opts.MaxTries:
			rep.GaveUp++
			if dryRun {
				continue
			}
			first, err := r.st.GiveUpRedelivery(ctx, guid)
			if err != nil {
				return rep, fmt.Errorf("recover deliveries: %w", err)
			}
			if first {
				r.gaveUp.Inc()
				m := groups[guid]
				r.log.Error().Str(logging.KeyDelivery, guid).Str(logging.KeyEvent, m.Event).Int("tries", st.Tries).Str("last_status", m.LastStatus).
					Str("last_error", st.LastError).Msg("gave up asking GitHub to redeliver a missed delivery; redeliver it by hand once hoist can receive it")
			}
		default:
			m := *groups[guid]
			m.Tries, m.Retry = st.Tries, "redelivery_failed"
			if st.LastError != "" {
				m.Retry = "request_failed"
			}
			rep.Missed = append(rep.Missed, m)
		}
	}
	// Oldest first, so that a repository's pushes arrive in the order they
	// were made.
	sort.Slice(rep.Missed, func(i, j int) bool { return rep.Missed[i].firstID < rep.Missed[j].firstID })
	if dryRun {
		return rep, nil
	}
	for i, m := range rep.Missed {
		if len(rep.Asked) >= r.opts.MaxPerRun {
			rep.Deferred = len(rep.Missed) - i
			break
		}
		if ctx.Err() != nil {
			rep.Deferred = len(rep.Missed) - i
			return rep, ctx.Err()
		}
		var ok bool
		var err error
		if m.Retry == "" {
			ok, err = r.st.ClaimRedelivery(ctx, m.GUID, m.AttemptID, m.Event, r.opts.Lease)
		} else {
			ok, err = r.st.ClaimRedeliveryRetry(ctx, m.GUID, m.AttemptID, m.Tries)
		}
		if err != nil {
			return rep, fmt.Errorf("recover deliveries: %w", err)
		}
		if !ok {
			rep.AskedBefore++ // another replica or the command took it
			continue
		}
		// The App client paces writes (internal/gh): one at a time, at
		// most github.writes_per_minute.
		_, _, err = api.RedeliverHookDelivery(ctx, m.AttemptID)
		if m.Retry != "" {
			r.retries.WithLabelValues(m.Retry).Inc()
		}
		retryAt := r.retryAt(m.Tries + 1)
		var accepted *github.AcceptedError
		if err != nil && !errors.As(err, &accepted) {
			if rerr := r.st.RedeliveryFailed(context.WithoutCancel(ctx), m.GUID, err.Error(), retryAt); rerr != nil {
				r.log.Warn().Err(rerr).Str(logging.KeyDelivery, m.GUID).Msg("could not record a failed redelivery request; another run takes it over after the lease")
			}
			m.Err = err
			rep.Failed = append(rep.Failed, m)
			r.log.Warn().Err(err).Str(logging.KeyDelivery, m.GUID).Str(logging.KeyEvent, m.Event).Int64("attempt_id", m.AttemptID).
				Int("try", m.Tries+1).Int("max_tries", r.opts.MaxTries).Time("retry_at", retryAt).
				Msg("GitHub did not accept a redelivery; a later run asks again")
			if _, limited := RetryAt(err); limited {
				rep.Deferred = len(rep.Missed) - i - 1
				break
			}
			continue
		}
		if err := r.st.RedeliveryAsked(context.WithoutCancel(ctx), m.GUID, retryAt); err != nil {
			// Asked but not recorded: after the lease a run may ask again,
			// and intake takes the second copy as a duplicate.
			r.log.Warn().Err(err).Str(logging.KeyDelivery, m.GUID).Msg("could not record a redelivery request")
		}
		r.recovered.Inc()
		rep.Asked = append(rep.Asked, m)
		r.log.Info().Str(logging.KeyDelivery, m.GUID).Str(logging.KeyEvent, m.Event).Str("action", m.Action).
			Int64(logging.KeyInstallation, m.InstallationID).Int64("attempt_id", m.AttemptID).Str("last_status", m.LastStatus).
			Int("try", m.Tries+1).Str("retry", m.Retry).
			Dict(logging.KeyAudit, zerolog.Dict().Str("actor", "hoist").Str("action", "redeliver")).
			Msg("asked GitHub to redeliver a missed delivery")
	}
	ev := r.log.Info()
	if len(rep.Asked) == 0 && len(rep.Failed) == 0 {
		ev = r.log.Debug()
	}
	ev.Int("pages", rep.Pages).Int("attempts", rep.Attempts).Int("guids", rep.GUIDs).Int("succeeded", rep.Succeeded).
		Int("stored", rep.Stored).Int("asked_before", rep.AskedBefore).Int("asked", len(rep.Asked)).
		Int("failed", len(rep.Failed)).Int("deferred", rep.Deferred).Int("gave_up", rep.GaveUp).Dur("took", r.opts.Now().Sub(start)).
		Msg("delivery recovery run")
	return rep, nil
}

// retryAt is when a GUID asked for tries times may be asked again if it is
// still missing: RetryAfter, doubled for each further try, counted from
// now. Half a RetryAfter is taken off because the periodic runs start
// RetryAfter apart and this is measured from within one: without it, the
// run meant to retry would find it not yet due and leave it one more
// period. After the last try it is when hoist gives up on it.
func (r *Recoverer) retryAt(tries int) time.Time {
	wait := r.opts.RetryAfter << min(max(tries-1, 0), 16)
	return r.opts.Now().Add(wait - r.opts.RetryAfter/2)
}

// maxPages bounds one run's listing: 1,000 pages of 100 is more than a
// busy App's 3 days of log.
const maxPages = 1000

// list reads the delivery log, newest first, following the cursor until
// an attempt older than rep.Since, and groups the attempts by GUID: nil
// for a GUID with a successful attempt, else what was missed.
func (r *Recoverer) list(ctx context.Context, api HookDeliveries, rep *Report) (map[string]*MissedDelivery, error) {
	groups := map[string]*MissedDelivery{}
	opts := &github.ListCursorOptions{PerPage: r.opts.PerPage}
	for rep.Pages < maxPages {
		items, resp, err := api.ListHookDeliveries(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("recover deliveries: list page %d: %w", rep.Pages+1, err)
		}
		rep.Pages++
		older := false
		for _, it := range items {
			at := it.GetDeliveredAt().Time
			if at.Before(rep.Since) {
				older = true
				continue
			}
			rep.Attempts++
			guid := it.GetGUID()
			m, seen := groups[guid]
			if !seen {
				rep.GUIDs++
				m = &MissedDelivery{GUID: guid, AttemptID: it.GetID(), Event: it.GetEvent(), Action: it.GetAction(),
					InstallationID: it.GetInstallationID(), RepositoryID: it.GetRepositoryID(), LastStatus: it.GetStatus()}
				groups[guid] = m
			}
			if succeeded(it) {
				groups[guid] = nil
				continue
			}
			if m == nil {
				continue // succeeded on another attempt
			}
			m.Attempts++
			if m.First.IsZero() || at.Before(m.First) {
				m.First = at
			}
			if m.firstID == 0 || it.GetID() < m.firstID {
				m.firstID = it.GetID()
			}
		}
		if older || resp == nil || resp.Cursor == "" {
			return groups, nil
		}
		opts.Cursor = resp.Cursor
	}
	r.log.Warn().Int("pages", rep.Pages).Msg("delivery recovery stopped listing after the most pages one run reads")
	return groups, nil
}

// succeeded reports whether an attempt reached the receiver and was
// answered with success. GitHub's status "OK" is what its own guide to
// redelivering failed deliveries checks; a 2xx code says the same.
func succeeded(d *github.HookDelivery) bool {
	code := d.GetStatusCode()
	return d.GetStatus() == "OK" || code >= 200 && code < 300
}

// RecoverArgs is the periodic job that recovers missed deliveries.
type RecoverArgs struct{}

// Kind names the job in River's table.
func (RecoverArgs) Kind() string { return "recover_deliveries" }

// recoverUnique keeps one recovery job queued or running at a time,
// whichever replica inserts it; a finished one does not block the next.
var recoverUnique = river.UniqueOpts{ByState: []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
	rivertype.JobStateRetryable, rivertype.JobStateScheduled,
}}

type recoverWorker struct {
	river.WorkerDefaults[RecoverArgs]
	r *Recoverer
}

// Timeout lets a run ask for max_per_run redeliveries at the paced rate
// (one a second after a burst), longer than a delivery's job may take.
func (w *recoverWorker) Timeout(*river.Job[RecoverArgs]) time.Duration { return 30 * time.Minute }

func (w *recoverWorker) Work(ctx context.Context, _ *river.Job[RecoverArgs]) error {
	if _, err := w.r.Run(ctx, w.r.opts.Window, false); err != nil && ctx.Err() == nil {
		// Not retried by River: the next period is the retry, and a
		// GitHub that cannot be reached should not pile up attempts.
		w.r.log.Warn().Err(err).Msg("delivery recovery failed; the next run tries again")
	}
	return nil
}

// EnableRecovery registers the recovery job on e, before Start: it runs
// when the engine starts and every r's Every (when positive).
func (e *Engine) EnableRecovery(r *Recoverer) {
	river.AddWorker(e.workers, &recoverWorker{r: r})
	e.recovery = r
}

// RecoverNow inserts a recovery job to run at once, unless one is queued
// or running already.
func (e *Engine) RecoverNow(ctx context.Context) error {
	_, err := e.Insert(ctx, RecoverArgs{}, &river.InsertOpts{UniqueOpts: recoverUnique})
	return err
}

func (e *Engine) periodicRecovery() []*river.PeriodicJob {
	if e.recovery == nil || e.recovery.opts.Every <= 0 {
		return nil
	}
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(e.recovery.opts.Every),
		func() (river.JobArgs, *river.InsertOpts) {
			return RecoverArgs{}, &river.InsertOpts{UniqueOpts: recoverUnique}
		}, &river.PeriodicJobOpts{ID: "recover_deliveries", RunOnStart: true})}
}
