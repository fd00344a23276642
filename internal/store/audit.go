package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/rs/zerolog"
)

// AuditEntry is one who-did-what record: a promotion, a deploy, a command.
type AuditEntry struct {
	At      time.Time
	Repo    string // owner/name
	Actor   string // GitHub login, or "hoist" for automatic actions
	Action  string // e.g. promote, deploy, purge, command
	Env     string
	SHA     string
	Outcome string // e.g. success, failure, refused
	Detail  map[string]any
}

// Audit writes e to the audit log and logs it under the "audit" key, so the
// trail is in the database for the dashboard and in the logs for shipping.
func (s *Store) Audit(ctx context.Context, e AuditEntry) error {
	return s.audit(ctx, s, e)
}

// AuditIn writes e with q (a transaction), so that a change and its audit
// row commit together.
func (s *Store) AuditIn(ctx context.Context, q Querier, e AuditEntry) error {
	return s.audit(ctx, q, e)
}

// audit writes e with q (the store, or a transaction).
func (s *Store) audit(ctx context.Context, q Querier, e AuditEntry) error {
	if e.At.IsZero() {
		e.At = s.now()
	}
	detail := []byte("{}")
	if len(e.Detail) > 0 {
		b, err := json.Marshal(e.Detail)
		if err != nil {
			return fmt.Errorf("store: audit detail: %w", err)
		}
		detail = b
	}
	zerolog.Ctx(ctx).Info().Dict("audit", zerolog.Dict().
		Str("repo", e.Repo).Str("actor", e.Actor).Str("action", e.Action).Str("env", e.Env).
		Str("sha", e.SHA).Str("outcome", e.Outcome).RawJSON("detail", detail)).
		Msg("audit")
	_, err := q.Exec(ctx, `INSERT INTO audit_log (at, repo, actor, action, env, sha, outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		e.At.UTC(), e.Repo, e.Actor, e.Action, e.Env, e.SHA, e.Outcome, string(detail))
	if err != nil {
		return fmt.Errorf("store: audit %s %s: %w", e.Action, e.Repo, err)
	}
	return nil
}

// AuditLog returns the newest entries for repo ("" for all).
func (s *Store) AuditLog(ctx context.Context, repo string, limit int) ([]AuditEntry, error) {
	rows, err := s.Query(ctx, `SELECT at, repo, actor, action, env, sha, outcome, detail FROM audit_log
		WHERE (? = '' OR repo = ?) ORDER BY id DESC LIMIT ?`, repo, repo, limit)
	if err != nil {
		return nil, fmt.Errorf("store: read audit log: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var detail string
		if err := rows.Scan(&e.At, &e.Repo, &e.Actor, &e.Action, &e.Env, &e.SHA, &e.Outcome, &detail); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(detail), &e.Detail); err != nil {
			return nil, fmt.Errorf("store: audit detail: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
