package smokegate

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/google/go-github/v60/github"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/command"
	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/pipeline"
	"github.com/hoist-dev/hoist/internal/promotion"
	"github.com/hoist-dev/hoist/internal/store"
)

// OnPush queues a smoke test of a pushed branch head for every
// candidate whose branch it is, and for every environment with the smoke
// gate that is promoted from it. A server that cannot run smoke tests logs
// why; the smoke gate then stays pending ("not run yet").
func (s *Gate) OnPush(ctx context.Context, re RepoEvent, p *pipeline.Pipeline, branch, sha string) error {
	if sha == "" || strings.Trim(sha, "0") == "" {
		return nil
	}
	for _, env := range p.SmokeEnvs(branch) {
		err := s.RequestSmoke(ctx, SmokeRequest{Installation: re.Installation, Owner: re.Owner, Repo: re.Repo,
			DefaultBranch: re.DefaultBranch, Env: env, SHA: sha, Actor: "hoist", Trigger: "push"})
		if errors.Is(err, ErrSmokeUnavailable) {
			zerolog.Ctx(ctx).Warn().Err(err).Str("repo", re.Owner+"/"+re.Repo).Str("env", env).Msg("candidate not smoke-tested")
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// OnCheckAction handles the buttons and re-run requests of hoist's own
// hoist/smoke check runs: Re-run and rerequested start a new run of the
// same commit; Promote asks for a promotion by the person who clicked.
func (s *Gate) OnCheckAction(ctx context.Context, ev *github.CheckRunEvent) error {
	cr := ev.GetCheckRun()
	if cr.GetName() != pipeline.SmokeCheckName {
		return nil
	}
	re := repoEvent(ev.GetInstallation(), ev.GetRepo(), ev.GetSender())
	log := zerolog.Ctx(ctx).With().Str("repo", re.Owner+"/"+re.Repo).Str("sha", cr.GetHeadSHA()).Logger()
	run, err := s.store.SmokeRunByCheck(ctx, re.Owner+"/"+re.Repo, cr.GetID())
	if errors.Is(err, store.ErrNotFound) {
		log.Info().Int64("check_run", cr.GetID()).Msg("not a smoke run of this server; ignored")
		return nil
	}
	if err != nil {
		return err
	}
	action := ev.GetAction()
	if action == "requested_action" {
		action = ev.GetRequestedAction().Identifier
	}
	switch action {
	case "rerequested", "rerun":
		return s.rerunSmoke(ctx, re, run, action)
	case "promote":
		return s.promoteFromCheck(ctx, re, run, ev.GetSender().GetType() == "Bot")
	}
	log.Info().Str("action", action).Msg("unknown smoke check action; ignored")
	return nil
}

// OnCheckSuite re-runs hoist's smoke tests of a commit when its check
// suite is re-requested (GitHub's "Re-run all checks").
func (s *Gate) OnCheckSuite(ctx context.Context, ev *github.CheckSuiteEvent) error {
	if ev.GetAction() != "rerequested" {
		return nil
	}
	re := repoEvent(ev.GetInstallation(), ev.GetRepo(), ev.GetSender())
	runs, err := s.store.SmokeRunsOfSHA(ctx, re.Owner+"/"+re.Repo, ev.GetCheckSuite().GetHeadSHA(), 50)
	if err != nil {
		return err
	}
	var envs []string
	for _, r := range runs {
		if r.Reason == "baseline" || r.CheckRunID == 0 || slices.Contains(envs, r.Env) {
			continue
		}
		envs = append(envs, r.Env)
		if err := s.rerunSmoke(ctx, re, r, "rerequested"); err != nil {
			return err
		}
	}
	return nil
}

func (s *Gate) rerunSmoke(ctx context.Context, re RepoEvent, run store.SmokeRun, trigger string) error {
	err := s.RequestSmoke(ctx, SmokeRequest{Installation: re.Installation, Owner: re.Owner, Repo: re.Repo,
		DefaultBranch: re.DefaultBranch, Env: run.Env, SHA: run.SHA, Actor: re.Actor, Trigger: trigger})
	if errors.Is(err, ErrSmokeUnavailable) {
		zerolog.Ctx(ctx).Warn().Err(err).Str("repo", run.Repo).Str("sha", run.SHA).Msg("re-run refused")
		return nil
	}
	return err
}

// promoteFromCheck evaluates a promotion of the run's commit asked for by
// the person who clicked Promote. The button is a command by other means:
// the same rule as /promote decides (the environment's permission, at
// least write, and its teams), and the refusal is audited. The gates
// still decide.
func (s *Gate) promoteFromCheck(ctx context.Context, re RepoEvent, run store.SmokeRun, senderIsBot bool) error {
	p, repo, err := s.configs.PipelineFor(ctx, re)
	if err != nil || p == nil {
		return err
	}
	env, ok := p.Env(run.Env)
	if !ok {
		return nil
	}
	cmd := command.Command{Verb: command.Promote, Env: env.Name}
	rules := promotion.RulesOf(p)
	actor, unreadable, err := promotion.ActorFor(ctx, repo, rules, re.Actor, cmd)
	if err != nil {
		return err
	}
	actor.IsBot = actor.IsBot || senderIsBot
	d := command.Authorize(cmd, actor, rules)
	if !d.Allowed {
		detail := map[string]any{"reason": d.Reason, "trigger": "check_run button", "check_run": run.CheckRunID,
			"permission": actor.Permission.String(), "needed": d.Needed.String(), "teams": d.Teams}
		if len(unreadable) > 0 {
			detail["unreadable_teams"] = unreadable
		}
		zerolog.Ctx(ctx).Info().Str("repo", repo.FullName()).Str("env", env.Name).Str("sha", run.SHA).
			Dict("audit", zerolog.Dict().Str("actor", re.Actor).Str("action", "promote_button").Str("outcome", "refused")).Msg("Promote button refused")
		return s.store.Audit(ctx, store.AuditEntry{Repo: repo.FullName(), Actor: re.Actor, Action: "promote", Env: env.Name, SHA: run.SHA,
			Outcome: "refused", Detail: detail})
	}
	return s.queueManualPromotion(ctx, re, repo, p, env, run.SHA)
}

func (s *Gate) queueManualPromotion(ctx context.Context, re RepoEvent, repo *gh.Repo, p *pipeline.Pipeline, env pipeline.Environment, sha string) error {
	t, ok := s.smokeTarget(ctx, repo, p, env, sha)
	if !ok {
		return nil
	}
	args := promotion.EvaluateArgs{Installation: re.Installation, Owner: re.Owner, Repo: re.Repo, DefaultBranch: re.DefaultBranch,
		Env: t.Env, Route: string(t.Route), Source: t.Source, SHA: t.SHA, Trigger: string(pipeline.TriggerManual), Actor: re.Actor}
	if err := s.promotions.QueueEvaluation(ctx, args); err != nil {
		return err
	}
	zerolog.Ctx(ctx).Info().Str("repo", repo.FullName()).Str("env", env.Name).Str("sha", sha).
		Dict("audit", zerolog.Dict().Str("actor", re.Actor).Str("action", "promote_button")).Msg("manual promotion queued")
	return nil
}
