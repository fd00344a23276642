package publish

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/safety"
)

// Outcomes is the record of outcomes per environment (safety.Recorder).
type Outcomes interface {
	Record(ctx context.Context, o safety.Outcome) error
}

// recordDeploy records the outcome of the deploy a names: one per GitHub
// deployment, so that a retried job records it once. For a change that
// landed it first reads when its oldest new commit was made (lead time).
// A failure to record is logged: the site is out (or not) either way.
func (s *Publisher) recordDeploy(ctx context.Context, repo *gh.Repo, a PublishArgs, ok bool, why string) {
	if s.outcomes == nil {
		return
	}
	log := zerolog.Ctx(ctx)
	o := safety.Outcome{Key: fmt.Sprintf("deploy:%s/%s:%d", a.Owner, a.Repo, a.Deployment), Repo: a.Owner + "/" + a.Repo,
		Env: a.Env, Kind: safety.KindDeploy, OK: ok, SHA: a.SHA, Reason: why, Restore: a.Reason == "rollback"}
	if ok && !o.Restore {
		if at, err := firstCommitTime(ctx, repo, a.Previous, a.SHA); err != nil {
			log.Warn().Err(err).Msg("deploy outcome: first commit time unknown; lead time not measured")
		} else {
			o.FirstCommitAt = at
		}
	}
	if err := s.outcomes.Record(ctx, o); err != nil {
		log.Warn().Err(err).Msg("deploy outcome not recorded")
	}
}

// firstCommitTime is when the oldest commit between the environment's
// previous head and the deployed one was made, or the deployed commit's
// own time when there is no previous head (or it is not an ancestor).
func firstCommitTime(ctx context.Context, repo *gh.Repo, previous, sha string) (time.Time, error) {
	if previous != "" && previous != sha {
		cmp, err := repo.Compare(ctx, previous, sha)
		if err == nil && cmp.Status == "ahead" && len(cmp.Commits) > 0 {
			first := time.Time{}
			for _, c := range cmp.Commits {
				if !c.At.IsZero() && (first.IsZero() || c.At.Before(first)) {
					first = c.At
				}
			}
			if !first.IsZero() {
				return first, nil
			}
		}
	}
	return repo.CommitTime(ctx, sha)
}
