package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// PutArtifact stores png under its SHA256 sha. When the same bytes are
// there already, their time is renewed once it is older than refresh, so
// that retention goes by the last run that took them without a write per
// run.
func (s *Store) PutArtifact(ctx context.Context, sha string, png []byte, refresh time.Duration) error {
	now := s.now().UTC()
	_, err := s.Exec(ctx, `INSERT INTO smoke_artifacts (sha, png, stored_at) VALUES (?, ?, ?)
		ON CONFLICT (sha) DO UPDATE SET stored_at = excluded.stored_at WHERE smoke_artifacts.stored_at < ?`,
		sha, png, now, now.Add(-refresh))
	if err != nil {
		return fmt.Errorf("store: put artifact %s: %w", sha, err)
	}
	return nil
}

// Artifact returns the PNG stored under sha; ErrNotFound when there is
// none.
func (s *Store) Artifact(ctx context.Context, sha string) ([]byte, error) {
	var png []byte
	err := s.QueryRow(ctx, `SELECT png FROM smoke_artifacts WHERE sha = ?`, sha).Scan(&png)
	if errors.Is(err, sql.ErrNoRows) || errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: read artifact %s: %w", sha, err)
	}
	return png, nil
}

// PruneArtifacts deletes the artifacts last stored before before, and
// returns how many.
func (s *Store) PruneArtifacts(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.Exec(ctx, `DELETE FROM smoke_artifacts WHERE stored_at < ?`, before.UTC())
	if err != nil {
		return 0, fmt.Errorf("store: prune artifacts: %w", err)
	}
	return n, nil
}
