package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// RepoConfig is the last valid repository configuration stored for a
// repository: the file's bytes, and the commit they were read at when known.
type RepoConfig struct {
	Repo    string
	SHA     string
	Content []byte
}

// SaveRepoConfig records content as repo's last good configuration.
func (s *Store) SaveRepoConfig(ctx context.Context, c RepoConfig) error {
	_, err := s.Exec(ctx, `INSERT INTO repo_configs (repo, sha, content, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (repo) DO UPDATE SET sha = excluded.sha, content = excluded.content, updated_at = excluded.updated_at`,
		c.Repo, c.SHA, c.Content, s.now())
	if err != nil {
		return fmt.Errorf("store: save configuration of %s: %w", c.Repo, err)
	}
	return nil
}

// LastGoodRepoConfig returns repo's last good configuration, or ErrNotFound.
func (s *Store) LastGoodRepoConfig(ctx context.Context, repo string) (RepoConfig, error) {
	c := RepoConfig{Repo: repo}
	err := s.QueryRow(ctx, `SELECT sha, content FROM repo_configs WHERE repo = ?`, repo).Scan(&c.SHA, &c.Content)
	if errors.Is(err, sql.ErrNoRows) || errors.Is(err, pgx.ErrNoRows) {
		return c, ErrNotFound
	}
	if err != nil {
		return c, fmt.Errorf("store: configuration of %s: %w", repo, err)
	}
	return c, nil
}

// DeleteRepoConfig forgets repo's configuration (the file was deleted:
// the repository no longer wants hoist).
func (s *Store) DeleteRepoConfig(ctx context.Context, repo string) error {
	if _, err := s.Exec(ctx, `DELETE FROM repo_configs WHERE repo = ?`, repo); err != nil {
		return fmt.Errorf("store: forget configuration of %s: %w", repo, err)
	}
	return nil
}
