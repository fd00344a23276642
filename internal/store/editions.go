package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Edition is a branch's or pull request's edition as hoist published it.
type Edition struct {
	Repo string
	// Ref is "branch:<name>" or "pr:<number>".
	Ref    string
	Name   string
	Target string
	// Prefix is the edition's whole folder on the target.
	Prefix       string
	URL          string
	Installation int64
	SHA          string
	Deployment   int64
	Comment      int64
	// RemoveAt is when the edition goes, its ref deleted; zero while the
	// ref exists.
	RemoveAt time.Time
	// RemoveJob is the job planned to remove it.
	RemoveJob int64
	// OldName, OldPrefix and OldDeployment are a renamed edition's former
	// place, still to be removed.
	OldName       string
	OldPrefix     string
	OldDeployment int64
}

// ErrEditionTaken is returned when another branch or pull request holds
// the folder an edition would be published to.
var ErrEditionTaken = errors.New("the folder is another edition's")

const editionCols = `repo, ref, name, target, prefix, url, installation, sha, deployment, comment, remove_at, remove_job, old_name, old_prefix, old_deployment`

func scanEdition(r Row) (Edition, error) {
	var e Edition
	var removeAt int64
	err := r.Scan(&e.Repo, &e.Ref, &e.Name, &e.Target, &e.Prefix, &e.URL, &e.Installation, &e.SHA, &e.Deployment, &e.Comment,
		&removeAt, &e.RemoveJob, &e.OldName, &e.OldPrefix, &e.OldDeployment)
	if removeAt != 0 {
		e.RemoveAt = time.UnixMilli(removeAt)
	}
	return e, err
}

// EditionOf returns the edition of repo's ref.
func (s *Store) EditionOf(ctx context.Context, repo, ref string) (Edition, bool, error) {
	e, err := scanEdition(s.QueryRow(ctx, `SELECT `+editionCols+` FROM editions WHERE repo = ? AND ref = ?`, repo, ref))
	if noRows(err) {
		return Edition{}, false, nil
	}
	if err != nil {
		return Edition{}, false, fmt.Errorf("store: edition %s %s: %w", repo, ref, err)
	}
	return e, true, nil
}

