package chatops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/command"
	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/pipeline"
	"github.com/hoist-dev/hoist/internal/promotion"
	"github.com/hoist-dev/hoist/internal/store"
)

// runCommand carries out an authorized command.
func (s *Service) runCommand(ctx context.Context, run *cmdRun, cmd command.Command, cr *store.CommandRun) result {
	switch cmd.Verb {
	case command.Promote:
		return s.cmdPromote(ctx, run, cmd)
	case command.Hold:
		return s.cmdHold(ctx, run, cmd)
	case command.Unhold:
		return s.cmdUnhold(ctx, run, cmd)
	case command.Rollback:
		return s.cmdRollback(ctx, run, cmd, cr)
	case command.Deploy:
		return s.cmdDeploy(ctx, run, cmd)
	case command.Status:
		return s.cmdStatus(ctx, run)
	case command.Help:
		return s.cmdHelp(run, cmd)
	case command.Smoke:
		return s.cmdSmoke(ctx, run, cmd)
	case command.Purge:
		return s.cmdPurge(ctx, run, cmd)
	case command.Preview:
		return s.cmdPreview(ctx, run, cmd)
	case command.Upgrade:
		return s.cmdUpgrade(ctx, run, cmd)
	}
	return failed(fmt.Errorf("%s is not wired up on this server", cmd.Verb))
}

// cmdUpgrade retries the failed instances of the rollout of the pull
// request's release.
func (s *Service) cmdUpgrade(ctx context.Context, run *cmdRun, cmd command.Command) result {
	if s.upgrades == nil {
		return result{outcome: command.Refused, detail: "This server runs no fleet rollouts."}
	}
	if run.a.Issue {
		return result{outcome: command.Refused, detail: "`/upgrade retry` belongs on the pull request of a release."}
	}
	detail, err := s.upgrades.RetryOnPull(ctx, run.repo, run.a.Number, cmd.Instance, run.a.Author)
	if err != nil {
		return result{outcome: command.Refused, detail: "Nothing retried: " + sentence(err.Error())}
	}
	return result{outcome: command.Succeeded, detail: detail}
}

func (s *Service) cmdHelp(run *cmdRun, cmd command.Command) result {
	if cmd.HelpTopic != "" {
		text, err := command.VerbHelp(cmd.HelpTopic, run.help)
		if err != nil {
			return failed(err)
		}
		return result{outcome: command.Succeeded, body: text}
	}
	return result{outcome: command.Succeeded, body: command.HelpMarkdown(run.help)}
}

// evaluateArgs is the evaluation a command asks for.
func (run *cmdRun) evaluateArgs(t pipeline.Target, trigger pipeline.Trigger, actor string) EvaluateArgs {
	a := run.a
	return EvaluateArgs{Installation: a.Installation, Owner: a.Owner, Repo: a.Repo, DefaultBranch: a.DefaultBranch,
		Env: t.Env, Route: string(t.Route), Source: t.Source, SHA: t.SHA, Trigger: string(trigger), Actor: actor}
}

func (run *cmdRun) envLinks(env pipeline.Environment, from, to string) []command.Link {
	var links []command.Link
	if env.URL != "" {
		links = append(links, command.Link{Text: "View deployment", URL: env.URL})
	}
	if run.a.RepoURL != "" && from != "" && to != "" && from != to {
		links = append(links, command.Link{Text: "Changes", URL: fmt.Sprintf("%s/compare/%s...%s", run.a.RepoURL, from, to)})
	}
	return links
}

