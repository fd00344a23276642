package store

import (
	"context"
	"fmt"
)

// PendingPublication is a change of an environment that hoist set out to
// make and publish and has not finished publishing (see the migration
// 0051_pending_publications).
type PendingPublication struct {
	Repo, Env, SHA string
	// Intent names the GitHub deployment of this change in its payload.
	Intent string
	// Stage is StageMoving until the branch is known to have moved, then
	// StageMoved.
	Stage string
	// Publication is the caller's record of the change, as JSON.
	Publication string
	CreatedAt   int64
}

// Stages of a pending publication.
const (
	StageMoving = "moving"
	StageMoved  = "moved"
)

// PutPendingPublication records p as the pending publication of its
// environment, replacing any earlier one.
func (s *Store) PutPendingPublication(ctx context.Context, p PendingPublication) error {
	if p.CreatedAt == 0 {
		p.CreatedAt = s.now().UnixMilli()
	}
	_, err := s.Exec(ctx, `INSERT INTO pending_publications (repo, env, sha, intent, stage, publication, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (repo, env) DO UPDATE SET sha = excluded.sha, intent = excluded.intent, stage = excluded.stage,
publication = excluded.publication, created_at = excluded.created_at`,
		p.Repo, p.Env, p.SHA, p.Intent, p.Stage, p.Publication, p.CreatedAt)
	if err != nil {
		return fmt.Errorf("store: pending publication of %s %s: %w", p.Repo, p.Env, err)
	}
	return nil
}

// PendingMoved records that the branch of the pending publication named
// by intent has moved, together with its audit entry, in one transaction:
// a replica dying between the two, or a retry after it, can neither lose
// the entry nor write it twice.
func (s *Store) PendingMoved(ctx context.Context, repo, env, intent string, audit AuditEntry) error {
	err := s.InTx(ctx, func(tx Tx) error {
		n, err := tx.Exec(ctx, `UPDATE pending_publications SET stage = ? WHERE repo = ? AND env = ? AND intent = ? AND stage = ?`,
			StageMoved, repo, env, intent, StageMoving)
		if err != nil || n == 0 {
			return err
		}
		return s.audit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("store: pending publication of %s %s: %w", repo, env, err)
	}
	return nil
}

// PendingPublicationOf returns the pending publication of repo's env;
// ok is false when there is none.
func (s *Store) PendingPublicationOf(ctx context.Context, repo, env string) (p PendingPublication, ok bool, err error) {
	err = s.QueryRow(ctx, `SELECT repo, env, sha, intent, stage, publication, created_at FROM pending_publications WHERE repo = ? AND env = ?`,
		repo, env).Scan(&p.Repo, &p.Env, &p.SHA, &p.Intent, &p.Stage, &p.Publication, &p.CreatedAt)
	if isNoRows(err) {
		return p, false, nil
	}
	if err != nil {
		return p, false, fmt.Errorf("store: pending publication of %s %s: %w", repo, env, err)
	}
	return p, true, nil
}

// DonePendingPublication removes the pending publication named by intent
// (a newer one of the same environment stays).
func (s *Store) DonePendingPublication(ctx context.Context, repo, env, intent string) error {
	_, err := s.Exec(ctx, `DELETE FROM pending_publications WHERE repo = ? AND env = ? AND intent = ?`, repo, env, intent)
	if err != nil {
		return fmt.Errorf("store: finish pending publication of %s %s: %w", repo, env, err)
	}
	return nil
}
