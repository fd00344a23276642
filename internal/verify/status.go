package verify

import (
	"context"
	"fmt"
	"time"

	"github.com/hoist-dev/hoist/internal/web"
)

// Status is an environment's latest verification, for /status and the
// dashboard.
type Status struct {
	SHA string
	// State is queued, success, failure, error or superseded.
	State  string
	Reason string
	At     time.Time
	// Rollback says what the latest automatic rollback came to (restored,
	// failed, superseded, stuck, or a stage while it runs); empty when
	// there was none.
	Rollback    string
	RollbackSHA string
}

// Text is the status on one line.
func (st Status) Text() string {
	s := fmt.Sprintf("%s %s", st.State, short(st.SHA))
	if st.Reason != "" {
		s += ": " + st.Reason
	}
	if st.Rollback != "" {
		s += fmt.Sprintf(" (automatic rollback %s", st.Rollback)
		if st.RollbackSHA != "" {
			s += " as " + short(st.RollbackSHA)
		}
		s += ")"
	}
	return s
}

// Latest is the latest verification of env of repo ("owner/name"); ok is
// false when env was never verified.
func (s *Service) Latest(ctx context.Context, repo, env string) (Status, bool, error) {
	r, ok, err := s.state.latest(ctx, repo, env)
	if err != nil || !ok {
		return Status{}, ok, err
	}
	st := Status{SHA: r.SHA, State: r.Status, Reason: r.Reason, At: r.CreatedAt}
	if r.Status == "completed" {
		st.State, st.At = r.Conclusion, r.Completed
	}
	inc, found, err := s.state.latestIncident(ctx, repo, env)
	if err != nil {
		return st, true, err
	}
	if found && inc.ID >= r.Incident && (inc.BadSHA == r.SHA || inc.RollbackSHA == r.SHA || r.Incident == inc.ID) {
		st.Rollback, st.RollbackSHA = inc.Stage, inc.RollbackSHA
	}
	return st, true, nil
}

// StatusText is Latest on one line, "" when env was never verified (the
// /status command's column).
func (s *Service) StatusText(ctx context.Context, repo, env string) (string, error) {
	st, ok, err := s.Latest(ctx, repo, env)
	if err != nil || !ok {
		return "", err
	}
	return st.Text(), nil
}

// Verification is Latest as the dashboard shows it; nil when env was
// never verified.
func (s *Service) Verification(ctx context.Context, repo, env string) (*web.Verification, error) {
	st, ok, err := s.Latest(ctx, repo, env)
	if err != nil || !ok {
		return nil, err
	}
	return &web.Verification{SHA: st.SHA, State: st.State, Reason: st.Reason, At: st.At, Rollback: st.Rollback}, nil
}

// IsRollbackCommit reports whether sha is the commit of an automatic
// rollback of env that reached the branch: promotions rejoin a branch that
// only such commits set apart from its source. The record decides, never
// the commit's message.
func (s *Service) IsRollbackCommit(ctx context.Context, repo, env, sha string) (bool, error) {
	inc, ok, err := s.state.rollbackOf(ctx, repo, env, sha)
	if err != nil || !ok {
		return false, err
	}
	switch inc.Stage {
	case StageMoved, StagePublished, StageRestored, StageFailed:
		return true, nil
	}
	return false, nil
}
