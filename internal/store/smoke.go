package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// SmokeRun is one smoke test of one commit: its state, its hoist/smoke
// check run and, once completed, the report as JSON.
type SmokeRun struct {
	ID int64
	// Token names the run's public report page; random, so reports cannot
	// be listed by counting.
	Token      string
	Repo       string // owner/name
	Env        string
	SHA        string
	Reason     string // push, command, rerun, rerequested, baseline
	Actor      string
	Status     string // queued, in_progress, completed
	Conclusion string
	Title      string
	CheckRunID int64
	Report     []byte
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

const smokeColumns = `id, token, repo, env, sha, reason, actor, status, conclusion, title, check_run_id, report, created_at, updated_at`

func scanSmokeRun(r Row) (SmokeRun, error) {
	var s SmokeRun
	var report string
	err := r.Scan(&s.ID, &s.Token, &s.Repo, &s.Env, &s.SHA, &s.Reason, &s.Actor, &s.Status, &s.Conclusion, &s.Title,
		&s.CheckRunID, &report, &s.CreatedAt, &s.UpdatedAt)
	if report != "" {
		s.Report = []byte(report)
	}
	return s, err
}

func noRows(err error) bool { return errors.Is(err, sql.ErrNoRows) || errors.Is(err, pgx.ErrNoRows) }

// CreateSmokeRun records a queued run in q (the store, or the transaction
// that also queues its job) and returns it with its id and token.
func (s *Store) CreateSmokeRun(ctx context.Context, q Querier, r SmokeRun) (SmokeRun, error) {
	if q == nil {
		q = s
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return r, fmt.Errorf("store: smoke run token: %w", err)
	}
	r.Token = hex.EncodeToString(b[:])
	if r.Status == "" {
		r.Status = "queued"
	}
	now := s.now().UTC()
	r.CreatedAt, r.UpdatedAt = now, now
	err := q.QueryRow(ctx, `INSERT INTO smoke_runs (token, repo, env, sha, reason, actor, status, conclusion, title, check_run_id, report, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		r.Token, r.Repo, r.Env, r.SHA, r.Reason, r.Actor, r.Status, r.Conclusion, r.Title, r.CheckRunID, string(r.Report), now, now).Scan(&r.ID)
	if err != nil {
		return r, fmt.Errorf("store: create smoke run of %s@%s: %w", r.Repo, r.SHA, err)
	}
	return r, nil
}

func (s *Store) smokeRunWhere(ctx context.Context, what, where string, args ...any) (SmokeRun, error) {
	r, err := scanSmokeRun(s.QueryRow(ctx, `SELECT `+smokeColumns+` FROM smoke_runs WHERE `+where+` ORDER BY id DESC LIMIT 1`, args...))
	if noRows(err) {
		return SmokeRun{}, fmt.Errorf("store: smoke run %s: %w", what, ErrNotFound)
	}
	if err != nil {
		return SmokeRun{}, fmt.Errorf("store: smoke run %s: %w", what, err)
	}
	return r, nil
}

// SmokeRun returns the run with id.
func (s *Store) SmokeRun(ctx context.Context, id int64) (SmokeRun, error) {
	return s.smokeRunWhere(ctx, fmt.Sprint(id), `id = ?`, id)
}

// SmokeRunByToken returns the run whose report page is token.
func (s *Store) SmokeRunByToken(ctx context.Context, token string) (SmokeRun, error) {
	return s.smokeRunWhere(ctx, "by token", `token = ?`, token)
}

// SmokeRunByCheck returns the run that reported check run id on repo.
func (s *Store) SmokeRunByCheck(ctx context.Context, repo string, checkRunID int64) (SmokeRun, error) {
	return s.smokeRunWhere(ctx, fmt.Sprintf("of check run %d", checkRunID), `repo = ? AND check_run_id = ?`, repo, checkRunID)
}

// LatestSmokeReport returns the newest completed run of repo at sha that
// has a report, whatever the environment: a site's screenshots depend on
// the commit alone.
func (s *Store) LatestSmokeReport(ctx context.Context, repo, sha string) (SmokeRun, error) {
	return s.smokeRunWhere(ctx, "report of "+sha, `repo = ? AND sha = ? AND status = 'completed' AND report <> ''`, repo, sha)
}

// SmokeRunsOfSHA lists the runs of repo at sha, newest first.
func (s *Store) SmokeRunsOfSHA(ctx context.Context, repo, sha string, limit int) ([]SmokeRun, error) {
	rows, err := s.Query(ctx, `SELECT `+smokeColumns+` FROM smoke_runs WHERE repo = ? AND sha = ? ORDER BY id DESC LIMIT ?`, repo, sha, limit)
	if err != nil {
		return nil, fmt.Errorf("store: smoke runs of %s: %w", sha, err)
	}
	defer rows.Close()
	var out []SmokeRun
	for rows.Next() {
		r, err := scanSmokeRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// SetSmokeCheckRun records the check run a run reports on and marks it in
// progress.
func (s *Store) SetSmokeCheckRun(ctx context.Context, id, checkRunID int64) error {
	_, err := s.Exec(ctx, `UPDATE smoke_runs SET check_run_id = ?, status = 'in_progress', updated_at = ? WHERE id = ?`,
		checkRunID, s.now().UTC(), id)
	if err != nil {
		return fmt.Errorf("store: smoke run %d: %w", id, err)
	}
	return nil
}

// FinishSmokeRun completes a run with its conclusion, title and report.
func (s *Store) FinishSmokeRun(ctx context.Context, id int64, conclusion, title string, report []byte) error {
	_, err := s.Exec(ctx, `UPDATE smoke_runs SET status = 'completed', conclusion = ?, title = ?, report = ?, updated_at = ? WHERE id = ?`,
		conclusion, title, string(report), s.now().UTC(), id)
	if err != nil {
		return fmt.Errorf("store: finish smoke run %d: %w", id, err)
	}
	return nil
}

// IsNoRows reports whether err is "no rows" of either driver, for the
// capabilities that keep tables of their own.
func IsNoRows(err error) bool { return noRows(err) }
