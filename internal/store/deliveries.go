package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"database/sql"
	"github.com/jackc/pgx/v5"
)

// Delivery statuses. A delivery is queued when persisted with its job,
// handled or failed when its job ends, ignored when no handler wants it.
const (
	StatusQueued  = "queued"
	StatusHandled = "handled"
	StatusFailed  = "failed"
	StatusIgnored = "ignored"
)

// Delivery is one webhook delivery as received.
type Delivery struct {
	ID             string // X-GitHub-Delivery, the idempotency key
	Event          string // X-GitHub-Event
	Action         string
	InstallationID int64
	Repo           string // owner/name
	Payload        []byte // the exact bytes GitHub signed
	Status         string
	Reason         string // why it failed or was ignored
	Attempts       int
	Duplicates     int // redeliveries seen after the first
	ReceivedAt     time.Time
	UpdatedAt      time.Time
}

// InsertDelivery records a delivery in tx. It reports false, and writes
// nothing, when a delivery with the same id exists already: the primary key
// is the idempotency key, so concurrent redeliveries cannot both win.
func (s *Store) InsertDelivery(ctx context.Context, tx Tx, d Delivery) (inserted bool, err error) {
	now := s.now()
	if d.ReceivedAt.IsZero() {
		d.ReceivedAt = now
	}
	n, err := tx.Exec(ctx, `INSERT INTO deliveries
		(delivery_id, event, action, installation_id, repo, payload, status, reason, received_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (delivery_id) DO NOTHING`,
		d.ID, d.Event, d.Action, d.InstallationID, d.Repo, d.Payload, d.Status, d.Reason, d.ReceivedAt.UTC(), now)
	if err != nil {
		return false, fmt.Errorf("store: insert delivery %s: %w", d.ID, err)
	}
	return n == 1, nil
}

// maxRowsPerInsert bounds one multi-row INSERT: 10 parameters a row stays
// far below SQLite's and PostgreSQL's limits on bound parameters.
const maxRowsPerInsert = 200

// InsertDeliveries records several deliveries in tx with one INSERT per
// maxRowsPerInsert rows (one statement to parse and run instead of one per
// row) and reports which ids it inserted. An id that exists already is left
// as it is and is absent from the result. ids must be distinct: the caller
// decides which of several copies in one batch is the original.
func (s *Store) InsertDeliveries(ctx context.Context, tx Tx, ds []Delivery) (inserted map[string]bool, err error) {
	inserted = make(map[string]bool, len(ds))
	now := s.now()
	for start := 0; start < len(ds); start += maxRowsPerInsert {
		chunk := ds[start:min(len(ds), start+maxRowsPerInsert)]
		var q strings.Builder
		q.WriteString(`INSERT INTO deliveries
		(delivery_id, event, action, installation_id, repo, payload, status, reason, received_at, updated_at) VALUES `)
		args := make([]any, 0, len(chunk)*10)
		for i, d := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
			received := d.ReceivedAt
			if received.IsZero() {
				received = now
			}
			args = append(args, d.ID, d.Event, d.Action, d.InstallationID, d.Repo, d.Payload, d.Status, d.Reason, received.UTC(), now)
		}
		q.WriteString(" ON CONFLICT (delivery_id) DO NOTHING RETURNING delivery_id")
		if err := collectIDs(ctx, tx, q.String(), args, inserted); err != nil {
			return nil, fmt.Errorf("store: insert %d deliveries (first %s): %w", len(chunk), chunk[0].ID, err)
		}
	}
	return inserted, nil
}

func collectIDs(ctx context.Context, tx Tx, q string, args []any, into map[string]bool) error {
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		into[id] = true
	}
	return rows.Err()
}

// NoteDuplicates counts redeliveries, n for each id, in tx.
func (s *Store) NoteDuplicates(ctx context.Context, tx Tx, counts map[string]int) error {
	for id, n := range counts {
		if _, err := tx.Exec(ctx, `UPDATE deliveries SET duplicates = duplicates + ? WHERE delivery_id = ?`, n, id); err != nil {
			return fmt.Errorf("store: note duplicate %s: %w", id, err)
		}
	}
	return nil
}

