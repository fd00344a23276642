// Package fleet runs a fleet: one instance of a product per customer, each
// a pair of branches ({name} and dev-{name}) deployed to its own folders,
// with settings held in hoist's database and written into each deployed
// stage as a file. It owns the instances' tables, the launch job, run-time
// settings changes, the trial lifecycle and the /api/fleets routes; the
// template every instance follows is config.RepoFleet.
package fleet

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

// Plan is what an instance is paid for.
type Plan string

const (
	PlanTrial Plan = "trial"
	PlanPaid  Plan = "paid"
)

// State is where an instance is in its life.
type State string

const (
	// StateLaunching: the launch job runs (or will resume).
	StateLaunching State = "launching"
	// StateLive: both stages deployed and serving.
	StateLive State = "live"
	// StateFailed: a launch step failed for good; Reason says why.
	StateFailed State = "failed"
	// StateSuspended: the maintenance page is served; nothing is deleted.
	StateSuspended State = "suspended"
	// StateDeleted: branches, folders and DNS records are gone; the row
	// and the settings history are kept for the grace period.
	StateDeleted State = "deleted"
)

// Instance is one customer's instance of a repository's fleet.
type Instance struct {
	Repo string // owner/name
	Name string // a DNS label, unique per repository
	Plan Plan
	// ExpiresAt ends a trial; nil for paid instances.
	ExpiresAt *time.Time
	// WarnedAt is when the end of the trial was announced.
	WarnedAt *time.Time
	State    State
	Reason   string
	// Settings is the current settings document (defaults applied).
	Settings map[string]any
	// SettingsVersion numbers Settings in the instance's history.
	SettingsVersion int
	// Version and SHA are the release the instance runs.
	Version   string
	SHA       string
	CreatedBy string
	CreatedAt time.Time
	UpdatedAt time.Time
	DeletedAt *time.Time
}

// SettingsChange is one entry of an instance's settings history.
type SettingsChange struct {
	Version   int            `json:"version"`
	Settings  map[string]any `json:"settings"`
	ChangedBy string         `json:"changed_by"`
	Note      string         `json:"note,omitempty"`
	ChangedAt time.Time      `json:"changed_at"`
}

// Step is a finished step of a launch.
type Step struct {
	Name   string
	Detail string
	DoneAt time.Time
}

var (
	// ErrExists refuses a second instance of the same name.
	ErrExists = errors.New("an instance of that name exists")
	// ErrNotFound is an unknown instance.
	ErrNotFound = errors.New("no such instance")
)

// Store is the fleet's tables in hoist's database.
type Store struct {
	db  *store.Store
	now func() time.Time
}

// NewStore uses db's connection; its tables come with db's migrations.
func NewStore(db *store.Store) *Store {
	return &Store{db: db, now: func() time.Time { return time.Now().UTC() }}
}

// DB is the database the fleet's tables live in.
func (s *Store) DB() *store.Store { return s.db }

func ms(t time.Time) int64 { return t.UnixMilli() }

func msPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMilli()
}

func fromMS(v *int64) *time.Time {
	if v == nil {
		return nil
	}
	t := time.UnixMilli(*v).UTC()
	return &t
}

const instanceColumns = `repo, name, plan, expires_at, warned_at, state, reason, settings, settings_version, version, sha, created_by, created_at, updated_at, deleted_at`

func scanInstance(r store.Row) (Instance, error) {
	var in Instance
	var plan, state, settings string
	var expires, warned, deleted *int64
	var created, updated int64
	if err := r.Scan(&in.Repo, &in.Name, &plan, &expires, &warned, &state, &in.Reason, &settings, &in.SettingsVersion,
		&in.Version, &in.SHA, &in.CreatedBy, &created, &updated, &deleted); err != nil {
		return Instance{}, err
	}
	in.Plan, in.State = Plan(plan), State(state)
	in.ExpiresAt, in.WarnedAt, in.DeletedAt = fromMS(expires), fromMS(warned), fromMS(deleted)
	in.CreatedAt, in.UpdatedAt = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	if err := json.Unmarshal([]byte(settings), &in.Settings); err != nil {
		return Instance{}, fmt.Errorf("settings of %s: %w", in.Name, err)
	}
	return in, nil
}

