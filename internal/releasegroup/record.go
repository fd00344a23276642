package releasegroup

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hoist-dev/hoist/internal/promotion"
	"github.com/hoist-dev/hoist/internal/store"
)

// Phases of a group promotion. moving, publishing and rolling_back are
// unfinished: whoever takes the group's lock next finishes them first.
const (
	PhaseMoving      = "moving"
	PhasePublishing  = "publishing"
	PhaseRollingBack = "rolling_back"
	PhaseDone        = "done"
	PhaseRefused     = "refused"
	PhaseFailed      = "failed"
)

// States of one member in a group promotion.
const (
	StateUpToDate      = "up_to_date"     // nothing to move
	StatePlanned       = "planned"        // gates passed; not moved yet
	StateMoved         = "moved"          // its branch points at To
	StatePublished     = "published"      // moved and deployed
	StateRestored      = "restored"       // moved, then moved back to From
	StateRestoreFailed = "restore_failed" // moved, and could not be moved back safely
	StateRefused       = "refused"        // a gate refused or waits
	StateFailed        = "failed"         // its move failed
)

// Member is one repository's part of a group promotion.
type Member struct {
	Repo         string `json:"repo"`
	Installation int64  `json:"installation"`
	Branch       string `json:"branch,omitempty"`
	// From is the branch head before, To the commit it moves to.
	From  string `json:"from,omitempty"`
	To    string `json:"to,omitempty"`
	State string `json:"state"`
	// Outcome is the member's own decision (promote, wait, refuse, …) and
	// Reasons its sentences.
	Outcome string   `json:"outcome,omitempty"`
	Reasons []string `json:"reasons,omitempty"`
	// Source and Route say where To came from, for the publication.
	Source string `json:"source,omitempty"`
	Route  string `json:"route,omitempty"`
}

// Record is the durable record of one group promotion.
type Record struct {
	ID    string
	Group string
	// Key names the group and its members (two accounts may each have a
	// group called web).
	Key    string
	Env    string
	Phase  string
	Reason string
	// Actor asked for the promotion; Trigger is how.
	Actor   string
	Trigger string
	// Start is the evaluation that asked for it, to queue the group
	// promotion again after a restart.
	Start   promotion.EvaluateArgs
	Members []Member
	Created int64
	Updated int64
}

// body is what the members column holds.
type body struct {
	Key     string                 `json:"key"`
	Start   promotion.EvaluateArgs `json:"start"`
	Actor   string                 `json:"actor,omitempty"`
	Trigger string                 `json:"trigger,omitempty"`
	Members []Member               `json:"members"`
}

// Finished reports whether nothing is left to do.
func (r *Record) Finished() bool {
	return r.Phase == PhaseDone || r.Phase == PhaseRefused || r.Phase == PhaseFailed
}

func (s *Service) save(ctx context.Context, r *Record) error {
	b, err := json.Marshal(body{Key: r.Key, Start: r.Start, Actor: r.Actor, Trigger: r.Trigger, Members: r.Members})
	if err != nil {
		return fmt.Errorf("release group %s: %w", r.Group, err)
	}
	now := s.now().UnixMilli()
	if r.Created == 0 {
		r.Created = now
	}
	r.Updated = now
	_, err = s.store.Exec(ctx, `INSERT INTO release_group_promotions (id, grp, env, phase, members, reason, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET phase = excluded.phase, members = excluded.members, reason = excluded.reason, updated_at = excluded.updated_at`,
		r.ID, r.Group, r.Env, r.Phase, string(b), r.Reason, r.Created, r.Updated)
	if err != nil {
		return fmt.Errorf("store: release group %s %s: %w", r.Group, r.Env, err)
	}
	return nil
}

const recordColumns = `id, grp, env, phase, members, reason, created_at, updated_at`

func scanRecord(row store.Row) (*Record, error) {
	r := &Record{}
	var members string
	if err := row.Scan(&r.ID, &r.Group, &r.Env, &r.Phase, &members, &r.Reason, &r.Created, &r.Updated); err != nil {
		return nil, err
	}
	var b body
	if err := json.Unmarshal([]byte(members), &b); err != nil {
		return nil, fmt.Errorf("release group %s: unreadable record %s: %w", r.Group, r.ID, err)
	}
	r.Key, r.Start, r.Actor, r.Trigger, r.Members = b.Key, b.Start, b.Actor, b.Trigger, b.Members
	return r, nil
}

// Records are the newest group promotions of env of the group called
// group, newest first (every group of that name: the caller filters by
// key).
func (s *Service) Records(ctx context.Context, group, env string, limit int) ([]*Record, error) {
	rows, err := s.store.Query(ctx, `SELECT `+recordColumns+` FROM release_group_promotions WHERE grp = ? AND env = ?
ORDER BY updated_at DESC, id DESC LIMIT ?`, group, env, limit)
	if err != nil {
		return nil, fmt.Errorf("store: release group %s %s: %w", group, env, err)
	}
	defer rows.Close()
	var out []*Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// latest is the newest record of the group key in env, or nil.
func (s *Service) latest(ctx context.Context, g Group, env string) (*Record, error) {
	rs, err := s.Records(ctx, g.Name, env, 20)
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		if r.Key == g.Key() {
			return r, nil
		}
	}
	return nil, nil
}

// unfinished are the records of the group key in env that a crash left
// unfinished, oldest first.
func (s *Service) unfinished(ctx context.Context, g Group, env string) ([]*Record, error) {
	rows, err := s.store.Query(ctx, `SELECT `+recordColumns+` FROM release_group_promotions WHERE grp = ? AND env = ? AND phase IN (?, ?, ?)
ORDER BY created_at, id`, g.Name, env, PhaseMoving, PhasePublishing, PhaseRollingBack)
	if err != nil {
		return nil, fmt.Errorf("store: release group %s %s: %w", g.Name, env, err)
	}
	defer rows.Close()
	var out []*Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		if r.Key == g.Key() {
			out = append(out, r)
		}
	}
	return out, rows.Err()
}

// QueueUnfinished queues the group promotions a crash (or a stopped
// replica) left unfinished, as hoist starts: each is finished in its
// group's turn, without waiting for the next event of a member or for
// the orphaned job to be presumed lost.
func (s *Service) QueueUnfinished(ctx context.Context) error {
	rows, err := s.store.Query(ctx, `SELECT `+recordColumns+` FROM release_group_promotions WHERE phase IN (?, ?, ?) ORDER BY created_at, id`,
		PhaseMoving, PhasePublishing, PhaseRollingBack)
	if err != nil {
		return fmt.Errorf("store: unfinished release group promotions: %w", err)
	}
	var recs []*Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			rows.Close()
			return err
		}
		recs = append(recs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range recs {
		if err := s.queue(ctx, PromoteArgs{Group: r.Group, Start: r.Start}, nil); err != nil {
			return err
		}
	}
	return nil
}
