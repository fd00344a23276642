package chatops

import (
	"context"
	"errors"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/command"
	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/pipeline"
	"github.com/hoist-dev/hoist/internal/safety"
	"github.com/hoist-dev/hoist/internal/store"
)

// maxRollbackCandidates bounds the earlier deployments /rollback looks at.
const maxRollbackCandidates = 30

// cmdRollback moves an environment's branch back to an earlier commit of
// its own history. It is the one place hoist moves a branch by something
// other than a fast-forward, so it is an explicit exception: a person with
// the environment's permission asked for it by name, it is audited, and it
// goes as close to a compare-and-swap as GitHub's REST API allows:
//
//  1. plan: read the head H, choose the target T (the previous deployed
//     commit, or the one named) and check that T is an ancestor of H, so
//     the move only ever goes back along the branch's own history and no
//     commit that was never on the branch can be deployed by it;
//  2. hold the environment, so that automatic promotion does not move it
//     forward again the moment it moved back;
//  3. record the plan (H, T) with the command, so a retry after a crash
//     finishes this move instead of planning another one;
//  4. read the head again and stop, changing nothing, unless it is still H;
//  5. update the ref with force to T;
//  6. read the head again and report if it is not T;
//  7. publish the change (a deployment with reason "rollback").
//
// PATCH git/refs takes no expected old value, so steps 4 and 5 leave a
// window of one request in which a push can be overwritten; step 6 reports
// a push that lands right after. The commits between T and H stay in git:
// nothing is deleted, and /promote brings them back.
func (s *Service) cmdRollback(ctx context.Context, run *cmdRun, cmd command.Command, cr *store.CommandRun) result {
	log := zerolog.Ctx(ctx)
	env, _ := run.p.Env(cmd.Env)
	from, _ := cr.Detail["rollback_from"].(string)
	to, _ := cr.Detail["rollback_to"].(string)
	if from == "" || to == "" {
		head, err := run.repo.BranchHead(ctx, env.Branch)
		if errors.Is(err, gh.ErrNotFound) {
			return result{outcome: command.Refused, detail: fmt.Sprintf("The branch %s of %s does not exist.", codeSpan(env.Branch), codeSpan(env.Name))}
		}
		if err != nil {
			return failed(err)
		}
		target, refusal, err := s.rollbackTarget(ctx, run, env, cmd, head)
		if err != nil {
			return failed(err)
		}
		if refusal != "" {
			return result{outcome: command.Refused, detail: refusal}
		}
		if target == head {
			return result{outcome: command.Succeeded, detail: fmt.Sprintf("Nothing to do: %s is already at %s.", codeSpan(env.Name), codeSpan(shortSHA(head)))}
		}
		from, to = head, target
	}

	// The hold comes first: the ref move sends a push, and the evaluation
	// it starts must already see the environment held.
	reason := fmt.Sprintf("rolled back from %s to %s", shortSHA(from), shortSHA(to))
	if _, _, err := s.putHold(ctx, run, env, store.Hold{Key: fmt.Sprintf("rollback:%d:%d", run.a.CommentID, cmd.Line), Repo: run.repo.FullName(),
		Env: env.Name, By: run.a.Author, Reason: reason, Since: s.promotions.Now().UTC()}); err != nil {
		return failed(err)
	}
	cr.Detail["rollback_from"], cr.Detail["rollback_to"] = from, to
	if err := s.store.UpdateCommandRun(ctx, *cr); err != nil {
		return failed(err)
	}

	now, err := run.repo.BranchHead(ctx, env.Branch)
	if err != nil {
		return failed(err)
	}
	switch now {
	case to:
		// Moved already, by this command before a crash (or by hand): finish.
		log.Info().Str("env", env.Name).Str("sha", to).Msg("rollback target already in place")
	case from:
		if err := run.repo.ForceMove(ctx, env.Branch, to); err != nil {
			return failed(fmt.Errorf("roll back %s: %w", env.Name, err))
		}
		after, err := run.repo.BranchHead(ctx, env.Branch)
		if err != nil {
			return failed(err)
		}
		if after != to {
			_ = s.store.Audit(ctx, store.AuditEntry{Repo: run.repo.FullName(), Actor: run.a.Author, Action: "rollback", Env: env.Name, SHA: to,
				Outcome: "raced", Detail: map[string]any{"from": from, "to": to, "found": after, "comment": run.a.CommentID},
				Key: fmt.Sprintf("rollback-raced:%d:%d", run.a.CommentID, cmd.Line)})
			return failed(fmt.Errorf("%s points at %s right after I moved it to %s: someone pushed at the same moment. Look at the branch before anything else", env.Branch, shortSHA(after), shortSHA(to)))
		}
	default:
		return result{outcome: command.Failed, detail: fmt.Sprintf("Sorry, %s moved from %s to %s while I was planning the rollback, so I changed nothing. "+
			"%s stays held; look at the branch and say the command again.", codeSpan(env.Branch), codeSpan(shortSHA(from)), codeSpan(shortSHA(now)), codeSpan(env.Name))}
	}
	if err := s.store.Audit(ctx, store.AuditEntry{Repo: run.repo.FullName(), Actor: run.a.Author, Action: "rollback", Env: env.Name, SHA: to,
		Outcome: "rolled_back", Detail: map[string]any{"from": from, "to": to, "comment": run.a.CommentID, "comment_url": run.a.CommentURL},
		// Once per command line: a retry after a failed deployment write
		// finds the branch moved already and must not record it again.
		Key: fmt.Sprintf("rollback:%d:%d", run.a.CommentID, cmd.Line)}); err != nil {
		return failed(err)
	}
	s.recordRollback(ctx, run, env, from, to, fmt.Sprintf("rollback:%s:%d:%d", run.repo.FullName(), run.a.CommentID, cmd.Line))
	// Named by the command line, so that a retry after a failed write
	// carries on with the deployment an earlier attempt created.
	if err := s.pub.Complete(ctx, run.repo, run.p, env, Publication{Env: env.Name, SHA: to, Previous: from, Reason: "rollback",
		Actor: run.a.Author, DefaultBranch: run.a.DefaultBranch, Installation: run.a.Installation,
		Intent: fmt.Sprintf("rollback:%d:%d", run.a.CommentID, cmd.Line)}); err != nil {
		return failed(err)
	}
	return result{outcome: command.Succeeded, detail: fmt.Sprintf("Rolled %s back from %s to %s (branch %s). "+
		"%s is now held so that automatic promotion does not bring the newer commits back; %s resumes promotions when the fix is ready.",
		codeSpan(env.Name), codeSpan(shortSHA(from)), codeSpan(shortSHA(to)), codeSpan(env.Branch), codeSpan(env.Name),
		codeSpan(unholdCommand(run.p, env.Name))), links: run.envLinks(env, to, from)}
}

