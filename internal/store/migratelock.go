package store

import (
	"context"
	"fmt"
	"time"
)

// migrationLockKey is the PostgreSQL advisory lock that serialises schema
// migrations between processes. Releases before the session lock took the
// same key per migration transaction, so a mixed set of replicas during an
// upgrade still takes turns.
const migrationLockKey = 7243011

// WithMigrationLock runs fn while this process alone may change the schema:
// on PostgreSQL a session advisory lock held on a dedicated connection (fn
// runs its statements on others), on SQLite an exclusive lock on a file
// beside the database. Replicas started together on an empty database wait
// here in turn, and each one after the first finds every migration applied.
func (s *Store) WithMigrationLock(ctx context.Context, fn func(ctx context.Context) error) error {
	if s.dialect == SQLite {
		unlock, err := lockFile(ctx, s.path+".migrate-lock")
		if err != nil {
			return fmt.Errorf("store: migration lock: %w", err)
		}
		defer unlock()
		return fn(ctx)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("store: migration lock: %w", err)
	}
	defer conn.Release()
	start := time.Now()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLockKey); err != nil {
		return fmt.Errorf("store: migration lock: %w", err)
	}
	if waited := time.Since(start); waited > time.Second {
		s.log.Info().Dur("waited", waited).Msg("waited for another replica to finish database migrations")
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		var released bool
		err := conn.QueryRow(uctx, `SELECT pg_advisory_unlock($1)`, migrationLockKey).Scan(&released)
		if err != nil || !released {
			// Closing the session is what releases the lock then; the pool
			// drops a closed connection instead of reusing it.
			_ = conn.Conn().Close(uctx)
			s.log.Warn().Err(err).Bool("released", released).Msg("could not release the migration lock; closed its connection")
		}
	}()
	return fn(ctx)
}
