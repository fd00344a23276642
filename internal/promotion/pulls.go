package promotion

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-github/v60/github"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/pipeline"
	"github.com/hoist-dev/hoist/internal/store"
)

// A promotion that a person carries out (auto: false, or a candidate with
// auto: false) has one open pull request <source branch> → <environment
// branch>, titled "Promote dev → staging", whose body hoist rewrites on
// every evaluation: the commits it brings and their authors, the gate
// table, the holds. Its reviews feed the approvals gate; merging it is the
// promotion (the push that follows is published like any other change of
// the branch).

// gatherPull finds the pull request whose reviews feed t's approvals gate
// (the promotion pull request), if one is open, and puts it, its reviews
// and what GitHub says of each reviewer's access into the facts.
func (s *Service) gatherPull(ctx context.Context, repo *gh.Repo, p *pipeline.Pipeline, env pipeline.Environment, t pipeline.Target, f *pipeline.Facts) (*gh.PullRequest, error) {
	head := p.ApprovalsBranch(t)
	if head == "" && p.BudgetMayWantPullRequest(t) {
		// An exhausted failure budget may have handed this automatic
		// promotion to a person on a pull request.
		head = t.Source
	}
	if head == "" {
		return nil, nil
	}
	pr, err := repo.OpenPull(ctx, head, env.Branch)
	if err != nil || pr == nil {
		return nil, err
	}
	f.PullRequest = &pipeline.PullRequest{Number: pr.Number, Author: pr.Author, URL: pr.URL}
	reviews, err := repo.Reviews(ctx, pr.Number)
	if err != nil {
		return nil, err
	}
	for _, rv := range reviews {
		f.Reviews = append(f.Reviews, pipeline.Review{User: rv.User, State: rv.State, SHA: rv.SHA, At: rv.At})
	}
	if f.Reviewers, err = s.reviewers(ctx, repo, env, f.Reviews, pr.Author); err != nil {
		return nil, err
	}
	return pr, nil
}

// reviewers reads, once per reviewer who stands by a review, their
// permission on the repository and, when the environment has teams and
// the permission is enough otherwise, whether they belong to one.
func (s *Service) reviewers(ctx context.Context, repo *gh.Repo, env pipeline.Environment, reviews []pipeline.Review, author string) (map[string]pipeline.Reviewer, error) {
	_, standing := pipeline.FoldReviews(reviews, author)
	out := make(map[string]pipeline.Reviewer, len(standing))
	for _, login := range standing {
		key := strings.ToLower(login)
		if _, done := out[key]; done {
			continue
		}
		perm, err := repo.Permission(ctx, login)
		if err != nil {
			return nil, err
		}
		rv := pipeline.Reviewer{Permission: perm}
		if len(env.Teams) > 0 && perm != "admin" && pipeline.ReviewerCounts(pipeline.Reviewer{Permission: perm}, nil) {
			for _, team := range env.Teams {
				ok, err := repo.InTeam(ctx, team, login)
				if errors.Is(err, gh.ErrNoAccess) {
					zerolog.Ctx(ctx).Warn().Err(err).Str("team", team).Msg("team membership unreadable: the reviewer's approval does not count (the installation needs Members: read)")
					continue
				}
				if err != nil {
					return nil, err
				}
				if ok {
					rv.InTeam = true
					break
				}
			}
		}
		out[key] = rv
	}
	return out, nil
}

// syncPull keeps the promotion pull request in step with the decision: it
// is opened when the source has commits the environment lacks, its title
// and body are rewritten when they changed, and it is closed once the
// environment contains the source head (hoist promoted it, or the branch
// got there another way). A pull request between the same branches that a
// person opened is left alone: its text is theirs.
func (s *Service) syncPull(ctx context.Context, repo *gh.Repo, p *pipeline.Pipeline, env pipeline.Environment, d pipeline.Decision, f pipeline.Facts, pr *gh.PullRequest) error {
	t := d.Target
	// An automatic promotion has a pull request only while an exhausted
	// failure budget hands it to a person; it is closed once promoted.
	budget := p.BudgetMayWantPullRequest(t) && (d.BudgetPullRequest() || pr != nil && d.Outcome == pipeline.OutcomePromote)
	if !p.WantsPullRequest(t) && !budget {
		return nil
	}
	log := zerolog.Ctx(ctx)
	ours := false
	if pr != nil {
		var err error
		if ours, err = s.ourPull(ctx, pr, t); err != nil {
			return err
		}
		if !ours {
			log.Info().Int("number", pr.Number).Str("author", pr.Author).Msg("a person's pull request holds this promotion; hoist leaves its text alone")
			return nil
		}
	}
	if d.Outcome == pipeline.OutcomePromote || !pipeline.KeepPullRequest(d) {
		if pr == nil {
			return nil
		}
		// GitHub marks a pull request merged by itself once its base
		// contains its head; only one still open is closed.
		if cur, err := repo.Pull(ctx, pr.Number); err != nil || cur.State != "open" {
			return err
		}
		if err := repo.ClosePull(ctx, pr.Number); err != nil {
			return fmt.Errorf("promotion pull request of %s: %w", env.Name, err)
		}
		log.Info().Int("number", pr.Number).Msg("promotion pull request closed: the environment is up to date")
		return nil
	}
	if pr == nil && f.Relation == pipeline.RelationUnrelated {
		// GitHub opens no pull request between unrelated histories; the
		// refusal is in the log and the audit trail instead.
		log.Warn().Str("sha", d.SHA).Str("env", env.Name).Strs("reasons", d.Reasons).Msg("no promotion pull request: the branches share no history")
		return nil
	}
	title, body := p.RenderPullRequest(d, f)
	if pr != nil && pr.Title == title && pr.Body == body {
		return nil
	}
	got, err := repo.UpsertPull(ctx, t.Source, env.Branch, title, body)
	if err != nil {
		return fmt.Errorf("promotion pull request of %s: %w", env.Name, err)
	}
	if pr == nil {
		log.Info().Int("number", got.Number).Str("sha", d.SHA).Msg("promotion pull request opened")
	}
	return nil
}