func notFound(err error) bool {
	return errors.Is(err, sql.ErrNoRows) || errors.Is(err, pgx.ErrNoRows)
}

// Create stores a new instance in state launching, with its settings as
// version 1 of its history, and an audit row, in one transaction. A name
// the repository already has (in any state, deleted included until its
// data is purged) is ErrExists.
func (s *Store) Create(ctx context.Context, in Instance) (Instance, error) {
	return s.create(ctx, in, nil)
}

// create is Create with more work in the same transaction (queueing the
// launch job), so that an instance never exists without its launch.
func (s *Store) create(ctx context.Context, in Instance, also func(store.Tx) error) (Instance, error) {
	now := s.now()
	in.State, in.SettingsVersion, in.CreatedAt, in.UpdatedAt = StateLaunching, 1, now, now
	if in.Settings == nil {
		in.Settings = map[string]any{}
	}
	settings, err := json.Marshal(in.Settings)
	if err != nil {
		return Instance{}, fmt.Errorf("fleet: settings of %s: %w", in.Name, err)
	}
	err = s.db.InTx(ctx, func(tx store.Tx) error {
		n, err := tx.Exec(ctx, `INSERT INTO fleet_instances (`+instanceColumns+`)
			VALUES (?, ?, ?, ?, NULL, ?, '', ?, 1, ?, ?, ?, ?, ?, NULL) ON CONFLICT (repo, name) DO NOTHING`,
			in.Repo, in.Name, string(in.Plan), msPtr(in.ExpiresAt), string(in.State), string(settings), in.Version, in.SHA, in.CreatedBy, ms(now), ms(now))
		if err != nil {
			return fmt.Errorf("fleet: store instance %s of %s: %w", in.Name, in.Repo, err)
		}
		if n == 0 {
			return ErrExists
		}
		if _, err := tx.Exec(ctx, `INSERT INTO fleet_settings (repo, name, version, settings, changed_by, note, changed_at) VALUES (?, ?, 1, ?, ?, 'launch', ?)`,
			in.Repo, in.Name, string(settings), in.CreatedBy, ms(now)); err != nil {
			return fmt.Errorf("fleet: store settings of %s: %w", in.Name, err)
		}
		if also != nil {
			if err := also(tx); err != nil {
				return err
			}
		}
		return s.db.AuditIn(ctx, tx, store.AuditEntry{Repo: in.Repo, Actor: in.CreatedBy, Action: "fleet.create", Outcome: "success",
			Detail: map[string]any{"instance": in.Name, "plan": string(in.Plan), "settings": in.Settings}})
	})
	if err != nil {
		return Instance{}, err
	}
	return in, nil
}

// Get returns an instance, or ErrNotFound.
func (s *Store) Get(ctx context.Context, repo, name string) (Instance, error) {
	in, err := scanInstance(s.db.QueryRow(ctx, `SELECT `+instanceColumns+` FROM fleet_instances WHERE repo = ? AND name = ?`, repo, name))
	if notFound(err) {
		return Instance{}, ErrNotFound
	}
	if err != nil {
		return Instance{}, fmt.Errorf("fleet: read instance %s of %s: %w", name, repo, err)
	}
	return in, nil
}

// List returns the instances of repo by name, deleted ones included.
func (s *Store) List(ctx context.Context, repo string) ([]Instance, error) {
	return s.where(ctx, `repo = ? ORDER BY name`, repo)
}

// Trials returns every trial instance that is live and expires before
// until, across repositories, for the daily lifecycle job.
func (s *Store) Trials(ctx context.Context, until time.Time) ([]Instance, error) {
	return s.where(ctx, `plan = 'trial' AND state = 'live' AND expires_at IS NOT NULL AND expires_at < ? ORDER BY repo, name`, ms(until))
}

