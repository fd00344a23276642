package chatops

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/command"
	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/pipeline"
	"github.com/hoist-dev/hoist/internal/promotion"
	"github.com/hoist-dev/hoist/internal/store"
)

// helpAvailable is what /help offers as runnable on this server: every
// verb, less /smoke when the server has no browser (or no artifact folder)
// and /preview while temporary links are off. /purge is always offered;
// an environment without a CDN gets that said in the reply.
func (s *Service) helpAvailable() map[command.Verb]bool {
	m := allVerbs()
	m[command.Smoke] = s.smoke.Ready() == nil
	m[command.Preview] = s.smoke.PreviewsOn()
	m[command.Upgrade] = s.upgrades != nil
	return m
}

// allVerbs is a fully equipped server's /help (the README shows it).
func allVerbs() map[command.Verb]bool {
	m := map[command.Verb]bool{}
	for _, spec := range command.Specs() {
		m[spec.Verb] = true
	}
	return m
}

// CommandArgs is the durable job that runs the commands of one comment on
// a pull request, an issue or a commit. It is unique by comment while it
// exists, and every command line is recorded in the store
// (store.CommandRun), so a comment is acted on and answered once whichever
// delivery brings it, and a crash resumes it.
type CommandArgs struct {
	Installation  int64  `json:"installation"`
	Owner         string `json:"owner"`
	Repo          string `json:"repo"`
	DefaultBranch string `json:"default_branch"`
	RepoURL       string `json:"repo_url,omitempty"`
	// Number is the pull request or issue; 0 for a commit comment.
	Number int `json:"number"`
	// CommentID is the comment's key in hoist: its GitHub id, negated for
	// a commit comment. GitHub numbers commit comments apart from issue
	// comments, so the two may share an id; the sign keeps their jobs,
	// command runs, holds and intents apart.
	CommentID  int64  `json:"comment_id" river:"unique"`
	CommentURL string `json:"comment_url,omitempty"`
	Body       string `json:"body"`
	Author     string `json:"author"`
	Delivery   string `json:"delivery,omitempty"`
	// CreatedAt is when the comment was written: its job looks for
	// earlier comments shortly before it (order.go).
	CreatedAt time.Time `json:"created_at,omitzero"`
	// Issue marks a comment on a plain issue, not a pull request: the
	// commands that name their environment run as on a pull request, and
	// those that need one (/smoke and /preview of "this pull request")
	// are answered that they need one. False on jobs queued before issues
	// were served, which were all pull requests.
	Issue bool `json:"issue,omitempty"`
	// Commit is the commit a commit comment is on (empty otherwise): the
	// commands that name their environment run as on a pull request,
	// /smoke and /preview without one mean this commit, and replies are
	// comments on the commit.
	Commit string `json:"commit,omitempty"`
}

// commitCommentKey is the CommentID of the commit comment id.
func commitCommentKey(id int64) int64 { return -id }

// githubID is the comment's id on GitHub.
func (a CommandArgs) githubID() int64 {
	if a.Commit != "" {
		return -a.CommentID
	}
	return a.CommentID
}

// where names what the comment is on, for replies and the audit log.
func (a CommandArgs) where() string {
	switch {
	case a.Commit != "":
		return "commit"
	case a.Issue:
		return "issue"
	}
	return "pull_request"
}

// place is what the comment is on, as the audit log records it: the
// commit's sha or the issue's or pull request's number.
func (a CommandArgs) place() any {
	if a.Commit != "" {
		return a.Commit
	}
	return a.Number
}

// Kind names the job for River.
func (CommandArgs) Kind() string { return "hoist_pr_command" }

