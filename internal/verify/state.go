package verify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hoist-dev/hoist/internal/store"
)

// Run is the verification of one deployment (table verify_runs).
type Run struct {
	ID         int64
	Repo, Env  string
	Deployment int64
	SHA        string
	URL        string
	// Incident is the automatic rollback this deployment carries out; 0
	// for an ordinary deployment.
	Incident   int64
	Status     string // queued, completed, superseded
	Conclusion string // success, failure
	Reason     string
	CheckRunID int64
	CreatedAt  time.Time
	Completed  time.Time
}

// Incident is one automatic rollback (table verify_incidents).
type Incident struct {
	ID            int64
	Repo, Env     string
	BadSHA        string
	BadDeployment int64
	GoodSHA       string
	RollbackSHA   string
	Stage         string
	Reason        string
	Commented     bool
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Stages of an incident.
const (
	StagePlanned    = "planned"
	StageCommitted  = "committed"
	StageMoved      = "moved"
	StagePublished  = "published"
	StageRestored   = "restored"
	StageFailed     = "failed"
	StageSuperseded = "superseded"
	StageStuck      = "stuck"
)

// open reports whether the incident's rollback is still under way.
func (i Incident) open() bool {
	switch i.Stage {
	case StagePlanned, StageCommitted, StageMoved, StagePublished:
		return true
	}
	return false
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

const runColumns = `id, repo, env, deployment, sha, url, incident, status, conclusion, reason, check_run_id, created_at, completed_at`

func scanRun(r store.Row) (Run, error) {
	var x Run
	var created, completed int64
	err := r.Scan(&x.ID, &x.Repo, &x.Env, &x.Deployment, &x.SHA, &x.URL, &x.Incident, &x.Status, &x.Conclusion, &x.Reason, &x.CheckRunID, &created, &completed)
	x.CreatedAt, x.Completed = fromMS(created), fromMS(completed)
	return x, err
}

const incidentColumns = `id, repo, env, bad_sha, bad_deployment, good_sha, rollback_sha, stage, reason, commented, created_at, updated_at`

func scanIncident(r store.Row) (Incident, error) {
	var x Incident
	var commented, created, updated int64
	err := r.Scan(&x.ID, &x.Repo, &x.Env, &x.BadSHA, &x.BadDeployment, &x.GoodSHA, &x.RollbackSHA, &x.Stage, &x.Reason, &commented, &created, &updated)
	x.Commented, x.CreatedAt, x.UpdatedAt = commented != 0, fromMS(created), fromMS(updated)
	return x, err
}

// state is the package's tables.
type state struct {
	st  *store.Store
	now func() time.Time
}

// addRun stores the verification of a deployment once (a retried publish
// finds it) and returns it.
func (s state) addRun(ctx context.Context, q store.Querier, r Run) (Run, error) {
	if _, err := q.Exec(ctx, `INSERT INTO verify_runs (repo, env, deployment, sha, url, incident, status, created_at)
		VALUES (?, ?, ?, ?, ?, ?, 'queued', ?) ON CONFLICT (repo, env, deployment) DO NOTHING`,
		r.Repo, r.Env, r.Deployment, r.SHA, r.URL, r.Incident, ms(s.now())); err != nil {
		return r, fmt.Errorf("verify: add run of %s %s: %w", r.Repo, r.Env, err)
	}
	got, err := scanRun(q.QueryRow(ctx, `SELECT `+runColumns+` FROM verify_runs WHERE repo = ? AND env = ? AND deployment = ?`, r.Repo, r.Env, r.Deployment))
	if err != nil {
		return r, fmt.Errorf("verify: read run of %s %s: %w", r.Repo, r.Env, err)
	}
	return got, nil
}

func (s state) run(ctx context.Context, id int64) (Run, error) {
	r, err := scanRun(s.st.QueryRow(ctx, `SELECT `+runColumns+` FROM verify_runs WHERE id = ?`, id))
	if err != nil {
		return r, fmt.Errorf("verify: run %d: %w", id, notFound(err))
	}
	return r, nil
}

func (s state) setCheckRun(ctx context.Context, id, checkRun int64) error {
	_, err := s.st.Exec(ctx, `UPDATE verify_runs SET check_run_id = ? WHERE id = ?`, checkRun, id)
	return err
}

func (s state) finishRun(ctx context.Context, id int64, status, conclusion, reason string) error {
	_, err := s.st.Exec(ctx, `UPDATE verify_runs SET status = ?, conclusion = ?, reason = ?, completed_at = ? WHERE id = ?`,
		status, conclusion, reason, ms(s.now()), id)
	if err != nil {
		return fmt.Errorf("verify: finish run %d: %w", id, err)
	}
	return nil
}

// lastVerified is the newest deployment of env that passed verification
// with a commit other than not; ok is false when there is none.
func (s state) lastVerified(ctx context.Context, repo, env, not string) (Run, bool, error) {
	r, err := scanRun(s.st.QueryRow(ctx, `SELECT `+runColumns+` FROM verify_runs
		WHERE repo = ? AND env = ? AND status = 'completed' AND conclusion = 'success' AND sha <> ? ORDER BY id DESC LIMIT 1`, repo, env, not))
	if err != nil {
		if errors.Is(notFound(err), store.ErrNotFound) {
			return r, false, nil
		}
		return r, false, fmt.Errorf("verify: last verified of %s %s: %w", repo, env, err)
	}
	return r, true, nil
}

// Latest is the newest verification of env, for /status and the
// dashboard; ok is false when env was never verified.
func (s state) latest(ctx context.Context, repo, env string) (Run, bool, error) {
	r, err := scanRun(s.st.QueryRow(ctx, `SELECT `+runColumns+` FROM verify_runs WHERE repo = ? AND env = ? ORDER BY id DESC LIMIT 1`, repo, env))
	if err != nil {
		if errors.Is(notFound(err), store.ErrNotFound) {
			return r, false, nil
		}
		return r, false, err
	}
	return r, true, nil
}

// addIncident stores an incident once per failed deployment.
func (s state) addIncident(ctx context.Context, q store.Querier, i Incident) (Incident, bool, error) {
	now := ms(s.now())
	n, err := q.Exec(ctx, `INSERT INTO verify_incidents (repo, env, bad_sha, bad_deployment, good_sha, stage, reason, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (repo, env, bad_deployment) DO NOTHING`,
		i.Repo, i.Env, i.BadSHA, i.BadDeployment, i.GoodSHA, i.Stage, i.Reason, now, now)
	if err != nil {
		return i, false, fmt.Errorf("verify: add incident on %s %s: %w", i.Repo, i.Env, err)
	}
	got, err := scanIncident(q.QueryRow(ctx, `SELECT `+incidentColumns+` FROM verify_incidents WHERE repo = ? AND env = ? AND bad_deployment = ?`,
		i.Repo, i.Env, i.BadDeployment))
	if err != nil {
		return i, false, fmt.Errorf("verify: read incident on %s %s: %w", i.Repo, i.Env, err)
	}
	return got, n > 0, nil
}

func (s state) incident(ctx context.Context, id int64) (Incident, error) {
	i, err := scanIncident(s.st.QueryRow(ctx, `SELECT `+incidentColumns+` FROM verify_incidents WHERE id = ?`, id))
	if err != nil {
		return i, fmt.Errorf("verify: incident %d: %w", id, notFound(err))
	}
	return i, nil
}

// rollbackOf is the incident whose rollback commit sha is, if any.
func (s state) rollbackOf(ctx context.Context, repo, env, sha string) (Incident, bool, error) {
	i, err := scanIncident(s.st.QueryRow(ctx, `SELECT `+incidentColumns+` FROM verify_incidents
		WHERE repo = ? AND env = ? AND rollback_sha = ? ORDER BY id DESC LIMIT 1`, repo, env, sha))
	if err != nil {
		if errors.Is(notFound(err), store.ErrNotFound) {
			return i, false, nil
		}
		return i, false, err
	}
	return i, true, nil
}

// latestIncident is the newest incident of env.
func (s state) latestIncident(ctx context.Context, repo, env string) (Incident, bool, error) {
	i, err := scanIncident(s.st.QueryRow(ctx, `SELECT `+incidentColumns+` FROM verify_incidents WHERE repo = ? AND env = ? ORDER BY id DESC LIMIT 1`, repo, env))
	if err != nil {
		if errors.Is(notFound(err), store.ErrNotFound) {
			return i, false, nil
		}
		return i, false, err
	}
	return i, true, nil
}

func (s state) updateIncident(ctx context.Context, i Incident) error {
	commented := 0
	if i.Commented {
		commented = 1
	}
	_, err := s.st.Exec(ctx, `UPDATE verify_incidents SET good_sha = ?, rollback_sha = ?, stage = ?, reason = ?, commented = ?, updated_at = ? WHERE id = ?`,
		i.GoodSHA, i.RollbackSHA, i.Stage, i.Reason, commented, ms(s.now()), i.ID)
	if err != nil {
		return fmt.Errorf("verify: update incident %d: %w", i.ID, err)
	}
	return nil
}

// notFound maps "no rows" of either driver to store.ErrNotFound.
func notFound(err error) error {
	if err == nil {
		return nil
	}
	if store.IsNoRows(err) {
		return store.ErrNotFound
	}
	return err
}
