package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// River v0.47's rescuer runs every 30 s (not configurable) and only takes
// a job running longer than jobs.rescue_after or its kind's timeout, so a
// kill -9'd replica's jobs wait 75 s to 10 min. River has no notion of a
// live client, so hoist adds one: every replica on PostgreSQL beats in
// replica_heartbeats under its River client id, and one replica at a time
// hands back the jobs whose client stopped beating. A long job on a live
// replica is never touched: the replica's beat is the job's. River's own
// rescuer stays on as the fallback (e.g. a job taken by a replica of a
// version without heartbeats, which has no row).

// heartbeatEvery is how often a replica beats and the sweep runs: well
// inside the grace (jobs.heartbeat_grace, at least 3 s), so a stalled beat
// or two does not declare a replica dead.
const heartbeatEvery = 2 * time.Second

// sweepLockKey serialises the sweep across replicas.
const sweepLockKey = "hoist:jobs:liveness-sweep"

// liveness beats for one River client and sweeps for dead ones' jobs.
type liveness struct {
	pool     *pgxpool.Pool
	clientID string
	grace    time.Duration
	every    time.Duration
	log      zerolog.Logger
	taken    *prometheus.CounterVec
}

func newLiveness(pool *pgxpool.Pool, clientID string, grace time.Duration, reg prometheus.Registerer, log zerolog.Logger) *liveness {
	if grace <= 0 {
		grace = 10 * time.Second
	}
	l := &liveness{pool: pool, clientID: clientID, grace: grace, every: min(heartbeatEvery, grace/3), log: log,
		taken: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hoist_jobs_taken_over_total",
			Help: "Jobs a replica left running when it stopped heartbeating, handed back (retried or, out of attempts, discarded).",
		}, []string{"kind", "outcome"})}
	if reg != nil {
		if err := reg.Register(l.taken); err != nil {
			log.Warn().Err(err).Msg("jobs: take-over metric not registered")
		}
	}
	return l
}

// begin records this client's start: jobs it shows as running from before
// now belong to an earlier process under the same id and are handed back
// at the next sweep. Call it before the River client fetches anything.
func (l *liveness) begin(ctx context.Context) error {
	_, err := l.pool.Exec(ctx, `INSERT INTO replica_heartbeats (client_id, started_at, beat_at) VALUES ($1, now(), now())
		ON CONFLICT (client_id) DO UPDATE SET started_at = now(), beat_at = now()`, l.clientID)
	if err != nil {
		return fmt.Errorf("jobs: record replica start: %w", err)
	}
	return nil
}

// run beats and sweeps until ctx ends.
func (l *liveness) run(ctx context.Context) {
	t := time.NewTicker(l.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := l.beat(ctx); err != nil && ctx.Err() == nil {
			l.log.Warn().Err(err).Str("client", l.clientID).Msg("jobs: heartbeat failed")
		}
		if _, err := l.sweep(ctx); err != nil && ctx.Err() == nil {
			l.log.Warn().Err(err).Msg("jobs: sweep for dead replicas' jobs failed")
		}
	}
}

func (l *liveness) beat(ctx context.Context) error {
	// An upsert: a row pruned while this replica was stalled comes back.
	_, err := l.pool.Exec(ctx, `INSERT INTO replica_heartbeats (client_id, started_at, beat_at) VALUES ($1, now(), now())
		ON CONFLICT (client_id) DO UPDATE SET beat_at = now()`, l.clientID)
	return err
}

// takenJob is one job handed back by a sweep.
type takenJob struct {
	ID      int64
	Kind    string
	Replica string
	Attempt int
	State   string
}

// sweep hands back, under a lock so that one replica at a time does it,
// every running job whose client (the last entry of attempted_by, as River
// records it) missed its beats for the grace, or took it before its
// current start. It decides as River's rescuer does, but retries at once:
// a cancel that was asked for cancels; out of attempts discards; else the
// job is available again, with the take-over recorded among its errors.
func (l *liveness) sweep(ctx context.Context) ([]takenJob, error) {
	var taken []takenJob
	err := pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error {
		var mine bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))`, sweepLockKey).Scan(&mine); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if !mine {
			return nil // another replica is sweeping now
		}
		rows, err := tx.Query(ctx, `
WITH orphans AS (
    SELECT j.id, h.client_id
    FROM river_job j
    JOIN replica_heartbeats h ON h.client_id = j.attempted_by[cardinality(j.attempted_by)]
    WHERE j.state = 'running'
      AND (h.beat_at < now() - make_interval(secs => $1) OR j.attempted_at < h.started_at)
    FOR UPDATE OF j SKIP LOCKED
)
UPDATE river_job j SET
    state = (CASE
        WHEN j.metadata ? 'cancel_attempted_at' THEN 'cancelled'
        WHEN j.attempt >= j.max_attempts THEN 'discarded'
        ELSE 'available' END)::river_job_state,
    finalized_at = CASE WHEN j.metadata ? 'cancel_attempted_at' OR j.attempt >= j.max_attempts THEN now() END,
    scheduled_at = CASE WHEN j.metadata ? 'cancel_attempted_at' OR j.attempt >= j.max_attempts THEN j.scheduled_at ELSE now() END,
    errors = array_append(j.errors, jsonb_build_object(
        'at', now(), 'attempt', greatest(j.attempt, 0),
        'error', 'replica ' || o.client_id || ' stopped heartbeating; job taken over', 'trace', ''))
FROM orphans o
WHERE j.id = o.id
RETURNING j.id, j.kind, o.client_id, j.attempt, j.state::text`, l.grace.Seconds())
		if err != nil {
			return fmt.Errorf("hand back: %w", err)
		}
		taken, err = pgx.CollectRows(rows, pgx.RowToStructByPos[takenJob])
		if err != nil {
			return fmt.Errorf("hand back: %w", err)
		}
		// Rows of replicas gone for a day say nothing any more.
		if _, err := tx.Exec(ctx, `DELETE FROM replica_heartbeats WHERE beat_at < now() - interval '1 day'`); err != nil {
			return fmt.Errorf("prune heartbeats: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: sweep: %w", err)
	}
	for _, j := range taken {
		outcome := map[string]string{"available": "retried"}[j.State]
		if outcome == "" {
			outcome = j.State
		}
		l.taken.WithLabelValues(j.Kind, outcome).Inc()
		l.log.Warn().Int64("job_id", j.ID).Str("kind", j.Kind).Str("dead_replica", j.Replica).Int("attempt", j.Attempt).
			Str("outcome", outcome).Msg("jobs: took over a job from a replica that stopped heartbeating")
	}
	return taken, nil
}
