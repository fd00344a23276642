package emulator_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
)

const matrixWorkflow = `name: ci
on:
  push:
  workflow_dispatch:
jobs:
  test:
    runs-on: ${{ matrix.os }}
    strategy:
      matrix:
        os: [ubuntu-latest, macos-latest]
        go: ["1.22", "1.23"]
        exclude:
          - { os: macos-latest, go: "1.22" }
        include:
          - { os: windows-latest, go: "1.23" }
    steps: [{ run: go test ./... }]
  lint:
    runs-on: ubuntu-latest
    steps: [{ run: golangci-lint run }]
  e2e:
    name: e2e on ${{ matrix.browser }}
    strategy:
      matrix:
        browser: [chromium, firefox]
    runs-on: ubuntu-latest
    steps: [{ run: npm test }]
`

// A dispatched workflow becomes a run with one check run per job, matrix
// jobs named as GitHub names them, listed by /actions/runs with its
// filters, and workflow_run webhooks as it moves; every response and
// webhook is checked against GitHub's OpenAPI description.
func TestWorkflowDispatchStartsARunWithMatrixJobs(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	seed(t, e)
	alice := e.userClient(e.alice)
	res, _, err := alice.Repositories.CreateFile(ctx, "acme", "site", ".github/workflows/ci.yml", &github.RepositoryContentFileOptions{Message: github.String("ci"), Content: []byte(matrixWorkflow)})
	if err != nil {
		t.Fatal(err)
	}
	sha := res.Commit.GetSHA()
	if _, err := alice.Actions.CreateWorkflowDispatchEventByFileName(ctx, "acme", "site", "ci.yml", github.CreateWorkflowDispatchEventRequest{Ref: "main"}); err != nil {
		t.Fatal(err)
	}
	app := e.appClient()
	runs, _, err := app.Actions.ListRepositoryWorkflowRuns(ctx, "acme", "site", &github.ListWorkflowRunsOptions{HeadSHA: sha})
	if err != nil {
		t.Fatal(err)
	}
	if runs.GetTotalCount() != 1 || len(runs.WorkflowRuns) != 1 {
		t.Fatalf("runs of %s: %d", sha, runs.GetTotalCount())
	}
	run := runs.WorkflowRuns[0]
	if run.GetName() != "ci" || run.GetEvent() != "workflow_dispatch" || run.GetStatus() != "in_progress" || run.GetHeadBranch() != "main" ||
		run.GetRunNumber() != 1 || run.GetCheckSuiteID() == 0 {
		t.Errorf("run: %+v", run)
	}
	cr, _, err := app.Checks.ListCheckRunsForRef(ctx, "acme", "site", sha, &github.ListCheckRunsOptions{Filter: github.String("latest")})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cr.CheckRuns {
		if c.GetApp().GetSlug() != "github-actions" || c.GetCheckSuite().GetID() != run.GetCheckSuiteID() || c.GetStatus() != "in_progress" {
			t.Errorf("check run %q: app %q, suite %d, status %s", c.GetName(), c.GetApp().GetSlug(), c.GetCheckSuite().GetID(), c.GetStatus())
		}
		names = append(names, c.GetName())
	}
	sort.Strings(names)
	want := []string{"e2e on chromium", "e2e on firefox", "lint", "test (macos-latest, 1.23)", "test (ubuntu-latest, 1.22)", "test (ubuntu-latest, 1.23)", "test (windows-latest, 1.23)"}
	if !slices.Equal(names, want) {
		t.Errorf("check run names:\n got %q\nwant %q", names, want)
	}

	// Filters: another sha, branch, event or status lists nothing.
	for _, o := range []*github.ListWorkflowRunsOptions{{HeadSHA: "0000000000000000000000000000000000000000"}, {Branch: "other"}, {Event: "push"}, {Status: "completed"}, {Status: "success"}} {
		if l, _, err := app.Actions.ListRepositoryWorkflowRuns(ctx, "acme", "site", o); err != nil || l.GetTotalCount() != 0 {
			t.Errorf("filter %+v: %v, %d runs", o, err, l.GetTotalCount())
		}
	}
	for _, o := range []*github.ListWorkflowRunsOptions{{Branch: "main"}, {Event: "workflow_dispatch"}, {Status: "in_progress"}, {Actor: "alice"}, {CheckSuiteID: run.GetCheckSuiteID()}} {
		if l, _, err := app.Actions.ListRepositoryWorkflowRuns(ctx, "acme", "site", o); err != nil || l.GetTotalCount() != 1 {
			t.Errorf("filter %+v: %v, %d runs", o, err, l.GetTotalCount())
		}
	}

	// Finish the jobs one by one: the run completes with the last.
	for _, n := range want[:len(want)-1] {
		if err := e.gh.CompleteWorkflowJob("acme/site", run.GetID(), n, "success"); err != nil {
			t.Fatal(err)
		}
	}
	if got, _, err := app.Actions.GetWorkflowRunByID(ctx, "acme", "site", run.GetID()); err != nil || got.GetStatus() != "in_progress" {
		t.Fatalf("run with one job left: %v %s", err, got.GetStatus())
	}
	if err := e.gh.CompleteWorkflowJob("acme/site", run.GetID(), want[len(want)-1], "failure"); err != nil {
		t.Fatal(err)
	}
	if err := e.gh.CompleteWorkflowJob("acme/site", run.GetID(), "lint", "success"); err == nil {
		t.Error("a finished job finished again")
	}
	got, _, err := app.Actions.GetWorkflowRunByID(ctx, "acme", "site", run.GetID())
	if err != nil || got.GetStatus() != "completed" || got.GetConclusion() != "failure" {
		t.Fatalf("finished run: %v %s %s", err, got.GetStatus(), got.GetConclusion())
	}
	if l, _, err := app.Actions.ListRepositoryWorkflowRuns(ctx, "acme", "site", &github.ListWorkflowRunsOptions{Status: "failure"}); err != nil || l.GetTotalCount() != 1 {
		t.Errorf("status=failure: %v", err)
	}
	if _, _, err := app.Actions.GetWorkflowRunByID(ctx, "acme", "site", 1); errorStatus(err) != 404 {
		t.Errorf("unknown run: %v", err)
	}

	// A second dispatch is run 2; runs list newest first, paginated.
	if _, err := alice.Actions.CreateWorkflowDispatchEventByFileName(ctx, "acme", "site", "ci.yml", github.CreateWorkflowDispatchEventRequest{Ref: "main"}); err != nil {
		t.Fatal(err)
	}
	page1, resp, err := app.Actions.ListRepositoryWorkflowRuns(ctx, "acme", "site", &github.ListWorkflowRunsOptions{ListOptions: github.ListOptions{PerPage: 1}})
	if err != nil || len(page1.WorkflowRuns) != 1 || page1.GetTotalCount() != 2 || resp.NextPage != 2 || page1.WorkflowRuns[0].GetRunNumber() != 2 {
		t.Fatalf("page 1: %v, %d runs of %d, next %d", err, len(page1.WorkflowRuns), page1.GetTotalCount(), resp.NextPage)
	}
	page2, resp, err := app.Actions.ListRepositoryWorkflowRuns(ctx, "acme", "site", &github.ListWorkflowRunsOptions{ListOptions: github.ListOptions{PerPage: 1, Page: 2}})
	if err != nil || len(page2.WorkflowRuns) != 1 || resp.NextPage != 0 || page2.WorkflowRuns[0].GetID() != run.GetID() {
		t.Fatalf("page 2: %v", err)
	}

	// workflow_run webhooks: requested, in_progress, completed for the
	// first run, each naming the workflow.
	waitFor(t, func() bool {
		n := 0
		for _, h := range e.hooks.hooks() {
			if h.Event == "workflow_run" {
				n++
			}
		}
		return n >= 5
	})
	var seen []string
	for _, h := range e.hooks.hooks() {
		if h.Event != "workflow_run" || get(h.Payload, "workflow_run", "id") != float64(run.GetID()) {
			continue
		}
		seen = append(seen, fmt.Sprint(h.Payload["action"]))
		if get(h.Payload, "workflow", "name") != "ci" || get(h.Payload, "workflow", "path") != ".github/workflows/ci.yml" {
			t.Errorf("workflow of the webhook: %v", h.Payload["workflow"])
		}
	}
	if !slices.Equal(seen, []string{"requested", "in_progress", "completed"}) {
		t.Errorf("workflow_run actions %q", seen)
	}
}