// InsertOpts: one job per comment.
func (CommandArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 6, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// isBot: bots (hoist included) are never obeyed, whether GitHub marks the
// account a Bot or its login says so.
func isBot(author, sender *github.User) bool {
	return author.GetType() == "Bot" || sender.GetType() == "Bot" ||
		command.Actor{Login: author.GetLogin()}.IsBotAccount() || command.Actor{Login: sender.GetLogin()}.IsBotAccount()
}

// OnIssueComment hands the commands of a new comment on a pull request or
// an issue to a durable job. Only `created` comments by people act: an edit
// never runs anything, and bots (hoist included) are never obeyed. An issue
// is served as a pull request is, with the same authorization: an emergency
// /rollback or /hold must not wait for someone to open a pull request.
func (s *Service) OnIssueComment(ctx context.Context, ev *github.IssueCommentEvent, deliveryID string) error {
	c, r := ev.GetComment(), ev.GetRepo()
	args := CommandArgs{Installation: ev.GetInstallation().GetID(), Owner: r.GetOwner().GetLogin(), Repo: r.GetName(),
		DefaultBranch: r.GetDefaultBranch(), RepoURL: r.GetHTMLURL(), Number: ev.GetIssue().GetNumber(),
		CommentID: c.GetID(), CommentURL: c.GetHTMLURL(), Body: c.GetBody(), Author: c.GetUser().GetLogin(), Delivery: deliveryID,
		CreatedAt: c.GetCreatedAt().Time, Issue: !ev.GetIssue().IsPullRequest()}
	return s.onComment(ctx, ev.GetAction(), isBot(c.GetUser(), ev.GetSender()), args)
}

// OnCommitComment hands the commands of a new comment on a commit to a
// durable job, as OnIssueComment does for issues, with the same
// authorization: GitHub sends only `created` for commit comments.
func (s *Service) OnCommitComment(ctx context.Context, ev *github.CommitCommentEvent, deliveryID string) error {
	c, r := ev.GetComment(), ev.GetRepo()
	args := CommandArgs{Installation: ev.GetInstallation().GetID(), Owner: r.GetOwner().GetLogin(), Repo: r.GetName(),
		DefaultBranch: r.GetDefaultBranch(), RepoURL: r.GetHTMLURL(), CommentID: commitCommentKey(c.GetID()),
		CommentURL: c.GetHTMLURL(), Body: c.GetBody(), Author: c.GetUser().GetLogin(), Delivery: deliveryID,
		CreatedAt: c.GetCreatedAt().Time, Commit: c.GetCommitID()}
	if args.Commit == "" {
		return jobs.Permanent(fmt.Errorf("commit comment %d names no commit", c.GetID()))
	}
	return s.onComment(ctx, ev.GetAction(), isBot(c.GetUser(), ev.GetSender()), args)
}

// onComment queues the job of a comment that may hold commands.
func (s *Service) onComment(ctx context.Context, action string, bot bool, args CommandArgs) error {
	if !command.ShouldAct(action, bot) {
		return s.seenWithoutCommands(ctx, action, args)
	}
	// A cheap look before any API call: most comments hold no command.
	if cmds, errs := command.Parse(args.Body, command.Options{ShortForm: true}); len(cmds)+len(errs) == 0 {
		return s.seenWithoutCommands(ctx, action, args)
	}
	zerolog.Ctx(ctx).Info().Str("repo", args.Owner+"/"+args.Repo).Int64("comment", args.githubID()).Str("actor", args.Author).
		Str("on", args.where()).Msg("command queued")
	// Queued in the transaction that records the delivery handled: the job
	// exists exactly when the delivery is done.
	err := jobs.OnComplete(ctx, func(ctx context.Context, tx store.Tx) error {
		return s.queueCommand(ctx, tx, args)
	})
	if err != nil {
		// Not inside a delivery job (a direct call): queue on its own.
		if err := s.store.InTx(ctx, func(tx store.Tx) error { return s.queueCommand(ctx, tx, args) }); err != nil {
			return fmt.Errorf("queue commands of comment %d: %w", args.githubID(), err)
		}
	}
	return nil
}

// seenWithoutCommands records that the creation of a comment was delivered
// and runs nothing (no command, or a bot's), so that a later comment's job
// never queues it from the comment list, where its body may have been
// edited since (order.go).
func (s *Service) seenWithoutCommands(ctx context.Context, action string, a CommandArgs) error {
	if action != "created" {
		return nil
	}
	if err := s.store.CommentSeen(ctx, a.queued(0)); err != nil {
		return fmt.Errorf("record comment %d: %w", a.githubID(), err)
	}
	return nil
}

// commandWorker runs CommandArgs jobs.
type commandWorker struct {
	river.WorkerDefaults[CommandArgs]
	s *Service
}

// Timeout: a command makes a few GitHub requests (one may wait out a
// secondary limit, up to a minute), and /preview fetches the commit into
// the repository's mirror first. A crashed replica's command is taken over
// this long after it began.
func (w *commandWorker) Timeout(*river.Job[CommandArgs]) time.Duration { return 2 * time.Minute }

// cmdRun is one comment being worked on.
type cmdRun struct {
	a     CommandArgs
	repo  *gh.Repo
	p     *pipeline.Pipeline
	opts  command.Options // for parsing: every verb, so each reaches its seam
	help  command.Options // for /help: what this server can really run
	rules command.Rules
	// lastAttempt is set on the job's last attempt: no more retries.
	lastAttempt bool
}

// line is one command line of the comment: a command or a parse error.
type cmdLine struct {
	number int
	raw    string
	cmd    *command.Command
	perr   *command.ParseError
}

// result is what a command did, for its reply and reaction.
type result struct {
	outcome command.Outcome
	detail  string
	links   []command.Link
	// body replaces the whole reply (help, parse errors).
	body string
	// retry is a transient error met before anything changed: the job is
	// retried rather than the command answered as failed, except on its
	// last attempt.
	retry error
	// err is why the command failed; a transient one (jobs.Transient) is
	// retried like retry before anyone is told.
	err error
}

// later asks for the job to be retried because of err, which happened
// before the command changed anything.
func later(err error) result { return result{outcome: command.Failed, retry: err} }

// Work parses the comment against the repository's configuration and runs
// each command line that has not been answered yet.
func (w *commandWorker) Work(ctx context.Context, job *river.Job[CommandArgs]) error {
	s, a := w.s, job.Args
	log := zerolog.Ctx(ctx).With().Str("repo", a.Owner+"/"+a.Repo).Int64("comment", a.githubID()).Str("on", a.where()).Str("delivery", a.Delivery).Logger()
	ctx = log.WithContext(ctx)
	lastAttempt := job.Attempt >= job.MaxAttempts
	if err := s.takeTurn(ctx, job, lastAttempt); err != nil {
		return err
	}
	err := w.work(ctx, job, lastAttempt)
	var cancel *river.JobCancelError
	if err == nil || errors.As(err, &cancel) {
		// Done: the next comment on the pull request may run.
		if ferr := s.store.FinishCommand(context.WithoutCancel(ctx), a.CommentID); ferr != nil {
			log.Warn().Err(ferr).Msg("could not record the commands done; the next ones wait for the job to complete")
		}
	}
	return err
}

// work runs the comment's commands once it is their turn.
func (w *commandWorker) work(ctx context.Context, job *river.Job[CommandArgs], lastAttempt bool) error {
	s, a := w.s, job.Args
	log := zerolog.Ctx(ctx)
	re := RepoEvent{Installation: a.Installation, Owner: a.Owner, Repo: a.Repo, DefaultBranch: a.DefaultBranch, Actor: a.Author}
	p, repo, err := s.configs.PipelineFor(ctx, re)
	if err != nil {
		if jobs.IsPermanent(err) && repo == nil {
			// A broken configuration: say so once, on the comment, rather than retry.
			client, cerr := s.clients.NewInstallationClient(a.Installation)
			if cerr != nil {
				return cerr
			}
			run := &cmdRun{a: a, repo: gh.NewRepo(client, a.Owner, a.Repo)}
			return s.answerLine(ctx, run, cmdLine{number: 0, raw: "(configuration)"}, func(context.Context, *store.CommandRun) result {
				return result{outcome: command.Failed, body: fmt.Sprintf("😕 @%s I could not read this repository's hoist configuration, so I ran nothing:\n\n```\n%s\n```\n",
					a.Author, strings.ReplaceAll(err.Error(), "```", "'''"))}
			})
		}
		return err
	}
	if p == nil {
		log.Debug().Msg("no hoist configuration; command ignored")
		return nil
	}
	run := &cmdRun{a: a, repo: repo, p: p, rules: promotion.RulesOf(p), lastAttempt: lastAttempt}
	var envs []string
	for _, e := range p.Environments {
		envs = append(envs, e.Name)
	}
	run.opts = command.Options{Environments: envs, ShortForm: p.ShortForm, Rules: run.rules}
	run.help = run.opts
	run.help.Available = w.s.helpAvailable()

	cmds, errs := command.Parse(a.Body, run.opts)
	var lines []cmdLine
	for i := range cmds {
		lines = append(lines, cmdLine{number: cmds[i].Line, raw: cmds[i].Raw, cmd: &cmds[i]})
	}
	for _, e := range errs {
		lines = append(lines, cmdLine{number: e.Line, raw: e.Raw, perr: e})
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].number < lines[j].number })
	for _, l := range lines {
		err := s.answerLine(ctx, run, l, func(ctx context.Context, cr *store.CommandRun) result {
			if l.perr != nil {
				return result{outcome: command.Refused, body: l.perr.Markdown()}
			}
			return s.authorizeAndRun(ctx, run, *l.cmd, cr)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// marker is hidden in each reply so that a retry after a crash finds the
// reply it posted instead of posting a second one.
func marker(commentID int64, line int) string {
	return fmt.Sprintf("<!-- hoist:command %d:%d -->", commentID, line)
}

// answerLine runs one command line at most once and answers it once. The
// command run row is claimed first; the action's result is stored before
// the reply is posted, and the row is marked done after. A rerun of a done
// line does nothing; a rerun of a line with a stored result only makes sure
// the reply and reaction exist; otherwise the action runs again, which each
// verb makes safe (compare-and-swap moves, holds keyed by comment).
func (s *Service) answerLine(ctx context.Context, run *cmdRun, l cmdLine, act func(context.Context, *store.CommandRun) result) error {
	a := run.a
	cr, created, err := s.store.StartCommandRun(ctx, store.CommandRun{CommentID: a.CommentID, Line: l.number,
		Repo: run.repo.FullName(), Number: a.Number, Actor: a.Author, Command: l.raw})
	if err != nil {
		return err
	}
	if cr.Status == store.CommandDone {
		zerolog.Ctx(ctx).Debug().Int("line", l.number).Msg("command already answered")
		return nil
	}
	if cr.Detail == nil {
		cr.Detail = map[string]any{}
	}
	res, stored := storedResult(cr.Detail)
	if !stored {
		res = act(ctx, &cr)
		retry := res.retry
		if retry == nil && res.err != nil && (jobs.Transient(res.err) || ctx.Err() != nil) {
			retry = res.err
		}
		if retry != nil {
			// A rate limit snoozes the job until the reset, which uses no
			// attempt, and a job stopped by a shutdown runs again elsewhere:
			// neither is the command's failure, even on the last attempt.
			_, limited := jobs.RetryAt(retry)
			if !run.lastAttempt || limited || ctx.Err() != nil {
				zerolog.Ctx(ctx).Info().Err(retry).Int("line", l.number).Msg("command met a transient error; it will be retried before anyone is told")
				return fmt.Errorf("command on line %d: %w", l.number, retry)
			}
			res = failed(retry)
		}
		cr.Detail["result"] = map[string]any{"outcome": int(res.outcome), "detail": res.detail, "body": res.body, "links": linksToAny(res.links)}
		if err := s.store.UpdateCommandRun(ctx, cr); err != nil {
			return err
		}
	}
	body := res.body
	if body == "" {
		cmd := command.Command{Verb: command.Help}
		if l.cmd != nil {
			cmd = *l.cmd
		}
		body = command.Reply{Outcome: res.outcome, Command: cmd, Actor: a.Author, Detail: res.detail, Links: res.links}.Markdown()
	}
	mark := marker(a.CommentID, l.number)
	var replyID int64
	if !created {
		if c, err := run.findReply(ctx, mark); err != nil {
			return err
		} else if c != nil {
			replyID = c.ID
		}
	}
	if replyID == 0 {
		if replyID, err = run.reply(ctx, strings.TrimRight(body, "\n")+"\n\n"+mark+"\n"); err != nil {
			return err
		}
	}
	if res.outcome != command.Accepted {
		if err := run.react(ctx, res.outcome.Reaction()); err != nil {
			return err
		}
	}
	cr.Status, cr.Outcome, cr.ReplyID = store.CommandDone, res.outcome.String(), replyID
	return s.store.UpdateCommandRun(ctx, cr)
}

// findReply looks for hoist's reply marked mark where the comment is.
func (run *cmdRun) findReply(ctx context.Context, mark string) (*gh.IssueComment, error) {
	if run.a.Commit != "" {
		return run.repo.FindCommitComment(ctx, run.a.Commit, mark)
	}
	return run.repo.FindComment(ctx, run.a.Number, "", mark)
}

// reply answers where the comment is: on its pull request, its issue or
// its commit.
func (run *cmdRun) reply(ctx context.Context, body string) (int64, error) {
	if run.a.Commit != "" {
		return run.repo.CommitComment(ctx, run.a.Commit, body)
	}
	return run.repo.Comment(ctx, run.a.Number, body)
}

// react reacts to the comment.
func (run *cmdRun) react(ctx context.Context, content string) error {
	if run.a.Commit != "" {
		return run.repo.ReactToCommitComment(ctx, run.a.githubID(), content)
	}
	return run.repo.React(ctx, run.a.CommentID, content)
}

func storedResult(d map[string]any) (result, bool) {
	m, ok := d["result"].(map[string]any)
	if !ok {
		return result{}, false
	}
	var r result
	if f, ok := m["outcome"].(float64); ok {
		r.outcome = command.Outcome(int(f))
	}
	r.detail, _ = m["detail"].(string)
	r.body, _ = m["body"].(string)
	if ls, ok := m["links"].([]any); ok {
		for _, x := range ls {
			if lm, ok := x.(map[string]any); ok {
				t, _ := lm["text"].(string)
				u, _ := lm["url"].(string)
				r.links = append(r.links, command.Link{Text: t, URL: u})
			}
		}
	}
	return r, true
}

func linksToAny(ls []command.Link) []any {
	out := make([]any, 0, len(ls))
	for _, l := range ls {
		out = append(out, map[string]any{"text": l.Text, "url": l.URL})
	}
	return out
}

// authorizeAndRun checks who asked against the rules, audits the decision
// and, when allowed, reacts 👀 and runs the command.
func (s *Service) authorizeAndRun(ctx context.Context, run *cmdRun, cmd command.Command, cr *store.CommandRun) result {
	a := run.a
	actor, unreadable, err := s.actorOf(ctx, run, cmd)
	if err != nil {
		return later(fmt.Errorf("I could not check the permission of @%s: %w", a.Author, err))
	}
	d := command.Authorize(cmd, actor, run.rules)
	if !d.Allowed && len(unreadable) > 0 {
		d.Reason += fmt.Sprintf(" (I may not read the members of %s: this installation of hoist needs the organization permission \"Members: read\".)",
			strings.Join(unreadable, ", "))
	}
	outcome := "allowed"
	if !d.Allowed {
		outcome = "refused"
	}
	if _, done := cr.Detail["audited"]; !done {
		err := s.store.Audit(ctx, store.AuditEntry{Repo: run.repo.FullName(), Actor: a.Author, Action: "command", Env: cmd.Env, SHA: cmd.SHA,
			Outcome: outcome, Detail: map[string]any{"command": cmd.String(), "comment": a.CommentID, "comment_url": a.CommentURL,
				a.where(): a.place(), "permission": actor.Permission.String(), "needed": d.Needed.String(), "teams": d.Teams, "reason": d.Reason}})
		if err != nil {
			return failed(err)
		}
		cr.Detail["audited"] = outcome
		if err := s.store.UpdateCommandRun(ctx, *cr); err != nil {
			return failed(err)
		}
	}
	if !d.Allowed {
		return result{outcome: command.Refused, detail: d.Reason}
	}
	if err := run.react(ctx, command.ReactionEyes); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("could not add the 👀 reaction")
	}
	return s.runCommand(ctx, run, cmd, cr)
}

// actorOf reads the commenter's permission on the repository and, when the
// command's environment is limited to teams, which of them they belong to;
// unreadable lists the teams GitHub would not show to hoist.
func (s *Service) actorOf(ctx context.Context, run *cmdRun, cmd command.Command) (actor command.Actor, unreadable []string, err error) {
	return promotion.ActorFor(ctx, run.repo, run.rules, run.a.Author, cmd)
}

func failed(err error) result {
	return result{outcome: command.Failed, detail: "Sorry, " + sentence(err.Error()), err: err}
}

// sentence ends s with a full stop.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasSuffix(s, ".") || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "!") {
		return s
	}
	return s + "."
}