// NoteDuplicate counts a redelivery of an existing delivery.
func (s *Store) NoteDuplicate(ctx context.Context, id string) error {
	_, err := s.Exec(ctx, `UPDATE deliveries SET duplicates = duplicates + 1 WHERE delivery_id = ?`, id)
	if err != nil {
		return fmt.Errorf("store: note duplicate %s: %w", id, err)
	}
	return nil
}

// SetDeliveryStatus records the outcome of a delivery after attempts
// handler runs, in tx when given (so it commits with the job's completion)
// or on its own when tx is nil.
func (s *Store) SetDeliveryStatus(ctx context.Context, tx Tx, id, status, reason string, attempts int) error {
	var q Querier = s
	if tx != nil {
		q = tx
	}
	_, err := q.Exec(ctx, `UPDATE deliveries SET status = ?, reason = ?, attempts = ?, updated_at = ? WHERE delivery_id = ?`,
		status, reason, attempts, s.now(), id)
	if err != nil {
		return fmt.Errorf("store: set delivery %s %s: %w", id, status, err)
	}
	return nil
}

// FinishDelivery records in tx that a delivery ended with status (handled
// or failed) after attempts handler runs, unless it had ended already. It
// reports whether it did: a compare-and-swap, so that of two runs of the
// same job only one commits its outcome and the effects written with it.
func (s *Store) FinishDelivery(ctx context.Context, tx Tx, id, status, reason string, attempts int) (bool, error) {
	n, err := tx.Exec(ctx, `UPDATE deliveries SET status = ?, reason = ?, attempts = ?, updated_at = ?
		WHERE delivery_id = ? AND status NOT IN (?, ?)`,
		status, reason, attempts, s.now(), id, StatusHandled, StatusFailed)
	if err != nil {
		return false, fmt.Errorf("store: finish delivery %s %s: %w", id, status, err)
	}
	return n == 1, nil
}

const deliveryColumns = `delivery_id, event, action, installation_id, repo, payload, status, reason, attempts, duplicates, received_at, updated_at`

func scanDelivery(r Row) (Delivery, error) {
	var d Delivery
	err := r.Scan(&d.ID, &d.Event, &d.Action, &d.InstallationID, &d.Repo, &d.Payload, &d.Status, &d.Reason,
		&d.Attempts, &d.Duplicates, &d.ReceivedAt, &d.UpdatedAt)
	return d, err
}

// GetDelivery returns one delivery with its payload.
func (s *Store) GetDelivery(ctx context.Context, id string) (Delivery, error) {
	d, err := scanDelivery(s.QueryRow(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE delivery_id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) || errors.Is(err, pgx.ErrNoRows) {
		return Delivery{}, fmt.Errorf("store: delivery %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Delivery{}, fmt.Errorf("store: delivery %s: %w", id, err)
	}
	return d, nil
}

// DeliveryCounts returns how many deliveries are in each status.
func (s *Store) DeliveryCounts(ctx context.Context) (map[string]int, error) {
	rows, err := s.Query(ctx, `SELECT status, count(*) FROM deliveries GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("store: count deliveries: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		out[st] = n
	}
	return out, rows.Err()
}

// RecentDeliveries lists the newest deliveries, without payloads.
func (s *Store) RecentDeliveries(ctx context.Context, limit int) ([]Delivery, error) {
	rows, err := s.Query(ctx, `SELECT delivery_id, event, action, installation_id, repo, status, reason, attempts, duplicates, received_at, updated_at
		FROM deliveries ORDER BY received_at DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: list deliveries: %w", err)
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		var d Delivery
		if err := rows.Scan(&d.ID, &d.Event, &d.Action, &d.InstallationID, &d.Repo, &d.Status, &d.Reason,
			&d.Attempts, &d.Duplicates, &d.ReceivedAt, &d.UpdatedAt); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