func (s *Store) where(ctx context.Context, cond string, args ...any) ([]Instance, error) {
	rows, err := s.db.Query(ctx, `SELECT `+instanceColumns+` FROM fleet_instances WHERE `+cond, args...)
	if err != nil {
		return nil, fmt.Errorf("fleet: list instances: %w", err)
	}
	defer rows.Close()
	var out []Instance
	for rows.Next() {
		in, err := scanInstance(rows)
		if err != nil {
			return nil, fmt.Errorf("fleet: list instances: %w", err)
		}
		out = append(out, in)
	}
	return out, rows.Err()
}

// Update is a change of an instance's row, with the audit row it makes.
type Update struct {
	State     *State
	Reason    *string
	Plan      *Plan
	ExpiresAt **time.Time
	WarnedAt  *time.Time
	Version   *string
	SHA       *string
	DeletedAt *time.Time
	// Audit, when its Action is set, is written in the same transaction.
	Audit store.AuditEntry
}

// Apply changes an instance. It is ErrNotFound when the instance does not
// exist.
func (s *Store) Apply(ctx context.Context, repo, name string, u Update) (Instance, error) {
	var out Instance
	err := s.db.InTx(ctx, func(tx store.Tx) error {
		in, err := scanInstance(tx.QueryRow(ctx, `SELECT `+instanceColumns+` FROM fleet_instances WHERE repo = ? AND name = ?`, repo, name))
		if notFound(err) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("fleet: read instance %s: %w", name, err)
		}
		if u.State != nil {
			in.State = *u.State
		}
		if u.Reason != nil {
			in.Reason = *u.Reason
		}
		if u.Plan != nil {
			in.Plan = *u.Plan
		}
		if u.ExpiresAt != nil {
			in.ExpiresAt = *u.ExpiresAt
		}
		if u.WarnedAt != nil {
			in.WarnedAt = u.WarnedAt
		}
		if u.Version != nil {
			in.Version = *u.Version
		}
		if u.SHA != nil {
			in.SHA = *u.SHA
		}
		if u.DeletedAt != nil {
			in.DeletedAt = u.DeletedAt
		}
		in.UpdatedAt = s.now()
		if _, err := tx.Exec(ctx, `UPDATE fleet_instances SET state = ?, reason = ?, plan = ?, expires_at = ?, warned_at = ?, version = ?, sha = ?, deleted_at = ?, updated_at = ?
			WHERE repo = ? AND name = ?`, string(in.State), in.Reason, string(in.Plan), msPtr(in.ExpiresAt), msPtr(in.WarnedAt), in.Version, in.SHA, msPtr(in.DeletedAt), ms(in.UpdatedAt), repo, name); err != nil {
			return fmt.Errorf("fleet: update instance %s: %w", name, err)
		}
		if u.Audit.Action != "" {
			a := u.Audit
			a.Repo = repo
			if a.Detail == nil {
				a.Detail = map[string]any{}
			}
			a.Detail["instance"] = name
			if err := s.db.AuditIn(ctx, tx, a); err != nil {
				return err
			}
		}
		out = in
		return nil
	})
	return out, err
}

