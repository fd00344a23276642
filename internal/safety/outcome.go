// Package safety records what happens to changes on their way into each
// environment (CI gates, smoke tests, deploys, verifications, rollbacks),
// keeps the failure budgets and delivery measures that are computed from
// those records, and sends alerts to a webhook.
//
// Other capabilities report through two small interfaces, declared where
// they are used: Record(ctx, Outcome) on the Recorder, and Alert(ctx,
// Alert) on the Webhook. The measures themselves (Compute, Incidents,
// BudgetCounts) are pure functions of a list of outcomes, so a scripted
// history can be checked exactly.
package safety

import (
	"fmt"
	"time"
)

// Kind is what produced an outcome.
type Kind string

const (
	// KindCIGate: a required check gate of a promotion into the
	// environment failed (or, OK, passed when the promotion went ahead).
	KindCIGate Kind = "ci_gate"
	// KindSmoke: the hoist/smoke test of a candidate for the environment.
	KindSmoke Kind = "smoke"
	// KindDeploy: a deploy of the environment (OK: it landed).
	KindDeploy Kind = "deploy"
	// KindVerify: the check of the live environment after a deploy.
	KindVerify Kind = "verify"
	// KindRollback: the environment was rolled back; always a failure of
	// the change rolled back (SHA names that commit).
	KindRollback Kind = "rollback"
)

// Kinds lists every kind, in the order reports show them.
var Kinds = []Kind{KindCIGate, KindSmoke, KindDeploy, KindVerify, KindRollback}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool {
	for _, x := range Kinds {
		if x == k {
			return true
		}
	}
	return false
}

// Outcome is one fact about a change and an environment.
type Outcome struct {
	// Key names the fact once: recording an outcome whose key is stored
	// already does nothing, so a retried job never counts twice. Empty
	// derives one from Kind, Repo, Env, SHA and OK (see DefaultKey).
	Key  string
	Repo string // owner/name
	Env  string
	Kind Kind
	OK   bool
	// SHA is the commit concerned: for a rollback, the commit that was
	// rolled back (the failed change), not the one restored.
	SHA string
	// At is when it happened; zero is the recorder's clock.
	At time.Time
	// Reason says why it failed, in a sentence (empty when OK).
	Reason string
	// FirstCommitAt is, for a deploy that landed a change, when the oldest
	// commit it brought into the environment was made: lead time runs from
	// it to At. Zero when unknown.
	FirstCommitAt time.Time
	// Restore marks a deploy that put an earlier commit back (a rollback's
	// deploy): it ends an incident but is not a change of its own.
	Restore bool
}

// DefaultKey is the key of an outcome recorded without one: one success
// and one failure per kind, repository, environment and commit.
func DefaultKey(o Outcome) string {
	res := "failed"
	if o.OK {
		res = "ok"
	}
	return fmt.Sprintf("%s:%s:%s:%s:%s", o.Kind, o.Repo, o.Env, o.SHA, res)
}

// Result is "ok" or "failed", the word metrics and reports use.
func (o Outcome) Result() string {
	if o.OK {
		return "ok"
	}
	return "failed"
}

// change reports whether o is a deploy of a change (not a restore).
func (o Outcome) change() bool { return o.Kind == KindDeploy && !o.Restore }

// breaks reports whether o is a failure of the live environment: it opens
// an incident (a failed deploy or verification, a rollback).
func (o Outcome) breaks() bool {
	return !o.OK && (o.Kind == KindDeploy || o.Kind == KindVerify || o.Kind == KindRollback)
}

// restores reports whether o shows the environment working again: a deploy
// that landed or a verification that passed.
func (o Outcome) restores() bool {
	return o.OK && (o.Kind == KindDeploy || o.Kind == KindVerify)
}
