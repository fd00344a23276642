// Package jobs runs hoist's durable jobs on River, over the same database as
// the store, and holds the go-githubapp Scheduler that turns a webhook into
// a persisted delivery plus a job in one transaction.
//
// River's Client is generic over the driver's transaction type (*sql.Tx for
// SQLite, pgx.Tx for PostgreSQL). Engine hides that behind one non-generic
// API, so the rest of hoist never names a driver:
//
//	river.AddWorker(engine.Workers(), &PromoteWorker{…}) // before Start
//	engine.Start(ctx)
//	engine.Insert(ctx, PromoteArgs{…}, nil)
//	store.InTx(ctx, func(tx store.Tx) error {            // write + job, atomically
//	        … ; _, err := engine.InsertTx(ctx, tx, args, &river.InsertOpts{ScheduledAt: soakEnds})
//	        return err
//	})
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/logging"
	"github.com/hoist-dev/hoist/internal/store"
)

// Options configure an Engine.
type Options struct {
	Store  *store.Store
	Config serverconfig.Jobs
	Logger zerolog.Logger
	// Registerer receives the job metrics; nil means none are exported.
	Registerer prometheus.Registerer
	// ClientID names this process among River clients; empty lets River
	// pick one. A stable id lets a restarted process take its leadership
	// back at once instead of waiting for the old lease to expire.
	ClientID string
	// PruneEvery is how often the retention pruners run (AddPruner); 0
	// never.
	PruneEvery time.Duration
}

// DeployTimeout bounds one attempt of a job that deploys a site: the wait
// for the environment's lease, then uploads and purges of a large site.
// Such workers return it from Timeout; River's rescuer then leaves their
// running jobs alone for that long, while the short kinds, bounded by
// jobs.timeout, are taken over from a crashed replica within about
// jobs.rescue_after.
const DeployTimeout = 10 * time.Minute

// Engine is the durable job runner. Register workers on Workers() before
// Start; insert jobs after Start.
type Engine struct {
	opts    Options
	workers *river.Workers
	client  engineClient
	running atomic.Bool
	metrics *jobMetrics
	// shared and local are the retention pruners (retention.go).
	shared, local []namedPruner
	stopLocal     context.CancelFunc
	// live beats for this replica and hands back dead ones' jobs
	// (liveness.go); nil on SQLite, which serves one replica.
	live     *liveness
	stopLive context.CancelFunc
	// recovery recovers missed deliveries periodically (recover.go).
	recovery *Recoverer
	// periodic are the capabilities' own periodic jobs (AddPeriodic).
	periodic []*river.PeriodicJob
}

// AddPeriodic adds periodic jobs of a capability (their workers
// registered too), before Start.
func (e *Engine) AddPeriodic(jobs ...*river.PeriodicJob) {
	e.periodic = append(e.periodic, jobs...)
}

// engineClient is the driver-independent part of river.Client[TTx].
type engineClient interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	StopAndCancel(ctx context.Context) error
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	InsertTx(ctx context.Context, tx store.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	InsertManyFastTx(ctx context.Context, tx store.Tx, params []river.InsertManyParams) (int, error)
	Subscribe(kinds ...river.EventKind) (<-chan *river.Event, func())
	Stopped() <-chan struct{}
	ID() string
	JobCancel(ctx context.Context, jobID int64) (*rivertype.JobRow, error)
}

// clientOf adapts river.Client[TTx]: only InsertTx needs the native tx.
type clientOf[TTx any] struct{ *river.Client[TTx] }

func (c clientOf[TTx]) InsertTx(ctx context.Context, tx store.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	native, ok := tx.Native().(TTx)
	if !ok {
		return nil, fmt.Errorf("jobs: transaction %T does not belong to this engine's database", tx.Native())
	}
	return c.Client.InsertTx(ctx, native, args, opts)
}

func (c clientOf[TTx]) InsertManyFastTx(ctx context.Context, tx store.Tx, params []river.InsertManyParams) (int, error) {
	native, ok := tx.Native().(TTx)
	if !ok {
		return 0, fmt.Errorf("jobs: transaction %T does not belong to this engine's database", tx.Native())
	}
	return c.Client.InsertManyFastTx(ctx, native, params)
}

// New applies River's own migrations, under the store's migration lock, and
// prepares an engine. When the store was opened with Migrate as its
// AlsoMigrate, they are applied already and this only checks.
func New(ctx context.Context, opts Options) (*Engine, error) {
	e := &Engine{opts: opts, workers: river.NewWorkers()}
	err := opts.Store.WithMigrationLock(ctx, func(ctx context.Context) error {
		return migrate(ctx, opts.Store, opts.Logger)
	})
	if err != nil {
		return nil, err
	}
	e.metrics = newJobMetrics(opts.Registerer, opts.Store, opts.Logger)
	return e, nil
}

