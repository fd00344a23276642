package store

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"time"
)

// Hold is a stop on promotions into one environment of a repository: who
// asked, why, since when and, optionally, until when. A hold ends when it is
// released or its Until passes.
type Hold struct {
	ID int64
	// Key names what asked for the hold, once (e.g. "comment:<id>:<line>"):
	// putting a hold with a key already stored returns that hold.
	Key    string
	Repo   string // owner/name
	Env    string
	By     string
	Reason string
	Since  time.Time
	// Until is when the hold expires; nil holds until released.
	Until *time.Time
	// ReleasedAt and ReleasedBy are set once someone released the hold.
	ReleasedAt *time.Time
	ReleasedBy string
}

// Active reports whether the hold stops promotions at now.
func (h Hold) Active(now time.Time) bool {
	return h.ReleasedAt == nil && (h.Until == nil || now.Before(*h.Until))
}

// PutHold stores h (in tx when given, so that a timer job can commit with
// it) unless a hold with its Key exists. It returns the stored hold and
// whether it was created now.
func (s *Store) PutHold(ctx context.Context, tx Tx, h Hold) (Hold, bool, error) {
	var q Querier = s
	if tx != nil {
		q = tx
	}
	if h.Key == "" || h.Repo == "" || h.Env == "" {
		return Hold{}, false, fmt.Errorf("store: put hold: key, repo and env are required")
	}
	if h.Since.IsZero() {
		h.Since = s.now()
	}
	var until any
	if h.Until != nil {
		until = h.Until.UTC()
	}
	n, err := q.Exec(ctx, `INSERT INTO holds (hold_key, repo, env, held_by, reason, held_since, held_until)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hold_key) DO NOTHING`,
		h.Key, h.Repo, h.Env, h.By, h.Reason, h.Since.UTC(), until)
	if err != nil {
		return Hold{}, false, fmt.Errorf("store: put hold on %s of %s: %w", h.Env, h.Repo, err)
	}
	got, err := scanHold(q.QueryRow(ctx, `SELECT `+holdColumns+` FROM holds WHERE hold_key = ?`, h.Key))
	if err != nil {
		return Hold{}, false, fmt.Errorf("store: read hold %s: %w", h.Key, err)
	}
	return got, n == 1, nil
}

// ReleaseHolds releases every active hold on env of repo at now, recording
// by, and returns the holds it released.
func (s *Store) ReleaseHolds(ctx context.Context, repo, env, by string, now time.Time) ([]Hold, error) {
	var released []Hold
	err := s.InTx(ctx, func(tx Tx) error {
		open, err := s.holdsWhere(ctx, tx, `repo = ? AND env = ? AND released_at IS NULL`, repo, env)
		if err != nil {
			return err
		}
		for _, h := range open {
			if !h.Active(now) {
				continue
			}
			n, err := tx.Exec(ctx, `UPDATE holds SET released_at = ?, released_by = ? WHERE id = ? AND released_at IS NULL`,
				now.UTC(), by, h.ID)
			if err != nil {
				return err
			}
			if n == 0 {
				// Another replica's release committed first: the hold is
				// released once, by that one.
				continue
			}
			t := now.UTC()
			h.ReleasedAt, h.ReleasedBy = &t, by
			released = append(released, h)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: release holds on %s of %s: %w", env, repo, err)
	}
	return released, nil
}

// LastReleasedHold is the hold on env of repo released most recently, or
// nil when none was ever released: what an /unhold that found nothing to
// release tells about.
func (s *Store) LastReleasedHold(ctx context.Context, repo, env string) (*Hold, error) {
	rows, err := s.holdsWhere(ctx, s, `repo = ? AND env = ? AND released_at IS NOT NULL`, repo, env)
	if err != nil {
		return nil, fmt.Errorf("store: released holds on %s of %s: %w", env, repo, err)
	}
	var last *Hold
	for i := range rows {
		if last == nil || rows[i].ReleasedAt.After(*last.ReleasedAt) {
			last = &rows[i]
		}
	}
	return last, nil
}

// ActiveHolds lists the holds of repo that stop promotions at now, every
// environment's, oldest first. The dashboard reads it.
func (s *Store) ActiveHolds(ctx context.Context, repo string, now time.Time) ([]Hold, error) {
	hs, err := s.holdsWhere(ctx, s, `repo = ? AND released_at IS NULL`, repo)
	if err != nil {
		return nil, fmt.Errorf("store: holds of %s: %w", repo, err)
	}
	return activeOnly(hs, now), nil
}

// EnvHolds lists the holds on env of repo that stop promotions at now,
// oldest first.
func (s *Store) EnvHolds(ctx context.Context, repo, env string, now time.Time) ([]Hold, error) {
	hs, err := s.holdsWhere(ctx, s, `repo = ? AND env = ? AND released_at IS NULL`, repo, env)
	if err != nil {
		return nil, fmt.Errorf("store: holds on %s of %s: %w", env, repo, err)
	}
	return activeOnly(hs, now), nil
}

// activeOnly filters expired holds in Go: holds are few, and comparing
// times in Go is the same on both dialects.
func activeOnly(hs []Hold, now time.Time) []Hold {
	out := hs[:0]
	for _, h := range hs {
		if h.Active(now) {
			out = append(out, h)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Since.Before(out[j].Since) })
	return out
}

const holdColumns = `id, hold_key, repo, env, held_by, reason, held_since, held_until, released_at, released_by`

func (s *Store) holdsWhere(ctx context.Context, q Querier, where string, args ...any) ([]Hold, error) {
	rows, err := q.Query(ctx, `SELECT `+holdColumns+` FROM holds WHERE `+where+` ORDER BY id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Hold
	for rows.Next() {
		h, err := scanHold(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

func scanHold(r Row) (Hold, error) {
	var h Hold
	var until, released sql.NullTime
	if err := r.Scan(&h.ID, &h.Key, &h.Repo, &h.Env, &h.By, &h.Reason, &h.Since, &until, &released, &h.ReleasedBy); err != nil {
		return Hold{}, err
	}
	h.Since = h.Since.UTC()
	if until.Valid {
		t := until.Time.UTC()
		h.Until = &t
	}
	if released.Valid {
		t := released.Time.UTC()
		h.ReleasedAt = &t
	}
	return h, nil
}

// ReleaseHold releases the active hold stored with key, recording by; it
// reports whether one was released now.
func (s *Store) ReleaseHold(ctx context.Context, key, by string, now time.Time) (bool, error) {
	n, err := s.Exec(ctx, `UPDATE holds SET released_at = ?, released_by = ? WHERE hold_key = ? AND released_at IS NULL`, now.UTC(), by, key)
	if err != nil {
		return false, fmt.Errorf("store: release hold %s: %w", key, err)
	}
	return n > 0, nil
}