// SetSettings records settings as the instance's next settings version and
// audits who changed what from what. check runs inside the transaction on
// the instance as it is (to refuse a change of a deleted instance, say).
func (s *Store) SetSettings(ctx context.Context, repo, name string, settings map[string]any, by, note string, check func(Instance) error) (before, after Instance, err error) {
	raw, err := json.Marshal(settings)
	if err != nil {
		return Instance{}, Instance{}, fmt.Errorf("fleet: settings of %s: %w", name, err)
	}
	err = s.db.InTx(ctx, func(tx store.Tx) error {
		in, err := scanInstance(tx.QueryRow(ctx, `SELECT `+instanceColumns+` FROM fleet_instances WHERE repo = ? AND name = ?`, repo, name))
		if notFound(err) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("fleet: read instance %s: %w", name, err)
		}
		if check != nil {
			if err := check(in); err != nil {
				return err
			}
		}
		before = in
		now := s.now()
		v := in.SettingsVersion + 1
		if _, err := tx.Exec(ctx, `INSERT INTO fleet_settings (repo, name, version, settings, changed_by, note, changed_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			repo, name, v, string(raw), by, note, ms(now)); err != nil {
			return fmt.Errorf("fleet: store settings of %s: %w", name, err)
		}
		if _, err := tx.Exec(ctx, `UPDATE fleet_instances SET settings = ?, settings_version = ?, updated_at = ? WHERE repo = ? AND name = ?`,
			string(raw), v, ms(now), repo, name); err != nil {
			return fmt.Errorf("fleet: update settings of %s: %w", name, err)
		}
		after = in
		after.Settings, after.SettingsVersion, after.UpdatedAt = settings, v, now
		return s.db.AuditIn(ctx, tx, store.AuditEntry{Repo: repo, Actor: by, Action: "fleet.settings", Outcome: "success",
			Detail: map[string]any{"instance": name, "before": before.Settings, "after": settings, "version": v, "note": note}})
	})
	return before, after, err
}

// SettingsHistory lists an instance's settings, oldest first.
func (s *Store) SettingsHistory(ctx context.Context, repo, name string) ([]SettingsChange, error) {
	rows, err := s.db.Query(ctx, `SELECT version, settings, changed_by, note, changed_at FROM fleet_settings WHERE repo = ? AND name = ? ORDER BY version`, repo, name)
	if err != nil {
		return nil, fmt.Errorf("fleet: settings history of %s: %w", name, err)
	}
	defer rows.Close()
	var out []SettingsChange
	for rows.Next() {
		var c SettingsChange
		var raw string
		var at int64
		if err := rows.Scan(&c.Version, &raw, &c.ChangedBy, &c.Note, &at); err != nil {
			return nil, fmt.Errorf("fleet: settings history of %s: %w", name, err)
		}
		if err := json.Unmarshal([]byte(raw), &c.Settings); err != nil {
			return nil, fmt.Errorf("fleet: settings version %d of %s: %w", c.Version, name, err)
		}
		c.ChangedAt = time.UnixMilli(at).UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

// StepDone records that a launch step finished, with what it made. It
// reports false when the step was already recorded (by an earlier run).
func (s *Store) StepDone(ctx context.Context, repo, name, step, detail string) (bool, error) {
	n, err := s.db.Exec(ctx, `INSERT INTO fleet_launch_steps (repo, name, step, detail, done_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (repo, name, step) DO NOTHING`,
		repo, name, step, detail, ms(s.now()))
	if err != nil {
		return false, fmt.Errorf("fleet: record step %s of %s: %w", step, name, err)
	}
	return n == 1, nil
}

// Steps lists the finished launch steps of an instance in order.
func (s *Store) Steps(ctx context.Context, repo, name string) ([]Step, error) {
	rows, err := s.db.Query(ctx, `SELECT step, detail, done_at FROM fleet_launch_steps WHERE repo = ? AND name = ? ORDER BY done_at, step`, repo, name)
	if err != nil {
		return nil, fmt.Errorf("fleet: steps of %s: %w", name, err)
	}
	defer rows.Close()
	var out []Step
	for rows.Next() {
		var st Step
		var at int64
		if err := rows.Scan(&st.Name, &st.Detail, &at); err != nil {
			return nil, fmt.Errorf("fleet: steps of %s: %w", name, err)
		}
		st.DoneAt = time.UnixMilli(at).UTC()
		out = append(out, st)
	}
	return out, rows.Err()
}

// Purge removes every row of a deleted instance once its grace period
// ended, so that its name can be taken again.
func (s *Store) Purge(ctx context.Context, repo, name string) error {
	return s.db.InTx(ctx, func(tx store.Tx) error {
		for _, table := range []string{"fleet_launch_steps", "fleet_settings", "fleet_instances"} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE repo = ? AND name = ?`, repo, name); err != nil {
				return fmt.Errorf("fleet: purge %s of %s: %w", table, name, err)
			}
		}
		return nil
	})
}

// Deleted returns the deleted instances whose deletion is older than
// before, across repositories.
func (s *Store) Deleted(ctx context.Context, before time.Time) ([]Instance, error) {
	return s.where(ctx, `state = 'deleted' AND deleted_at IS NOT NULL AND deleted_at < ? ORDER BY repo, name`, ms(before))
}