// rollbackTarget chooses the commit to roll back to: the named one, or the
// newest deployed commit before head. Either must be an ancestor of head.
func (s *Service) rollbackTarget(ctx context.Context, run *cmdRun, env pipeline.Environment, cmd command.Command, head string) (target, refusal string, err error) {
	isAncestor := func(sha string) (bool, error) {
		status, err := run.repo.CompareStatus(ctx, sha, head)
		if errors.Is(err, gh.ErrNotFound) || errors.Is(err, gh.ErrUnrelated) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return status == "ahead", nil
	}
	if cmd.SHA != "" {
		full, err := run.repo.ResolveCommit(ctx, cmd.SHA)
		if errors.Is(err, gh.ErrNotFound) {
			return "", fmt.Sprintf("There is no commit %s in this repository.", codeSpan(cmd.SHA)), nil
		}
		if err != nil {
			return "", "", err
		}
		if full == head {
			return full, "", nil
		}
		ok, err := isAncestor(full)
		if err != nil {
			return "", "", err
		}
		if !ok {
			return "", fmt.Sprintf("%s is not in the history of %s, so rolling back to it could deploy commits that were never on %s. "+
				"A rollback only goes back along the branch; use %s to bring something new.",
				codeSpan(shortSHA(full)), codeSpan(env.Branch), codeSpan(env.Name), codeSpan(run.p.PromoteCommand(env.Name))), nil
		}
		return full, "", nil
	}
	// The previous deployed commit: GitHub's deployments of the
	// environment, then hoist's own audit log of promotions.
	var candidates []string
	seen := map[string]bool{head: true}
	add := func(sha string) {
		if sha != "" && !seen[sha] && len(candidates) < maxRollbackCandidates {
			seen[sha] = true
			candidates = append(candidates, sha)
		}
	}
	if dep, ok := run.p.Deployment(env.Name, run.a.DefaultBranch); ok {
		ds, err := run.repo.Deployments(ctx, dep.Environment, maxRollbackCandidates)
		if err != nil {
			return "", "", err
		}
		for _, d := range ds {
			add(d.SHA)
		}
	}
	entries, err := s.store.AuditLog(ctx, run.repo.FullName(), 200)
	if err != nil {
		return "", "", err
	}
	for _, e := range entries {
		if e.Env == env.Name && (e.Outcome == "promoted" || e.Outcome == "rolled_back") {
			add(e.SHA)
		}
		if e.Env == env.Name && e.Outcome == "promoted" {
			if from, ok := e.Detail["from"].(string); ok {
				add(from)
			}
		}
	}
	for _, sha := range candidates {
		ok, err := isAncestor(sha)
		if err != nil {
			return "", "", err
		}
		if ok {
			return sha, "", nil
		}
	}
	return "", fmt.Sprintf("I found no deployed commit of %s before %s. Name the commit to go back to: %s.",
		codeSpan(env.Name), codeSpan(shortSHA(head)), codeSpan(rollbackCommand(run.p, env.Name)+" <sha>")), nil
}

func rollbackCommand(p *pipeline.Pipeline, env string) string {
	if p.ShortForm {
		return "/rollback " + env
	}
	return "/hoist rollback " + env
}

// recordRollback records the rollback as a failure of the commit rolled
// back (from) and tells people on call. Neither stops the rollback: a
// failure is logged.
func (s *Service) recordRollback(ctx context.Context, run *cmdRun, env pipeline.Environment, from, to, key string) {
	log := zerolog.Ctx(ctx)
	text := fmt.Sprintf("rolled back from %s to %s by %s", shortSHA(from), shortSHA(to), run.a.Author)
	if s.outcomes != nil {
		if err := s.outcomes.Record(ctx, safety.Outcome{Key: key, Repo: run.repo.FullName(), Env: env.Name, Kind: safety.KindRollback,
			SHA: from, Reason: text}); err != nil {
			log.Warn().Err(err).Msg("rollback outcome not recorded")
		}
	}
	if s.alerts != nil {
		if err := s.alerts.Alert(ctx, safety.Alert{Kind: safety.AlertRollback, Repo: run.repo.FullName(), Env: env.Name,
			Text: text + ".", URL: run.a.CommentURL}); err != nil {
			log.Warn().Err(err).Msg("rollback alert not sent")
		}
	}
}
