package store

import (
	"context"
	"fmt"
	"time"
)

// Limit bounds one table: rows older than MaxAge, and rows beyond the
// newest MaxRows, are deleted; a zero field does not limit.
type Limit struct {
	MaxAge  time.Duration
	MaxRows int
}

// Retention is what Prune deletes, per table.
type Retention struct {
	// Deliveries: rows younger than MinDeliveryAge and queued rows are
	// always kept (a delivery id recognises a redelivery).
	Deliveries     Limit
	MinDeliveryAge time.Duration
	Audit          Limit
	// SmokeRuns: queued and running runs are always kept.
	SmokeRuns   Limit
	CommandRuns Limit
}

// pruneBatch is how many rows one DELETE removes: SQLite has one writer, and
// webhook intake must not wait behind one long delete.
const pruneBatch = 2000

// prunable describes how to delete old rows of one table in batches, on
// both dialects: key selects the rows' key columns (matched with IN), at is
// the column aged by, keep excludes rows that must stay.
type prunable struct {
	table, key, at, keep string
}

var (
	pruneDeliveries  = prunable{"deliveries", "delivery_id", "received_at", "status <> 'queued'"}
	pruneAudit       = prunable{"audit_log", "id", "at", ""}
	pruneSmokeRuns   = prunable{"smoke_runs", "id", "updated_at", "status = 'completed'"}
	pruneCommandRuns = prunable{"command_runs", "comment_id, line", "created_at", ""}
	// The order of commands matters while their jobs run, so it goes with
	// the command runs.
	pruneCommandOrder = prunable{"command_order", "comment_id", "created_at", ""}
)

// Prune deletes what r allows, and the nonces that expired, and returns how
// many rows it deleted per table.
func (s *Store) Prune(ctx context.Context, r Retention) (map[string]int64, error) {
	now := s.now()
	out := map[string]int64{}
	dl := r.Deliveries
	if dl.MaxAge > 0 && dl.MaxAge < r.MinDeliveryAge {
		dl.MaxAge = r.MinDeliveryAge
	}
	for _, p := range []struct {
		t      prunable
		l      Limit
		minAge time.Duration
	}{
		{pruneDeliveries, dl, r.MinDeliveryAge},
		{pruneAudit, r.Audit, 0},
		{pruneSmokeRuns, r.SmokeRuns, 0},
		{pruneCommandRuns, r.CommandRuns, 0},
		{pruneCommandOrder, r.CommandRuns, 0},
	} {
		n, err := s.prune(ctx, p.t, p.l, now, p.minAge)
		out[p.t.table] += n
		if err != nil {
			return out, err
		}
	}
	n, err := s.deleteBatches(ctx, `DELETE FROM nonces WHERE (scope, nonce) IN (SELECT scope, nonce FROM nonces WHERE expires_at < ? LIMIT ?)`, now)
	out["nonces"] = n
	if err != nil {
		return out, fmt.Errorf("store: prune nonces: %w", err)
	}
	n, err = s.deleteBatches(ctx, `DELETE FROM redelivery_requests WHERE guid IN (SELECT guid FROM redelivery_requests WHERE claimed_at < ? LIMIT ?)`,
		now.Add(-RedeliveryRetention))
	out["redelivery_requests"] = n
	if err != nil {
		return out, fmt.Errorf("store: prune redelivery requests: %w", err)
	}
	n, err = s.deleteBatches(ctx, `DELETE FROM delivery_outcomes WHERE id IN (SELECT id FROM delivery_outcomes WHERE at < ? LIMIT ?)`,
		now.Add(-DeliveryOutcomeRetention))
	out["delivery_outcomes"] = n
	if err != nil {
		return out, fmt.Errorf("store: prune delivery outcomes: %w", err)
	}
	return out, nil
}

// DeliveryOutcomeRetention is how long outcomes are kept: the longest
// failure budget window (366 days) and the 90 days before a report's
// window in which an incident it counts may have begun.
const DeliveryOutcomeRetention = 460 * 24 * time.Hour

func (s *Store) prune(ctx context.Context, p prunable, l Limit, now time.Time, minAge time.Duration) (int64, error) {
	keep := ""
	if p.keep != "" {
		keep = " AND " + p.keep
	}
	var total int64
	if l.MaxAge > 0 {
		q := fmt.Sprintf(`DELETE FROM %[1]s WHERE (%[2]s) IN (SELECT %[2]s FROM %[1]s WHERE %[3]s < ?%[4]s LIMIT ?)`, p.table, p.key, p.at, keep)
		n, err := s.deleteBatches(ctx, q, now.Add(-l.MaxAge))
		total += n
		if err != nil {
			return total, fmt.Errorf("store: prune %s by age: %w", p.table, err)
		}
	}
	if l.MaxRows > 0 {
		// The age of the newest row beyond MaxRows is the cut-off; rows
		// younger than minAge stay even then.
		var cut time.Time
		err := s.QueryRow(ctx, fmt.Sprintf(`SELECT %[2]s FROM %[1]s ORDER BY %[2]s DESC LIMIT 1 OFFSET ?`, p.table, p.at), l.MaxRows).Scan(&cut)
		if err != nil && !isNoRows(err) {
			return total, fmt.Errorf("store: prune %s by count: %w", p.table, err)
		}
		if err == nil {
			if floor := now.Add(-minAge); minAge > 0 && cut.After(floor) {
				cut = floor
			}
			// <= cut: the row at the offset is the first one beyond MaxRows.
			q := fmt.Sprintf(`DELETE FROM %[1]s WHERE (%[2]s) IN (SELECT %[2]s FROM %[1]s WHERE %[3]s <= ?%[4]s LIMIT ?)`, p.table, p.key, p.at, keep)
			n, err := s.deleteBatches(ctx, q, cut.UTC())
			total += n
			if err != nil {
				return total, fmt.Errorf("store: prune %s by count: %w", p.table, err)
			}
		}
	}
	return total, nil
}

// deleteBatches runs q (whose last placeholder is the batch size) until a
// batch deletes fewer rows than a full one.
func (s *Store) deleteBatches(ctx context.Context, q string, before time.Time) (int64, error) {
	var total int64
	for {
		n, err := s.Exec(ctx, q, before.UTC(), pruneBatch)
		total += n
		if err != nil || n < pruneBatch {
			return total, err
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}
