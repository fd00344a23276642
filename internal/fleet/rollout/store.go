package rollout

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hoist-dev/hoist/internal/store"
)

// Stage is one of an instance's two branches.
type Stage string

const (
	// StageDev is dev-{name}, upgraded first.
	StageDev Stage = "dev"
	// StageProd is {name}, upgraded once dev passed its gates.
	StageProd Stage = "prod"
)

// RolloutState is where a whole rollout is.
type RolloutState string

const (
	RolloutRunning  RolloutState = "running"
	RolloutStopped  RolloutState = "stopped"
	RolloutFinished RolloutState = "finished"
)

// Spec is what a rollout froze when it began, so that a resumed or
// retried rollout follows the plan it started with.
type Spec struct {
	Owner         string   `json:"owner"`
	Name          string   `json:"name"`
	DefaultBranch string   `json:"default_branch,omitempty"`
	Instances     []string `json:"instances"`
	Canaries      []string `json:"canaries,omitempty"`
	WaveSize      int      `json:"wave_size"`
	// MaxFailureShare is the share of instances that may fail (0 to 1).
	MaxFailureShare float64 `json:"max_failure_share"`
	// DevBranch and ProdBranch are branch patterns with {name}.
	DevBranch  string `json:"dev_branch"`
	ProdBranch string `json:"prod_branch"`
}

// Plan is the planner's view of the spec.
func (s Spec) Plan() Plan {
	return Plan{Instances: s.Instances, Canaries: s.Canaries, WaveSize: s.WaveSize, MaxFailureShare: s.MaxFailureShare}
}

// Rollout is one release on its way to a fleet.
type Rollout struct {
	ID           int64
	Repo         string // owner/name
	Installation int64
	Release      string // the pushed ref
	SHA          string
	Spec         Spec
	State        RolloutState
	Reason       string
	Actor        string
	CheckRunID   int64
	// Version counts changes; Reported is the version the check run shows,
	// written at ReportedAt (zero before the first).
	Version, Reported int64
	ReportedAt        time.Time
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// Instance is one instance's part of a rollout.
type Instance struct {
	RolloutID  int64
	Name       string
	Wave       int
	Stage      Stage
	State      State
	Reason     string
	Link       string
	Screenshot string
	Attempt    int
	UpdatedAt  time.Time
}

// ErrNotFound is returned for a rollout that does not exist.
var ErrNotFound = errors.New("rollout not found")

// db is the rollout tables in hoist's store.
type db struct {
	st  *store.Store
	now func() time.Time
}

func (d db) q(tx store.Tx) store.Querier {
	if tx != nil {
		return tx
	}
	return d.st
}

func noRows(err error) bool { return errors.Is(err, sql.ErrNoRows) || errors.Is(err, pgx.ErrNoRows) }

// create records a rollout and its instances in their waves; for a release
// commit with a rollout already, it returns that one and created false.
func (d db) create(ctx context.Context, tx store.Tx, r Rollout) (Rollout, bool, error) {
	spec, err := json.Marshal(r.Spec)
	if err != nil {
		return r, false, fmt.Errorf("rollout plan: %w", err)
	}
	now := d.now().UTC()
	r.CreatedAt, r.UpdatedAt, r.State = now, now, RolloutRunning
	err = tx.QueryRow(ctx, `INSERT INTO rollouts (repo, installation, release, sha, plan, state, actor, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (repo, sha) DO NOTHING RETURNING id`,
		r.Repo, r.Installation, r.Release, r.SHA, string(spec), string(r.State), r.Actor, now, now).Scan(&r.ID)
	if noRows(err) {
		old, err := d.bySHA(ctx, tx, r.Repo, r.SHA)
		return old, false, err
	}
	if err != nil {
		return r, false, fmt.Errorf("record rollout of %s@%s: %w", r.Repo, r.SHA, err)
	}
	for w, names := range r.Spec.Plan().Waves() {
		for _, n := range names {
			if _, err := tx.Exec(ctx, `INSERT INTO rollout_instances (rollout_id, instance, wave, stage, state, updated_at)
				VALUES (?, ?, ?, ?, ?, ?)`, r.ID, n, w, string(StageDev), string(StatePending), now); err != nil {
				return r, false, fmt.Errorf("record instance %s of rollout %d: %w", n, r.ID, err)
			}
		}
	}
	return r, true, nil
}

const rolloutColumns = `id, repo, installation, release, sha, plan, state, reason, actor, check_run_id, version, reported, reported_at, created_at, updated_at`

func scanRollout(row store.Row) (Rollout, error) {
	var r Rollout
	var spec, state string
	var reportedAt sql.NullTime
	err := row.Scan(&r.ID, &r.Repo, &r.Installation, &r.Release, &r.SHA, &spec, &state, &r.Reason, &r.Actor, &r.CheckRunID,
		&r.Version, &r.Reported, &reportedAt, &r.CreatedAt, &r.UpdatedAt)
	r.ReportedAt = reportedAt.Time
	if noRows(err) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, err
	}
	r.State = RolloutState(state)
	if err := json.Unmarshal([]byte(spec), &r.Spec); err != nil {
		return r, fmt.Errorf("rollout %d plan: %w", r.ID, err)
	}
	return r, nil
}