// cmdPromote evaluates the promotion into the environment as a person's
// request: every gate still applies (a person only replaces auto: true).
func (s *Service) cmdPromote(ctx context.Context, run *cmdRun, cmd command.Command) result {
	env, _ := run.p.Env(cmd.Env)
	t, ok := run.p.RouteFor(env.Name)
	if !ok {
		return result{outcome: command.Refused, detail: fmt.Sprintf("Nothing is promoted into %s: it has no `promote_from` and no candidate branch.", codeSpan(env.Name))}
	}
	if cmd.SHA != "" {
		full, err := run.repo.ResolveCommit(ctx, cmd.SHA)
		if errors.Is(err, gh.ErrNotFound) {
			return result{outcome: command.Refused, detail: fmt.Sprintf("There is no commit %s in this repository.", codeSpan(cmd.SHA))}
		}
		if err != nil {
			return later(err)
		}
		head, err := run.repo.BranchHead(ctx, t.Source)
		if err != nil {
			return later(err)
		}
		if full != head {
			status, err := run.repo.CompareStatus(ctx, full, head)
			if err != nil && !errors.Is(err, gh.ErrUnrelated) {
				return later(err)
			}
			if status != "ahead" {
				return result{outcome: command.Refused, detail: fmt.Sprintf("%s is not on %s, which %s is promoted from.",
					codeSpan(shortSHA(full)), codeSpan(t.Source), codeSpan(env.Name))}
			}
		}
		t.SHA = full
	}
	a := run.evaluateArgs(t, pipeline.TriggerCommand, run.a.Author)
	facts, d, acting, err := s.promotions.DecideAndAct(ctx, run.repo, run.p, env, t, a)
	if err != nil && !acting {
		return later(err)
	}
	if errors.Is(err, promotion.ErrGrouped) {
		return result{outcome: command.Accepted, detail: fmt.Sprintf("Every gate of %s passes for %s. %s is released with other repositories as a release group, "+
			"which moves every member or none: the outcome is reported in the %s check run of each member's candidate.",
			codeSpan(env.Name), codeSpan(shortSHA(d.SHA)), codeSpan(env.Name), codeSpan("hoist/release-group"))}
	}
	if err != nil {
		if errors.Is(err, gh.ErrNotFastForward) {
			return failed(fmt.Errorf("%s moved while I was promoting it, and nothing was overwritten; say `%s` again to promote from its new head", env.Branch, run.p.PromoteCommand(env.Name)))
		}
		return failed(err)
	}
	reasons := strings.Join(d.Reasons, "\n")
	switch d.Outcome {
	case pipeline.OutcomePromote:
		n := len(facts.Commits)
		what := fmt.Sprintf("Promoted %s to %s", codeSpan(env.Name), codeSpan(shortSHA(d.SHA)))
		if d.From != "" {
			what += fmt.Sprintf(" (from %s, %d commit%s)", codeSpan(shortSHA(d.From)), n, plural(n))
		}
		return result{outcome: command.Succeeded, detail: what + " by fast-forward of " + codeSpan(env.Branch) + ".", links: run.envLinks(env, d.From, d.SHA)}
	case pipeline.OutcomeUpToDate:
		return result{outcome: command.Succeeded, detail: "Nothing to do: " + reasons}
	case pipeline.OutcomeWait:
		then := fmt.Sprintf("Once they pass, say %s again.", codeSpan(run.p.PromoteCommand(env.Name)))
		if automatic(run.p, env, t) {
			then = "hoist promotes it as soon as they pass."
		} else if timed(d) {
			then = fmt.Sprintf("hoist promotes it when the wait ends, at %s.", d.WaitUntil.UTC().Format("2006-01-02 15:04 UTC"))
		}
		detail := fmt.Sprintf("%s cannot be promoted to %s yet:\n\n%s\n\n%s",
			codeSpan(shortSHA(d.SHA)), codeSpan(env.Name), bullets(d.Reasons), then)
		return result{outcome: command.Accepted, detail: detail, links: s.gateLinks(ctx, run, d)}
	default:
		return result{outcome: command.Refused, detail: fmt.Sprintf("%s was not promoted to %s:\n\n%s",
			codeSpan(shortSHA(d.SHA)), codeSpan(env.Name), bullets(d.Reasons)), links: s.gateLinks(ctx, run, d)}
	}
}

// automatic reports whether the route promotes on its own once the gates
// pass (the environment's or the candidate's auto).
func automatic(p *pipeline.Pipeline, env pipeline.Environment, t pipeline.Target) bool {
	if t.Route == pipeline.RouteCandidate {
		for _, c := range p.Candidates {
			if c.Env == env.Name && c.Branch == t.Source {
				return c.Auto
			}
		}
		return false
	}
	return env.Auto
}

// timed reports whether only time stands in the way (a soak): the timer
// that act scheduled promotes, on behalf of the person who asked.
func timed(d pipeline.Decision) bool {
	if d.WaitUntil.IsZero() {
		return false
	}
	for _, g := range d.Pending {
		if g.WaitUntil.IsZero() {
			return false
		}
	}
	return true
}