// Migrate applies River's migrations; it fits store.Options.AlsoMigrate, so
// that they run under the same lock as hoist's own, right after them.
func Migrate(ctx context.Context, st *store.Store) error {
	return migrate(ctx, st, st.Logger())
}

func migrate(ctx context.Context, st *store.Store, log zerolog.Logger) error {
	switch st.Dialect() {
	case store.SQLite:
		return migrateRiver(ctx, riversqlite.New(st.SQLDB()), log)
	case store.Postgres:
		return migrateRiver(ctx, riverpgxv5.New(st.PgxPool()), log)
	}
	return fmt.Errorf("jobs: unknown database %q", st.Dialect())
}

func migrateRiver[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], log zerolog.Logger) error {
	m, err := rivermigrate.New[TTx](driver, &rivermigrate.Config{Logger: logging.Slog(log.Level(zerolog.WarnLevel))})
	if err != nil {
		return fmt.Errorf("jobs: river migrations: %w", err)
	}
	res, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return fmt.Errorf("jobs: river migrations: %w", err)
	}
	for _, v := range res.Versions {
		log.Info().Int("version", v.Version).Str("name", v.Name).Msg("applied job queue migration")
	}
	return nil
}

// Workers is where job workers are registered, before Start:
// river.AddWorker(engine.Workers(), w).
func (e *Engine) Workers() *river.Workers { return e.workers }

// Start begins working jobs.
func (e *Engine) Start(ctx context.Context) error {
	if e.client != nil {
		return errors.New("jobs: engine started twice")
	}
	c := e.opts.Config
	failures := &failureLog{log: e.opts.Logger.With().Str("component", "jobs").Logger()}
	cfg := &river.Config{
		ID:                   e.opts.ClientID,
		Logger:               logging.Slog(e.opts.Logger.With().Str("component", "river").Logger().Level(maxLevel(e.opts.Logger.GetLevel(), zerolog.WarnLevel))),
		Workers:              e.workers,
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: c.Workers}},
		MaxAttempts:          c.MaxAttempts,
		JobTimeout:           c.Timeout,
		RescueStuckJobsAfter: c.RescueAfter,
		FetchPollInterval:    c.PollInterval,
		// A fetch claims at most one job per free worker, and fetches are
		// at least FetchCooldown apart, so workers/FetchCooldown bounds
		// jobs per second: River's 100 ms default held ten workers to 100
		// jobs/s, a tenth of what intake accepts. 10 ms lifts that bound
		// to 1,000 jobs/s; a fetch only runs when slots are free and the
		// previous one came back full, so an idle queue costs nothing more.
		FetchCooldown: min(10*time.Millisecond, c.PollInterval),
		// Completed jobs are kept a day for inspection; the deliveries
		// table is the long-lived record.
		CompletedJobRetentionPeriod: 24 * time.Hour,
		PeriodicJobs:                append(append(e.periodicPrune(), e.periodicRecovery()...), e.periodic...),
		// failureLog wraps the rate-limit snooze so that it sees what the
		// job finally returns.
		ErrorHandler: failures,
		Middleware:   []rivertype.Middleware{failures, &snoozeRateLimited{log: e.opts.Logger, now: time.Now}},
	}
	switch e.opts.Store.Dialect() {
	case store.SQLite:
		if e.opts.Store.ServesAlone() {
			if _, err := handBackSQLite(ctx, e.opts.Store.SQLDB(), e.opts.Logger.With().Str("component", "jobs").Logger()); err != nil {
				return err
			}
		}
		client, err := river.NewClient(riversqlite.New(e.opts.Store.SQLDB()), cfg)
		if err != nil {
			return fmt.Errorf("jobs: %w", err)
		}
		e.client = clientOf[*sql.Tx]{client}
	case store.Postgres:
		client, err := river.NewClient(riverpgxv5.New(e.opts.Store.PgxPool()), cfg)
		if err != nil {
			return fmt.Errorf("jobs: %w", err)
		}
		e.client = clientOf[pgx.Tx]{client}
		e.live = newLiveness(e.opts.Store.PgxPool(), client.ID(), c.HeartbeatGrace, e.opts.Registerer,
			e.opts.Logger.With().Str("component", "jobs").Logger())
		if err := e.live.begin(ctx); err != nil {
			return err
		}
	}
	events, cancel := e.client.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled, river.EventKindJobSnoozed)
	go func() {
		defer cancel()
		for ev := range events {
			e.metrics.observe(ev)
		}
	}()
	if err := e.client.Start(ctx); err != nil {
		return fmt.Errorf("jobs: start: %w", err)
	}
	e.running.Store(true)
	if e.live != nil {
		// Beats go on through Stop's grace, while jobs still finish here,
		// whatever happens to ctx; Stop ends them.
		livectx, stopLive := context.WithCancel(context.WithoutCancel(ctx))
		e.stopLive = stopLive
		go e.live.run(livectx)
	}
	lctx, cancel := context.WithCancel(ctx)
	e.stopLocal = cancel
	e.startLocalPruning(lctx)
	return nil
}

