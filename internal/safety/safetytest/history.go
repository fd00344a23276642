// Package safetytest holds the delivery history that the tests of the
// delivery measures share, so that `/metrics` and `hoist report` are held
// to the same figures. Only tests import it.
package safetytest

import (
	"time"

	"github.com/hoist-dev/hoist/internal/safety"
)

// History is a scripted history of one environment, in minutes from base:
// a failed CI gate, two deploys, a failed verification and its rollback
// with the deploy that restored, a failed deploy retried with success, and
// a last deploy. The tests that use it assert its measures exactly.
func History(repo, env string, base time.Time) []safety.Outcome {
	m := func(n int) time.Time { return base.Add(time.Duration(n) * time.Minute) }
	r, e := repo, env
	return []safety.Outcome{
		{Repo: r, Env: e, Kind: safety.KindCIGate, OK: false, SHA: "a0", At: m(0)},
		{Repo: r, Env: e, Kind: safety.KindDeploy, OK: true, SHA: "a1", At: m(100), FirstCommitAt: m(70)},
		{Repo: r, Env: e, Kind: safety.KindDeploy, OK: true, SHA: "a2", At: m(200), FirstCommitAt: m(140)},
		{Repo: r, Env: e, Kind: safety.KindVerify, OK: false, SHA: "a2", At: m(205)},
		{Repo: r, Env: e, Kind: safety.KindRollback, OK: false, SHA: "a2", At: m(210)},
		{Key: "deploy:restore", Repo: r, Env: e, Kind: safety.KindDeploy, OK: true, SHA: "a1", At: m(225), Restore: true},
		{Repo: r, Env: e, Kind: safety.KindDeploy, OK: false, SHA: "a3", At: m(300)},
		{Key: "deploy:a3-again", Repo: r, Env: e, Kind: safety.KindDeploy, OK: true, SHA: "a3", At: m(345), FirstCommitAt: m(255)},
		{Repo: r, Env: e, Kind: safety.KindDeploy, OK: true, SHA: "a4", At: m(500), FirstCommitAt: m(380)},
	}
}
