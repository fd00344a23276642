package promotion

import (
	"context"
	"fmt"

	"github.com/google/go-github/v60/github"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/pipeline"
)

// An automatic rollback is a new commit on the environment's branch only
// (verify's incidents): afterwards the branch has a commit its source
// lacks, and no fast-forward from the source is possible. Rather than ask
// people to merge the environment back by hand, a promotion whose target
// differs from the source only by commits hoist made itself (rollback
// commits, and earlier rejoins) "rejoins": it moves the branch, with
// compare-and-swap, to a new commit whose tree is exactly the candidate's
// and whose parents are the branch head and the candidate. Nothing leaves
// the history (the rollback stays on the branch) and what is deployed is
// byte for byte what the gates passed. hoist's commits are recognised by
// their records (the incident, the rejoin row), never by a message a
// person could write.

// RollbackCommits tells the commits of automatic rollbacks
// (verify.Service).
type RollbackCommits interface {
	IsRollbackCommit(ctx context.Context, repo, env, sha string) (bool, error)
}

// SetRollbacks gives promotions the record of automatic rollbacks, once
// both exist (verification publishes its rollbacks through promotions'
// publisher).
func (s *Service) SetRollbacks(r RollbackCommits) { s.rollbacks = r }

// hoistMade reports whether every commit in cmp (the target's commits the
// source lacks) is one hoist made on env's branch: a rollback commit or an
// earlier rejoin. A truncated or empty list is not.
func (s *Service) hoistMade(ctx context.Context, repo *gh.Repo, env pipeline.Environment, cmp gh.Comparison) (bool, error) {
	if s.store == nil || cmp.Truncated || len(cmp.Commits) == 0 || len(cmp.Commits) != cmp.AheadBy {
		return false, nil
	}
	for _, c := range cmp.Commits {
		ok, err := s.isRejoin(ctx, repo.FullName(), env.Name, c.SHA)
		if err != nil {
			return false, err
		}
		if !ok && s.rollbacks != nil {
			if ok, err = s.rollbacks.IsRollbackCommit(ctx, repo.FullName(), env.Name, c.SHA); err != nil {
				return false, err
			}
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

func (s *Service) isRejoin(ctx context.Context, repo, env, sha string) (bool, error) {
	var n int64
	if err := s.store.QueryRow(ctx, `SELECT COUNT(*) FROM promotion_rejoins WHERE repo = ? AND env = ? AND sha = ?`, repo, env, sha).Scan(&n); err != nil {
		return false, fmt.Errorf("promotion: rejoin commit %s of %s %s: %w", shortSHA(sha), repo, env, err)
	}
	return n > 0, nil
}

// rejoin creates the commit that promotes d.SHA onto a branch at d.From
// that hoist's own commits set apart, and records it before the branch
// moves (so that a later promotion recognises it even after a crash). A
// crash before the move leaves an unreferenced commit, which is harmless;
// the retry makes another.
func (s *Service) rejoin(ctx context.Context, repo *gh.Repo, env pipeline.Environment, d pipeline.Decision) (string, error) {
	cand, _, err := repo.Client.Git.GetCommit(ctx, repo.Owner, repo.Name, d.SHA)
	if err != nil {
		return "", fmt.Errorf("promote %s: read %s: %w", env.Name, shortSHA(d.SHA), err)
	}
	msg := fmt.Sprintf("Promote %s into %s\n\n%s was set apart from %s by hoist's own commits (an automatic rollback). This commit has exactly the tree of %s, whose gates passed; its parents keep both histories.",
		shortSHA(d.SHA), env.Name, env.Branch, d.Target.Source, d.SHA)
	c, _, err := repo.Client.Git.CreateCommit(ctx, repo.Owner, repo.Name, &github.Commit{Message: github.String(msg),
		Tree: &github.Tree{SHA: cand.GetTree().SHA}, Parents: []*github.Commit{{SHA: github.String(d.From)}, {SHA: github.String(d.SHA)}}}, nil)
	if err != nil {
		return "", fmt.Errorf("promote %s: create the commit joining %s and %s: %w", env.Name, shortSHA(d.From), shortSHA(d.SHA), err)
	}
	if _, err := s.store.Exec(ctx, `INSERT INTO promotion_rejoins (repo, env, sha, candidate, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (repo, env, sha) DO NOTHING`, repo.FullName(), env.Name, c.GetSHA(), d.SHA, s.now().UnixMilli()); err != nil {
		return "", fmt.Errorf("promote %s: record the rejoin %s: %w", env.Name, shortSHA(c.GetSHA()), err)
	}
	zerolog.Ctx(ctx).Info().Str("sha", d.SHA).Str("commit", c.GetSHA()).Str("from", d.From).Msg("promotion rejoins a branch set apart by a rollback")
	return c.GetSHA(), nil
}
