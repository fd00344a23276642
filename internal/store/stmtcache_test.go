package store

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// The statement cache must be invisible: a query reused while its own
// result set is still open, a statement reused after it failed, more
// distinct queries than the cache holds, and transactions all behave as
// without it.
func TestStatementCache(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Options{SQLitePath: filepath.Join(t.TempDir(), "hoist.db"), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if _, err := s.Exec(ctx, `CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		if _, err := s.Exec(ctx, `INSERT INTO kv (k, v) VALUES (?, ?)`, i, fmt.Sprint("v", i)); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("same query nested while its rows are open", func(t *testing.T) {
		const q = `SELECT k, v FROM kv WHERE k >= ? ORDER BY k`
		err := s.InTx(ctx, func(tx Tx) error {
			outer, err := tx.Query(ctx, q, 1)
			if err != nil {
				return err
			}
			defer outer.Close()
			var got []string
			for outer.Next() {
				var k int
				var v string
				if err := outer.Scan(&k, &v); err != nil {
					return err
				}
				inner, err := tx.Query(ctx, q, k)
				if err != nil {
					return err
				}
				n := 0
				for inner.Next() {
					n++
				}
				inner.Close()
				got = append(got, fmt.Sprintf("%s:%d", v, n))
			}
			if want := "v1:5 v2:4 v3:3 v4:2 v5:1"; strings.Join(got, " ") != want {
				t.Errorf("got %v, want %s", got, want)
			}
			return outer.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("reused after a failure", func(t *testing.T) {
		const ins = `INSERT INTO kv (k, v) VALUES (?, ?)`
		if _, err := s.Exec(ctx, ins, 1, "dup"); err == nil || !strings.Contains(err.Error(), "UNIQUE") {
			t.Fatalf("duplicate key: got %v, want a UNIQUE constraint error", err)
		}
		if _, err := s.Exec(ctx, ins, 6, "v6"); err != nil {
			t.Fatalf("same statement after its failure: %v", err)
		}
		var v string
		if err := s.QueryRow(ctx, `SELECT v FROM kv WHERE k = ?`, 6).Scan(&v); err != nil || v != "v6" {
			t.Fatalf("read back %q, %v", v, err)
		}
	})

	t.Run("more queries than the cache holds", func(t *testing.T) {
		for round := 0; round < 2; round++ {
			for i := 0; i < stmtCacheSize+20; i++ {
				var n int
				// Distinct text per i: each is a new cache entry.
				q := fmt.Sprintf(`SELECT count(*) + %d FROM kv WHERE k <= ?`, i)
				if err := s.QueryRow(ctx, q, 3).Scan(&n); err != nil || n != 3+i {
					t.Fatalf("query %d: %d, %v", i, n, err)
				}
			}
		}
	})

	t.Run("rolled back writes through cached statements", func(t *testing.T) {
		err := s.InTx(ctx, func(tx Tx) error {
			if _, err := tx.Exec(ctx, `UPDATE kv SET v = ? WHERE k = ?`, "changed", 2); err != nil {
				return err
			}
			return fmt.Errorf("abort")
		})
		if err == nil {
			t.Fatal("want the abort")
		}
		var v string
		if err := s.QueryRow(ctx, `SELECT v FROM kv WHERE k = ?`, 2).Scan(&v); err != nil || v != "v2" {
			t.Fatalf("after rollback: %q, %v", v, err)
		}
	})
}
