package safety

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func at(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }

// scripted is a month of one environment: four changes land (lead times
// 30m, 60m, 90m, 120m), one of them is rolled back (restored 20m later),
// one deploy fails and the next one lands 45m later.
func scripted() []Outcome {
	r, e := "acme/site", "production"
	return []Outcome{
		{Repo: r, Env: e, Kind: KindCIGate, OK: false, SHA: "a0", At: at(0)},
		{Repo: r, Env: e, Kind: KindDeploy, OK: true, SHA: "a1", At: at(100), FirstCommitAt: at(70)},
		{Repo: r, Env: e, Kind: KindSmoke, OK: true, SHA: "a2", At: at(150)},
		{Repo: r, Env: e, Kind: KindDeploy, OK: true, SHA: "a2", At: at(200), FirstCommitAt: at(140)},
		{Repo: r, Env: e, Kind: KindVerify, OK: false, SHA: "a2", At: at(205)},
		{Repo: r, Env: e, Kind: KindRollback, OK: false, SHA: "a2", At: at(210)},
		{Repo: r, Env: e, Kind: KindDeploy, OK: true, SHA: "a1", At: at(225), Restore: true},
		{Repo: r, Env: e, Kind: KindDeploy, OK: false, SHA: "a3", At: at(300)},
		{Repo: r, Env: e, Kind: KindDeploy, OK: true, SHA: "a3", At: at(345), FirstCommitAt: at(255)},
		{Repo: r, Env: e, Kind: KindDeploy, OK: true, SHA: "a4", At: at(500), FirstCommitAt: at(380)},
		{Repo: r, Env: "staging", Kind: KindDeploy, OK: true, SHA: "a4", At: at(400), FirstCommitAt: at(380)},
	}
}

func TestComputeScriptedHistory(t *testing.T) {
	ms := Compute(scripted(), t0, t0.Add(30*24*time.Hour))
	if len(ms) != 2 || ms[0].Env != "production" || ms[1].Env != "staging" {
		t.Fatalf("measures: %+v", ms)
	}
	m := ms[0]
	if m.Deployments != 4 {
		t.Errorf("deployments = %d, want 4 (restores are not changes)", m.Deployments)
	}
	if want := 4.0 / 30; m.PerDay != want {
		t.Errorf("per day = %v, want %v", m.PerDay, want)
	}
	wantLead := []time.Duration{30 * time.Minute, 60 * time.Minute, 90 * time.Minute, 120 * time.Minute}
	if len(m.LeadTimes) != 4 {
		t.Fatalf("lead times = %v", m.LeadTimes)
	}
	for i, d := range wantLead {
		if m.LeadTimes[i] != d {
			t.Errorf("lead time %d = %s, want %s", i, m.LeadTimes[i], d)
		}
	}
	if m.LeadTimeMedian != 60*time.Minute {
		t.Errorf("median lead time = %s", m.LeadTimeMedian)
	}
	// Changes a1, a2, a3, a4; a2 (verify, rollback) and a3 (deploy) failed.
	if m.Changes != 4 || m.FailedChanges != 2 || m.ChangeFailureRate != 0.5 {
		t.Errorf("changes %d failed %d rate %v, want 4 2 0.5", m.Changes, m.FailedChanges, m.ChangeFailureRate)
	}
	if len(m.Restores) != 2 || m.Restores[0] != 20*time.Minute || m.Restores[1] != 45*time.Minute || m.Open {
		t.Errorf("restores = %v open=%v, want [20m 45m]", m.Restores, m.Open)
	}
	if m.Samples != 10 || m.Failures != 4 {
		t.Errorf("samples %d failures %d, want 10 4", m.Samples, m.Failures)
	}
	if s := ms[1]; s.Deployments != 1 || s.LeadTimes[0] != 20*time.Minute || s.Changes != 1 || s.FailedChanges != 0 {
		t.Errorf("staging: %+v", s)
	}
}

func TestComputeWindow(t *testing.T) {
	// From minute 220 on: the rollback incident (began at 205) ends in
	// the window and counts whole; a1 restored is not a change.
	ms := Compute(scripted(), at(220), at(1000))
	m := ms[0]
	if m.Deployments != 2 || m.Changes != 2 || m.FailedChanges != 1 {
		t.Errorf("window: %+v", m)
	}
	if len(m.Restores) != 2 || m.Restores[0] != 20*time.Minute {
		t.Errorf("restores = %v", m.Restores)
	}
	// An incident still open is reported as such.
	open := append(scripted(), Outcome{Repo: "acme/site", Env: "production", Kind: KindVerify, OK: false, SHA: "a4", At: at(600)})
	if m := Compute(open, t0, at(1000))[0]; !m.Open || len(m.Restores) != 2 {
		t.Errorf("open incident: %+v", m)
	}
}

func TestBudgetCounts(t *testing.T) {
	f, n := BudgetCounts(scripted(), "acme/site", "production", at(200))
	if f != 3 || n != 7 {
		t.Errorf("budget counts = %d/%d, want 3/7", f, n)
	}
}

func TestMedian(t *testing.T) {
	if Median(nil) != 0 || Median([]time.Duration{3, 1, 2}) != 2 || Median([]time.Duration{4, 1, 3, 2}) != 2 {
		t.Error("median")
	}
}
