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
		WHERE redelivery_requests.asked_at IS NULL AND redelivery_requests.retry_at IS NULL AND redelivery_requests.claimed_at < ?`,
		guid, attemptID, event, now, now.Add(-lease))
	if err != nil {
		return false, fmt.Errorf("store: claim redelivery of %s: %w", guid, err)
	}
	return n == 1, nil
}

// RedeliveryAsked records that GitHub accepted the redelivery of guid.
// When retryAt is set and the delivery is still missing then (the
// redelivered attempt failed too), it may be asked for again
// (ClaimRedeliveryRetry); zero means never.
func (s *Store) RedeliveryAsked(ctx context.Context, guid string, retryAt time.Time) error {
	if _, err := s.Exec(ctx, `UPDATE redelivery_requests SET asked_at = ?, tries = tries + 1, last_error = '', retry_at = ? WHERE guid = ?`,
		s.now(), nullTime(retryAt), guid); err != nil {
		return fmt.Errorf("store: record redelivery of %s: %w", guid, err)
	}
	return nil
}

// RedeliveryFailed records that asking GitHub to redeliver guid failed
// with reason; it may be asked again from retryAt (ClaimRedeliveryRetry).
func (s *Store) RedeliveryFailed(ctx context.Context, guid, reason string, retryAt time.Time) error {
	if _, err := s.Exec(ctx, `UPDATE redelivery_requests SET tries = tries + 1, last_error = ?, retry_at = ? WHERE guid = ? AND asked_at IS NULL`,
		reason, nullTime(retryAt), guid); err != nil {
		return fmt.Errorf("store: record failed redelivery request of %s: %w", guid, err)
	}
	return nil
}

// ClaimRedeliveryRetry takes the right to ask again for guid, whose
// request was made tries times and is due (its retry_at passed, as the
// caller found in RedeliveryStates), and reports whether it got it: a
// compare-and-swap on tries and retry_at, so one replica asks.
func (s *Store) ClaimRedeliveryRetry(ctx context.Context, guid string, attemptID int64, tries int) (bool, error) {
	n, err := s.Exec(ctx, `UPDATE redelivery_requests SET attempt_id = ?, claimed_at = ?, asked_at = NULL, retry_at = NULL
		WHERE guid = ? AND tries = ? AND retry_at IS NOT NULL AND gave_up_at IS NULL`, attemptID, s.now(), guid, tries)
	if err != nil {
		return false, fmt.Errorf("store: claim the redelivery of %s again: %w", guid, err)
	}
	return n == 1, nil
}

// GiveUpRedelivery records that hoist stopped asking for guid, and
// reports whether this call did (so that it is logged and counted once).
func (s *Store) GiveUpRedelivery(ctx context.Context, guid string) (bool, error) {
	n, err := s.Exec(ctx, `UPDATE redelivery_requests SET gave_up_at = ? WHERE guid = ? AND gave_up_at IS NULL`, s.now(), guid)
	if err != nil {
		return false, fmt.Errorf("store: give up the redelivery of %s: %w", guid, err)
	}
	return n == 1, nil
}

// RedeliveryState is where the requests for one GUID stand.
type RedeliveryState struct {
	Tries     int
	Asked     bool // the last request was accepted
	ClaimedAt time.Time
	LastError string     // why the last request failed
	RetryAt   *time.Time // when it may be asked again; nil: never
	GaveUp    bool
}

// RedeliveryStates returns the state of each of guids that hoist has
// claimed or asked for.
func (s *Store) RedeliveryStates(ctx context.Context, guids []string) (map[string]RedeliveryState, error) {
	out := map[string]RedeliveryState{}
	for start := 0; start < len(guids); start += maxIDsPerQuery {
		chunk := guids[start:min(len(guids), start+maxIDsPerQuery)]
		args := make([]any, 0, len(chunk))
		for _, id := range chunk {
			args = append(args, id)
		}
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(chunk)), ", ")
		rows, err := s.Query(ctx, `SELECT guid, tries, asked_at IS NOT NULL, claimed_at, last_error, retry_at, gave_up_at IS NOT NULL
			FROM redelivery_requests WHERE guid IN (`+marks+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("store: look up redelivery requests: %w", err)
		}
		for rows.Next() {
			var guid string
			var st RedeliveryState
			if err := rows.Scan(&guid, &st.Tries, &st.Asked, &st.ClaimedAt, &st.LastError, &st.RetryAt, &st.GaveUp); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: look up redelivery requests: %w", err)
			}
			out[guid] = st
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("store: look up redelivery requests: %w", err)
		}
	}
	return out, nil
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
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
