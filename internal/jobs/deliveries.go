package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"

	"github.com/palantir/go-githubapp/githubapp"
	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/logging"
	"github.com/hoist-dev/hoist/internal/store"
)

// DeliveryArgs is the job that runs the handler of one persisted webhook
// delivery. It carries only the id: the payload lives once, in the
// deliveries table.
type DeliveryArgs struct {
	DeliveryID string `json:"delivery_id"`
	Event      string `json:"event"`
}

// Kind names the job in River's table.
func (DeliveryArgs) Kind() string { return "github_delivery" }

// ErrDuplicate is returned by Schedule and Ignore for a delivery id that was
// seen before; the caller answers 200 and does nothing else.
var ErrDuplicate = errors.New("delivery already received")

// Deliveries is the durable path of a webhook: it implements
// githubapp.Scheduler by writing the delivery and its job in one
// transaction before the dispatcher answers, and runs the event handlers in
// River workers afterwards.
type Deliveries struct {
	engine   *Engine
	store    *store.Store
	handlers *Router
	log      zerolog.Logger
	intake   groupCommit
	// beforeCommit, when set (tests), runs last in each batch's
	// transaction; an error rolls the batch back.
	beforeCommit func(ctx context.Context, tx store.Tx, n int) error
}

var _ githubapp.Scheduler = (*Deliveries)(nil)

// NewDeliveries registers the delivery worker on engine (call before
// Start); the worker runs each delivery's handler as handlers routes it.
func NewDeliveries(engine *Engine, handlers *Router) *Deliveries {
	d := &Deliveries{engine: engine, store: engine.opts.Store, handlers: handlers, log: engine.opts.Logger}
	d.intake = groupCommit{maxBatch: defaultMaxBatch, commit: d.commitBatch, answered: d.answered}
	river.AddWorker(engine.Workers(), &deliveryWorker{d: d})
	return d
}

// payloadMeta is what intake reads from a payload to index the delivery;
// the handler does the full, typed parse later.
type payloadMeta struct {
	Action       string `json:"action"`
	Installation struct {
		ID int64 `json:"id"`
	} `json:"installation"`
	Repository struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
}

func readMeta(payload []byte) payloadMeta {
	var m payloadMeta
	// A field of an unexpected type leaves the rest filled in; the
	// handler's own parse decides whether the payload is usable.
	_ = json.Unmarshal(payload, &m)
	return m
}

// Schedule persists the delivery and its job in one transaction, shared with
// the deliveries that arrive at the same time (see groupCommit). When it
// returns nil the delivery is durable and the dispatcher may answer 202;
// ErrDuplicate means the id was stored before (or earlier in the same
// batch) and that record is durable.
func (d *Deliveries) Schedule(ctx context.Context, dispatch githubapp.Dispatch) error {
	return d.persist(ctx, dispatch.EventType, dispatch.DeliveryID, dispatch.Payload, true)
}

// Ignore records a delivery no handler wants, so it is visible and a
// redelivery is recognised.
func (d *Deliveries) Ignore(ctx context.Context, event, deliveryID string, payload []byte) error {
	return d.persist(ctx, event, deliveryID, payload, false)
}

// Rejected counts a delivery refused before it was persisted, after its
// signature verified.
func (d *Deliveries) Rejected(event, reason string) {
	d.count(event, "rejected", reason)
}

// RejectedUnverified counts a request refused before its signature
// verified. Nothing it sent is believed, so its event header is not used:
// the event label is "unverified".
func (d *Deliveries) RejectedUnverified(reason string) {
	d.engine.metrics.delivery(UnverifiedEvent, "rejected", reason)
}

// Event labels that are not event names.
const (
	// UnverifiedEvent labels requests refused before their signature
	// verified.
	UnverifiedEvent = "unverified"
	// OtherEvent labels every event hoist has no handler for.
	OtherEvent = "other"
)

