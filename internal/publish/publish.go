// Package publish carries out changes of environments: each is recorded as
// a GitHub deployment, and an environment with a deploy target is deployed
// and purged by a durable job holding the environment's lease, reporting
// on the deployment's statuses and a hoist/deploy check run.
package publish

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/deploy"
	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/pipeline"
	"github.com/hoist-dev/hoist/internal/purge"
	"github.com/hoist-dev/hoist/internal/store"
)

// Publication is one change of an environment's branch that hoist
// publishes: the commit the branch now points at, the one before, why it
// moved and who asked. Promotions, merges into an environment branch,
// tags, rollbacks and re-deploys all publish through here, so deployment
// records, uploads and purges happen in one place.
type Publication struct {
	Env string
	// SHA is the commit the environment's branch points at now.
	SHA string
	// Previous is the commit it pointed at before; empty for a new branch
	// or when unknown.
	Previous string
	// Reason is promote, merge, push, tag, rollback or redeploy.
	Reason string
	// Actor is the person (or "hoist") the change is attributed to.
	Actor string
	// Source and Route say where a promoted commit came from.
	Source string
	Route  string
	// DefaultBranch decides which environment is production.
	DefaultBranch string
	// Installation is the App's installation on the repository, for the
	// deploy job's GitHub client.
	Installation int64
	// Intent, when set, is written into the deployment's payload
	// (IntentKey), so that Complete finds the deployment an earlier
	// attempt created.
	Intent string `json:",omitempty"`
	// Candidate, when set, is the commit whose gates passed and whose
	// tree SHA has: SHA is the commit hoist made to promote it onto a
	// branch that its own rollback had set apart (a rejoin).
	Candidate string `json:",omitempty"`
}

// IntentKey is the deployment payload's key naming the publication that
// created it.
const IntentKey = "hoist_intent"

// commitLabel names the deployed commit, and the candidate it carries
// when they differ.
func (pub Publication) commitLabel() string {
	if pub.Candidate != "" && pub.Candidate != pub.SHA {
		return fmt.Sprintf("%s (tree of %s)", shortSHA(pub.SHA), shortSHA(pub.Candidate))
	}
	return shortSHA(pub.SHA)
}

