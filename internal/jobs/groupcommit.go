package jobs

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/hoist-dev/hoist/internal/store"
)

// Group commit: webhook intake persists concurrent deliveries together.
//
// With SQLite there is one writer, and every intake transaction used to
// queue behind the others and behind the workers' writes, each paying its
// own BEGIN, statement parsing (River's job insert is one large statement)
// and COMMIT. Here concurrent Schedule and Ignore calls join a queue; the
// first caller to find no batch in progress becomes the leader, takes what
// is queued (up to maxBatch), writes all of it in one transaction (one
// multi-row delivery INSERT, one River InsertManyFastTx) and commits once.
// Callers arriving meanwhile queue up for the next batch; when the leader's
// batch is answered it hands leadership to the oldest waiting caller. No
// caller is answered before the commit that holds its delivery and job has
// returned, and a failed batch fails every caller in it.
//
// The leader writes with a context of its own (bounded by commitTimeout),
// not its request's: a sender that hangs up must not abort a transaction
// that carries other callers' deliveries.

const (
	// defaultMaxBatch bounds one group commit. Batches are as large as what
	// queued during the previous commit, so the bound matters only under a
	// burst; it keeps one transaction (and the answers it delays) short.
	defaultMaxBatch = 128
	commitTimeout   = 30 * time.Second
)

// intake is one delivery waiting for its group commit.
type intake struct {
	row store.Delivery
	job bool // enqueue the handler's job (false: recorded as ignored)
	// done receives the outcome: nil (persisted), ErrDuplicate, or the
	// batch's error.
	done chan error
	// lead is closed when this caller must commit the next batch.
	lead chan struct{}
}

type groupCommit struct {
	mu      sync.Mutex
	queue   []*intake
	leading bool // a batch is being collected or committed
	// maxBatch bounds a batch; tests lower it.
	maxBatch int
	// commit writes one batch in one transaction and reports, per intake,
	// whether it was a duplicate; an error fails the whole batch.
	commit func(ctx context.Context, batch []*intake) (duplicate []bool, err error)
	// answered is told each batch's outcome (metrics).
	answered func(batch []*intake, duplicate []bool, err error)
}

// submit queues it and returns once its batch has committed or failed.
func (g *groupCommit) submit(it *intake) error {
	it.done = make(chan error, 1)
	it.lead = make(chan struct{})
	g.mu.Lock()
	g.queue = append(g.queue, it)
	leader := !g.leading
	g.leading = true
	g.mu.Unlock()
	if !leader {
		// Followers wait for the outcome whatever their own context says:
		// once queued, the delivery may be committed, and the answer must
		// say whether it was.
		select {
		case err := <-it.done:
			return err
		case <-it.lead:
		}
	}
	g.runBatch()
	return <-it.done
}

// runBatch commits the oldest queued intakes (the leader's own is first)
// and passes leadership on.
func (g *groupCommit) runBatch() {
	g.mu.Lock()
	n := min(len(g.queue), g.maxBatch)
	batch := make([]*intake, n)
	copy(batch, g.queue)
	// Copy the rest rather than reslicing, so a long-lived backing array
	// does not keep answered intakes (and their payloads) reachable.
	g.queue = append(g.queue[:0:0], g.queue[n:]...)
	g.mu.Unlock()

	duplicate, err := g.safeCommit(batch)
	if g.answered != nil {
		g.answered(batch, duplicate, err)
	}
	for i, it := range batch {
		switch {
		case err != nil:
			it.done <- err
		case duplicate[i]:
			it.done <- ErrDuplicate
		default:
			it.done <- nil
		}
	}

	g.mu.Lock()
	if len(g.queue) == 0 {
		g.leading = false
	} else {
		close(g.queue[0].lead)
	}
	g.mu.Unlock()
}

// safeCommit runs commit and turns a panic into the batch's error, so that
// its callers are answered and leadership still passes on; a panic left to
// the HTTP server would leave every later delivery waiting for a leader.
func (g *groupCommit) safeCommit(batch []*intake) (duplicate []bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			duplicate, err = nil, fmt.Errorf("group commit of %d deliveries: panic: %v", len(batch), r)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	return g.commit(ctx, batch)
}

// commitBatch is groupCommit.commit for Deliveries: one transaction with
// every new delivery row, the jobs of those that have a handler, and the
// duplicate counts. Within a batch the first copy of an id is the
// candidate; later copies are duplicates, as are ids stored before.
func (d *Deliveries) commitBatch(ctx context.Context, batch []*intake) ([]bool, error) {
	duplicate := make([]bool, len(batch))
	first := make(map[string]int, len(batch))
	rows := make([]store.Delivery, 0, len(batch))
	for i, it := range batch {
		if _, seen := first[it.row.ID]; seen {
			duplicate[i] = true
			continue
		}
		first[it.row.ID] = i
		rows = append(rows, it.row)
	}
	err := d.store.InTx(ctx, func(tx store.Tx) error {
		inserted, err := d.store.InsertDeliveries(ctx, tx, rows)
		if err != nil {
			return err
		}
		var params []river.InsertManyParams
		var dupCounts map[string]int
		for i, it := range batch {
			if !duplicate[i] && !inserted[it.row.ID] {
				duplicate[i] = true
			}
			if duplicate[i] {
				if dupCounts == nil {
					dupCounts = map[string]int{}
				}
				dupCounts[it.row.ID]++
				continue
			}
			if it.job {
				params = append(params, river.InsertManyParams{Args: DeliveryArgs{DeliveryID: it.row.ID, Event: it.row.Event}})
			}
		}
		if _, err := d.engine.InsertManyTx(ctx, tx, params); err != nil {
			return fmt.Errorf("enqueue %d deliveries (first %s): %w", len(params), batch[0].row.ID, err)
		}
		if err := d.store.NoteDuplicates(ctx, tx, dupCounts); err != nil {
			return err
		}
		if d.beforeCommit != nil {
			return d.beforeCommit(ctx, tx, len(batch))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return duplicate, nil
}
