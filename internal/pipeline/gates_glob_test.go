package pipeline

import (
	"testing"
)

// job is a check run of an Actions job: named after the job (matrix values
// in parentheses), in a workflow run of workflow wf.
func job(wf, name, status, conclusion string, min int) Check {
	c := run(name, status, conclusion, min)
	c.Workflow, c.App = wf, "github-actions"
	return c
}

func TestCheckGateGlobs(t *testing.T) {
	matrix := func(c1, c2, c3 string) []Check {
		st := func(c string) string {
			if c == "" {
				return "in_progress"
			}
			return "completed"
		}
		return []Check{
			job("ci", "test (ubuntu-latest, 1.22)", st(c1), c1, 1),
			job("ci", "test (ubuntu-latest, 1.23)", st(c2), c2, 1),
			job("ci", "test (macos-latest, 1.23)", st(c3), c3, 1),
			job("ci", "lint", "completed", "failure", 1),
		}
	}
	other := run("test (ubuntu-latest, 1.22)", "completed", "failure", 2)
	other.App = "evil-app"
	cases := []struct {
		name   string
		gate   CheckGate
		checks []Check
		want   GateState
		detail string
	}{
		{"every matrix job passed", CheckGate{Name: "ci / test*"}, matrix("success", "success", "skipped"), GatePassed,
			"all 3 passed: ci / test (macos-latest, 1.23), ci / test (ubuntu-latest, 1.22), ci / test (ubuntu-latest, 1.23)"},
		{"one job still runs", CheckGate{Name: "ci / test*"}, matrix("success", "", "success"), GatePending,
			"2 of 3 passed; waiting for ci / test (ubuntu-latest, 1.23): in progress (check run)"},
		{"one job failed", CheckGate{Name: "ci / test*"}, matrix("success", "", "failure"), GateFailed,
			"1 of 3 failed: ci / test (macos-latest, 1.23): failure (check run)"},
		{"the bare job name matches too", CheckGate{Name: "test (*)"}, matrix("success", "success", "success"), GatePassed, "all 3 passed"},
		{"one matrix job by its full name", CheckGate{Name: "ci / test (ubuntu-latest, 1.22)"}, matrix("success", "failure", "failure"), GatePassed, "success (check run)"},
		{"one matrix job by its own name", CheckGate{Name: "test (ubuntu-latest, 1.22)"}, matrix("success", "failure", "failure"), GatePassed, "success (check run)"},
		{"a job by workflow and name", CheckGate{Name: "ci / lint"}, matrix("success", "success", "success"), GateFailed, "failure (check run)"},
		{"a pattern matching nothing waits", CheckGate{Name: "ci / deploy*"}, matrix("success", "success", "success"), GatePending, "not reported yet"},
		{"another workflow's name does not match", CheckGate{Name: "release / test*"}, matrix("success", "success", "success"), GatePending, "not reported yet"},
		{"* matches a job by its own name", CheckGate{Name: "*"}, []Check{job("ci", "lint", "completed", "success", 1)}, GatePassed, "success (check run)"},
		{"an app-restricted gate ignores another app's check of a job's name", CheckGate{Name: "test (ubuntu-latest, 1.22)", App: "github-actions"},
			append(matrix("success", "success", "success"), other), GatePassed, "success (check run); test (ubuntu-latest, 1.22) from app evil-app ignored"},
		{"an unrestricted gate counts it", CheckGate{Name: "test (ubuntu-latest, 1.22)"},
			append(matrix("success", "success", "success"), other), GateFailed, "1 of 2 failed: test (ubuntu-latest, 1.22): failure (check run)"},
		{"an app-restricted glob with only the other app's check waits", CheckGate{Name: "test*", App: "github-actions"},
			[]Check{other}, GatePending, "not reported yet; test (ubuntu-latest, 1.22) from app evil-app ignored"},
		{"a re-run replaces the job's result", CheckGate{Name: "ci / test*"},
			append(matrix("success", "failure", "success"), job("ci", "test (ubuntu-latest, 1.23)", "completed", "success", 5)), GatePassed, "all 3 passed"},
		{"two workflows' jobs of the same name both count", CheckGate{Name: "test"},
			[]Check{job("ci", "test", "completed", "success", 1), job("nightly", "test", "completed", "failure", 1)}, GateFailed,
			"1 of 2 failed: nightly / test: failure (check run)"},
		{"a literal name with glob characters keeps meaning itself", CheckGate{Name: "build [linux]"},
			[]Check{run("build [linux]", "completed", "success", 1)}, GatePassed, "success (check run)"},
		{"the workflow run counts by its name", CheckGate{Name: "c?"}, []Check{wfrun("ci", "completed", "success", 1)}, GatePassed, "success (workflow run)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := checkGate(c.gate, c.checks)
			if g.State != c.want || g.Name != c.gate.Name || len(g.Detail) < len(c.detail) || g.Detail[:len(c.detail)] != c.detail {
				t.Errorf("got %s %q, want %s %q…", g.State, g.Detail, c.want, c.detail)
			}
		})
	}
}

// A long matrix is named in part.
func TestCheckGateLongMatrixDetail(t *testing.T) {
	var checks []Check
	for i := range 12 {
		checks = append(checks, job("ci", "test ("+string(rune('a'+i))+")", "completed", "success", 1))
	}
	g := checkGate(CheckGate{Name: "ci / test*"}, checks)
	want := "all 12 passed: ci / test (a), ci / test (b), ci / test (c), ci / test (d), ci / test (e), ci / test (f), ci / test (g), ci / test (h) and 4 more"
	if g.State != GatePassed || g.Detail != want {
		t.Errorf("got %s %q", g.State, g.Detail)
	}
}
