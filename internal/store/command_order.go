package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
)

// QueuedCommand is a pull request comment whose commands wait their turn:
// the commands of one pull request run one comment at a time, in the order
// the comments were written (by comment id, which GitHub hands out in
// increasing order), whichever replica runs them.
type QueuedCommand struct {
	CommentID int64
	Repo      string // owner/name
	Number    int    // pull request
	// JobID is the job that runs the comment's commands: a comment whose
	// job has finished, in any way, no longer holds up the later ones.
	JobID int64
}

// QueueCommand records c (in tx when given, so that it commits with the
// job's insert), or updates its job when it is recorded already.
func (s *Store) QueueCommand(ctx context.Context, tx Tx, c QueuedCommand) error {
	var q Querier = s
	if tx != nil {
		q = tx
	}
	_, err := q.Exec(ctx, `INSERT INTO command_order (comment_id, repo, number, job_id, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (comment_id) DO UPDATE SET job_id = excluded.job_id`, c.CommentID, c.Repo, c.Number, c.JobID, s.now())
	if err != nil {
		return fmt.Errorf("store: queue the commands of comment %d: %w", c.CommentID, err)
	}
	return nil
}

// CommentSeen records a comment whose creation was delivered and queued no
// job (it holds no command, or a bot wrote it): finished at once, so it
// holds no turn, and known, so that no later comment's job queues it from
// the comment list (CommentKnown).
func (s *Store) CommentSeen(ctx context.Context, c QueuedCommand) error {
	now := s.now()
	_, err := s.Exec(ctx, `INSERT INTO command_order (comment_id, repo, number, job_id, done_at, created_at) VALUES (?, ?, ?, 0, ?, ?)
		ON CONFLICT (comment_id) DO NOTHING`, c.CommentID, c.Repo, c.Number, now, now)
	if err != nil {
		return fmt.Errorf("store: comment %d seen: %w", c.CommentID, err)
	}
	return nil
}

// CommentKnown reports whether hoist has the comment's creation already: a
// job queued for it, or CommentSeen.
func (s *Store) CommentKnown(ctx context.Context, commentID int64) (bool, error) {
	var n int
	if err := s.QueryRow(ctx, `SELECT count(*) FROM command_order WHERE comment_id = ?`, commentID).Scan(&n); err != nil {
		return false, fmt.Errorf("store: command order of comment %d: %w", commentID, err)
	}
	return n > 0, nil
}

// CommandListed reports whether the job of comment has looked for earlier
// comments already, and with mark set records that it has.
func (s *Store) CommandListed(ctx context.Context, commentID int64, mark bool) (bool, error) {
	if mark {
		_, err := s.Exec(ctx, `UPDATE command_order SET listed_at = ? WHERE comment_id = ?`, s.now(), commentID)
		return true, err
	}
	var at sql.NullTime
	err := s.QueryRow(ctx, `SELECT listed_at FROM command_order WHERE comment_id = ?`, commentID).Scan(&at)
	if isNoRows(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: command order of comment %d: %w", commentID, err)
	}
	return at.Valid, nil
}

// TakeCommandTurn lets c's commands act when it is their turn and returns
// 0, or returns the comment they wait for. It is c's turn when it has begun
// already (a retry), or else when no earlier comment of the pull request
// is still to run and no later one is running (one that arrived first,
// before c was known). A comment is still to run while its job exists
// unfinished (River's table is the truth: a job discarded after its last
// attempt holds nothing up). Replicas decide one at a time per pull
// request: under a transaction-scoped advisory lock on PostgreSQL, in
// SQLite's single writer otherwise.
func (s *Store) TakeCommandTurn(ctx context.Context, c QueuedCommand) (waitFor int64, err error) {
	err = s.InTx(ctx, func(tx Tx) error {
		waitFor = 0
		if s.dialect == Postgres {
			key := "commands:" + c.Repo + "#" + strconv.Itoa(c.Number)
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended(?, 0))`, key); err != nil {
				return err
			}
		}
		if err := s.QueueCommand(ctx, tx, c); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT q.comment_id, q.claimed_at IS NOT NULL, COALESCE(CAST(j.state AS TEXT), '') FROM command_order q
			LEFT JOIN river_job j ON j.id = q.job_id
			WHERE q.repo = ? AND q.number = ? AND q.done_at IS NULL ORDER BY q.comment_id`, c.Repo, c.Number)
		if err != nil {
			return err
		}
		type row struct {
			id      int64
			claimed bool
			state   string
		}
		var others []row
		var mine *row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.claimed, &r.state); err != nil {
				rows.Close()
				return err
			}
			if r.id == c.CommentID {
				mine = &r
				continue
			}
			others = append(others, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if mine != nil && mine.claimed {
			return nil
		}
		for _, o := range others {
			unfinished := o.state != "" && o.state != "completed" && o.state != "cancelled" && o.state != "discarded"
			if unfinished && (o.id < c.CommentID || o.claimed) {
				waitFor = o.id
				return nil
			}
		}
		_, err = tx.Exec(ctx, `UPDATE command_order SET claimed_at = ? WHERE comment_id = ?`, s.now(), c.CommentID)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: turn of the commands of comment %d: %w", c.CommentID, err)
	}
	return waitFor, nil
}

// FinishCommand records that comment's commands are done: the next
// comment of the pull request may run without waiting for River to record
// the job complete.
func (s *Store) FinishCommand(ctx context.Context, commentID int64) error {
	if _, err := s.Exec(ctx, `UPDATE command_order SET done_at = ? WHERE comment_id = ?`, s.now(), commentID); err != nil {
		return fmt.Errorf("store: finish the commands of comment %d: %w", commentID, err)
	}
	return nil
}
