package chatops

import (
	"context"
	"fmt"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/command"
	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/store"
)

// The commands of one pull request (or issue; the commit comments of a
// repository share one order) run in the order they were written, one
// comment at a time, on any number of replicas: a /hold, then an /unhold,
// then a /hold leave the environment held whatever order their webhooks
// arrive in. Each comment's job takes its turn in the store
// (store.TakeCommandTurn) before acting and snoozes while an earlier
// comment's commands are still to run. A webhook that is late (GitHub
// sends deliveries concurrently, and a failed one comes back only when
// redelivered) would let a later comment run first, so a job first looks
// at the pull request's recent comments on GitHub and queues the earlier
// ones with commands whose jobs do not exist yet; their own webhooks then
// find the job queued (it is unique by comment).

// turnWait is how long a job waits before it looks at its turn again.
const turnWait = time.Second

// lookBack is how far before a comment its job looks for earlier comments
// whose webhooks have not arrived: deliveries are normally seconds late;
// one missed for longer is recovered later and runs in its arrival order.
const lookBack = 10 * time.Minute

// queued is the comment's place in the order of its pull request.
func (a CommandArgs) queued(jobID int64) store.QueuedCommand {
	return store.QueuedCommand{CommentID: a.CommentID, Repo: a.Owner + "/" + a.Repo, Number: a.Number, JobID: jobID}
}

// queueCommand inserts the job of a comment's commands and its place in
// the pull request's order, in tx.
func (s *Service) queueCommand(ctx context.Context, tx store.Tx, args CommandArgs) error {
	res, err := s.engine.InsertTx(ctx, tx, args, nil)
	if err != nil {
		return err
	}
	return s.store.QueueCommand(ctx, tx, args.queued(res.Job.ID))
}

// takeTurn returns nil when the job may act now, or river.JobSnooze while
// an earlier comment's commands are still to run.
func (s *Service) takeTurn(ctx context.Context, job *river.Job[CommandArgs], lastAttempt bool) error {
	a := job.Args
	if err := s.queueEarlier(ctx, a, job.ID); err != nil {
		if !lastAttempt {
			return err
		}
		// Rather answer out of order than not at all.
		zerolog.Ctx(ctx).Warn().Err(err).Msg("could not look for earlier commands on the pull request; running this one now")
	}
	waitFor, err := s.store.TakeCommandTurn(ctx, a.queued(job.ID))
	if err != nil {
		return err
	}
	if waitFor != 0 {
		zerolog.Ctx(ctx).Debug().Int64("waits_for", waitFor).Msg("an earlier command on the pull request is still to run")
		return river.JobSnooze(turnWait)
	}
	return nil
}

// queueEarlier queues the jobs of the comments with commands written on
// the pull request shortly before a's, once per comment.
func (s *Service) queueEarlier(ctx context.Context, a CommandArgs, jobID int64) error {
	if a.CreatedAt.IsZero() {
		return nil // queued before hoist knew comments' times
	}
	if err := s.store.QueueCommand(ctx, nil, a.queued(jobID)); err != nil {
		return err
	}
	listed, err := s.store.CommandListed(ctx, a.CommentID, false)
	if err != nil || listed {
		return err
	}
	client, err := s.clients.NewInstallationClient(a.Installation)
	if err != nil {
		return err
	}
	repo := gh.NewRepo(client, a.Owner, a.Repo)
	since := a.CreatedAt.Add(-lookBack)
	cs, err := recentComments(ctx, repo, a, since)
	if err != nil {
		return err
	}
	var earlier []CommandArgs
	for _, c := range cs {
		if c.GetID() >= a.githubID() || c.GetCreatedAt().Before(since) {
			continue
		}
		// An edit never runs anything, so an edited comment is left to
		// the webhook of its creation, which carries what was written.
		if c.GetUpdatedAt().After(c.GetCreatedAt().Time) {
			continue
		}
		e := a
		e.CommentID = c.GetID()
		if a.Commit != "" {
			e.CommentID = commitCommentKey(c.GetID())
		}
		// A comment whose creation hoist has (its job, or seen without
		// commands) is decided by its own webhook, which carries the
		// body as written; only a comment whose webhook is still to
		// come is queued from the list.
		if known, err := s.store.CommentKnown(ctx, e.CommentID); err != nil {
			return err
		} else if known {
			continue
		}
		author := c.GetUser()
		if author.GetType() == "Bot" || (command.Actor{Login: author.GetLogin()}).IsBotAccount() {
			continue
		}
		if cmds, errs := command.Parse(c.GetBody(), command.Options{ShortForm: true}); len(cmds)+len(errs) == 0 {
			continue
		}
		e.CommentURL, e.Body, e.Author, e.CreatedAt = c.GetHTMLURL(), c.GetBody(), author.GetLogin(), c.GetCreatedAt().Time
		e.Delivery = ""
		earlier = append(earlier, e)
	}
	for _, e := range earlier {
		// The job is unique by comment: one queued by the comment's own
		// webhook is found and kept.
		err := s.store.InTx(ctx, func(tx store.Tx) error { return s.queueCommand(ctx, tx, e) })
		if err != nil {
			return fmt.Errorf("queue the commands of the earlier comment %d: %w", e.CommentID, err)
		}
	}
	if len(earlier) > 0 {
		zerolog.Ctx(ctx).Debug().Int("earlier", len(earlier)).Msg("earlier comments with commands are queued first")
	}
	_, err = s.store.CommandListed(ctx, a.CommentID, true)
	return err
}

// recentComments lists the comments where a's comment is (its pull
// request, issue or commit) written since then, as issue comments: only
// their id, author, body, link and times are read.
func recentComments(ctx context.Context, repo *gh.Repo, a CommandArgs, since time.Time) ([]*github.IssueComment, error) {
	var out []*github.IssueComment
	if a.Commit != "" {
		// A commit's comments cannot be asked for by time; a commit has
		// few.
		opts := &github.ListOptions{PerPage: 100}
		for {
			cs, resp, err := repo.Client.Repositories.ListCommitComments(ctx, a.Owner, a.Repo, a.Commit, opts)
			if err != nil {
				return nil, fmt.Errorf("comments of commit %s: %w", shortSHA(a.Commit), err)
			}
			for _, c := range cs {
				out = append(out, &github.IssueComment{ID: c.ID, Body: c.Body, User: c.User, HTMLURL: c.HTMLURL,
					CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt})
			}
			if resp.NextPage == 0 {
				return out, nil
			}
			opts.Page = resp.NextPage
		}
	}
	opts := &github.IssueListCommentsOptions{Since: &since, ListOptions: github.ListOptions{PerPage: 100}}
	for {
		cs, resp, err := repo.Client.Issues.ListComments(ctx, a.Owner, a.Repo, a.Number, opts)
		if err != nil {
			return nil, fmt.Errorf("comments of #%d: %w", a.Number, err)
		}
		out = append(out, cs...)
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}
