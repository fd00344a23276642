package rollout

import (
	"cmp"
	"context"
	"fmt"
	"html"
	"net/url"
	"slices"
	"strings"

	"github.com/google/go-github/v60/github"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/checks"
	"github.com/hoist-dev/hoist/internal/jobs"
)

// RetryAction is the check run's button that retries every failed instance.
var RetryAction = checks.Action{Label: "Retry failed", Description: "Upgrade the failed instances again", Identifier: "retry_failed"}

// report writes the rollout as it is now on its check run, creating the
// run first when it has none.
func (s *Service) report(ctx context.Context, id int64) error {
	r, insts, err := s.Rollout(ctx, id)
	if err != nil {
		return err
	}
	repo, err := s.repo(r)
	if err != nil {
		return err
	}
	out, conclusion := Render(r, insts, s.URL(r))
	reqs, err := out.Requests(s.URL(r))
	if err != nil {
		return jobs.Permanent(fmt.Errorf("fleet check output: %w", err))
	}
	status := "in_progress"
	var actions []*github.CheckRunAction
	if conclusion != "" {
		status = "completed"
		if conclusion == "failure" {
			if actions, err = checks.GitHubActions([]checks.Action{RetryAction}); err != nil {
				return jobs.Permanent(err)
			}
		}
	}
	var details *string
	if u := s.URL(r); u != "" {
		details = github.String(u)
	}
	if r.CheckRunID == 0 {
		opts := github.CreateCheckRunOptions{Name: CheckName, HeadSHA: r.SHA, Status: github.String(status), DetailsURL: details,
			ExternalID: github.String(fmt.Sprint(r.ID)), Output: reqs[0], Actions: actions}
		if conclusion != "" {
			opts.Conclusion = github.String(conclusion)
			opts.CompletedAt = &github.Timestamp{Time: s.now()}
		}
		run, _, err := repo.Client.Checks.CreateCheckRun(ctx, repo.Owner, repo.Name, opts)
		if err != nil {
			return fmt.Errorf("create %s check run on %s: %w", CheckName, shortSHA(r.SHA), err)
		}
		return s.db.setCheckRun(ctx, r.ID, run.GetID())
	}
	opts := github.UpdateCheckRunOptions{Name: CheckName, Status: github.String(status), DetailsURL: details, Output: reqs[0], Actions: actions}
	if conclusion != "" {
		opts.Conclusion = github.String(conclusion)
		opts.CompletedAt = &github.Timestamp{Time: s.now()}
	}
	if _, _, err := repo.Client.Checks.UpdateCheckRun(ctx, repo.Owner, repo.Name, r.CheckRunID, opts); err != nil {
		return fmt.Errorf("update %s check run %d: %w", CheckName, r.CheckRunID, err)
	}
	zerolog.Ctx(ctx).Debug().Str("repo", r.Repo).Str("sha", r.SHA).Int64("version", r.Version).Msg("fleet check run updated")
	return nil
}

// stateOrder puts what needs a look first, so a table cut for size keeps
// the failed and running instances.
var stateOrder = map[State]int{StateFailed: 0, StateRunning: 1, StatePending: 2, StateSkipped: 3, StateUpgraded: 4}

// Render is the check run of a rollout: a title with the counts, a
// summary, and the fleet table (instance, stage, state, link, screenshot)
// within GitHub's 65,535-byte limit, failed instances first. conclusion is
// empty while the rollout runs.
func Render(r Rollout, insts []Instance, detailsURL string) (out checks.Output, conclusion string) {
	count := map[State]int{}
	for _, i := range insts {
		count[i.State]++
	}
	release := strings.TrimPrefix(strings.TrimPrefix(r.Release, "refs/heads/"), "refs/tags/")
	switch r.State {
	case RolloutRunning:
		out.Title = fmt.Sprintf("Rolling out: %d of %d upgraded, %d failed", count[StateUpgraded], len(insts), count[StateFailed])
	case RolloutStopped:
		conclusion = "failure"
		out.Title = fmt.Sprintf("Rollout stopped: %d failed, %d upgraded, %d not started", count[StateFailed], count[StateUpgraded], count[StateSkipped])
	default:
		conclusion = "success"
		if count[StateFailed] > 0 || count[StateSkipped] > 0 {
			conclusion = "failure"
		}
		out.Title = fmt.Sprintf("%d of %d upgraded, %d failed", count[StateUpgraded], len(insts), count[StateFailed])
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Release %s (`%s`) to %d instances: %d upgraded, %d running, %d waiting, %d failed, %d not started.\n\n",
		checks.CodeCell(release), shortSHA(r.SHA), len(insts), count[StateUpgraded], count[StateRunning], count[StatePending], count[StateFailed], count[StateSkipped])
	plan := r.Spec.Plan()
	fmt.Fprintf(&b, "Canaries first, then waves of %d; the rollout stops once more than %d instances (%s) fail.\n\n",
		max(plan.WaveSize, 0), plan.FailureLimit(), percent(plan.MaxFailureShare))
	if r.Reason != "" && r.State == RolloutStopped {
		fmt.Fprintf(&b, "**Stopped:** %s.\n\n", checks.Escape(r.Reason))
	}
	if count[StateFailed] > 0 {
		b.WriteString("Retry with the **Retry failed** button, or comment `/upgrade retry` (all) or `/upgrade retry <name>` on the release's pull request.\n\n")
	}
	rows := slices.Clone(insts)
	slices.SortStableFunc(rows, func(a, b Instance) int {
		return cmp.Or(cmp.Compare(stateOrder[a.State], stateOrder[b.State]), cmp.Compare(a.Wave, b.Wave), cmp.Compare(a.Name, b.Name))
	})
	budget := checks.MaxSummaryBytes - b.Len() - 64
	t := checks.NewTable(budget, detailsURL, "Instance", "Stage", "State", "Link", "Screenshot")
	for _, i := range rows {
		state := string(i.State)
		if i.Reason != "" {
			state += ": " + i.Reason
		}
		t.AddRawRow(checks.Escape(i.Name), string(i.Stage), checks.Escape(cutRunes(state, 200)), link(i.Link), thumbnail(i.Name, i.Screenshot))
	}
	b.WriteString(t.String())
	out.Summary = b.String()
	return out, conclusion
}

// link and thumbnail render addresses that gates gave: only http(s) ones,
// escaped, so a stage cannot put markup into the table.
func link(u string) string {
	if !webURL(u) {
		return ""
	}
	p, _ := url.Parse(u)
	return "[" + checks.Escape(p.Host) + "](" + parens.Replace(u) + ")"
}

var parens = strings.NewReplacer("(", "%28", ")", "%29")

func thumbnail(name, u string) string {
	if !webURL(u) {
		return ""
	}
	return `<img src="` + html.EscapeString(u) + `" alt="` + html.EscapeString(name) + `" width="120">`
}

func webURL(u string) bool {
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "https" || p.Scheme == "http") && p.Host != "" && !strings.ContainsAny(u, " <>\"'`\n")
}

func cutRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