// payload is the deployment payload of pub.
func (pub Publication) payload(extra map[string]any) map[string]any {
	m := map[string]any{"source": pub.Source, "route": pub.Route, "reason": pub.Reason}
	if pub.Intent != "" {
		m[IntentKey] = pub.Intent
	}
	if pub.Candidate != "" {
		m["candidate"] = pub.Candidate
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// Publish records the change as a GitHub deployment of the environment.
// An environment with a deploy target is deployed and purged by a durable
// job (deploy.go), which reports the outcome on the deployment and in a
// hoist/deploy check run; one without records a success status and the
// environment's URL.
func (s *Publisher) Publish(ctx context.Context, repo *gh.Repo, p *pipeline.Pipeline, env pipeline.Environment, pub Publication) error {
	dep, ok := p.Deployment(env.Name, pub.DefaultBranch)
	if !ok {
		return nil
	}
	if env.Deploy.Target != "" {
		return s.queuePublish(ctx, repo, env, dep, pub)
	}
	created, err := repo.CreateDeployment(ctx, pub.SHA, dep.Environment,
		fmt.Sprintf("%s %s to %s", pub.Reason, pub.commitLabel(), env.Name), dep.Production, pub.payload(nil))
	if err != nil {
		return fmt.Errorf("publish %s: %w", env.Name, err)
	}
	return s.recorded(ctx, repo, dep, env, pub, created.ID)
}

// recorded finishes the publication of an environment without a deploy
// target: its deployment succeeded as soon as it exists.
func (s *Publisher) recorded(ctx context.Context, repo *gh.Repo, dep pipeline.Deployment, env pipeline.Environment, pub Publication, id int64) error {
	if err := repo.SetDeploymentStatus(ctx, id, "success", dep.URL, "", fmt.Sprintf("%s is at %s", env.Name, shortSHA(pub.SHA))); err != nil {
		return err
	}
	s.recordDeploy(ctx, repo, PublishArgs{Owner: repo.Owner, Repo: repo.Name, Env: env.Name, Deployment: id,
		SHA: pub.SHA, Previous: pub.Previous, Reason: pub.Reason}, true, "")
	return nil
}

// Complete publishes pub again after an attempt that may have got part of
// the way: when GitHub already holds the deployment named by pub.Intent
// (created before a later write failed, or its answer lost), it carries on
// with that one instead of creating a second; otherwise it publishes as
// Publish does.
func (s *Publisher) Complete(ctx context.Context, repo *gh.Repo, p *pipeline.Pipeline, env pipeline.Environment, pub Publication) error {
	dep, ok := p.Deployment(env.Name, pub.DefaultBranch)
	if !ok {
		return nil
	}
	if pub.Intent == "" {
		return s.Publish(ctx, repo, p, env, pub)
	}
	id, err := repo.DeploymentWith(ctx, dep.Environment, pub.SHA, IntentKey, pub.Intent)
	if err != nil {
		return fmt.Errorf("publish %s: %w", env.Name, err)
	}
	if id == 0 {
		return s.Publish(ctx, repo, p, env, pub)
	}
	zerolog.Ctx(ctx).Info().Int64("deployment", id).Msg("publication resumed with the deployment already created")
	if env.Deploy.Target != "" {
		return s.queueDeployment(ctx, repo, env, pub, id)
	}
	return s.recorded(ctx, repo, dep, env, pub, id)
}

// PurgeRequest asks for an environment's CDN cache to be purged outside a
// deploy (the /purge command): the given site paths, or everything.
type PurgeRequest struct {
	Env   string
	Paths []string
	All   bool
	Actor string
}

// PurgeResult says what a purge did, for the reply to the person.
type PurgeResult struct {
	// Requests is how many purge requests were sent, per CDN name.
	Requests map[string]int
	Summary  string
}

// ErrPurgeUnavailable is returned while this server has no CDN configured
// for the environment.
var ErrPurgeUnavailable = errors.New("no CDN purge is configured for this environment")

// Purge purges an environment's CDN cache: the given site paths ("/",
// "/docs/", "/a.css") by their surrogate keys or URLs, or with All the
// whole edition, on every CDN the environment names.
func (s *Publisher) Purge(ctx context.Context, repo *gh.Repo, p *pipeline.Pipeline, env pipeline.Environment, req PurgeRequest) (PurgeResult, error) {
	if len(env.Purge) == 0 {
		return PurgeResult{}, ErrPurgeUnavailable
	}
	full := repo.FullName()
	cdns, _, err := s.cdnsFor(ctx, full, env)
	if err != nil {
		return PurgeResult{}, fmt.Errorf("purge %s: %w", env.Name, err)
	}
	if !req.All && len(req.Paths) == 0 {
		return PurgeResult{}, fmt.Errorf("purge %s: name paths to purge, or all", env.Name)
	}
	// The edition, its keys and its paths are the repository's own, as a
	// deploy names them.
	edition := serverconfig.Edition(full, env.Name)
	preq := purge.Request{Edition: edition, EditionKey: deploy.EditionKey(edition), All: req.All}
	if env.Deploy.Target != "" && s.cfg != nil {
		_, prefix, err := s.cfg.DeployTarget(env.Deploy.Target, full, env.Deploy.Prefix)
		if err != nil {
			return PurgeResult{}, fmt.Errorf("purge %s: %w", env.Name, err)
		}
		preq.Prefix = prefix
	} else if p, err := deploy.JoinPrefix(strings.ToLower(full)+"/", env.Name+"/"); err == nil {
		preq.Prefix = p
	}
	preq.Prefix = purge.PrefixOf(env.URL, preq.Prefix)
	for _, u := range req.Paths {
		sp := purge.SitePath(u)
		preq.Changes = append(preq.Changes, purge.Change{Path: sp, Keys: []string{preq.EditionKey, deploy.PathKey(edition, sp)}})
	}
	out := PurgeResult{Requests: map[string]int{}}
	var lines []string
	var errs []error
	for _, c := range cdns {
		_, res, err := purge.Run(ctx, preq, c, s.purgeOptions...)
		out.Requests[c.Name] = res.Requests
		line := res.String()
		if err != nil {
			line += ": failed: " + err.Error()
			errs = append(errs, fmt.Errorf("purge %s on %s: %w", env.Name, c.Name, err))
		}
		lines = append(lines, line)
	}
	out.Summary = strings.Join(lines, "\n")
	actor := req.Actor
	if actor == "" {
		actor = "hoist"
	}
	outcome := "success"
	if len(errs) > 0 {
		outcome = "failure"
	}
	if s.store != nil {
		_ = s.store.Audit(ctx, store.AuditEntry{Repo: repo.FullName(), Actor: actor, Action: "purge", Env: env.Name, Outcome: outcome,
			Detail: map[string]any{"paths": req.Paths, "all": req.All, "requests": out.Requests}})
	}
	return out, errors.Join(errs...)
}
