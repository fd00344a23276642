package emulator_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/emulator"
)

func seed(t *testing.T, e *env) (*work, string) {
	w := clone(t, e.gh.GitURL("acme/site", e.alice))
	sha := w.commit("base", map[string]string{"public/index.html": "v1\n"})
	w.git("push", "-q", "origin", "HEAD:main")
	return w, sha
}

func TestChecksStatusesAndDeploymentsAsAnInstallation(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	_, sha := seed(t, e)
	app := e.appClient()
	alice := e.userClient(e.alice)

	// Check runs: created, completed, buttons, annotations, listing.
	run, _, err := app.Checks.CreateCheckRun(ctx, "acme", "site", github.CreateCheckRunOptions{
		Name: "smoke", HeadSHA: sha, Status: github.String("in_progress"), ExternalID: github.String("job-1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if run.GetApp().GetSlug() != "hoist" || run.GetStatus() != "in_progress" || run.GetStartedAt().IsZero() {
		t.Errorf("run = %+v", run)
	}
	e.gh.WaitForDelivery(func(d emulator.Delivery) bool { return d.Event == "check_run" && d.Action == "created" })
	if _, _, err := app.Checks.UpdateCheckRun(ctx, "acme", "site", run.GetID(), github.UpdateCheckRunOptions{
		Name: "smoke", Status: github.String("completed"),
	}); err == nil {
		t.Error("completed without a conclusion was accepted")
	}
	if _, _, err := app.Checks.UpdateCheckRun(ctx, "acme", "site", run.GetID(), github.UpdateCheckRunOptions{
		Name: "smoke", Output: &github.CheckRunOutput{Title: github.String("t"), Summary: github.String(strings.Repeat("x", 65536))},
	}); err == nil {
		t.Error("a 65,536-byte summary was accepted")
	}
	run, _, err = app.Checks.UpdateCheckRun(ctx, "acme", "site", run.GetID(), github.UpdateCheckRunOptions{
		Name: "smoke", Conclusion: github.String("failure"),
		Output: &github.CheckRunOutput{Title: github.String("2 pages failed"), Summary: github.String("see below"),
			Annotations: []*github.CheckRunAnnotation{{Path: github.String("public/index.html"), StartLine: github.Int(1), EndLine: github.Int(1), AnnotationLevel: github.String("failure"), Message: github.String("404")}}},
		Actions: []*github.CheckRunAction{{Label: "Retry", Description: "Run the smoke test again", Identifier: "retry"}},
	})
	if err != nil || run.GetStatus() != "completed" || run.GetConclusion() != "failure" {
		t.Fatalf("update: %v %v", run, err)
	}
	e.gh.WaitForDelivery(func(d emulator.Delivery) bool { return d.Event == "check_run" && d.Action == "completed" })
	e.gh.WaitForDelivery(func(d emulator.Delivery) bool { return d.Event == "check_suite" && d.Action == "completed" })
	if anns, _, err := app.Checks.ListCheckRunAnnotations(ctx, "acme", "site", run.GetID(), nil); err != nil || len(anns) != 1 {
		t.Errorf("annotations = %v %v", anns, err)
	}
	// A user cannot create check runs.
	if _, _, err := alice.Checks.CreateCheckRun(ctx, "acme", "site", github.CreateCheckRunOptions{Name: "x", HeadSHA: sha, Status: github.String("queued")}); err == nil {
		t.Error("a user token created a check run")
	}
	// The button: the emulator's admin API clicks it as alice.
	status, _, body := e.do("", "POST", "/_emulator/check-runs/"+itoa(run.GetID())+"/request-action", map[string]string{"identifier": "retry", "user": "alice"})
	if status != 204 {
		t.Fatalf("request-action: %d %s", status, body)
	}
	d := e.gh.WaitForDelivery(func(d emulator.Delivery) bool { return d.Event == "check_run" && d.Action == "requested_action" })
	var ra struct {
		RequestedAction struct{ Identifier string } `json:"requested_action"`
		Sender          struct{ Login string }
	}
	d.Decode(&ra)
	if ra.RequestedAction.Identifier != "retry" || ra.Sender.Login != "alice" {
		t.Errorf("requested_action = %+v", ra)
	}
	if status, _, _ := e.do("", "POST", "/_emulator/check-runs/"+itoa(run.GetID())+"/request-action", map[string]string{"identifier": "nope", "user": "alice"}); status != 422 {
		t.Errorf("unknown identifier answered %d", status)
	}
	if _, err := app.Checks.ReRequestCheckRun(ctx, "acme", "site", run.GetID()); err != nil {
		t.Error(err)
	}
	e.gh.WaitForDelivery(func(d emulator.Delivery) bool { return d.Event == "check_run" && d.Action == "rerequested" })
	runs, _, err := alice.Checks.ListCheckRunsForRef(ctx, "acme", "site", "main", nil)
	if err != nil || runs.GetTotal() != 1 || runs.CheckRuns[0].GetConclusion() != "failure" {
		t.Errorf("runs for ref = %v %v", runs, err)
	}
	if _, _, err := alice.Checks.GetCheckRun(ctx, "acme", "site", run.GetID()); err != nil {
		t.Error(err)
	}
	suites, _, err := alice.Checks.ListCheckSuitesForRef(ctx, "acme", "site", sha, nil)
	if err != nil || suites.GetTotal() != 1 || suites.CheckSuites[0].GetConclusion() != "failure" {
		t.Fatalf("suites = %v %v", suites, err)
	}
	suiteID := suites.CheckSuites[0].GetID()
	if _, _, err := alice.Checks.GetCheckSuite(ctx, "acme", "site", suiteID); err != nil {
		t.Error(err)
	}
	if rs, _, err := alice.Checks.ListCheckRunsCheckSuite(ctx, "acme", "site", suiteID, nil); err != nil || rs.GetTotal() != 1 {
		t.Errorf("suite runs = %v %v", rs, err)
	}
	if _, resp, err := app.Checks.CreateCheckSuite(ctx, "acme", "site", github.CreateCheckSuiteOptions{HeadSHA: sha}); err != nil || resp.StatusCode != 200 {
		t.Errorf("existing suite: %v %v", resp, err)
	}
	if _, err := app.Checks.ReRequestCheckSuite(ctx, "acme", "site", suiteID); err != nil {
		t.Error(err)
	}
	if _, _, err := alice.Checks.SetCheckSuitePreferences(ctx, "acme", "site", github.CheckSuitePreferenceOptions{AutoTriggerChecks: []*github.AutoTriggerCheck{{AppID: github.Int64(e.app.ID), Setting: github.Bool(false)}}}); err != nil {
		t.Error(err)
	}

	// Commit statuses and the combined state.
	for _, st := range []struct{ state, ctx string }{{"pending", "ci / test"}, {"success", "ci / test"}, {"failure", "lint"}} {
		if _, _, err := app.Repositories.CreateStatus(ctx, "acme", "site", sha, &github.RepoStatus{State: github.String(st.state), Context: github.String(st.ctx)}); err != nil {
			t.Fatal(err)
		}
	}
	e.gh.WaitForDelivery(func(d emulator.Delivery) bool { return d.Event == "status" })
	comb, _, err := alice.Repositories.GetCombinedStatus(ctx, "acme", "site", "main", nil)
	if err != nil || comb.GetState() != "failure" || comb.GetTotalCount() != 2 {
		t.Errorf("combined = %v %v", comb, err)
	}
	if sts, _, err := alice.Repositories.ListStatuses(ctx, "acme", "site", sha, nil); err != nil || len(sts) != 3 {
		t.Errorf("statuses = %d %v", len(sts), err)
	}
	if _, _, err := app.Repositories.CreateStatus(ctx, "acme", "site", sha, &github.RepoStatus{State: github.String("success"), Description: github.String(strings.Repeat("d", 141))}); err == nil {
		t.Error("a 141-character description was accepted")
	}

	// Deployments: required contexts, statuses, auto_inactive.
	if _, _, err := app.Repositories.CreateDeployment(ctx, "acme", "site", &github.DeploymentRequest{Ref: github.String("main"), Environment: github.String("staging")}); err == nil {
		t.Error("a deployment with failing statuses was created")
	}
	mk := func() *github.Deployment {
		dep, _, err := app.Repositories.CreateDeployment(ctx, "acme", "site", &github.DeploymentRequest{
			Ref: github.String("main"), Environment: github.String("staging"), AutoMerge: github.Bool(false), RequiredContexts: &[]string{},
		})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = app.Repositories.CreateDeploymentStatus(ctx, "acme", "site", dep.GetID(), &github.DeploymentStatusRequest{
			State: github.String("success"), EnvironmentURL: github.String("https://staging.example.com"),
		})
		if err != nil {
			t.Fatal(err)
		}
		return dep
	}
	d1 := mk()
	d2 := mk()
	e.gh.WaitForDelivery(func(d emulator.Delivery) bool { return d.Event == "deployment" && d.Action == "created" })
	e.gh.WaitForDelivery(func(d emulator.Delivery) bool {
		return d.Event == "deployment_status" && strings.Contains(string(d.Payload), `"state":"inactive"`)
	})
	sts, _, err := alice.Repositories.ListDeploymentStatuses(ctx, "acme", "site", d1.GetID(), nil)
	if err != nil || len(sts) != 2 || sts[0].GetState() != "inactive" {
		t.Errorf("first deployment statuses = %v %v", sts, err)
	}
	if got, _, _ := alice.Repositories.GetDeploymentStatus(ctx, "acme", "site", d1.GetID(), sts[0].GetID()); got.GetState() != "inactive" {
		t.Errorf("status = %v", got)
	}
	if deps, _, err := alice.Repositories.ListDeployments(ctx, "acme", "site", &github.DeploymentsListOptions{Environment: "staging"}); err != nil || len(deps) != 2 || deps[0].GetID() != d2.GetID() {
		t.Errorf("deployments = %v %v", deps, err)
	}
	if _, _, err := alice.Repositories.GetDeployment(ctx, "acme", "site", d2.GetID()); err != nil {
		t.Error(err)
	}
	if envs, _, err := alice.Repositories.ListEnvironments(ctx, "acme", "site", nil); err != nil || envs.GetTotalCount() != 1 {
		t.Errorf("environments = %v %v", envs, err)
	}
	if _, err := app.Repositories.DeleteDeployment(ctx, "acme", "site", d2.GetID()); err == nil {
		t.Error("deleted the active deployment while another exists")
	}
	if _, err := app.Repositories.DeleteDeployment(ctx, "acme", "site", d1.GetID()); err != nil {
		t.Errorf("delete inactive deployment: %v", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestContentsCollaboratorsAndPermissions(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	alice := e.userClient(e.alice)
	carol := e.gh.CreateUser("carol") // read
	dave := e.gh.CreateUser("dave")   // no access

	// Creating the first file of an empty repository, then updating it.
	res, resp, err := alice.Repositories.CreateFile(ctx, "acme", "site", ".github/hoist.yml", &github.RepositoryContentFileOptions{
		Message: github.String("config"), Content: []byte("version: 1\n"),
	})
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create file: %v %v", resp, err)
	}
	if _, _, err := alice.Repositories.CreateFile(ctx, "acme", "site", ".github/hoist.yml", &github.RepositoryContentFileOptions{
		Message: github.String("again"), Content: []byte("version: 2\n"),
	}); err == nil {
		t.Error("replacing a file without its sha was accepted")
	}
	_, resp, err = alice.Repositories.UpdateFile(ctx, "acme", "site", ".github/hoist.yml", &github.RepositoryContentFileOptions{
		Message: github.String("v2"), Content: []byte("version: 2\n"), SHA: res.Content.SHA,
	})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("update file: %v %v", resp, err)
	}
	e.gh.WaitForDelivery(pushOf("refs/heads/main"))
	tmp, _, err := alice.Repositories.CreateFile(ctx, "acme", "site", "tmp/x.txt", &github.RepositoryContentFileOptions{Message: github.String("tmp"), Content: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := alice.Repositories.DeleteFile(ctx, "acme", "site", "tmp/x.txt", &github.RepositoryContentFileOptions{Message: github.String("rm"), SHA: github.String("0000")}); err == nil {
		t.Error("delete with a stale sha succeeded")
	}
	if _, _, err := alice.Repositories.DeleteFile(ctx, "acme", "site", "tmp/x.txt", &github.RepositoryContentFileOptions{Message: github.String("rm"), SHA: tmp.Content.SHA}); err != nil {
		t.Fatal(err)
	}
	if _, _, resp, _ := alice.Repositories.GetContents(ctx, "acme", "site", "tmp/x.txt", nil); resp.StatusCode != 404 {
		t.Errorf("deleted file answered %d", resp.StatusCode)
	}
	fc, _, _, err := alice.Repositories.GetContents(ctx, "acme", "site", ".github/hoist.yml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if text, _ := fc.GetContent(); text != "version: 2\n" {
		t.Errorf("content = %q", text)
	}

	// Permissions: read may read, not write; strangers see 404; anonymous 401.
	if _, _, err := alice.Repositories.AddCollaborator(ctx, "acme", "site", "carol", &github.RepositoryAddCollaboratorOptions{Permission: "pull"}); err != nil {
		t.Fatal(err)
	}
	perm, _, err := alice.Repositories.GetPermissionLevel(ctx, "acme", "site", "carol")
	if err != nil || perm.GetPermission() != "read" || perm.GetUser().GetRoleName() != "read" {
		t.Errorf("carol's permission = %v %v", perm, err)
	}
	if p, _, _ := alice.Repositories.GetPermissionLevel(ctx, "acme", "site", "alice"); p.GetPermission() != "admin" {
		t.Errorf("alice's permission = %v", p.GetPermission())
	}
	if p, _, _ := alice.Repositories.GetPermissionLevel(ctx, "acme", "site", "dave"); p.GetPermission() != "none" {
		t.Errorf("dave's permission = %v", p.GetPermission())
	}
	if ok, _, _ := alice.Repositories.IsCollaborator(ctx, "acme", "site", "carol"); !ok {
		t.Error("carol is not a collaborator")
	}
	if ok, _, _ := alice.Repositories.IsCollaborator(ctx, "acme", "site", "dave"); ok {
		t.Error("dave is a collaborator")
	}
	if cs, _, err := alice.Repositories.ListCollaborators(ctx, "acme", "site", nil); err != nil || len(cs) != 2 {
		t.Errorf("collaborators = %v %v", cs, err)
	}
	if status, _, _ := e.do(carol, "GET", "/repos/acme/site/git/ref/heads/main", nil); status != 200 {
		t.Errorf("carol reads: %d", status)
	}
	if status, _, _ := e.do(carol, "POST", "/repos/acme/site/git/refs", map[string]string{"ref": "refs/heads/x", "sha": res.Commit.GetSHA()}); status != 403 {
		t.Errorf("carol writes: %d, want 403", status)
	}
	if status, _, _ := e.do(dave, "GET", "/repos/acme/site", nil); status != 404 {
		t.Errorf("dave reads: %d, want 404", status)
	}
	if status, _, _ := e.do("", "GET", "/repos/acme/site", nil); status != 401 {
		t.Errorf("anonymous reads: %d, want 401", status)
	}
	if status, _, _ := e.do("not-a-token", "GET", "/repos/acme/site", nil); status != 401 {
		t.Errorf("bad token: %d, want 401", status)
	}
	if status, _, _ := e.do(carol, "PUT", "/repos/acme/site/collaborators/dave", map[string]string{"permission": "push"}); status != 403 {
		t.Errorf("carol adds a collaborator: %d, want 403", status)
	}
	// git enforces the same rules.
	w := clone(t, e.gh.GitURL("acme/site", carol))
	w.commit("by carol", map[string]string{"c": "c"})
	if out, err := w.tryGit("push", "-q", "origin", "HEAD:main"); err == nil {
		t.Errorf("carol pushed: %s", out)
	}
	if _, err := (&work{t, t.TempDir()}).tryGit("clone", "-q", e.gh.GitURL("acme/site", dave), "."); err == nil {
		t.Error("dave cloned a private repository")
	}
	if _, err := alice.Repositories.RemoveCollaborator(ctx, "acme", "site", "carol"); err != nil {
		t.Error(err)
	}

	// Dispatches.
	if _, _, err := alice.Repositories.Dispatch(ctx, "acme", "site", github.DispatchRequestOptions{EventType: "content-changed"}); err != nil {
		t.Fatal(err)
	}
	d := e.gh.WaitForDelivery(func(d emulator.Delivery) bool { return d.Event == "repository_dispatch" })
	if d.Action != "content-changed" {
		t.Errorf("dispatch action %q", d.Action)
	}
	if _, _, err := alice.Repositories.CreateFile(ctx, "acme", "site", ".github/workflows/build-site.yml", &github.RepositoryContentFileOptions{
		Message: github.String("workflow"), Content: []byte("on:\n  workflow_dispatch:\n    inputs:\n      env: { required: true }\n"),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Actions.CreateWorkflowDispatchEventByFileName(ctx, "acme", "site", "build-site.yml", github.CreateWorkflowDispatchEventRequest{Ref: "main", Inputs: map[string]any{"env": "staging"}}); err != nil {
		t.Fatal(err)
	}
	var recorded []emulator.WorkflowDispatch
	if v := e.json("", "GET", "/_emulator/workflow-dispatches", nil, 200); len(v.([]any)) != 1 || get(v, 0, "workflow") != "build-site.yml" || get(v, 0, "inputs", "env") != "staging" {
		t.Errorf("recorded = %v", v)
	}
	_ = recorded
}
