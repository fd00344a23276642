package rollout

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-github/v60/github"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/command"
	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/promotion"
)

// OnPush starts a rollout when the push is a release of a fleet: a branch
// or tag the fleet template follows.
func (s *Service) OnPush(ctx context.Context, ev *github.PushEvent) error {
	if ev.GetDeleted() || s.fleets == nil {
		return nil
	}
	owner := ev.GetRepo().GetOwner().GetLogin()
	if owner == "" {
		owner = ev.GetRepo().GetOwner().GetName()
	}
	repo := Repo{Installation: ev.GetInstallation().GetID(), Owner: owner, Name: ev.GetRepo().GetName(), DefaultBranch: ev.GetRepo().GetDefaultBranch()}
	_, err := s.OnRelease(ctx, repo, ev.GetRef(), ev.GetAfter(), ev.GetSender().GetLogin())
	return err
}

// OnCheckRun takes the Retry failed button of hoist/fleet check runs. The
// button is /upgrade retry by other means: the same rule decides, and a
// refusal is logged for audit.
func (s *Service) OnCheckRun(ctx context.Context, ev *github.CheckRunEvent) error {
	cr := ev.GetCheckRun()
	if cr.GetName() != CheckName || ev.GetAction() != "requested_action" || ev.GetRequestedAction().Identifier != RetryAction.Identifier {
		return nil
	}
	full := ev.GetRepo().GetFullName()
	r, err := s.db.byCheckRun(ctx, full, cr.GetID())
	if errors.Is(err, ErrNotFound) {
		zerolog.Ctx(ctx).Info().Str("repo", full).Int64("check_run", cr.GetID()).Msg("not a rollout of this server; ignored")
		return nil
	}
	if err != nil {
		return err
	}
	repo, err := s.repo(r)
	if err != nil {
		return err
	}
	login := ev.GetSender().GetLogin()
	if d, err := authorize(ctx, repo, login, ev.GetSender().GetType() == "Bot"); err != nil || !d.Allowed {
		if err == nil {
			zerolog.Ctx(ctx).Info().Str("repo", full).Str("sha", r.SHA).Str("reason", d.Reason).
				Dict("audit", zerolog.Dict().Str("actor", login).Str("action", "upgrade_retry_button").Str("outcome", "refused")).Msg("Retry failed button refused")
		}
		return err
	}
	_, err = s.Retry(ctx, r.ID, nil, login)
	return err
}

// rules are those of /upgrade: the repository's command permission.
var rules = command.Rules{DefaultPermission: command.PermissionWrite}

func authorize(ctx context.Context, repo *gh.Repo, login string, bot bool) (command.Decision, error) {
	cmd := command.Command{Verb: command.Upgrade}
	actor, _, err := promotion.ActorFor(ctx, repo, rules, login, cmd)
	if err != nil {
		return command.Decision{}, fmt.Errorf("permission of %s: %w", login, err)
	}
	actor.IsBot = actor.IsBot || bot
	return command.Authorize(cmd, actor, rules), nil
}

// RetryOnPull carries out `/upgrade retry [<instance>]` written on pull
// request number (the caller authorised it): the rollout is the one of the
// pull request's merge commit, or of its head when the release was pushed
// as it is. It returns what was done, in words for the reply.
func (s *Service) RetryOnPull(ctx context.Context, repo *gh.Repo, number int, instance, actor string) (string, error) {
	pr, err := repo.Pull(ctx, number)
	if err != nil {
		return "", err
	}
	r, err := s.Find(ctx, repo.FullName(), pr.MergeCommitSHA, pr.HeadSHA)
	if err != nil {
		return "", err
	}
	var names []string
	if instance != "" {
		names = []string{instance}
	}
	started, err := s.Retry(ctx, r.ID, names, actor)
	if err != nil {
		return "", err
	}
	release := strings.TrimPrefix(strings.TrimPrefix(r.Release, "refs/heads/"), "refs/tags/")
	if len(started) == 0 {
		return fmt.Sprintf("Nothing to retry: no instance of the rollout of `%s` (%s) failed.", release, shortSHA(r.SHA)), nil
	}
	return fmt.Sprintf("Upgrading %s again to `%s` (%s).", strings.Join(started, ", "), release, shortSHA(r.SHA)), nil
}
