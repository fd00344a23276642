package safety

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hoist-dev/hoist/internal/store"
)

// Pacer decides whether an alert may be sent now, for every replica at
// once: send is true for exactly one caller per key and pace, and dropped
// counts the alerts of the key held back since the last one sent.
type Pacer interface {
	Claim(ctx context.Context, key string, now time.Time, pace time.Duration) (send bool, dropped int, err error)
}

// StorePacer paces alerts through the database (table alert_pacing): one
// row per key with when it was last sent, claimed with a conditional
// update, so that replicas sharing a database send one alert where each
// would have sent its own.
type StorePacer struct {
	Store *store.Store
}

// claimAttempts bounds the compare-and-swap loop; each failed attempt
// means another replica changed the row in between, which happens only a
// few times per pace.
const claimAttempts = 8

// Claim sends when the key was never sent or last sent at least pace ago,
// and counts the alert as held back otherwise.
func (p StorePacer) Claim(ctx context.Context, key string, now time.Time, pace time.Duration) (bool, int, error) {
	at := now.UnixMilli()
	for range claimAttempts {
		n, err := p.Store.Exec(ctx, `INSERT INTO alert_pacing (alert_key, last_sent, dropped) VALUES (?, ?, 0) ON CONFLICT (alert_key) DO NOTHING`, key, at)
		if err != nil {
			return false, 0, fmt.Errorf("alert pacing: claim: %w", err)
		}
		if n > 0 {
			return true, 0, nil
		}
		var last int64
		var dropped int
		if err := p.Store.QueryRow(ctx, `SELECT last_sent, dropped FROM alert_pacing WHERE alert_key = ?`, key).Scan(&last, &dropped); err != nil {
			if store.IsNoRows(err) {
				continue // removed in between: insert again
			}
			return false, 0, fmt.Errorf("alert pacing: read: %w", err)
		}
		if at-last < pace.Milliseconds() {
			if _, err := p.Store.Exec(ctx, `UPDATE alert_pacing SET dropped = dropped + 1 WHERE alert_key = ?`, key); err != nil {
				return false, 0, fmt.Errorf("alert pacing: count: %w", err)
			}
			return false, 0, nil
		}
		// The claim: only the replica that read this very row wins; the
		// count read with it is the one reported.
		n, err = p.Store.Exec(ctx, `UPDATE alert_pacing SET last_sent = ?, dropped = 0 WHERE alert_key = ? AND last_sent = ? AND dropped = ?`,
			at, key, last, dropped)
		if err != nil {
			return false, 0, fmt.Errorf("alert pacing: claim: %w", err)
		}
		if n > 0 {
			return true, dropped, nil
		}
	}
	return false, 0, errors.New("alert pacing: the row kept changing; alert not sent")
}
