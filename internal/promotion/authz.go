package promotion

import (
	"context"
	"errors"
	"strings"

	"github.com/hoist-dev/hoist/internal/command"
	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/pipeline"
	"github.com/hoist-dev/hoist/internal/store"
)

// RulesOf turns the environments' permission and teams into command rules.
func RulesOf(p *pipeline.Pipeline) command.Rules {
	r := command.Rules{DefaultPermission: command.PermissionWrite, PerEnv: map[string]command.EnvRule{}}
	for _, e := range p.Environments {
		perm, err := command.ParsePermission(e.Permission)
		if err != nil || perm == command.PermissionNone {
			perm = command.PermissionWrite
		}
		r.PerEnv[e.Name] = command.EnvRule{Permission: perm, Teams: e.Teams}
	}
	return r
}

// ActorFor reads what command.Authorize needs to know of login for cmd:
// every way a person acts on an environment (a comment, the Promote button
// of a check run) is judged by the same facts and the same rule.
func ActorFor(ctx context.Context, repo *gh.Repo, rules command.Rules, login string, cmd command.Command) (actor command.Actor, unreadable []string, err error) {
	actor = command.Actor{Login: login}
	if actor.IsBotAccount() {
		return actor, nil, nil
	}
	role, err := repo.Permission(ctx, login)
	if err != nil {
		return actor, nil, err
	}
	if actor.Permission, err = command.ParsePermission(role); err != nil {
		return actor, nil, err
	}
	req := rules.Require(cmd.Verb, cmd.Env)
	if len(req.Teams) > 0 && actor.Permission >= req.Permission && actor.Permission < command.PermissionAdmin {
		for _, t := range req.Teams {
			ok, err := repo.InTeam(ctx, t, login)
			if errors.Is(err, gh.ErrNoAccess) {
				unreadable = append(unreadable, CodeSpan(t))
				continue
			}
			if err != nil {
				return actor, nil, err
			}
			if ok {
				actor.Teams = append(actor.Teams, t)
			}
		}
	}
	return actor, unreadable, nil
}

// CodeSpan shows user or git text literally in a reply.
func CodeSpan(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

// PipelineHolds turns stored holds into the core's facts.
func PipelineHolds(hs []store.Hold) []pipeline.Hold {
	out := make([]pipeline.Hold, 0, len(hs))
	for _, h := range hs {
		out = append(out, pipeline.Hold{Env: h.Env, By: h.By, Reason: h.Reason, Since: h.Since, Until: h.Until})
	}
	return out
}
