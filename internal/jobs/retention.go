package jobs

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/riverqueue/river"
	"github.com/rs/zerolog"
)

// PruneArgs is the periodic retention job: it runs the shared pruners
// (database tables, the S3 artifact store). River's leader alone inserts
// periodic jobs and a job is worked once, so one replica prunes each time.
type PruneArgs struct{}

// Kind names the job in River's table.
func (PruneArgs) Kind() string { return "retention_prune" }

// Pruner deletes what is past its retention and returns how many things it
// deleted, by kind (e.g. "deliveries": 120).
type Pruner func(ctx context.Context) (map[string]int64, error)

type namedPruner struct {
	name string
	fn   Pruner
}

// AddPruner registers fn before Start. A shared pruner prunes state all
// replicas share (the database, an S3 bucket) and runs in the periodic job;
// a local one prunes this process's own folders (the local artifact folder,
// git mirrors) and runs on a timer in every process. Both run every
// Options.PruneEvery; with 0 nothing is pruned.
func (e *Engine) AddPruner(name string, shared bool, fn Pruner) {
	if shared {
		e.shared = append(e.shared, namedPruner{name, fn})
	} else {
		e.local = append(e.local, namedPruner{name, fn})
	}
}

// PruneNow inserts a retention job to run at once (tests, operators).
func (e *Engine) PruneNow(ctx context.Context) error {
	_, err := e.Insert(ctx, PruneArgs{}, nil)
	return err
}

// periodicPrune is the River periodic job, unique per interval so that a
// change of leader does not prune twice in one period.
func (e *Engine) periodicPrune() []*river.PeriodicJob {
	every := e.opts.PruneEvery
	if every <= 0 {
		return nil
	}
	river.AddWorker(e.workers, &pruneWorker{e: e})
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(every),
		func() (river.JobArgs, *river.InsertOpts) {
			return PruneArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: every}}
		}, &river.PeriodicJobOpts{ID: "retention_prune", RunOnStart: true})}
}

type pruneWorker struct {
	river.WorkerDefaults[PruneArgs]
	e *Engine
}

// Timeout: pruning deletes in batches that yield to intake, which can take
// long on a large database.
func (w *pruneWorker) Timeout(*river.Job[PruneArgs]) time.Duration { return 10 * time.Minute }

func (w *pruneWorker) Work(ctx context.Context, _ *river.Job[PruneArgs]) error {
	return runPruners(ctx, w.e.opts.Logger, "shared", w.e.shared)
}

// startLocalPruning runs the local pruners now and every PruneEvery until
// ctx ends.
func (e *Engine) startLocalPruning(ctx context.Context) {
	if e.opts.PruneEvery <= 0 || len(e.local) == 0 {
		return
	}
	go func() {
		t := time.NewTicker(e.opts.PruneEvery)
		defer t.Stop()
		for {
			if err := runPruners(ctx, e.opts.Logger, "local", e.local); err != nil && ctx.Err() == nil {
				e.opts.Logger.Warn().Err(err).Msg("retention: local pruning failed; retrying next period")
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// runPruners runs each pruner, even after one fails, and logs what was
// deleted under the audit key.
func runPruners(ctx context.Context, log zerolog.Logger, scope string, ps []namedPruner) error {
	start := time.Now()
	deleted := map[string]int64{}
	var errs []error
	for _, p := range ps {
		n, err := p.fn(ctx)
		for k, v := range n {
			deleted[k] += v
		}
		if err != nil {
			errs = append(errs, err)
			log.Warn().Err(err).Str("pruner", p.name).Msg("retention: pruning failed")
		}
	}
	keys := make([]string, 0, len(deleted))
	for k := range deleted {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	counts := zerolog.Dict()
	for _, k := range keys {
		counts.Int64(k, deleted[k])
	}
	log.Info().Dict("audit", zerolog.Dict().Str("actor", "hoist").Str("action", "prune").Str("scope", scope).Dict("deleted", counts)).
		Dur("took", time.Since(start)).Msg("retention: pruned")
	return errors.Join(errs...)
}