// Editions lists repo's editions.
func (s *Store) Editions(ctx context.Context, repo string) ([]Edition, error) {
	rows, err := s.Query(ctx, `SELECT `+editionCols+` FROM editions WHERE repo = ? ORDER BY ref`, repo)
	if err != nil {
		return nil, fmt.Errorf("store: editions of %s: %w", repo, err)
	}
	defer rows.Close()
	var out []Edition
	for rows.Next() {
		e, err := scanEdition(rows)
		if err != nil {
			return nil, fmt.Errorf("store: editions of %s: %w", repo, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// ClaimEdition records that e.Ref publishes to e.Prefix of e.Target, and
// that the ref exists (any removal planned is called off). It refuses
// with ErrEditionTaken when another ref holds that folder, or is still to
// remove it. When the ref had its edition elsewhere (a rename), the former
// place is kept in OldName/OldPrefix/OldDeployment until
// EditionMoved. It returns the row as it is now.
func (s *Store) ClaimEdition(ctx context.Context, e Edition) (Edition, error) {
	now := s.now().UnixMilli()
	var out Edition
	err := s.InTx(ctx, func(tx Tx) error {
		var other string
		err := tx.QueryRow(ctx, `SELECT ref FROM editions WHERE target = ? AND (prefix = ? OR old_prefix = ?) AND NOT (repo = ? AND ref = ?)`,
			e.Target, e.Prefix, e.Prefix, e.Repo, e.Ref).Scan(&other)
		if err == nil {
			return fmt.Errorf("%w (%s)", ErrEditionTaken, other)
		}
		if !noRows(err) {
			return err
		}
		prev, err := scanEdition(tx.QueryRow(ctx, `SELECT `+editionCols+` FROM editions WHERE repo = ? AND ref = ?`, e.Repo, e.Ref))
		switch {
		case noRows(err):
			_, err = tx.Exec(ctx, `INSERT INTO editions (repo, ref, name, target, prefix, url, installation, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				e.Repo, e.Ref, e.Name, e.Target, e.Prefix, e.URL, e.Installation, now)
			if err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			oldName, oldPrefix, oldDep := prev.OldName, prev.OldPrefix, prev.OldDeployment
			if (prev.Prefix != e.Prefix || prev.Target != e.Target) && oldPrefix == "" && prev.Target == e.Target {
				oldName, oldPrefix, oldDep = prev.Name, prev.Prefix, prev.Deployment
			}
			_, err = tx.Exec(ctx, `UPDATE editions SET name = ?, target = ?, prefix = ?, url = ?, installation = ?, remove_at = 0, remove_job = 0,
old_name = ?, old_prefix = ?, old_deployment = ?, updated_at = ? WHERE repo = ? AND ref = ?`,
				e.Name, e.Target, e.Prefix, e.URL, e.Installation, oldName, oldPrefix, oldDep, now, e.Repo, e.Ref)
			if err != nil {
				return err
			}
		}
		out, err = scanEdition(tx.QueryRow(ctx, `SELECT `+editionCols+` FROM editions WHERE repo = ? AND ref = ?`, e.Repo, e.Ref))
		return err
	})
	if err != nil {
		if isUniqueViolation(err) {
			// Another replica claimed the folder at the same moment.
			err = ErrEditionTaken
		}
		if errors.Is(err, ErrEditionTaken) {
			return Edition{}, err
		}
		return Edition{}, fmt.Errorf("store: claim edition %s %s: %w", e.Repo, e.Ref, err)
	}
	return out, nil
}

func isUniqueViolation(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint") || strings.Contains(msg, "SQLSTATE 23505")
}

// EditionDeployed records the commit and deployment of the edition's
// newest publish.
func (s *Store) EditionDeployed(ctx context.Context, repo, ref, sha string, deployment int64) error {
	_, err := s.Exec(ctx, `UPDATE editions SET sha = ?, deployment = ?, updated_at = ? WHERE repo = ? AND ref = ?`,
		sha, deployment, s.now().UnixMilli(), repo, ref)
	if err != nil {
		return fmt.Errorf("store: edition %s %s deployed: %w", repo, ref, err)
	}
	return nil
}

// EditionCommented records the pull request comment that carries the
// edition's URL.
func (s *Store) EditionCommented(ctx context.Context, repo, ref string, comment int64) error {
	_, err := s.Exec(ctx, `UPDATE editions SET comment = ? WHERE repo = ? AND ref = ?`, comment, repo, ref)
	if err != nil {
		return fmt.Errorf("store: edition %s %s comment: %w", repo, ref, err)
	}
	return nil
}

// EditionMoved forgets a renamed edition's former place once it is
// removed.
func (s *Store) EditionMoved(ctx context.Context, repo, ref, oldPrefix string) error {
	_, err := s.Exec(ctx, `UPDATE editions SET old_name = '', old_prefix = '', old_deployment = 0 WHERE repo = ? AND ref = ? AND old_prefix = ?`,
		repo, ref, oldPrefix)
	if err != nil {
		return fmt.Errorf("store: edition %s %s moved: %w", repo, ref, err)
	}
	return nil
}

// ScheduleEditionRemoval plans the removal of repo's ref's edition at at
// (its ref was deleted). It reports false when there is no such edition,
// or it belongs to another installation: nothing is planned then.
func (s *Store) ScheduleEditionRemoval(ctx context.Context, repo, ref string, installation int64, at time.Time) (bool, error) {
	n, err := s.Exec(ctx, `UPDATE editions SET remove_at = ?, updated_at = ? WHERE repo = ? AND ref = ? AND installation = ?`,
		at.UnixMilli(), s.now().UnixMilli(), repo, ref, installation)
	if err != nil {
		return false, fmt.Errorf("store: schedule removal of edition %s %s: %w", repo, ref, err)
	}
	return n == 1, nil
}

// EditionRemovalJob records the job planned to remove the edition at
// removeAt.
func (s *Store) EditionRemovalJob(ctx context.Context, repo, ref string, removeAt time.Time, job int64) error {
	_, err := s.Exec(ctx, `UPDATE editions SET remove_job = ? WHERE repo = ? AND ref = ? AND remove_at = ?`, job, repo, ref, removeAt.UnixMilli())
	if err != nil {
		return fmt.Errorf("store: edition %s %s removal job: %w", repo, ref, err)
	}
	return nil
}

// CancelEditionRemoval calls off a planned removal (the ref is back).
func (s *Store) CancelEditionRemoval(ctx context.Context, repo, ref string) error {
	_, err := s.Exec(ctx, `UPDATE editions SET remove_at = 0, remove_job = 0 WHERE repo = ? AND ref = ?`, repo, ref)
	if err != nil {
		return fmt.Errorf("store: cancel removal of edition %s %s: %w", repo, ref, err)
	}
	return nil
}

// DeleteEdition forgets an edition whose files are removed, if its
// removal is still planned for removeAt (a ref that came back since keeps
// its row).
func (s *Store) DeleteEdition(ctx context.Context, repo, ref string, removeAt time.Time) (bool, error) {
	n, err := s.Exec(ctx, `DELETE FROM editions WHERE repo = ? AND ref = ? AND remove_at = ?`, repo, ref, removeAt.UnixMilli())
	if err != nil {
		return false, fmt.Errorf("store: delete edition %s %s: %w", repo, ref, err)
	}
	return n == 1, nil
}
