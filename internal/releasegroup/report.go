package releasegroup

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/checks"
	"github.com/hoist-dev/hoist/internal/store"
	"github.com/hoist-dev/hoist/internal/web"
)

// report tells every member how the group promotion ended: a hoist/release-group
// check run on the member's candidate commit (what GitHub shows beside
// the commit and on its pull requests) and an entry in the member's audit
// log (the dashboard's activity). A member the report cannot reach is
// logged; the record stays for /status and the dashboard.
func (s *Service) report(ctx context.Context, g Group, rec *Record) error {
	conclusion, title := "success", fmt.Sprintf("%s released together to %s", rec.Group, rec.Env)
	switch rec.Phase {
	case PhaseRefused:
		conclusion, title = "failure", fmt.Sprintf("%s: no member moved to %s", rec.Group, rec.Env)
	case PhaseFailed:
		conclusion, title = "failure", fmt.Sprintf("%s: the promotion to %s failed and was undone", rec.Group, rec.Env)
		for _, m := range rec.Members {
			if m.State == StateRestoreFailed {
				title = fmt.Sprintf("%s: the promotion to %s failed; %s could not be moved back", rec.Group, rec.Env, m.Repo)
				break
			}
		}
	}
	summary := Summary(rec)
	var errs []string
	for _, m := range rec.Members {
		if err := s.store.Audit(ctx, store.AuditEntry{Repo: m.Repo, Actor: auditActor(rec), Action: "release_group", Env: rec.Env,
			SHA: m.To, Outcome: rec.Phase, Detail: map[string]any{"group": rec.Group, "group_promotion": rec.ID, "state": m.State,
				"reason": rec.Reason, "members": g.Members}}); err != nil {
			return err
		}
		sha := m.To
		if sha == "" {
			continue
		}
		repo, err := s.repoOf(g, m)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		outs, err := checks.Output{Title: title, Summary: summary}.Requests("")
		if err != nil {
			return err
		}
		if _, err := repo.CompleteCheckRun(ctx, sha, CheckName, conclusion, rec.ID, outs); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		zerolog.Ctx(ctx).Warn().Strs("errors", errs).Str("promotion", rec.ID).Msg("release group: a member's report failed")
	}
	return nil
}

func auditActor(rec *Record) string {
	if rec.Actor == "" {
		return "hoist"
	}
	return rec.Actor
}

// Summary is a group promotion in markdown: the outcome and a table of
// the members.
func Summary(rec *Record) string {
	var b strings.Builder
	switch rec.Phase {
	case PhaseDone:
		fmt.Fprintf(&b, "Every member of the release group **%s** passed its gates; each moved to its candidate in %s.\n\n", rec.Group, rec.Env)
	case PhaseRefused:
		fmt.Fprintf(&b, "The release group **%s** moves to %s only when every member's gates pass, so no member moved.\n\n%s\n\n", rec.Group, rec.Env, rec.Reason)
	case PhaseFailed:
		fmt.Fprintf(&b, "Every member of the release group **%s** passed its gates, but a move failed, so the members already moved were moved back.\n\n%s\n\n", rec.Group, rec.Reason)
	default:
		fmt.Fprintf(&b, "The release group **%s** is promoting to %s (%s).\n\n", rec.Group, rec.Env, strings.ReplaceAll(rec.Phase, "_", " "))
	}
	b.WriteString("| Member | Branch | From | To | State | Why |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, m := range rec.Members {
		fmt.Fprintf(&b, "| %s | `%s` | `%s` | `%s` | %s | %s |\n", m.Repo, m.Branch, short(m.From), short(m.To),
			strings.ReplaceAll(m.State, "_", " "), cell(strings.Join(m.Reasons, " ")))
	}
	return b.String()
}

func cell(s string) string {
	if s == "" {
		return "—"
	}
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// latestOf are the newest promotion of each group and environment the
// repository was a member of, newest first.
func (s *Service) latestOf(ctx context.Context, repo string) ([]*Record, error) {
	// Member names are stored lower-cased and JSON-quoted, so the pattern
	// cannot match another repository whose name merely contains this one.
	rows, err := s.store.Query(ctx, `SELECT `+recordColumns+` FROM release_group_promotions WHERE members LIKE ?
ORDER BY updated_at DESC, id DESC LIMIT 50`, `%"repo":"`+strings.ToLower(repo)+`"%`)
	if err != nil {
		return nil, fmt.Errorf("store: release groups of %s: %w", repo, err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	var out []*Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		if seen[r.Key+" "+r.Env] {
			continue
		}
		seen[r.Key+" "+r.Env] = true
		out = append(out, r)
	}
	return out, rows.Err()
}

// StatusLines are what /status says of the repository's release groups:
// the newest promotion of each group and environment it was part of, in
// markdown.
func (s *Service) StatusLines(ctx context.Context, repo string) ([]string, error) {
	recs, err := s.latestOf(ctx, repo)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range recs {
		var members []string
		for _, m := range r.Members {
			members = append(members, fmt.Sprintf("%s `%s` %s", m.Repo, short(m.To), strings.ReplaceAll(m.State, "_", " ")))
		}
		line := fmt.Sprintf("**%s** → `%s`: %s (%s)", r.Group, r.Env, strings.ReplaceAll(r.Phase, "_", " "), strings.Join(members, ", "))
		if r.Reason != "" {
			line += " — " + cell(r.Reason)
		}
		out = append(out, line)
	}
	return out, nil
}

// GroupPromotions are the same for the dashboard.
func (s *Service) GroupPromotions(ctx context.Context, repo string) ([]web.GroupPromotion, error) {
	recs, err := s.latestOf(ctx, repo)
	if err != nil {
		return nil, err
	}
	out := make([]web.GroupPromotion, 0, len(recs))
	for _, r := range recs {
		g := web.GroupPromotion{Group: r.Group, Env: r.Env, Phase: strings.ReplaceAll(r.Phase, "_", " "), Reason: r.Reason,
			At: time.UnixMilli(r.Updated).UTC()}
		for _, m := range r.Members {
			g.Members = append(g.Members, web.GroupMember{Repo: m.Repo, SHA: m.To, State: strings.ReplaceAll(m.State, "_", " ")})
		}
		out = append(out, g)
	}
	return out, nil
}
