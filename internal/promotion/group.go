package promotion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/pipeline"
	"github.com/hoist-dev/hoist/internal/store"
)

// Grouper takes over the promotion of an environment that a release group
// releases (releasegroup.Service): the group moves every member or none.
type Grouper interface {
	// Take reports whether env of repo is released by a group and, if so,
	// hands the promotion d over to it.
	Take(ctx context.Context, repo *gh.Repo, p *pipeline.Pipeline, env pipeline.Environment, a EvaluateArgs, d pipeline.Decision) (bool, error)
}

// ErrGrouped is what Act returns when a release group took the promotion
// over: nothing moved yet, and the group reports the outcome on every
// member.
var ErrGrouped = errors.New("handed to the release group")

// SetGroups gives promotions the release groups, once both exist (the
// groups evaluate their members through this Service).
func (s *Service) SetGroups(g Grouper) { s.groups = g }

// Candidate is what promoting one environment would do now, as a release
// group sees each member before moving any.
type Candidate struct {
	Event    RepoEvent
	Repo     *gh.Repo
	Pipeline *pipeline.Pipeline
	Env      pipeline.Environment
	Target   pipeline.Target
	Facts    pipeline.Facts
	Decision pipeline.Decision
}

// Evaluate gathers the facts of promoting env of re's repository along t
// (a zero t: from the environment it is promoted from) and decides,
// without acting: the first phase of a release group's promotion. A
// pending publication of the environment is completed first, as every
// evaluation does.
func (s *Service) Evaluate(ctx context.Context, re RepoEvent, envName string, t pipeline.Target, trigger pipeline.Trigger, actor string) (*Candidate, error) {
	refuse := func(c *Candidate, format string, args ...any) (*Candidate, error) {
		c.Decision = pipeline.Decision{Target: t, Outcome: pipeline.OutcomeRefuse, Reasons: []string{fmt.Sprintf(format, args...)}}
		return c, nil
	}
	p, repo, err := s.configs.PipelineFor(ctx, re)
	c := &Candidate{Event: re, Repo: repo, Pipeline: p, Target: t}
	switch {
	case jobs.IsPermanent(err):
		// A broken configuration is the member's to fix; the group
		// says so rather than retrying.
		return refuse(c, "%s/%s: %v", re.Owner, re.Repo, err)
	case err != nil:
		return nil, err
	case p == nil:
		return refuse(c, "%s/%s has no .github/hoist.yml.", re.Owner, re.Repo)
	}
	env, ok := p.Env(envName)
	if !ok {
		return refuse(c, "%s has no environment %s.", repo.FullName(), envName)
	}
	c.Env = env
	if t.Env == "" {
		t = pipeline.Target{Env: envName, Route: pipeline.RoutePromote, Source: p.SourceBranch(envName)}
		c.Target = t
	}
	if t.Source == "" && t.SHA == "" {
		return refuse(c, "Nothing is promoted into %s in %s (it has no promote_from).", envName, repo.FullName())
	}
	err = s.oneAtATime(ctx, repo.FullName(), env.Name, func(ctx context.Context) error {
		if err := s.resume(ctx, repo, p, env); err != nil {
			return err
		}
		f, _, err := s.Gather(ctx, repo, p, env, t, trigger, actor)
		if err != nil {
			return err
		}
		c.Facts, c.Decision = f, p.Decide(t, f)
		if d := &c.Decision; d.Rejoin && d.Outcome != pipeline.OutcomeRefuse {
			// A group moves its members by fast-forward alone, and moves
			// them back to where they were; a rejoin commit is neither.
			d.Outcome, d.Rejoin = pipeline.OutcomeRefuse, false
			d.Reasons = []string{fmt.Sprintf("%s was set apart from %s by hoist's automatic rollback, and a release group moves its members only by fast-forward: merge %s into %s, then the group promotes again.",
				env.Branch, t.Source, env.Branch, t.Source)}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// PublishMove publishes a move of an environment's branch that a release
// group made (the branch points at pub.SHA already), in the environment's
// turn. pub.Intent names the publication: called again after a crash, the
// same intent finds the pending publication (and deployment) the first
// call left, so the move is audited and published once.
func (s *Service) PublishMove(ctx context.Context, re RepoEvent, pub Publication, audit store.AuditEntry) error {
	p, repo, err := s.configs.PipelineFor(ctx, re)
	if err != nil {
		return err
	}
	if p == nil {
		return nil
	}
	env, ok := p.Env(pub.Env)
	if !ok {
		return nil // the environment left the config since the move
	}
	return s.oneAtATime(ctx, repo.FullName(), env.Name, func(ctx context.Context) error {
		pend, ok, err := s.store.PendingPublicationOf(ctx, repo.FullName(), env.Name)
		if err != nil {
			return err
		}
		if !ok || pend.Intent != pub.Intent {
			// Another change's publication first, as every evaluation does.
			if err := s.resume(ctx, repo, p, env); err != nil {
				return err
			}
			body, err := json.Marshal(pendingRecord{Publication: pub, Audit: audit})
			if err != nil {
				return fmt.Errorf("publish %s: %w", env.Name, err)
			}
			pend = store.PendingPublication{Repo: repo.FullName(), Env: env.Name, SHA: pub.SHA, Intent: pub.Intent,
				Stage: store.StageMoving, Publication: string(body)}
			if err := s.store.PutPendingPublication(ctx, pend); err != nil {
				return fmt.Errorf("publish %s: %w", env.Name, err)
			}
		}
		return s.finish(ctx, repo, p, env, pend, true)
	})
}
