package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// RedeliveryRetention is how long a redelivery request is remembered:
// past GitHub's 3 days of delivery log, nobody can list or redeliver the
// delivery again.
const RedeliveryRetention = 96 * time.Hour

// maxIDsPerQuery bounds the ids of one IN (…) list.
const maxIDsPerQuery = 500

// KnownDeliveries reports which of ids are stored deliveries.
func (s *Store) KnownDeliveries(ctx context.Context, ids []string) (map[string]bool, error) {
	out, err := s.matchIDs(ctx, `SELECT delivery_id FROM deliveries WHERE delivery_id IN (%s)`, ids, nil)
	if err != nil {
		return nil, fmt.Errorf("store: look up deliveries: %w", err)
	}
	return out, nil
}

// RequestedRedeliveries reports which of guids hoist asked GitHub to
// redeliver, or has claimed to ask within lease.
func (s *Store) RequestedRedeliveries(ctx context.Context, guids []string, lease time.Duration) (map[string]bool, error) {
	out, err := s.matchIDs(ctx, `SELECT guid FROM redelivery_requests WHERE guid IN (%s) AND (asked_at IS NOT NULL OR claimed_at >= ?)`,
		guids, []any{s.now().Add(-lease)})
	if err != nil {
		return nil, fmt.Errorf("store: look up redelivery requests: %w", err)
	}
	return out, nil
}

// matchIDs runs q, whose %s takes a list of placeholders, for ids in
// chunks, with extra arguments after the ids, and collects the first
// column.
func (s *Store) matchIDs(ctx context.Context, q string, ids []string, extra []any) (map[string]bool, error) {
	out := map[string]bool{}
	for start := 0; start < len(ids); start += maxIDsPerQuery {
		chunk := ids[start:min(len(ids), start+maxIDsPerQuery)]
		args := make([]any, 0, len(chunk)+len(extra))
		for _, id := range chunk {
			args = append(args, id)
		}
		args = append(args, extra...)
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(chunk)), ", ")
		rows, err := s.Query(ctx, fmt.Sprintf(q, marks), args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			out[id] = true
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ClaimRedelivery takes the right to ask GitHub to redeliver guid, and
// reports whether it got it: the GUID was never claimed, or its claim was
// never asked and is older than lease (its process died). Replicas and
// the recover command race on the primary key, so one asks.
func (s *Store) ClaimRedelivery(ctx context.Context, guid string, attemptID int64, event string, lease time.Duration) (bool, error) {
	now := s.now()
	n, err := s.Exec(ctx, `INSERT INTO redelivery_requests (guid, attempt_id, event, claimed_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (guid) DO UPDATE SET attempt_id = excluded.attempt_id, claimed_at = excluded.claimed_at
		WHERE redelivery_requests.asked_at IS NULL AND redelivery_requests.claimed_at < ?`,
		guid, attemptID, event, now, now.Add(-lease))
	if err != nil {
		return false, fmt.Errorf("store: claim redelivery of %s: %w", guid, err)
	}
	return n == 1, nil
}

// RedeliveryAsked records that GitHub accepted the redelivery of guid.
func (s *Store) RedeliveryAsked(ctx context.Context, guid string) error {
	if _, err := s.Exec(ctx, `UPDATE redelivery_requests SET asked_at = ? WHERE guid = ?`, s.now(), guid); err != nil {
		return fmt.Errorf("store: record redelivery of %s: %w", guid, err)
	}
	return nil
}

// ReleaseRedelivery gives up a claim that was not asked (GitHub refused
// or could not be reached), so that the next run asks again.
func (s *Store) ReleaseRedelivery(ctx context.Context, guid string) error {
	if _, err := s.Exec(ctx, `DELETE FROM redelivery_requests WHERE guid = ? AND asked_at IS NULL`, guid); err != nil {
		return fmt.Errorf("store: release redelivery of %s: %w", guid, err)
	}
	return nil
}

// RedeliveryRequest is one remembered request.
type RedeliveryRequest struct {
	GUID      string
	AttemptID int64
	Event     string
	ClaimedAt time.Time
	Asked     bool
}

// RedeliveryRequests lists the remembered requests, oldest first.
func (s *Store) RedeliveryRequests(ctx context.Context) ([]RedeliveryRequest, error) {
	rows, err := s.Query(ctx, `SELECT guid, attempt_id, event, claimed_at, asked_at IS NOT NULL FROM redelivery_requests ORDER BY claimed_at, guid`)
	if err != nil {
		return nil, fmt.Errorf("store: list redelivery requests: %w", err)
	}
	defer rows.Close()
	var out []RedeliveryRequest
	for rows.Next() {
		var r RedeliveryRequest
		if err := rows.Scan(&r.GUID, &r.AttemptID, &r.Event, &r.ClaimedAt, &r.Asked); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