// gateLinks links the check runs of the gates that are pending or failed.
func (s *Service) gateLinks(ctx context.Context, run *cmdRun, d pipeline.Decision) []command.Link {
	if d.SHA == "" || len(d.Pending)+len(d.Failed) == 0 {
		return nil
	}
	urls, err := run.repo.CheckURLs(ctx, d.SHA)
	if err != nil {
		zerolog.Ctx(ctx).Debug().Err(err).Msg("no check run links")
		return nil
	}
	var links []command.Link
	for _, g := range append(append([]pipeline.GateResult{}, d.Failed...), d.Pending...) {
		name := g.Name
		if g.Kind == pipeline.GateSmoke {
			name = pipeline.SmokeCheckName
		}
		if u, ok := urls[name]; ok {
			links = append(links, command.Link{Text: "Check " + name, URL: u})
		}
	}
	return links
}

func bullets(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("- " + l + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// targetsInto are the promotions into env (not tags, which name a commit).
func targetsInto(p *pipeline.Pipeline, env pipeline.Environment) []pipeline.Target {
	var out []pipeline.Target
	if src := p.SourceBranch(env.Name); src != "" {
		out = append(out, pipeline.Target{Env: env.Name, Route: pipeline.RoutePromote, Source: src})
	}
	for _, c := range p.Candidates {
		if c.Env == env.Name {
			out = append(out, pipeline.Target{Env: env.Name, Route: pipeline.RouteCandidate, Source: c.Branch})
		}
	}
	return out
}

// putHold stores a hold and, when it ends, the durable re-evaluations at
// its end, in one transaction: a hold never exists without its timer.
func (s *Service) putHold(ctx context.Context, run *cmdRun, env pipeline.Environment, h store.Hold) (stored store.Hold, created bool, err error) {
	err = s.store.InTx(ctx, func(tx store.Tx) error {
		var err error
		stored, created, err = s.store.PutHold(ctx, tx, h)
		if err != nil || !created || h.Until == nil {
			return err
		}
		for _, t := range targetsInto(run.p, env) {
			args := run.evaluateArgs(t, pipeline.TriggerEvent, "hoist")
			if _, err := s.engine.InsertTx(ctx, tx, args, &river.InsertOpts{ScheduledAt: *h.Until, MaxAttempts: 8,
				UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: time.Second}}); err != nil {
				return fmt.Errorf("schedule the end of the hold on %s: %w", env.Name, err)
			}
		}
		return nil
	})
	return stored, created, err
}

func (s *Service) cmdHold(ctx context.Context, run *cmdRun, cmd command.Command) result {
	env, _ := run.p.Env(cmd.Env)
	now := s.promotions.Now().UTC()
	h := store.Hold{Key: fmt.Sprintf("comment:%d:%d", run.a.CommentID, cmd.Line), Repo: run.repo.FullName(), Env: env.Name,
		By: run.a.Author, Reason: cmd.Reason, Since: now}
	if cmd.Duration > 0 {
		until := now.Add(cmd.Duration)
		h.Until = &until
	}
	stored, created, err := s.putHold(ctx, run, env, h)
	if err != nil {
		return failed(err)
	}
	if created { // a rerun of this command finds the hold and its audit in place
		if err := s.store.Audit(ctx, store.AuditEntry{Repo: run.repo.FullName(), Actor: run.a.Author, Action: "hold", Env: env.Name, Outcome: "held",
			Detail: map[string]any{"reason": stored.Reason, "until": stored.Until, "comment": run.a.CommentID}}); err != nil {
			return failed(err)
		}
	}
	detail := fmt.Sprintf("%s is held", codeSpan(env.Name))
	if stored.Until != nil {
		detail += fmt.Sprintf(" until %s (for %s)", stored.Until.Format("2006-01-02 15:04 UTC"), command.FormatDuration(cmd.Duration))
	} else {
		detail += " until someone says " + codeSpan(unholdCommand(run.p, env.Name))
	}
	if stored.Reason != "" {
		detail += ": " + codeSpan(stored.Reason)
	}
	return result{outcome: command.Succeeded, detail: detail + ". Nothing is promoted into it meanwhile."}
}

func unholdCommand(p *pipeline.Pipeline, env string) string {
	if p.ShortForm {
		return "/unhold " + env
	}
	return "/hoist unhold " + env
}

func (s *Service) cmdUnhold(ctx context.Context, run *cmdRun, cmd command.Command) result {
	env, _ := run.p.Env(cmd.Env)
	released, err := s.store.ReleaseHolds(ctx, run.repo.FullName(), env.Name, run.a.Author, s.promotions.Now())
	if err != nil {
		return failed(err)
	}
	if err := s.store.Audit(ctx, store.AuditEntry{Repo: run.repo.FullName(), Actor: run.a.Author, Action: "unhold", Env: env.Name,
		Outcome: "released", Detail: map[string]any{"released": len(released), "comment": run.a.CommentID}}); err != nil {
		return failed(err)
	}
	re := RepoEvent{Installation: run.a.Installation, Owner: run.a.Owner, Repo: run.a.Repo, DefaultBranch: run.a.DefaultBranch, Actor: run.a.Author}
	if err := s.promotions.Enqueue(ctx, re, targetsInto(run.p, env), pipeline.TriggerEvent); err != nil {
		return failed(err)
	}
	if len(released) == 0 {
		last, err := s.store.LastReleasedHold(ctx, run.repo.FullName(), env.Name)
		if err != nil {
			return failed(err)
		}
		if last != nil && last.ReleasedAt != nil {
			// A second /unhold (or one racing another): the hold was lifted once.
			return result{outcome: command.Succeeded, detail: fmt.Sprintf("%s is not held: its hold (by @%s) was already lifted by @%s at %s; its promotions are evaluated again anyway.",
				codeSpan(env.Name), last.By, last.ReleasedBy, last.ReleasedAt.Format("2006-01-02 15:04:05 UTC"))}
		}
		return result{outcome: command.Succeeded, detail: fmt.Sprintf("%s was not held; its promotions are evaluated again anyway.", codeSpan(env.Name))}
	}
	var by []string
	for _, h := range released {
		by = append(by, "@"+h.By)
	}
	return result{outcome: command.Succeeded, detail: fmt.Sprintf("Released %d hold%s on %s (by %s); its promotions are evaluated again.",
		len(released), plural(len(released)), codeSpan(env.Name), strings.Join(by, ", "))}
}

// cmdDeploy publishes the environment's current head again.
func (s *Service) cmdDeploy(ctx context.Context, run *cmdRun, cmd command.Command) result {
	env, _ := run.p.Env(cmd.Env)
	head, err := run.repo.BranchHead(ctx, env.Branch)
	if errors.Is(err, gh.ErrNotFound) {
		return result{outcome: command.Refused, detail: fmt.Sprintf("The branch %s of %s does not exist yet.", codeSpan(env.Branch), codeSpan(env.Name))}
	}
	if err != nil {
		return failed(err)
	}
	if err := s.store.Audit(ctx, store.AuditEntry{Repo: run.repo.FullName(), Actor: run.a.Author, Action: "deploy", Env: env.Name, SHA: head,
		Outcome: "redeploy", Detail: map[string]any{"comment": run.a.CommentID},
		// Once per command line, however often a failed write retries it.
		Key: fmt.Sprintf("deploy:%d:%d", run.a.CommentID, cmd.Line)}); err != nil {
		return failed(err)
	}
	// Named by the command line, so that a retry after a failed write
	// carries on with the deployment an earlier attempt created.
	if err := s.pub.Complete(ctx, run.repo, run.p, env, Publication{Env: env.Name, SHA: head, Previous: head, Reason: "redeploy",
		Actor: run.a.Author, DefaultBranch: run.a.DefaultBranch, Installation: run.a.Installation,
		Intent: fmt.Sprintf("redeploy:%d:%d", run.a.CommentID, cmd.Line)}); err != nil {
		return failed(err)
	}
	return result{outcome: command.Succeeded, detail: fmt.Sprintf("Deployed %s again at %s.", codeSpan(env.Name), codeSpan(shortSHA(head))), links: run.envLinks(env, "", "")}
}

// cmdStatus shows each environment's head, holds and what its promotion
// waits for.
func (s *Service) cmdStatus(ctx context.Context, run *cmdRun) result {
	now := s.promotions.Now()
	var b strings.Builder
	var budgets []string
	// The verification column shows only where an environment is verified.
	verified := false
	for _, env := range run.p.Environments {
		verified = verified || (env.Verify != nil && s.verified != nil)
	}
	if verified {
		b.WriteString("| Environment | Branch | Head | Holds | Next promotion | Verified |\n| --- | --- | --- | --- | --- | --- |\n")
	} else {
		b.WriteString("| Environment | Branch | Head | Holds | Next promotion |\n| --- | --- | --- | --- | --- |\n")
	}
	for _, env := range run.p.Environments {
		head, err := run.repo.BranchHead(ctx, env.Branch)
		headText := codeSpan(shortSHA(head))
		if errors.Is(err, gh.ErrNotFound) {
			headText = "(no branch)"
		} else if err != nil {
			return failed(err)
		}
		holds, err := s.store.EnvHolds(ctx, run.repo.FullName(), env.Name, now)
		if err != nil {
			return failed(err)
		}
		var hs []string
		for _, h := range holds {
			t := "@" + h.By
			if h.Until != nil {
				t += " until " + h.Until.Format("2006-01-02 15:04 UTC")
			}
			if h.Reason != "" {
				t += ": " + codeSpan(h.Reason)
			}
			hs = append(hs, t)
		}
		next := "—"
		if t, ok := run.p.RouteFor(env.Name); ok {
			facts, _, err := s.promotions.Gather(ctx, run.repo, run.p, env, t, pipeline.TriggerEvent, "")
			if err != nil {
				next = "could not evaluate: " + codeSpan(err.Error())
			} else {
				d := run.p.Decide(t, facts)
				if d.Budget != nil {
					budgets = append(budgets, budgetLine(env, *d.Budget))
				}
				next = fmt.Sprintf("%s from %s: %s", codeSpan(shortSHA(d.SHA)), codeSpan(t.Source), strings.ReplaceAll(string(d.Outcome), "_", " "))
				if len(d.Reasons) > 0 && d.Outcome != pipeline.OutcomeUpToDate {
					next += " — " + strings.Join(d.Reasons, " ")
				}
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |", codeSpan(env.Name), codeSpan(env.Branch), headText,
			cell(strings.Join(hs, "; ")), cell(next))
		if verified {
			text := ""
			if env.Verify != nil {
				if text, err = s.verified.StatusText(ctx, run.repo.FullName(), env.Name); err != nil {
					text = "could not read: " + err.Error()
				}
			}
			fmt.Fprintf(&b, " %s |", cell(text))
		}
		b.WriteString("\n")
	}
	if s.groups != nil {
		lines, err := s.groups.StatusLines(ctx, run.repo.FullName())
		if err != nil {
			return failed(err)
		}
		if len(lines) > 0 {
			b.WriteString("\nRelease groups:\n")
			for _, l := range lines {
				b.WriteString("- " + l + "\n")
			}
		}
	}
	if len(budgets) > 0 {
		b.WriteString("\n**Failure budgets**\n\n" + strings.Join(budgets, "\n") + "\n")
	}
	return result{outcome: command.Succeeded, detail: b.String()}
}

// budgetLine is one environment's failure budget in /status.
func budgetLine(env pipeline.Environment, v pipeline.BudgetVerdict) string {
	line := "- " + codeSpan(env.Name) + ": " + v.Sentence(env.Name)
	switch {
	case v.Exhausted && v.Hold:
		line += " **Exhausted**: promotions are held until it is back within budget."
	case v.Exhausted:
		line += " **Exhausted**: automatic promotions wait for a person until it is back within budget."
	case v.Samples < v.MinSamples:
		line += fmt.Sprintf(" (It is judged from %d outcomes on.)", v.MinSamples)
	}
	return line
}

func cell(s string) string {
	if s == "" {
		return "—"
	}
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// pullHead is the head commit of the comment's pull request and the
// environment its base branch is, if any.
func (run *cmdRun) pullHead(ctx context.Context) (sha, env string, err error) {
	pr, err := run.repo.Pull(ctx, run.a.Number)
	if err != nil {
		return "", "", err
	}
	// The head commit, never the head branch's name: a fork's pull request
	// names a branch of the fork, and a branch of that name here is
	// someone else's commit.
	sha = pr.HeadSHA
	if e, ok := run.p.EnvOfBranch(pr.Base); ok {
		env = e.Name
	}
	return sha, env, nil
}

// smokeRequest names the commit of /smoke and /preview: the head of the
// named environment, the named commit, or the pull request's head.
func (s *Service) smokeRequest(ctx context.Context, run *cmdRun, cmd command.Command) (SmokeRequest, *result) {
	req := SmokeRequest{Installation: run.a.Installation, Owner: run.a.Owner, Repo: run.a.Repo, DefaultBranch: run.a.DefaultBranch,
		Env: cmd.Env, Actor: run.a.Author, Trigger: string(pipeline.TriggerCommand)}
	var err error
	switch {
	case cmd.Env != "":
		env, _ := run.p.Env(cmd.Env)
		req.SHA, err = run.repo.BranchHead(ctx, env.Branch)
	case cmd.SHA != "":
		req.SHA, err = run.repo.ResolveCommit(ctx, cmd.SHA)
		if errors.Is(err, gh.ErrNotFound) {
			return req, &result{outcome: command.Refused, detail: fmt.Sprintf("There is no commit %s in this repository.", codeSpan(cmd.SHA))}
		}
	case run.a.Commit != "":
		// On a commit comment, "this" is the commit commented on.
		req.SHA = run.a.Commit
	case run.a.Issue:
		// Without an environment or a commit the command means "this pull
		// request", and an issue has none: say so rather than guess.
		return req, &result{outcome: command.Refused, detail: fmt.Sprintf(
			"%s without an environment or a commit needs a pull request: in an issue, name one, e.g. %s or %s.",
			codeSpan("/"+string(cmd.Verb)), codeSpan("/"+string(cmd.Verb)+" <environment>"), codeSpan("/"+string(cmd.Verb)+" <sha>"))}
	default:
		req.SHA, req.Env, err = run.pullHead(ctx)
	}
	if err != nil {
		r := failed(err)
		return req, &r
	}
	return req, nil
}

func (s *Service) cmdSmoke(ctx context.Context, run *cmdRun, cmd command.Command) result {
	req, r := s.smokeRequest(ctx, run, cmd)
	if r != nil {
		return *r
	}
	if err := s.smoke.RequestSmoke(ctx, req); err != nil {
		return failed(err)
	}
	return result{outcome: command.Succeeded, detail: fmt.Sprintf("A smoke test of %s is queued; its result will be the %s check run on that commit.",
		codeSpan(shortSHA(req.SHA)), codeSpan(pipeline.SmokeCheckName))}
}

func (s *Service) cmdPreview(ctx context.Context, run *cmdRun, cmd command.Command) result {
	req, r := s.smokeRequest(ctx, run, cmd)
	if r != nil {
		return *r
	}
	link, err := s.smoke.Preview(ctx, req)
	if err != nil {
		return failed(err)
	}
	if err := s.store.Audit(ctx, store.AuditEntry{Repo: run.repo.FullName(), Actor: run.a.Author, Action: "preview", Env: req.Env, SHA: req.SHA,
		Outcome: "ready", Detail: map[string]any{"comment": run.a.CommentID}}); err != nil {
		return failed(err)
	}
	// The comment is public to every reader of the pull request, so it
	// carries no credential: the page it links to signs the person in on
	// the preview origin and hands the signed link to writers only.
	return result{outcome: command.Succeeded, detail: fmt.Sprintf("A preview of the site of %s is ready for people with write access to this repository: "+
		"open it and sign in with GitHub; the link you then get works for %s.", codeSpan(shortSHA(req.SHA)), link.TTL),
		links: []command.Link{{Text: "Open the preview (write access)", URL: link.URL}}}
}

func (s *Service) cmdPurge(ctx context.Context, run *cmdRun, cmd command.Command) result {
	env, _ := run.p.Env(cmd.Env)
	res, err := s.pub.Purge(ctx, run.repo, run.p, env, PurgeRequest{Env: env.Name, Paths: cmd.Paths, All: cmd.All, Actor: run.a.Author})
	if err != nil {
		return failed(err)
	}
	detail := res.Summary
	if detail == "" {
		detail = fmt.Sprintf("Purged the CDN cache of %s.", codeSpan(env.Name))
	}
	return result{outcome: command.Succeeded, detail: detail}
}
