package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/store"
)

func TestPruneSQLite(t *testing.T)   { exercisePrune(t, openSQLite(t)) }
func TestPrunePostgres(t *testing.T) { exercisePrune(t, openPostgres(t)) }

// Tables filled with old rows shrink to their limits, and what must stay
// (queued deliveries, deliveries inside GitHub's redelivery window, smoke
// runs still running, nonces not yet expired) stays.
func exercisePrune(t *testing.T, s *store.Store) {
	ctx := context.Background()
	now := time.Now().UTC()
	day := 24 * time.Hour
	err := s.InTx(ctx, func(tx store.Tx) (err error) {
		exec := func(q string, args ...any) {
			if err != nil {
				return
			}
			_, err = tx.Exec(ctx, q, args...)
		}
		delivery := func(id string, at time.Time, status string) {
			exec(`INSERT INTO deliveries (delivery_id, event, payload, status, received_at, updated_at) VALUES (?, 'push', ?, ?, ?, ?)`,
				id, []byte(`{"big":"payload"}`), status, at, at)
		}
		for i := range 3000 {
			delivery(fmt.Sprintf("old-%d", i), now.Add(-40*day+time.Duration(i)*time.Second), store.StatusHandled)
		}
		for i, age := range []time.Duration{500 * day, 461 * day, 459 * day} {
			exec(`INSERT INTO delivery_outcomes (outcome_key, repo, env, kind, ok, at) VALUES (?, 'o/r', 'live', 'deploy', 1, ?)`,
				fmt.Sprintf("deploy:%d", i), now.Add(-age))
		}
		for i := range 5 {
			delivery(fmt.Sprintf("stuck-%d", i), now.Add(-50*day+time.Duration(i)*time.Second), store.StatusQueued)
		}
		for i := range 50 {
			delivery(fmt.Sprintf("fourday-%d", i), now.Add(-4*day+time.Duration(i)*time.Second), store.StatusIgnored)
		}
		for i := range 100 {
			delivery(fmt.Sprintf("recent-%d", i), now.Add(-day+time.Duration(i)*time.Second), store.StatusHandled)
		}
		for i := range 2510 {
			at := now.Add(-400 * day)
			if i >= 2500 {
				at = now.Add(-day)
			}
			exec(`INSERT INTO audit_log (at, repo, action) VALUES (?, 'victim/site', 'generate')`, at)
		}
		for i := range 63 {
			at, status := now.Add(-100*day), "completed"
			switch {
			case i >= 53:
				at = now.Add(-day)
			case i >= 50:
				status = "in_progress"
			}
			exec(`INSERT INTO smoke_runs (token, repo, sha, status, created_at, updated_at) VALUES (?, 'o/r', 'abc', ?, ?, ?)`,
				fmt.Sprintf("tok-%d", i), status, at, at)
		}
		for i := range 55 {
			at := now.Add(-100 * day)
			if i >= 50 {
				at = now.Add(-day)
			}
			exec(`INSERT INTO command_runs (comment_id, line, repo, status, created_at, updated_at) VALUES (?, 1, 'o/r', 'done', ?, ?)`, i, at, at)
		}
		for i := range 32 {
			exp := now.Add(-time.Minute)
			if i >= 30 {
				exp = now.Add(5 * time.Minute)
			}
			exec(`INSERT INTO nonces (scope, nonce, expires_at) VALUES ('generate:o/r', ?, ?)`, fmt.Sprintf("nonce-%02d-xxxxxxxxxxxx", i), exp)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	count := func(table string) int {
		var n int
		if err := s.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	r := store.Retention{
		Deliveries: store.Limit{MaxAge: 30 * day, MaxRows: 120}, MinDeliveryAge: 72 * time.Hour,
		Audit: store.Limit{MaxAge: 365 * day}, SmokeRuns: store.Limit{MaxAge: 90 * day}, CommandRuns: store.Limit{MaxAge: 90 * day},
	}
	deleted, err := s.Prune(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	// Deliveries: 3,000 by age; then beyond the newest 120 (100 recent and
	// 20 of the four-day-old ones; the stuck queued ones stay).
	want := map[string]int{"deliveries": 5 + 100 + 20, "audit_log": 10, "smoke_runs": 3 + 10, "command_runs": 5, "nonces": 2, "delivery_outcomes": 1}
	for table, n := range want {
		if got := count(table); got != n {
			t.Errorf("%s: %d rows after pruning, want %d (deleted %v)", table, got, n, deleted)
		}
	}
	if deleted["deliveries"] != 3000+30 || deleted["audit_log"] != 2500 || deleted["nonces"] != 30 {
		t.Errorf("deleted %v", deleted)
	}
	for _, id := range []string{"stuck-0", "recent-0", "fourday-49"} {
		if _, err := s.GetDelivery(ctx, id); err != nil {
			t.Errorf("delivery %s: %v", id, err)
		}
	}

	// A count limit never reaches into GitHub's redelivery window.
	r.Deliveries.MaxRows = 10
	if _, err := s.Prune(ctx, r); err != nil {
		t.Fatal(err)
	}
	if got := count("deliveries"); got != 5+100 {
		t.Errorf("deliveries: %d after a count limit of 10, want the 100 from the last 3 days and the 5 queued", got)
	}
	// Pruning again finds nothing.
	deleted, err = s.Prune(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	for table, n := range deleted {
		if n != 0 {
			t.Errorf("second prune deleted %d from %s", n, table)
		}
	}
}

func TestNonceIsUsedOnce(t *testing.T) {
	for name, s := range map[string]func(*testing.T) *store.Store{"sqlite": openSQLite, "postgres": openPostgres} {
		t.Run(name, func(t *testing.T) {
			st := s(t)
			ctx := context.Background()
			exp := time.Now().Add(time.Minute)
			for i, want := range []bool{true, false, false} {
				fresh, err := st.UseNonce(ctx, "generate:o/r", "abcdefabcdefabcdef", exp)
				if err != nil || fresh != want {
					t.Fatalf("use #%d: fresh=%v err=%v, want %v", i+1, fresh, err, want)
				}
			}
			// Another scope (repository) has its own nonces.
			if fresh, err := st.UseNonce(ctx, "generate:o/other", "abcdefabcdefabcdef", exp); err != nil || !fresh {
				t.Fatalf("other scope: fresh=%v err=%v", fresh, err)
			}
		})
	}
}
