package store

import (
	"context"
	"fmt"
	"time"
)

// UseNonce records nonce as used within scope until expires. It reports
// false when the nonce was recorded before (a replay). The unique key makes
// this hold across replicas sharing a PostgreSQL database.
func (s *Store) UseNonce(ctx context.Context, scope, nonce string, expires time.Time) (fresh bool, err error) {
	n, err := s.Exec(ctx, `INSERT INTO nonces (scope, nonce, expires_at) VALUES (?, ?, ?) ON CONFLICT (scope, nonce) DO NOTHING`,
		scope, nonce, expires.UTC())
	if err != nil {
		return false, fmt.Errorf("store: record nonce: %w", err)
	}
	return n == 1, nil
}
