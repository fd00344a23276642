package store

import (
	"context"
	"fmt"
)

// WithLock runs fn while holding the database-wide lock named key, so that
// replicas sharing a PostgreSQL database take turns (a transaction-scoped
// advisory lock, released when fn returns, also if the process dies). A
// SQLite database belongs to one process, which serialises its own callers
// in memory; there WithLock just runs fn.
func (s *Store) WithLock(ctx context.Context, key string, fn func(ctx context.Context) error) error {
	if s.dialect != Postgres {
		return fn(ctx)
	}
	return s.InTx(ctx, func(tx Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended(?, 0))`, key); err != nil {
			return fmt.Errorf("store: lock %s: %w", key, err)
		}
		return fn(ctx)
	})
}
