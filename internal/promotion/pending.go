package promotion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/pipeline"
	"github.com/hoist-dev/hoist/internal/store"
)

// A promotion is two GitHub writes: the branch moves, then the move is
// recorded (and deployed) as a GitHub deployment. If the second fails, a
// plain retry would find the branch up to date and publish nothing, losing
// the deployment for good. So the intent is stored before the first write,
// and every evaluation or publication of the environment first completes
// what is pending (resume). The environment's lock (oneAtATime) makes the
// store row and the branch agree while they are read.

// pendingRecord is what a pending publication stores: the publication and
// the audit entry of the promotion.
type pendingRecord struct {
	Publication Publication
	Audit       store.AuditEntry
}

// intend records the promotion pub as pending before its branch moves.
func (s *Service) intend(ctx context.Context, repo *gh.Repo, env pipeline.Environment, audit store.AuditEntry, pub Publication) (store.PendingPublication, error) {
	pub.Intent = uuid.NewString()
	body, err := json.Marshal(pendingRecord{Publication: pub, Audit: audit})
	if err != nil {
		return store.PendingPublication{}, fmt.Errorf("promote %s: %w", env.Name, err)
	}
	pend := store.PendingPublication{Repo: repo.FullName(), Env: env.Name, SHA: pub.SHA, Intent: pub.Intent,
		Stage: store.StageMoving, Publication: string(body)}
	if err := s.store.PutPendingPublication(ctx, pend); err != nil {
		return pend, fmt.Errorf("promote %s: %w", env.Name, err)
	}
	return pend, nil
}

// finish audits a promotion whose branch has moved (once: the stage says
// whether it was) and publishes it; resumed says an earlier attempt may
// have created its deployment already.
func (s *Service) finish(ctx context.Context, repo *gh.Repo, p *pipeline.Pipeline, env pipeline.Environment, pend store.PendingPublication, resumed bool) error {
	var rec pendingRecord
	if err := json.Unmarshal([]byte(pend.Publication), &rec); err != nil {
		// Unreadable (written by another version): nothing sensible to
		// resume; the next evaluation publishes what the branch holds.
		zerolog.Ctx(ctx).Warn().Err(err).Str("sha", pend.SHA).Msg("promotion: unreadable pending publication dropped")
		return s.store.DonePendingPublication(ctx, pend.Repo, pend.Env, pend.Intent)
	}
	if pend.Stage == store.StageMoving {
		if err := s.store.PendingMoved(ctx, pend.Repo, pend.Env, pend.Intent, rec.Audit); err != nil {
			return err
		}
	}
	publish := s.pub.Publish
	if resumed {
		publish = s.pub.Complete
	}
	if err := publish(ctx, repo, p, env, rec.Publication); err != nil {
		return err
	}
	return s.store.DonePendingPublication(ctx, pend.Repo, pend.Env, pend.Intent)
}

// resume completes the environment's pending publication, if any: when the
// branch points at its commit, the move happened and its publication is
// finished; otherwise the move never happened (or a person's push has
// moved the branch on since, and is published for itself), and the intent
// is dropped.
func (s *Service) resume(ctx context.Context, repo *gh.Repo, p *pipeline.Pipeline, env pipeline.Environment) error {
	if s.store == nil {
		return nil
	}
	pend, ok, err := s.store.PendingPublicationOf(ctx, repo.FullName(), env.Name)
	if err != nil || !ok {
		return err
	}
	log := zerolog.Ctx(ctx).With().Str("sha", pend.SHA).Str("intent", pend.Intent).Logger()
	head, err := repo.BranchHead(ctx, env.Branch)
	if err != nil && !errors.Is(err, gh.ErrNotFound) {
		return err
	}
	if head != pend.SHA {
		log.Info().Str("head", head).Msg("pending promotion never moved the branch; dropped")
		return s.store.DonePendingPublication(ctx, pend.Repo, pend.Env, pend.Intent)
	}
	log.Info().Str("stage", pend.Stage).Msg("resuming a promotion's pending publication")
	return s.finish(log.WithContext(ctx), repo, p, env, pend, true)
}