// EventLabel maps an event name to a metric label from a fixed set: the
// events some handler takes, ping, and "other" for the rest. A header
// value never becomes a label as it is, so a stranger cannot grow the
// series without bound or panic the registry with invalid UTF-8.
func (d *Deliveries) EventLabel(event string) string {
	if _, ok := d.handlers.Handler(event); ok || event == "ping" {
		return event
	}
	return OtherEvent
}

// count counts one delivery outcome under its bounded event label.
func (d *Deliveries) count(event, outcome, reason string) {
	d.engine.metrics.delivery(d.EventLabel(event), outcome, reason)
}

func (d *Deliveries) persist(ctx context.Context, event, id string, payload []byte, handled bool) error {
	if !json.Valid(payload) {
		d.Rejected(event, "invalid_json")
		return githubapp.ValidationError{EventType: event, DeliveryID: id, Cause: errors.New("payload is not valid JSON")}
	}
	meta := readMeta(payload)
	row := store.Delivery{
		ID: id, Event: event, Action: meta.Action, InstallationID: meta.Installation.ID,
		Repo: meta.Repository.FullName, Payload: payload, Status: store.StatusQueued,
	}
	if !handled {
		row.Status, row.Reason = store.StatusIgnored, "no handler for event "+event
	}
	err := d.intake.submit(&intake{row: row, job: handled})
	if err != nil && !errors.Is(err, ErrDuplicate) {
		return fmt.Errorf("persist delivery %s: %w", id, err)
	}
	return err
}

// answered counts the outcome of each delivery of a batch.
func (d *Deliveries) answered(batch []*intake, duplicate []bool, err error) {
	if err == nil {
		d.engine.metrics.batch.Observe(float64(len(batch)))
	}
	for i, it := range batch {
		switch {
		case err != nil:
			d.count(it.row.Event, "rejected", "store_error")
		case duplicate[i]:
			d.count(it.row.Event, "duplicate", "")
		case it.job:
			d.count(it.row.Event, "accepted", "")
		default:
			d.count(it.row.Event, "ignored", "")
		}
	}
}

// permanentError marks a failure that retrying cannot fix.
type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// Permanent marks err as a failure that retrying cannot fix (a payload that
// does not parse, for example): the delivery is recorded as failed with
// err as the reason and its job is not retried.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

type completionsKey struct{}

type completions struct {
	mu  sync.Mutex
	fns []func(ctx context.Context, tx store.Tx) error
}

// OnComplete registers fn to run inside the transaction that records the
// handler's success (the delivery's status moves to handled by
// compare-and-swap). Writes made there happen exactly once per delivery
// even if the process dies at any moment: either the transaction commits
// (effect recorded, delivery handled; a later run of the job does nothing)
// or it does not (neither, and the job runs again). Effects outside the
// database (GitHub API calls) are at-least-once and must be idempotent
// themselves, e.g. a compare-and-swap ref update. Outside a delivery job,
// OnComplete reports an error.
func OnComplete(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	c, ok := ctx.Value(completionsKey{}).(*completions)
	if !ok {
		return errors.New("jobs: OnComplete outside a delivery job")
	}
	c.mu.Lock()
	c.fns = append(c.fns, fn)
	c.mu.Unlock()
	return nil
}

var errFinishedElsewhere = errors.New("delivery finished by another run")

type deliveryWorker struct {
	river.WorkerDefaults[DeliveryArgs]
	d *Deliveries
}