// ourPull reports whether pr (between t's branches) is hoist's promotion
// pull request for t: its author is hoist's bot, and its body carries the
// marker of t or none (a person may have replaced the description; hoist
// writes it again). The marker alone is not enough, since anyone can write
// it into a pull request.
func (s *Service) ourPull(ctx context.Context, pr *gh.PullRequest, t pipeline.Target) (bool, error) {
	if env, source, ok := pipeline.ParsePromotionMarker(pr.Body); ok && (env != t.Env || source != t.Source) {
		return false, nil
	}
	bot, err := s.botLogin(ctx)
	if err != nil {
		return false, err
	}
	return strings.EqualFold(pr.Author, bot), nil
}

// promotionOf returns the promotion a pull request event is about: hoist's
// own pull request whose marker names an environment of the current
// configuration with these branches.
func (s *Service) promotionOf(ctx context.Context, re RepoEvent, pr *github.PullRequest, body string) (*pipeline.Pipeline, *gh.Repo, pipeline.Target, bool, error) {
	envName, source, ok := pipeline.ParsePromotionMarker(body)
	if !ok {
		return nil, nil, pipeline.Target{}, false, nil
	}
	p, repo, err := s.configs.PipelineFor(ctx, re)
	if err != nil || p == nil {
		return nil, nil, pipeline.Target{}, false, err
	}
	env, ok := p.Env(envName)
	if !ok || env.Branch != pr.GetBase().GetRef() || source != pr.GetHead().GetRef() {
		return nil, nil, pipeline.Target{}, false, nil
	}
	// A fork's pull request names a branch of the fork: never a promotion.
	if head := pr.GetHead().GetRepo().GetFullName(); head != "" && !strings.EqualFold(head, repo.FullName()) {
		return nil, nil, pipeline.Target{}, false, nil
	}
	t := pipeline.Target{Env: env.Name, Route: pipeline.RoutePromote, Source: source}
	if p.SourceBranch(env.Name) != source {
		t.Route = pipeline.RouteCandidate
	}
	if !p.WantsPullRequest(t) {
		return nil, nil, pipeline.Target{}, false, nil
	}
	mine, err := s.ourPull(ctx, &gh.PullRequest{Body: body, Author: pr.GetUser().GetLogin()}, t)
	if err != nil || !mine {
		return nil, nil, pipeline.Target{}, false, err
	}
	return p, repo, t, true, nil
}

// OnPullRequest handles changes of a promotion pull request: new commits on
// its head (synchronize), a person editing it (hoist rewrites its text),
// and its merge, which is the promotion: it is recorded as such; the push
// that the merge makes publishes the environment and plans what follows.
func (s *Service) OnPullRequest(ctx context.Context, ev *github.PullRequestEvent) error {
	switch ev.GetAction() {
	case "opened", "reopened", "synchronize", "edited", "closed":
	default:
		return nil
	}
	re := repoEvent(ev.GetInstallation(), ev.GetRepo(), ev.GetSender())
	if ev.GetAction() == "edited" {
		// hoist's own rewrite of the body changes no fact; re-evaluating
		// it would only rewrite it again (a soak's minutes tick).
		bot, err := s.botLogin(ctx)
		if err != nil || strings.EqualFold(re.Actor, bot) {
			return err
		}
	}
	// A person who edited the description may have removed the marker;
	// the body before the edit still names the promotion.
	body := ev.GetPullRequest().GetBody()
	if ev.GetAction() == "edited" && ev.GetChanges().GetBody().GetFrom() != "" {
		body = ev.GetChanges().GetBody().GetFrom()
	}
	_, repo, t, ok, err := s.promotionOf(ctx, re, ev.GetPullRequest(), body)
	if err != nil || !ok {
		return err
	}
	pr := ev.GetPullRequest()
	if ev.GetAction() == "closed" {
		if !pr.GetMerged() {
			return nil
		}
		merger := pr.GetMergedBy().GetLogin()
		if merger == "" {
			merger = re.Actor
		}
		if err := s.store.Audit(ctx, store.AuditEntry{Repo: repo.FullName(), Actor: merger, Action: "promote", Env: t.Env,
			SHA: pr.GetMergeCommitSHA(), Outcome: "merged", Detail: map[string]any{"source": t.Source, "route": string(t.Route),
				"trigger": string(pipeline.TriggerManual), "pull_request": pr.GetNumber(), "head": pr.GetHead().GetSHA()}}); err != nil {
			return err
		}
	}
	return s.Enqueue(ctx, re, []pipeline.Target{t}, pipeline.TriggerEvent)
}

// OnPullRequestReview re-evaluates a promotion when its pull request is
// reviewed (or a review is dismissed): the approvals gate reads them.
func (s *Service) OnPullRequestReview(ctx context.Context, ev *github.PullRequestReviewEvent) error {
	re := repoEvent(ev.GetInstallation(), ev.GetRepo(), ev.GetSender())
	_, _, t, ok, err := s.promotionOf(ctx, re, ev.GetPullRequest(), ev.GetPullRequest().GetBody())
	if err != nil || !ok {
		return err
	}
	return s.Enqueue(ctx, re, []pipeline.Target{t}, pipeline.TriggerEvent)
}
