package gh

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/internal/pipeline"
	"github.com/hoist-dev/hoist/internal/testenv"
)

// recordedCheckRun reads a check_run webhook example GitHub published.
func recordedCheckRun(t *testing.T, dir, file string) *github.CheckRun {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "webhooks", "check_run", file))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := github.ParseWebHook("check_run", data)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return ev.(*github.CheckRunEvent).GetCheckRun()
}

// recordedWorkflowRun reads the workflow-run example of GitHub's OpenAPI
// description (the answer of GET /repos/{owner}/{repo}/actions/runs/{id}).
func recordedWorkflowRun(t *testing.T, dir string) *github.WorkflowRun {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "openapi", "api.github.com.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Examples map[string]struct {
				Value json.RawMessage `json:"value"`
			} `json:"examples"`
		} `json:"components"`
	}
	if err := json.NewDecoder(zr).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	var run github.WorkflowRun
	if err := json.Unmarshal(doc.Components.Examples["workflow-run"].Value, &run); err != nil {
		t.Fatal(err)
	}
	if run.GetName() == "" || run.GetCheckSuiteID() == 0 {
		t.Fatalf("the workflow-run example has no name or check suite: %+v", run)
	}
	return &run
}

// GitHub's own examples: a check run of the github-actions app
// (check_run/completed.1) and a workflow run (the OpenAPI "workflow-run"
// example, workflow "Build"). They were recorded apart, so the test puts
// the job in the run's check suite and gives it matrix names; everything
// else is as GitHub sent it. A "Build / test*" gate then needs every matrix
// job, and another app's check run of a job's name (check_run/completed,
// app octocoders-linter) neither passes nor fails the gate restricted to
// github-actions.
func TestRecordedPayloadsSatisfyAGlobGate(t *testing.T) {
	dir := testenv.SharedGitHubDir(t)
	job := recordedCheckRun(t, dir, "completed.1.payload.json")
	other := recordedCheckRun(t, dir, "completed.payload.json")
	run := recordedWorkflowRun(t, dir)
	if job.GetApp().GetSlug() != "github-actions" || job.GetConclusion() != "failure" || other.GetApp().GetSlug() == "github-actions" {
		t.Fatalf("the examples changed: job from %q (%s), other from %q", job.GetApp().GetSlug(), job.GetConclusion(), other.GetApp().GetSlug())
	}
	job.CheckSuite.ID = run.CheckSuiteID
	names := []string{"test (ubuntu-latest, 1.22)", "test (ubuntu-latest, 1.23)", "test (macos-latest, 1.23)"}
	matrix := func(conclusions ...string) []*github.CheckRun {
		var out []*github.CheckRun
		for i, n := range names {
			c := *job
			c.ID, c.Name = github.Int64(job.GetID()+int64(i)), github.String(n)
			c.Status, c.Conclusion = github.String("completed"), github.String(conclusions[i])
			if conclusions[i] == "" {
				c.Status, c.Conclusion = github.String("in_progress"), nil
			}
			out = append(out, &c)
		}
		return out
	}
	impostor := *other
	impostor.Name = github.String(names[0])
	gates := pipeline.Gates{Checks: []pipeline.CheckGate{
		{Name: "Build / test*", App: "github-actions"},
		{Name: "Build / deploy"},
		{Name: "test (ubuntu-latest, 1.22)", App: "github-actions"},
	}}
	cases := []struct {
		name   string
		runs   []*github.CheckRun
		states [3]pipeline.GateState
		detail string
	}{
		{"one job still runs", matrix("success", "success", ""), [3]pipeline.GateState{pipeline.GatePending, pipeline.GatePending, pipeline.GatePassed},
			"2 of 3 passed; waiting for Build / test (macos-latest, 1.23): in progress (check run)"},
		{"the recorded failure fails the matrix", matrix("success", job.GetConclusion(), "success"), [3]pipeline.GateState{pipeline.GateFailed, pipeline.GatePending, pipeline.GatePassed},
			"1 of 3 failed: Build / test (ubuntu-latest, 1.23): failure (check run)"},
		{"every job passed", matrix("success", "success", "success"), [3]pipeline.GateState{pipeline.GatePassed, pipeline.GatePending, pipeline.GatePassed},
			"all 3 passed: Build / test (macos-latest, 1.23), Build / test (ubuntu-latest, 1.22), Build / test (ubuntu-latest, 1.23)"},
		{"another app's job of the same name is ignored", append(matrix("success", "success", "success"), &impostor),
			[3]pipeline.GateState{pipeline.GatePassed, pipeline.GatePending, pipeline.GatePassed}, "all 3 passed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var f pipeline.Facts
			for _, s := range checkStates(c.runs, nil, []*github.WorkflowRun{run}) {
				f.Checks = append(f.Checks, pipeline.Check{Name: s.Name, Source: pipeline.CheckSource(s.Source), Status: s.Status,
					Conclusion: s.Conclusion, App: s.AppSlug, Creator: s.Creator, Workflow: s.Workflow, ID: s.ID})
			}
			got := pipeline.EvaluateGates(gates, f)
			for i, want := range c.states {
				if got[i].State != want {
					t.Errorf("gate %q: %s (%s), want %s", got[i].Name, got[i].State, got[i].Detail, want)
				}
			}
			if !strings.HasPrefix(got[0].Detail, c.detail) {
				t.Errorf("detail %q, want %q", got[0].Detail, c.detail)
			}
			if c.runs[len(c.runs)-1] == &impostor && !strings.Contains(fmt.Sprint(got[2].Detail), "ignored") {
				t.Errorf("the other app's check was not shown as ignored: %q", got[2].Detail)
			}
		})
	}
}
