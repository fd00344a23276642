package gh_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/pipeline"
)

// facts turns check states into the pipeline's facts as the promotion
// service does.
func facts(cs []gh.CheckState) pipeline.Facts {
	var f pipeline.Facts
	for _, c := range cs {
		f.Checks = append(f.Checks, pipeline.Check{Name: c.Name, Source: pipeline.CheckSource(c.Source), Status: c.Status,
			Conclusion: c.Conclusion, App: c.AppSlug, Creator: c.Creator, Workflow: c.Workflow, ID: c.ID})
	}
	return f
}

// A dispatched matrix workflow, end to end against the emulator: the run's
// jobs become check runs named "test (os, go)" in the run's check suite,
// hoist names their workflow from /actions/runs, and a "ci / test*" gate
// waits for every matrix job, then passes. A pattern matching nothing
// waits; a gate restricted to github-actions ignores another app's check
// run of the same name, while an unrestricted one is failed by it.
func TestMatrixWorkflowSatisfiesAGlobGate(t *testing.T) {
	w := startConfigWorld(t, true)
	ctx := context.Background()
	sha := w.put("site", ".github/workflows/ci.yml", `name: ci
on: [push, workflow_dispatch]
jobs:
  test:
    strategy:
      matrix:
        os: [ubuntu-latest, macos-latest]
        go: ["1.22", "1.23"]
    runs-on: ${{ matrix.os }}
    steps: [{ run: go test ./... }]
  lint:
    runs-on: ubuntu-latest
    steps: [{ run: go vet ./... }]
`)
	if _, err := w.alice.Actions.CreateWorkflowDispatchEventByFileName(ctx, "acme", "site", "ci.yml", github.CreateWorkflowDispatchEventRequest{Ref: "main"}); err != nil {
		t.Fatal(err)
	}
	ids := w.gh.WorkflowRunIDs("acme/site")
	if len(ids) != 1 {
		t.Fatalf("workflow runs: %v", ids)
	}
	run := ids[0]
	gates := pipeline.Gates{Checks: []pipeline.CheckGate{
		{Name: "ci / test*", App: "github-actions"},
		{Name: "ci / deploy*"},
		{Name: "test (ubuntu-latest, 1.22)", App: "github-actions"},
		{Name: "test (ubuntu-latest, 1.22)"},
	}}
	evaluate := func() []pipeline.GateResult {
		t.Helper()
		cs, err := w.repo.Checks(ctx, sha)
		if err != nil {
			t.Fatal(err)
		}
		return pipeline.EvaluateGates(gates, facts(cs))
	}
	expect := func(g pipeline.GateResult, state pipeline.GateState, detail string) {
		t.Helper()
		if g.State != state || !strings.Contains(g.Detail, detail) {
			t.Errorf("gate %q: %s %q, want %s containing %q", g.Name, g.State, g.Detail, state, detail)
		}
	}

	got := evaluate()
	expect(got[0], pipeline.GatePending, "0 of 4 passed; waiting for ci / test (macos-latest, 1.22): in progress (check run)")
	expect(got[1], pipeline.GatePending, "not reported yet")

	// Another app reports a failing check run with a matrix job's name.
	hoist := w.repo.Client
	if _, _, err := hoist.Checks.CreateCheckRun(ctx, "acme", "site", github.CreateCheckRunOptions{Name: "test (ubuntu-latest, 1.22)", HeadSHA: sha,
		Status: github.String("completed"), Conclusion: github.String("failure")}); err != nil {
		t.Fatal(err)
	}
	jobs := []string{"test (ubuntu-latest, 1.22)", "test (ubuntu-latest, 1.23)", "test (macos-latest, 1.22)", "test (macos-latest, 1.23)", "lint"}
	for _, job := range jobs[:3] {
		if err := w.gh.CompleteWorkflowJob("acme/site", run, job, "success"); err != nil {
			t.Fatal(err)
		}
	}
	got = evaluate()
	expect(got[0], pipeline.GatePending, "3 of 4 passed; waiting for ci / test (macos-latest, 1.23): in progress (check run)")
	// "ci / test*" does not match it at all: it belongs to no workflow.
	if strings.Contains(got[0].Detail, "hoist") {
		t.Errorf("gate %q mentions another app's check outside the workflow: %q", got[0].Name, got[0].Detail)
	}
	expect(got[2], pipeline.GatePassed, "success (check run); test (ubuntu-latest, 1.22) from app hoist ignored")
	expect(got[3], pipeline.GateFailed, "test (ubuntu-latest, 1.22): failure (check run)")

	for _, job := range jobs[3:] {
		if err := w.gh.CompleteWorkflowJob("acme/site", run, job, "success"); err != nil {
			t.Fatal(err)
		}
	}
	got = evaluate()
	expect(got[0], pipeline.GatePassed, "all 4 passed: ci / test (macos-latest, 1.22), ci / test (macos-latest, 1.23), ci / test (ubuntu-latest, 1.22), ci / test (ubuntu-latest, 1.23)")
	expect(got[1], pipeline.GatePending, "not reported yet")

	// The workflow run itself is a check too, named after the workflow.
	cs, err := w.repo.Checks(ctx, sha)
	if err != nil {
		t.Fatal(err)
	}
	wf := pipeline.EvaluateGates(pipeline.Gates{Checks: []pipeline.CheckGate{{Name: "ci", App: "github-actions"}}}, facts(cs))
	expect(wf[0], pipeline.GatePassed, "success (workflow run)")
}
