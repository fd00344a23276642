package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// RequestPublish records deployment as the newest one asked for of
// repo's env (a smaller id than the recorded one changes nothing).
func (s *Store) RequestPublish(ctx context.Context, repo, env string, deployment int64) error {
	_, err := s.Exec(ctx, `INSERT INTO publish_envs (repo, env, latest) VALUES (?, ?, ?)
ON CONFLICT (repo, env) DO UPDATE SET latest = CASE WHEN excluded.latest > publish_envs.latest THEN excluded.latest ELSE publish_envs.latest END`,
		repo, env, deployment)
	if err != nil {
		return fmt.Errorf("store: request publish of %s %s: %w", repo, env, err)
	}
	return nil
}

// AcquirePublish takes the lease of repo's env for holder until the given
// time, if it is free, already holder's, or expired (its holder crashed).
// It returns whether the lease is held and the newest deployment asked for.
func (s *Store) AcquirePublish(ctx context.Context, repo, env, holder string, until time.Time) (bool, int64, error) {
	now := s.now().UnixMilli()
	n, err := s.Exec(ctx, `INSERT INTO publish_envs (repo, env, holder, lease_until) VALUES (?, ?, ?, ?)
ON CONFLICT (repo, env) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until
WHERE publish_envs.holder = '' OR publish_envs.holder = excluded.holder OR publish_envs.lease_until < ?`,
		repo, env, holder, until.UnixMilli(), now)
	if err != nil {
		return false, 0, fmt.Errorf("store: lease publish of %s %s: %w", repo, env, err)
	}
	var latest int64
	if err := s.QueryRow(ctx, `SELECT latest FROM publish_envs WHERE repo = ? AND env = ?`, repo, env).Scan(&latest); err != nil {
		return false, 0, fmt.Errorf("store: lease publish of %s %s: %w", repo, env, err)
	}
	return n == 1, latest, nil
}

// ReleasePublish gives the lease back, if holder still holds it.
func (s *Store) ReleasePublish(ctx context.Context, repo, env, holder string) error {
	_, err := s.Exec(ctx, `UPDATE publish_envs SET holder = '', lease_until = 0 WHERE repo = ? AND env = ? AND holder = ?`, repo, env, holder)
	if err != nil {
		return fmt.Errorf("store: release publish of %s %s: %w", repo, env, err)
	}
	return nil
}

// PendingPurge returns the purge that failed after the last deploy of
// repo's env, as the caller stored it ("" when none).
func (s *Store) PendingPurge(ctx context.Context, repo, env string) (string, error) {
	var v string
	err := s.QueryRow(ctx, `SELECT pending_purge FROM publish_envs WHERE repo = ? AND env = ?`, repo, env).Scan(&v)
	if err != nil && !errors.Is(err, sql.ErrNoRows) && !errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("store: pending purge of %s %s: %w", repo, env, err)
	}
	return v, nil
}

// SetPendingPurge stores (or with "" clears) the purge to send again.
func (s *Store) SetPendingPurge(ctx context.Context, repo, env, purge string) error {
	_, err := s.Exec(ctx, `INSERT INTO publish_envs (repo, env, pending_purge) VALUES (?, ?, ?)
ON CONFLICT (repo, env) DO UPDATE SET pending_purge = excluded.pending_purge`, repo, env, purge)
	if err != nil {
		return fmt.Errorf("store: pending purge of %s %s: %w", repo, env, err)
	}
	return nil
}
