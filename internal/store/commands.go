package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Command run states.
const (
	// CommandStarted: the run claimed the line; its action may or may not
	// have happened (a crash in between), so a rerun checks before acting.
	CommandStarted = "started"
	// CommandDone: the line was acted on and answered; nothing more happens.
	CommandDone = "done"
)

// CommandRun records one command line of a pull request comment: what was
// asked, by whom, how far hoist got and what it answered. The key is the
// comment id and the line, so a comment is acted on and answered once,
// whichever delivery brings it.
type CommandRun struct {
	CommentID int64
	Line      int
	Repo      string
	Number    int // pull request
	Actor     string
	Command   string
	Status    string // CommandStarted or CommandDone
	Outcome   string // invalid, refused, failed, succeeded
	ReplyID   int64  // hoist's reply comment, once posted
	// Detail holds what a rerun needs to finish the same action (the
	// planned ref move of a rollback, for instance).
	Detail    map[string]any
	CreatedAt time.Time
	UpdatedAt time.Time
}

// StartCommandRun claims a command line: it stores r with status started
// unless a run of the same comment and line exists, and returns the stored
// run and whether it was created now.
func (s *Store) StartCommandRun(ctx context.Context, r CommandRun) (CommandRun, bool, error) {
	detail, err := marshalDetail(r.Detail)
	if err != nil {
		return CommandRun{}, false, err
	}
	now := s.now()
	n, err := s.Exec(ctx, `INSERT INTO command_runs (comment_id, line, repo, number, actor, command, status, outcome, reply_id, detail, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, '', 0, ?, ?, ?) ON CONFLICT (comment_id, line) DO NOTHING`,
		r.CommentID, r.Line, r.Repo, r.Number, r.Actor, r.Command, CommandStarted, detail, now, now)
	if err != nil {
		return CommandRun{}, false, fmt.Errorf("store: start command %d:%d: %w", r.CommentID, r.Line, err)
	}
	got, err := s.CommandRun(ctx, r.CommentID, r.Line)
	if err != nil {
		return CommandRun{}, false, err
	}
	return got, n == 1, nil
}

// UpdateCommandRun writes a run's status, outcome, reply and detail.
func (s *Store) UpdateCommandRun(ctx context.Context, r CommandRun) error {
	detail, err := marshalDetail(r.Detail)
	if err != nil {
		return err
	}
	n, err := s.Exec(ctx, `UPDATE command_runs SET status = ?, outcome = ?, reply_id = ?, detail = ?, updated_at = ?
		WHERE comment_id = ? AND line = ?`, r.Status, r.Outcome, r.ReplyID, detail, s.now(), r.CommentID, r.Line)
	if err != nil {
		return fmt.Errorf("store: update command %d:%d: %w", r.CommentID, r.Line, err)
	}
	if n == 0 {
		return fmt.Errorf("store: update command %d:%d: %w", r.CommentID, r.Line, ErrNotFound)
	}
	return nil
}

const commandRunColumns = `comment_id, line, repo, number, actor, command, status, outcome, reply_id, detail, created_at, updated_at`

// CommandRun reads the run of one comment line, or ErrNotFound.
func (s *Store) CommandRun(ctx context.Context, commentID int64, line int) (CommandRun, error) {
	r, err := scanCommandRun(s.QueryRow(ctx, `SELECT `+commandRunColumns+` FROM command_runs WHERE comment_id = ? AND line = ?`, commentID, line))
	if err != nil {
		if isNoRows(err) {
			return CommandRun{}, fmt.Errorf("store: command %d:%d: %w", commentID, line, ErrNotFound)
		}
		return CommandRun{}, fmt.Errorf("store: command %d:%d: %w", commentID, line, err)
	}
	return r, nil
}

// CommandRuns lists the runs of a comment, in line order.
func (s *Store) CommandRuns(ctx context.Context, commentID int64) ([]CommandRun, error) {
	rows, err := s.Query(ctx, `SELECT `+commandRunColumns+` FROM command_runs WHERE comment_id = ? ORDER BY line`, commentID)
	if err != nil {
		return nil, fmt.Errorf("store: commands of comment %d: %w", commentID, err)
	}
	defer rows.Close()
	var out []CommandRun
	for rows.Next() {
		r, err := scanCommandRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func scanCommandRun(row Row) (CommandRun, error) {
	var r CommandRun
	var detail string
	if err := row.Scan(&r.CommentID, &r.Line, &r.Repo, &r.Number, &r.Actor, &r.Command, &r.Status, &r.Outcome, &r.ReplyID, &detail, &r.CreatedAt, &r.UpdatedAt); err != nil {
		return CommandRun{}, err
	}
	if err := json.Unmarshal([]byte(detail), &r.Detail); err != nil {
		return CommandRun{}, fmt.Errorf("store: command detail: %w", err)
	}
	return r, nil
}

func marshalDetail(d map[string]any) (string, error) {
	if len(d) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(d)
	if err != nil {
		return "", fmt.Errorf("store: command detail: %w", err)
	}
	return string(b), nil
}

func isNoRows(err error) bool {
	return errors.Is(err, sql.ErrNoRows) || errors.Is(err, pgx.ErrNoRows)
}