func (w *deliveryWorker) Work(ctx context.Context, job *river.Job[DeliveryArgs]) error {
	d := w.d
	id := job.Args.DeliveryID
	// Status writes must land even when shutdown cancels the job's context.
	bg := context.WithoutCancel(ctx)
	row, err := d.store.GetDelivery(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return river.JobCancel(fmt.Errorf("delivery %s vanished from the store", id))
	}
	if err != nil {
		return err
	}
	log := d.log.With().Str(logging.KeyDelivery, id).Str(logging.KeyEvent, row.Event).
		Str(logging.KeyRepo, row.Repo).Int64(logging.KeyInstallation, row.InstallationID).
		Int("attempt", job.Attempt).Logger()
	if row.Status == store.StatusHandled || row.Status == store.StatusFailed {
		log.Debug().Str("status", row.Status).Msg("delivery already finished")
		return nil
	}
	h, ok := d.handlers.Handler(row.Event)
	if !ok {
		// The handler was removed by an upgrade while the job waited.
		d.count(row.Event, "ignored", "")
		return d.store.SetDeliveryStatus(bg, nil, id, store.StatusIgnored, "no handler for event "+row.Event, job.Attempt-1)
	}
	comp := &completions{}
	hctx := context.WithValue(log.WithContext(ctx), completionsKey{}, comp)
	err = runHandler(hctx, h, row)
	switch {
	case err == nil:
		// The delivery's status is the record that the handler's work is
		// done: the effects registered with OnComplete commit in the same
		// transaction as the compare-and-swap to handled, and a later run
		// of this job (after a crash, before River recorded the job
		// complete) sees handled above and does nothing. River's completer
		// then marks the job completed in a batch with others, instead of
		// a completion statement inside every job's own transaction.
		finished := false
		err = d.store.InTx(ctx, func(tx store.Tx) error {
			ok, err := d.store.FinishDelivery(ctx, tx, id, store.StatusHandled, "", job.Attempt)
			if err != nil {
				return err
			}
			if !ok {
				finished = true
				return errFinishedElsewhere // roll back: another run recorded its outcome
			}
			for _, fn := range comp.fns {
				if err := fn(ctx, tx); err != nil {
					return fmt.Errorf("completion of delivery %s: %w", id, err)
				}
			}
			return nil
		})
		if finished {
			log.Warn().Msg("delivery finished by another run of its job; this run's effects are discarded")
			return nil
		}
		if err != nil {
			log.Warn().Err(err).Msg("could not record a handled delivery; it will run again")
			return err
		}
		d.count(row.Event, "handled", "")
		log.Debug().Msg("delivery handled")
		return nil
	case IsPermanent(err):
		d.count(row.Event, "failed", "permanent")
		log.Warn().Err(err).Msg("delivery failed permanently")
		if serr := d.store.SetDeliveryStatus(bg, nil, id, store.StatusFailed, err.Error(), job.Attempt); serr != nil {
			return serr // retried; the handler fails the same way and records it then
		}
		return river.JobCancel(err)
	case isRateLimited(err):
		// Snoozed until the reset by snoozeRateLimited, whatever the
		// attempt: a spent budget is no failure of the delivery.
		log.Warn().Err(err).Msg("delivery waits for GitHub's rate limit to reset")
		_ = d.store.SetDeliveryStatus(bg, nil, id, store.StatusQueued, fmt.Sprintf("attempt %d waits for GitHub's rate limit: %v", job.Attempt, err), job.Attempt-1)
		return err
	case job.Attempt >= job.MaxAttempts:
		d.count(row.Event, "failed", "attempts_exhausted")
		log.Error().Err(err).Msg("delivery failed on its last attempt")
		_ = d.store.SetDeliveryStatus(bg, nil, id, store.StatusFailed, fmt.Sprintf("gave up after %d attempts: %v", job.Attempt, err), job.Attempt)
		return err
	default:
		log.Warn().Err(err).Msg("delivery attempt failed; will retry")
		_ = d.store.SetDeliveryStatus(bg, nil, id, store.StatusQueued, fmt.Sprintf("attempt %d failed: %v", job.Attempt, err), job.Attempt)
		return err
	}
}

// runHandler calls the handler and turns a panic into a permanent failure:
// a handler that panics on this payload would panic on every retry.
func runHandler(ctx context.Context, h githubapp.EventHandler, row store.Delivery) (err error) {
	defer func() {
		if r := recover(); r != nil {
			zerolog.Ctx(ctx).Error().Str("stack", string(debug.Stack())).Msgf("handler panic: %v", r)
			err = Permanent(fmt.Errorf("handler panic: %v", r))
		}
	}()
	return h.Handle(ctx, row.Event, row.ID, row.Payload)
}

func isRateLimited(err error) bool {
	_, ok := RetryAt(err)
	return ok
}
