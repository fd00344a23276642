package emulator_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"
)

// errorStatus is the HTTP status of a go-github error, 0 when there is none.
func errorStatus(err error) int {
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	return 0
}

// Annotation levels are GitHub's enum (notice, warning, failure); "error"
// is refused as GitHub refuses it.
func TestCheckRunAnnotationLevelsAreGitHubs(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	_, sha := seed(t, e)
	app := e.appClient()
	ann := func(level string) *github.CheckRunOutput {
		return &github.CheckRunOutput{Title: github.String("t"), Summary: github.String("s"), Annotations: []*github.CheckRunAnnotation{{
			Path: github.String("public/index.html"), StartLine: github.Int(1), EndLine: github.Int(1),
			AnnotationLevel: github.String(level), Message: github.String("m"),
		}}}
	}
	_, _, err := app.Checks.CreateCheckRun(ctx, "acme", "site", github.CreateCheckRunOptions{Name: "lint", HeadSHA: sha, Output: ann("error")})
	if errorStatus(err) != http.StatusUnprocessableEntity || !strings.Contains(err.Error(), "annotation_level") {
		t.Errorf("annotation level error: %v, want 422 naming annotation_level", err)
	}
	run, _, err := app.Checks.CreateCheckRun(ctx, "acme", "site", github.CreateCheckRunOptions{Name: "lint", HeadSHA: sha})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := app.Checks.UpdateCheckRun(ctx, "acme", "site", run.GetID(), github.UpdateCheckRunOptions{Name: "lint", Output: ann("fatal")}); errorStatus(err) != 422 {
		t.Errorf("update with level fatal: %v, want 422", err)
	}
	for _, level := range []string{"notice", "warning", "failure"} {
		if _, _, err := app.Checks.UpdateCheckRun(ctx, "acme", "site", run.GetID(), github.UpdateCheckRunOptions{Name: "lint", Output: ann(level)}); err != nil {
			t.Errorf("level %s refused: %v", level, err)
		}
	}
}

// A pull request body is at most 65,536 characters, and branches without
// a common commit cannot be compared in one.
func TestPullRequestBodyLimitAndUnrelatedHistories(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	w, _ := seed(t, e)
	w.git("checkout", "-q", "-b", "feature")
	w.commit("feature", map[string]string{"public/index.html": "v2\n"})
	w.git("push", "-q", "origin", "feature")
	w.git("checkout", "-q", "--orphan", "orphan")
	w.commit("unrelated", map[string]string{"other.txt": "x\n"})
	w.git("push", "-q", "origin", "orphan")
	alice := e.userClient(e.alice)

	long := strings.Repeat("é", 65537) // characters, not bytes, count
	_, _, err := alice.PullRequests.Create(ctx, "acme", "site", &github.NewPullRequest{Title: github.String("t"), Head: github.String("feature"), Base: github.String("main"), Body: github.String(long)})
	if errorStatus(err) != 422 || !strings.Contains(err.Error(), "body is too long (maximum is 65536 characters)") {
		t.Errorf("too long body: %v", err)
	}
	pr, _, err := alice.PullRequests.Create(ctx, "acme", "site", &github.NewPullRequest{Title: github.String("t"), Head: github.String("feature"), Base: github.String("main"), Body: github.String(long[:2*65536])})
	if err != nil {
		t.Fatalf("a body of exactly 65536 characters: %v", err)
	}
	if _, _, err := alice.PullRequests.Edit(ctx, "acme", "site", pr.GetNumber(), &github.PullRequest{Body: github.String(long)}); errorStatus(err) != 422 {
		t.Errorf("editing in a too long body: %v", err)
	}

	_, _, err = alice.PullRequests.Create(ctx, "acme", "site", &github.NewPullRequest{Title: github.String("t"), Head: github.String("orphan"), Base: github.String("main")})
	if errorStatus(err) != 422 || !strings.Contains(err.Error(), "The orphan branch has no history in common with main") {
		t.Errorf("unrelated histories: %v", err)
	}
}

// A workflow dispatch reads the workflow file at the ref: a missing file is
// 404, inputs must be the declared ones.
func TestWorkflowDispatchReadsTheWorkflowFile(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	seed(t, e)
	alice := e.userClient(e.alice)
	put := func(path, content string) {
		if _, _, err := alice.Repositories.CreateFile(ctx, "acme", "site", path, &github.RepositoryContentFileOptions{Message: github.String("add"), Content: []byte(content)}); err != nil {
			t.Fatal(err)
		}
	}
	put(".github/workflows/build.yml", "name: build\non:\n  push:\n  workflow_dispatch:\n    inputs:\n      environment: { required: true }\n      reason: { required: false }\n      level: { required: true, default: info }\n")
	put(".github/workflows/ci.yml", "on: [push, pull_request]\njobs: {}\n")
	put(".github/workflows/manual.yaml", "on: workflow_dispatch\n")
	dispatch := func(file string, inputs map[string]any) error {
		_, err := alice.Actions.CreateWorkflowDispatchEventByFileName(ctx, "acme", "site", file, github.CreateWorkflowDispatchEventRequest{Ref: "main", Inputs: inputs})
		return err
	}
	if err := dispatch("missing.yml", nil); errorStatus(err) != 404 {
		t.Errorf("missing workflow: %v, want 404", err)
	}
	if err := dispatch("build.yml", map[string]any{"environment": "staging", "colour": "red", "age": 3}); errorStatus(err) != 422 || !strings.Contains(err.Error(), `Unexpected inputs provided: ["age","colour"]`) {
		t.Errorf("undeclared inputs: %v", err)
	}
	if err := dispatch("build.yml", map[string]any{"reason": "x"}); errorStatus(err) != 422 || !strings.Contains(err.Error(), "Required input 'environment' not provided") {
		t.Errorf("missing required input: %v", err)
	}
	if err := dispatch("ci.yml", nil); errorStatus(err) != 422 || !strings.Contains(err.Error(), "does not have 'workflow_dispatch' trigger") {
		t.Errorf("workflow without the trigger: %v", err)
	}
	if err := dispatch("build.yml", map[string]any{"environment": "staging"}); err != nil {
		t.Errorf("declared inputs refused: %v", err)
	}
	if err := dispatch("manual.yaml", nil); err != nil {
		t.Errorf("on: workflow_dispatch refused: %v", err)
	}
	if got := e.gh.WorkflowDispatches(); len(got) != 2 {
		t.Errorf("recorded %d dispatches, want only the 2 accepted", len(got))
	}
}