func maxLevel(a, b zerolog.Level) zerolog.Level {
	if a > b {
		return a
	}
	return b
}

// Running reports whether workers are working jobs: false before Start,
// from the moment Stop begins, and when River's client stopped on its own.
func (e *Engine) Running() bool {
	if !e.running.Load() {
		return false
	}
	select {
	case <-e.client.Stopped():
		return false
	default:
		return true
	}
}

// Stop lets running jobs finish for up to grace, then cancels the rest
// (their work contexts end and River records them for retry). Jobs not yet
// started stay queued for the next start.
func (e *Engine) Stop(ctx context.Context, grace time.Duration) error {
	if e.client == nil || !e.running.Swap(false) {
		return nil
	}
	if e.stopLocal != nil {
		e.stopLocal()
	}
	if e.stopLive != nil {
		// After the client stopped: a job it could not hand back is
		// taken over by the others once the beats are past the grace.
		defer e.stopLive()
	}
	gctx, cancel := context.WithTimeout(ctx, grace)
	defer cancel()
	err := e.client.Stop(gctx)
	if err == nil {
		return nil
	}
	e.opts.Logger.Warn().Dur("grace", grace).Msg("jobs still running after the shutdown grace period; cancelling them, they will be retried")
	cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer ccancel()
	if err := e.client.StopAndCancel(cctx); err != nil {
		return fmt.Errorf("jobs: stop: %w", err)
	}
	return nil
}

// Insert enqueues a job on its own.
func (e *Engine) Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	if e.client == nil {
		return nil, errors.New("jobs: insert before the engine started")
	}
	return e.client.Insert(ctx, args, opts)
}

// Cancel cancels a job that has not run yet (a timer no longer wanted);
// a job already finished is left as it is.
func (e *Engine) Cancel(ctx context.Context, id int64) error {
	if e.client == nil {
		return errors.New("jobs: cancel before the engine started")
	}
	if _, err := e.client.JobCancel(ctx, id); err != nil && !errors.Is(err, river.ErrNotFound) {
		return fmt.Errorf("jobs: cancel job %d: %w", id, err)
	}
	return nil
}

// InsertTx enqueues a job as part of tx: the job exists if and only if tx
// commits. Use ScheduledAt in opts for durable timers (soak periods).
func (e *Engine) InsertTx(ctx context.Context, tx store.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	if e.client == nil {
		return nil, errors.New("jobs: insert before the engine started")
	}
	return e.client.InsertTx(ctx, tx, args, opts)
}

// InsertManyTx enqueues several jobs as part of tx with one statement, and
// returns how many it inserted. It uses River's InsertManyFastTx, which
// does not return the rows: hoist's callers need none, and skipping them
// saves work on the hot path. River unique-job options are not supported
// here (a conflict fails the whole insert).
func (e *Engine) InsertManyTx(ctx context.Context, tx store.Tx, params []river.InsertManyParams) (int, error) {
	if e.client == nil {
		return 0, errors.New("jobs: insert before the engine started")
	}
	if len(params) == 0 {
		return 0, nil
	}
	return e.client.InsertManyFastTx(ctx, tx, params)
}

// CompleteTx marks the running job complete as part of tx, so the job's
// effects written in tx and its completion commit together: if the process
// dies before the commit, neither happened and the job runs again; after
// it, the job is done and never runs again. Call it from a worker's Work.
func CompleteTx[T river.JobArgs](ctx context.Context, tx store.Tx, job *river.Job[T]) error {
	var err error
	switch native := tx.Native().(type) {
	case *sql.Tx:
		_, err = river.JobCompleteTx[*riversqlite.Driver](ctx, native, job)
	case pgx.Tx:
		_, err = river.JobCompleteTx[*riverpgxv5.Driver](ctx, native, job)
	default:
		err = fmt.Errorf("unsupported transaction %T", native)
	}
	if err != nil {
		return fmt.Errorf("jobs: complete job %d in transaction: %w", job.ID, err)
	}
	return nil
}

// QueueDepth counts jobs waiting to run (available, scheduled, retrying).
func (e *Engine) QueueDepth(ctx context.Context) (int, error) {
	return queueDepth(ctx, e.opts.Store)
}

func queueDepth(ctx context.Context, st *store.Store) (int, error) {
	var n int
	err := st.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE state IN ('available', 'scheduled', 'retryable')`).Scan(&n)
	return n, err
}

// Registerer is where the capabilities that run on this engine register
// their metrics; nil when none are exported.
func (e *Engine) Registerer() prometheus.Registerer { return e.opts.Registerer }
