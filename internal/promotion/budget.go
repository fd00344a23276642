package promotion

import (
	"context"
	"fmt"
	"strings"

	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/pipeline"
	"github.com/hoist-dev/hoist/internal/safety"
)

// recordDecision records what a decision learnt for the environment's
// failure budget and delivery measures: its required checks failed (once
// per commit), or passed when the commit is promoted; and it alerts when
// the budget is exhausted. A record that cannot be written is logged: it
// never stops a promotion.
func (s *Service) recordDecision(ctx context.Context, repo *gh.Repo, env pipeline.Environment, d pipeline.Decision) {
	log := zerolog.Ctx(ctx)
	if s.outcomes != nil && d.SHA != "" {
		var failed []string
		for _, g := range d.Failed {
			if g.Kind == pipeline.GateCheck {
				failed = append(failed, fmt.Sprintf("%s: %s", g.Name, g.Detail))
			}
		}
		o := safety.Outcome{Repo: repo.FullName(), Env: env.Name, Kind: safety.KindCIGate, SHA: d.SHA}
		switch {
		case len(failed) > 0:
			o.Reason = "Required checks failed: " + strings.Join(failed, "; ")
		case d.Outcome == pipeline.OutcomePromote && len(env.Gates.Checks) > 0:
			o.OK = true
		default:
			o.Kind = ""
		}
		if o.Kind != "" {
			if err := s.outcomes.Record(ctx, o); err != nil {
				log.Warn().Err(err).Msg("CI gate outcome not recorded")
			}
		}
	}
	if d.Budget != nil && d.Budget.Exhausted && s.alerts != nil {
		text := d.Budget.Sentence(env.Name)
		if d.Budget.Hold {
			text += " Promotions are held."
		} else {
			text += " Automatic promotions wait for a person."
		}
		if err := s.alerts.Alert(ctx, safety.Alert{Kind: safety.AlertBudgetExhausted, Repo: repo.FullName(), Env: env.Name, Text: text}); err != nil {
			log.Warn().Err(err).Msg("budget alert not sent")
		}
	}
}