func (d db) get(ctx context.Context, tx store.Tx, id int64) (Rollout, error) {
	r, err := scanRollout(d.q(tx).QueryRow(ctx, `SELECT `+rolloutColumns+` FROM rollouts WHERE id = ?`, id))
	if err != nil {
		return r, fmt.Errorf("rollout %d: %w", id, err)
	}
	return r, nil
}

func (d db) bySHA(ctx context.Context, tx store.Tx, repo, sha string) (Rollout, error) {
	r, err := scanRollout(d.q(tx).QueryRow(ctx, `SELECT `+rolloutColumns+` FROM rollouts WHERE repo = ? AND sha = ?`, repo, sha))
	if err != nil {
		return r, fmt.Errorf("rollout of %s@%s: %w", repo, sha, err)
	}
	return r, nil
}

func (d db) byCheckRun(ctx context.Context, repo string, checkRunID int64) (Rollout, error) {
	r, err := scanRollout(d.st.QueryRow(ctx, `SELECT `+rolloutColumns+` FROM rollouts WHERE repo = ? AND check_run_id = ?`, repo, checkRunID))
	if err != nil {
		return r, fmt.Errorf("rollout of check run %d: %w", checkRunID, err)
	}
	return r, nil
}

// list returns the newest rollouts of repo, newest first.
func (d db) list(ctx context.Context, repo string, limit int) ([]Rollout, error) {
	rows, err := d.st.Query(ctx, `SELECT `+rolloutColumns+` FROM rollouts WHERE repo = ? ORDER BY id DESC LIMIT ?`, repo, limit)
	if err != nil {
		return nil, fmt.Errorf("rollouts of %s: %w", repo, err)
	}
	defer rows.Close()
	var out []Rollout
	for rows.Next() {
		r, err := scanRollout(rows)
		if err != nil {
			return nil, fmt.Errorf("rollouts of %s: %w", repo, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (d db) instances(ctx context.Context, tx store.Tx, id int64) ([]Instance, error) {
	rows, err := d.q(tx).Query(ctx, `SELECT rollout_id, instance, wave, stage, state, reason, link, screenshot, attempt, updated_at
		FROM rollout_instances WHERE rollout_id = ? ORDER BY wave, instance`, id)
	if err != nil {
		return nil, fmt.Errorf("instances of rollout %d: %w", id, err)
	}
	defer rows.Close()
	var out []Instance
	for rows.Next() {
		var i Instance
		var stage, state string
		if err := rows.Scan(&i.RolloutID, &i.Name, &i.Wave, &stage, &state, &i.Reason, &i.Link, &i.Screenshot, &i.Attempt, &i.UpdatedAt); err != nil {
			return nil, fmt.Errorf("instances of rollout %d: %w", id, err)
		}
		i.Stage, i.State = Stage(stage), State(state)
		out = append(out, i)
	}
	return out, rows.Err()
}

func (d db) instance(ctx context.Context, tx store.Tx, id int64, name string) (Instance, error) {
	var i Instance
	var stage, state string
	err := d.q(tx).QueryRow(ctx, `SELECT rollout_id, instance, wave, stage, state, reason, link, screenshot, attempt, updated_at
		FROM rollout_instances WHERE rollout_id = ? AND instance = ?`, id, name).
		Scan(&i.RolloutID, &i.Name, &i.Wave, &stage, &state, &i.Reason, &i.Link, &i.Screenshot, &i.Attempt, &i.UpdatedAt)
	if noRows(err) {
		return i, fmt.Errorf("instance %s of rollout %d: %w", name, id, ErrNotFound)
	}
	if err != nil {
		return i, fmt.Errorf("instance %s of rollout %d: %w", name, id, err)
	}
	i.Stage, i.State = Stage(stage), State(state)
	return i, nil
}

// bump counts a change of the rollout, for the check run to show, and
// returns the new version. In a transaction it also locks the rollout's
// row until the commit, which is what serialises the decisions of
// instances finishing together.
func (d db) bump(ctx context.Context, q store.Querier, id int64) (int64, error) {
	var v int64
	err := q.QueryRow(ctx, `UPDATE rollouts SET version = version + 1, updated_at = ? WHERE id = ? RETURNING version`, d.now().UTC(), id).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("rollout %d: %w", id, err)
	}
	return v, nil
}

// setInstance records an instance's progress in its attempt; it reports
// false (and changes nothing) when a retry began a newer attempt, or the
// instance is no longer running, so a late job of an old attempt cannot
// overwrite what the new one did.
func (d db) setInstance(ctx context.Context, tx store.Tx, i Instance) (bool, error) {
	q := d.q(tx)
	n, err := q.Exec(ctx, `UPDATE rollout_instances SET stage = ?, state = ?, reason = ?, link = ?, screenshot = ?, updated_at = ?
		WHERE rollout_id = ? AND instance = ? AND attempt = ? AND state = ?`,
		string(i.Stage), string(i.State), i.Reason, i.Link, i.Screenshot, d.now().UTC(), i.RolloutID, i.Name, i.Attempt, string(StateRunning))
	if err != nil {
		return false, fmt.Errorf("instance %s of rollout %d: %w", i.Name, i.RolloutID, err)
	}
	return n > 0, nil
}

// start marks pending instances running; it returns the attempt of each
// one it started (an instance started already is left out).
func (d db) start(ctx context.Context, tx store.Tx, id int64, names []string) (map[string]int, error) {
	out := map[string]int{}
	for _, n := range names {
		var attempt int
		err := tx.QueryRow(ctx, `UPDATE rollout_instances SET state = ?, stage = ?, reason = '', updated_at = ?
			WHERE rollout_id = ? AND instance = ? AND state = ? RETURNING attempt`,
			string(StateRunning), string(StageDev), d.now().UTC(), id, n, string(StatePending)).Scan(&attempt)
		if noRows(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("start instance %s of rollout %d: %w", n, id, err)
		}
		out[n] = attempt
	}
	return out, nil
}

// skip marks pending instances skipped: the rollout stopped before them.
func (d db) skip(ctx context.Context, tx store.Tx, id int64, names []string) error {
	for _, n := range names {
		if _, err := tx.Exec(ctx, `UPDATE rollout_instances SET state = ?, reason = ?, updated_at = ? WHERE rollout_id = ? AND instance = ? AND state = ?`,
			string(StateSkipped), "not started: the rollout stopped", d.now().UTC(), id, n, string(StatePending)); err != nil {
			return fmt.Errorf("skip instance %s of rollout %d: %w", n, id, err)
		}
	}
	return nil
}

// retry makes failed or skipped instances pending again in a new attempt
// and the rollout running; it returns the instances it reset.
func (d db) retry(ctx context.Context, tx store.Tx, id int64, names []string) ([]string, error) {
	var out []string
	for _, n := range names {
		m, err := tx.Exec(ctx, `UPDATE rollout_instances SET state = ?, stage = ?, reason = '', link = '', screenshot = '', attempt = attempt + 1, updated_at = ?
			WHERE rollout_id = ? AND instance = ? AND state IN (?, ?)`,
			string(StatePending), string(StageDev), d.now().UTC(), id, n, string(StateFailed), string(StateSkipped))
		if err != nil {
			return nil, fmt.Errorf("retry instance %s of rollout %d: %w", n, id, err)
		}
		if m > 0 {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	// A new check run shows the retry: GitHub shows buttons only on
	// completed runs, and a completed run does not go back in progress.
	if _, err := tx.Exec(ctx, `UPDATE rollouts SET state = ?, reason = '', check_run_id = 0, reported = -1, reported_at = NULL WHERE id = ?`, string(RolloutRunning), id); err != nil {
		return nil, fmt.Errorf("resume rollout %d: %w", id, err)
	}
	return out, nil
}

func (d db) setState(ctx context.Context, tx store.Tx, id int64, state RolloutState, reason string) error {
	if _, err := d.q(tx).Exec(ctx, `UPDATE rollouts SET state = ?, reason = ? WHERE id = ?`, string(state), reason, id); err != nil {
		return fmt.Errorf("rollout %d: %w", id, err)
	}
	return nil
}

func (d db) setCheckRun(ctx context.Context, id, checkRunID int64) error {
	if _, err := d.st.Exec(ctx, `UPDATE rollouts SET check_run_id = ? WHERE id = ? AND check_run_id = 0`, checkRunID, id); err != nil {
		return fmt.Errorf("rollout %d: %w", id, err)
	}
	return nil
}

// claimReport takes the turn to show version on the check run: it
// succeeds only if no one else reported since from was read, so two report
// jobs never write the check run in the same turn.
func (d db) claimReport(ctx context.Context, id, from, version int64) (bool, error) {
	n, err := d.st.Exec(ctx, `UPDATE rollouts SET reported = ?, reported_at = ? WHERE id = ? AND reported = ?`, version, d.now().UTC(), id, from)
	if err != nil {
		return false, fmt.Errorf("rollout %d: %w", id, err)
	}
	return n > 0, nil
}
