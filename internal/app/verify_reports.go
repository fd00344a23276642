package app

import (
	"context"
	"time"

	"github.com/hoist-dev/hoist/internal/safety"
	"github.com/hoist-dev/hoist/internal/verify"
)

// verifyOutcomes records what post-deploy verification concludes in the
// outcomes behind failure budgets and delivery measures.
type verifyOutcomes struct{ rec *safety.Recorder }

func (v verifyOutcomes) Record(ctx context.Context, repo, env, kind string, ok bool, sha string, at time.Time) error {
	if kind == verify.KindRollback {
		// As for /rollback, the outcome is the change rolled back, which
		// failed, however the rollback itself went.
		return v.rec.Record(ctx, safety.Outcome{Repo: repo, Env: env, Kind: safety.KindRollback, OK: false, SHA: sha, At: at,
			Reason: "rolled back automatically after its live check failed"})
	}
	return v.rec.Record(ctx, safety.Outcome{Repo: repo, Env: env, Kind: safety.KindVerify, OK: ok, SHA: sha, At: at})
}

// verifyAlerts sends verification's alerts to the log (always) and to the
// alert webhook when the server configures one.
type verifyAlerts struct {
	log     verify.Alerter
	webhook alerter
}

func (v verifyAlerts) Alert(ctx context.Context, a verify.Alert) error {
	err := v.log.Alert(ctx, a)
	if v.webhook == nil {
		return err
	}
	kind := safety.AlertVerifyFailed
	switch a.Kind {
	case verify.AlertRolledBack:
		kind = safety.AlertRollback
	case verify.AlertRollbackFailed, verify.AlertHeld:
		kind = safety.AlertRollbackFailed
	}
	if werr := v.webhook.Alert(ctx, safety.Alert{Kind: kind, Repo: a.Repo, Env: a.Env, Text: a.Summary, URL: a.URL}); werr != nil {
		return werr
	}
	return err
}