// auto_inactive marks earlier deployments inactive only in non-production,
// non-transient environments, and only those that had succeeded.
func TestAutoInactiveSparesProductionAndTransient(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	seed(t, e)
	app := e.appClient()
	deploy := func(env string, production, transient bool, state string) int64 {
		t.Helper()
		dep, _, err := app.Repositories.CreateDeployment(ctx, "acme", "site", &github.DeploymentRequest{
			Ref: github.String("main"), Environment: github.String(env), AutoMerge: github.Bool(false), RequiredContexts: &[]string{},
			ProductionEnvironment: github.Bool(production), TransientEnvironment: github.Bool(transient),
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := app.Repositories.CreateDeploymentStatus(ctx, "acme", "site", dep.GetID(), &github.DeploymentStatusRequest{State: github.String(state)}); err != nil {
			t.Fatal(err)
		}
		return dep.GetID()
	}
	latest := func(id int64) string {
		t.Helper()
		sts, _, err := app.Repositories.ListDeploymentStatuses(ctx, "acme", "site", id, nil)
		if err != nil || len(sts) == 0 {
			t.Fatalf("statuses of %d: %v %v", id, sts, err)
		}
		return sts[0].GetState()
	}
	prod1 := deploy("production", true, false, "success")
	deploy("production", true, false, "success")
	if s := latest(prod1); s != "success" {
		t.Errorf("earlier production deployment is %s, want success (GitHub leaves production alone)", s)
	}
	pr1 := deploy("pr-7", false, true, "success")
	deploy("pr-7", false, true, "success")
	if s := latest(pr1); s != "success" {
		t.Errorf("earlier transient deployment is %s, want success", s)
	}
	failed := deploy("staging", false, false, "failure")
	ok := deploy("staging", false, false, "success")
	deploy("staging", false, false, "success")
	if s := latest(failed); s != "failure" {
		t.Errorf("failed staging deployment is %s, want failure (only successes go inactive)", s)
	}
	if s := latest(ok); s != "inactive" {
		t.Errorf("earlier successful staging deployment is %s, want inactive", s)
	}
}

// The secondary rate limit also comes without Retry-After, and a rule can
// be limited to writes.
func TestSecondaryRateLimitWithoutRetryAfterOnWrites(t *testing.T) {
	e := newEnv(t)
	seed(t, e)
	e.json("", "PUT", "/_emulator/faults", map[string]any{"routes": []map[string]any{{"path": "*", "writes": true, "secondary_rate_limit_no_retry_after_rate": 1}}}, 200)
	if status, _, body := e.do(e.alice, "GET", "/repos/acme/site/branches", nil); status != 200 {
		t.Errorf("a read was limited: %d %s", status, body)
	}
	status, hdr, body := e.do(e.alice, "POST", "/repos/acme/site/issues/1/comments", map[string]any{"body": "hi"})
	if status != 403 || hdr.Get("Retry-After") != "" || hdr.Get("X-RateLimit-Remaining") == "0" {
		t.Errorf("write: %d Retry-After %q remaining %q", status, hdr.Get("Retry-After"), hdr.Get("X-RateLimit-Remaining"))
	}
	var v struct {
		Message          string `json:"message"`
		DocumentationURL string `json:"documentation_url"`
	}
	if err := jsonUnmarshal(body, &v); err != nil || !strings.HasPrefix(v.Message, "You have exceeded a secondary rate limit") ||
		!strings.Contains(v.DocumentationURL, "#about-secondary-rate-limits") {
		t.Errorf("body %s", body)
	}
	// go-github recognises it as a secondary limit.
	_, _, err := e.userClient(e.alice).Issues.CreateComment(context.Background(), "acme", "site", 1, &github.IssueComment{Body: github.String("hi")})
	var abuse *github.AbuseRateLimitError
	if !errors.As(err, &abuse) {
		t.Errorf("go-github error %T %v", err, err)
	}
	if status, _, _ := e.do("", "PUT", "/_emulator/faults", map[string]any{"routes": []map[string]any{{"path": "*", "secondary_rate_limit_no_retry_after_rate": 1.5}}}); status != 422 {
		t.Errorf("rate 1.5 accepted: %d", status)
	}
}