// The latest check runs of a commit keep each workflow's job of the same
// name: every workflow run has its own check suite.
func TestTwoWorkflowsWithTheSameJobName(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	seed(t, e)
	alice := e.userClient(e.alice)
	for _, f := range []string{"a.yml", "b.yml"} {
		if _, _, err := alice.Repositories.CreateFile(ctx, "acme", "site", ".github/workflows/"+f, &github.RepositoryContentFileOptions{Message: github.String(f), Content: []byte("on: workflow_dispatch\njobs:\n  test:\n    runs-on: ubuntu-latest\n")}); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"a.yml", "b.yml"} {
		if _, err := alice.Actions.CreateWorkflowDispatchEventByFileName(ctx, "acme", "site", f, github.CreateWorkflowDispatchEventRequest{Ref: "main"}); err != nil {
			t.Fatal(err)
		}
	}
	app := e.appClient()
	runs, _, err := app.Actions.ListRepositoryWorkflowRuns(ctx, "acme", "site", nil)
	if err != nil || len(runs.WorkflowRuns) != 2 {
		t.Fatalf("runs: %v", err)
	}
	// A workflow without name: is named after its path.
	if n := runs.WorkflowRuns[0].GetName(); n != ".github/workflows/b.yml" {
		t.Errorf("unnamed workflow's run is named %q", n)
	}
	sha := runs.WorkflowRuns[0].GetHeadSHA()
	cr, _, err := app.Checks.ListCheckRunsForRef(ctx, "acme", "site", sha, &github.ListCheckRunsOptions{Filter: github.String("latest")})
	if err != nil || cr.GetTotal() != 2 {
		t.Fatalf("latest check runs: %v, %d", err, cr.GetTotal())
	}
}

// waitFor polls cond for up to 10 s: webhooks are delivered in the
// background.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
