package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"
)

// On SQLite one hoist serve holds the database (store.Options.ServeAlone),
// so a job still `running` when it starts was left by a process that died
// (kill -9, a lost machine) and nobody will finish it. River's rescuer
// would take it only after the kind's timeout (10 minutes for a deploy or
// a fleet launch) plus up to 30 s; handBackSQLite gives such jobs back at
// start instead, as the PostgreSQL heartbeat sweep does for a restarted
// replica (liveness.go): a cancel that was asked for cancels, out of
// attempts discards, else the job is available again at once, with the
// hand-back among its errors. It goes through River's own driver (stuck
// jobs, rescue), not hand-written SQL, so the rows keep River's format.
func handBackSQLite(ctx context.Context, db *sql.DB, log zerolog.Logger) (int, error) {
	exec := riversqlite.New(db).GetExecutor()
	// Before the River client starts, every running job is an earlier
	// process's; the horizon leaves none out.
	horizon := time.Now().UTC().Add(time.Second)
	var p riverdriver.JobRescueManyParams
	var after int64
	for {
		stuck, err := exec.JobGetStuck(ctx, &riverdriver.JobGetStuckParams{AfterID: after, Max: 100, StuckHorizon: horizon})
		if err != nil {
			return 0, fmt.Errorf("jobs: running jobs of an earlier process: %w", err)
		}
		if len(stuck) == 0 {
			break
		}
		now := time.Now().UTC()
		for _, j := range stuck {
			after = max(after, j.ID)
			state, finalized := rivertype.JobStateAvailable, (*time.Time)(nil)
			var meta map[string]any
			_ = json.Unmarshal(j.Metadata, &meta)
			switch {
			case meta["cancel_attempted_at"] != nil:
				state, finalized = rivertype.JobStateCancelled, &now
			case j.Attempt >= j.MaxAttempts:
				state, finalized = rivertype.JobStateDiscarded, &now
			}
			msg, err := json.Marshal(rivertype.AttemptError{At: now, Attempt: max(j.Attempt, 0),
				Error: "hoist serve stopped while the job ran; handed back at the next start"})
			if err != nil {
				return 0, fmt.Errorf("jobs: hand back job %d: %w", j.ID, err)
			}
			p.ID = append(p.ID, j.ID)
			p.Error = append(p.Error, msg)
			p.FinalizedAt = append(p.FinalizedAt, finalized)
			p.ScheduledAt = append(p.ScheduledAt, now)
			p.State = append(p.State, string(state))
			log.Warn().Int64("job_id", j.ID).Str("kind", j.Kind).Int("attempt", j.Attempt).Str("outcome", string(state)).
				Msg("jobs: handed back a job left running by an earlier hoist serve")
		}
	}
	if len(p.ID) == 0 {
		return 0, nil
	}
	if _, err := exec.JobRescueMany(ctx, &p); err != nil {
		return 0, fmt.Errorf("jobs: hand back %d jobs of an earlier process: %w", len(p.ID), err)
	}
	return len(p.ID), nil
}
