package store_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/store"
	"github.com/hoist-dev/hoist/internal/testenv"
)

func TestCommandOrderSQLite(t *testing.T) {
	exerciseCommandOrder(t, store.Options{SQLitePath: filepath.Join(t.TempDir(), "hoist.db")})
}

func TestCommandOrderPostgres(t *testing.T) {
	exerciseCommandOrder(t, store.Options{DatabaseURL: testenv.Postgres(t)})
}

// The turn of a comment's commands: after every earlier unfinished one,
// never beside a later one that began first, and one at a time when
// replicas ask together.
func exerciseCommandOrder(t *testing.T, opts store.Options) {
	ctx := context.Background()
	opts.Logger, opts.AlsoMigrate = zerolog.Nop(), jobs.Migrate
	s, err := store.Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	job := func(state string) int64 {
		var id int64
		if err := s.QueryRow(ctx, `INSERT INTO river_job (args, kind, max_attempts, priority, queue, state)
			VALUES ('{}', 'hoist_pr_command', 6, 1, 'default', '`+state+`') RETURNING id`).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	cmd := func(comment int64, state string) store.QueuedCommand {
		c := store.QueuedCommand{CommentID: comment, Repo: "acme/site", Number: 7, JobID: job(state)}
		if err := s.QueueCommand(ctx, nil, c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	turn := func(c store.QueuedCommand, want int64) {
		t.Helper()
		got, err := s.TakeCommandTurn(ctx, c)
		if err != nil || got != want {
			t.Fatalf("turn of %d: waits for %d (%v), want %d", c.CommentID, got, err, want)
		}
	}
	c1, c2 := cmd(101, "running"), cmd(102, "available")
	// Another pull request's comment holds nothing up.
	if err := s.QueueCommand(ctx, nil, store.QueuedCommand{CommentID: 99, Repo: "acme/site", Number: 8, JobID: job("available")}); err != nil {
		t.Fatal(err)
	}
	turn(c2, 101)
	turn(c1, 0)
	turn(c1, 0) // a retry keeps its turn
	// An earlier comment known late waits for the later one acting.
	c0 := cmd(100, "available")
	turn(c0, 101)
	if err := s.FinishCommand(ctx, c1.CommentID); err != nil {
		t.Fatal(err)
	}
	turn(c2, 100)
	turn(c0, 0)
	// A job given up holds nothing up.
	if _, err := s.Exec(ctx, `UPDATE river_job SET state = 'discarded', finalized_at = created_at WHERE id = ?`, c0.JobID); err != nil {
		t.Fatal(err)
	}
	turn(c2, 0)

	// Replicas asking together on another pull request: one goes, the
	// earliest.
	var cs []store.QueuedCommand
	for i := range 8 {
		c := store.QueuedCommand{CommentID: int64(200 + i), Repo: "acme/site", Number: 9, JobID: job("running")}
		if err := s.QueueCommand(ctx, nil, c); err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	var wg sync.WaitGroup
	waits := make([]int64, len(cs))
	for i, c := range cs {
		wg.Go(func() {
			w, err := s.TakeCommandTurn(ctx, c)
			if err != nil {
				t.Error(err)
			}
			waits[i] = w
		})
	}
	wg.Wait()
	for i, w := range waits {
		if (i == 0) != (w == 0) {
			t.Fatalf("turns taken together: %v, want only comment 200 to go", waits)
		}
	}
}
