package emulatortest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/emulator/emulatortest"
	"github.com/hoist-dev/hoist/internal/testenv"
)

// recorder captures Errorf calls so tests can check that ValidateResponse
// and ValidateWebhook fail a test, without failing this one.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func findExchange(t *testing.T, fixture, method, pathSuffix string) emulatortest.Exchange {
	t.Helper()
	for _, ex := range emulatortest.Fixture(t, fixture) {
		if ex.Method == method && strings.HasSuffix(ex.Path, pathSuffix) {
			return ex
		}
	}
	t.Fatalf("fixture %s has no %s …%s", fixture, method, pathSuffix)
	return emulatortest.Exchange{}
}

// mutate decodes a JSON object, applies f and encodes it again.
func mutate(t *testing.T, body []byte, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one mentioning %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error does not mention %q:\n%v", p, err)
		}
	}
}

const refPath = "/repos/{owner}/{repo}/git/refs/{ref}"

func TestRecordedRefExchangesValidate(t *testing.T) {
	s := emulatortest.Shared(t)
	create := findExchange(t, "git-refs", "POST", "/git/refs")
	if err := s.CheckResponse("POST", "/repos/{owner}/{repo}/git/refs", create.Status, create.Header, create.Body); err != nil {
		t.Errorf("recorded create-ref: %v", err)
	}
	update := findExchange(t, "git-refs", "PATCH", "/git/refs/heads/test")
	if err := s.CheckResponse("PATCH", refPath, update.Status, update.Header, update.Body); err != nil {
		t.Errorf("recorded update-ref: %v", err)
	}
	del := findExchange(t, "git-refs", "DELETE", "/git/refs/heads/test")
	if err := s.CheckResponse("DELETE", refPath, del.Status, del.Header, del.Body); err != nil {
		t.Errorf("recorded delete-ref: %v", err)
	}
	r := &recorder{TB: t}
	emulatortest.ValidateResponse(r, "PATCH", refPath, update.Status, update.Header, update.Body)
	if len(r.errs) != 0 {
		t.Errorf("ValidateResponse failed a good response: %v", r.errs)
	}
}

// Every recorded exchange whose operation GitHub still documents validates,
// except where the recording predates a field GitHub now requires.
func TestAllRecordedExchanges(t *testing.T) {
	s := emulatortest.Shared(t)
	knownOutdated := map[string]string{
		"GET /repos/octokit-fixture-org/hello-world": `"has_discussions" is missing`,
	}
	files, err := filepath.Glob(filepath.Join(testenv.SharedGitHubDir(t), "fixtures", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	checked := 0
	for _, f := range files {
		for _, ex := range emulatortest.Fixture(t, filepath.Base(f)) {
			tpl, ok := s.MatchPath(ex.Method, ex.Path)
			if !ok {
				continue // e.g. GET git/refs/ (listing), no longer documented
			}
			err := s.CheckResponse(ex.Method, tpl, ex.Status, ex.Header, ex.Body)
			if want, outdated := knownOutdated[ex.Method+" "+ex.Path]; outdated {
				wantErr(t, err, want)
				continue
			}
			if err != nil {
				t.Errorf("%s: %s %s: %v", filepath.Base(f), ex.Method, ex.Path, err)
			}
			checked++
		}
	}
	if checked < 25 {
		t.Errorf("only %d exchanges checked", checked)
	}
}

func TestMutatedResponseFails(t *testing.T) {
	s := emulatortest.Shared(t)
	update := findExchange(t, "git-refs", "PATCH", "/git/refs/heads/test")

	missing := mutate(t, update.Body, func(m map[string]any) {
		delete(m["object"].(map[string]any), "sha")
	})
	wantErr(t, s.CheckResponse("PATCH", refPath, 200, update.Header, missing),
		"git/update-ref", "PATCH "+refPath, "status 200", "schema git-ref", `at /object/sha: property "sha" is missing`)

	wrongType := mutate(t, update.Body, func(m map[string]any) { m["ref"] = 42 })
	wantErr(t, s.CheckResponse("PATCH", refPath, 200, update.Header, wrongType),
		"git/update-ref", `at /ref: value must be a string`)

	twoErrors := mutate(t, update.Body, func(m map[string]any) {
		m["url"] = true
		delete(m, "node_id")
	})
	wantErr(t, s.CheckResponse("PATCH", refPath, 200, update.Header, twoErrors), "/url", "node_id")

	wantErr(t, s.CheckResponse("PATCH", refPath, 200, update.Header, []byte(`{"ref":`)), "not JSON")

	r := &recorder{TB: t}
	emulatortest.ValidateResponse(r, "PATCH", refPath, 200, update.Header, missing)
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], `"sha" is missing`) {
		t.Errorf("ValidateResponse reported %q, want one error about sha", r.errs)
	}
}

func TestStatusesAndBodies(t *testing.T) {
	s := emulatortest.Shared(t)
	jsonHeader := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	notFound := []byte(`{"message":"Not Found","documentation_url":"https://docs.github.com/rest/git/refs#get-a-reference","status":"404"}`)

	// A status the operation does not document.
	wantErr(t, s.CheckResponse("PATCH", refPath, 418, jsonHeader, notFound),
		"git/update-ref", "status 418", "not documented", "200, 409, 422")
	// Documented error bodies are checked too.
	if err := s.CheckResponse("GET", "/repos/{owner}/{repo}/git/ref/{ref}", 404, jsonHeader, notFound); err != nil {
		t.Errorf("GitHub-shaped 404: %v", err)
	}
	wantErr(t, s.CheckResponse("GET", "/repos/{owner}/{repo}/git/ref/{ref}", 404, jsonHeader, []byte(`{"message":7}`)),
		"git/get-ref", "status 404", "basic-error", "/message")
	// http.Error's text/plain answer is not what GitHub sends.
	wantErr(t, s.CheckResponse("GET", "/repos/{owner}/{repo}/git/ref/{ref}", 404,
		http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, []byte("404 page not found\n")),
		"Content-Type text/plain is not documented", "application/json")
	// A body-less status with a body, and a missing Content-Type.
	wantErr(t, s.CheckResponse("DELETE", refPath, 204, jsonHeader, []byte(`{}`)), "git/delete-ref", "without a body")
	wantErr(t, s.CheckResponse("GET", "/repos/{owner}/{repo}/git/ref/{ref}", 404, http.Header{}, notFound), "no Content-Type")
	wantErr(t, s.CheckResponse("GET", "/repos/{owner}/{repo}/git/ref/{ref}", 404, jsonHeader, nil), "has none")
	// A nil header stands for application/json.
	if err := s.CheckResponse("GET", "/repos/{owner}/{repo}/git/ref/{ref}", 404, nil, notFound); err != nil {
		t.Errorf("nil header: %v", err)
	}
	// Raw media types a client asks for are not schema-checked.
	raw := findExchange(t, "get-content", "GET", "/contents/README.md")
	if err := s.CheckResponse("GET", "/repos/{owner}/{repo}/contents/{path}", raw.Status, raw.Header, raw.Body); err != nil {
		t.Errorf("raw content: %v", err)
	}
	// Unknown operations.
	wantErr(t, s.CheckResponse("GET", refPath, 200, jsonHeader, nil), "no GET operation")
	wantErr(t, s.CheckResponse("PATCH", "/repos/o/r/git/refs/heads/main", 200, jsonHeader, nil),
		"no such path template", "/repos/{owner}/{repo}/git/refs/{ref}")
}

func TestDateTimeIsStrict(t *testing.T) {
	s := emulatortest.Shared(t)
	header := http.Header{"Content-Type": {"application/json"}}
	issue := findExchange(t, "add-labels-to-issue", "POST", "/issues")
	const tpl = "/repos/{owner}/{repo}/issues"
	if err := s.CheckResponse("POST", tpl, 201, header, issue.Body); err != nil {
		t.Fatalf("recorded issue: %v", err)
	}
	for _, bad := range []string{"2017-10-10 16:00:00", "2017-10-10", "1507651200"} {
		body := mutate(t, issue.Body, func(m map[string]any) { m["created_at"] = bad })
		wantErr(t, s.CheckResponse("POST", tpl, 201, header, body), `/created_at: string "`+bad+`" is not a valid "date-time"`)
	}
}

func TestOperationsAndMatchPath(t *testing.T) {
	s := emulatortest.Shared(t)
	if id, ok := s.Operation("patch", refPath); !ok || id != "git/update-ref" {
		t.Errorf("Operation(patch, %s) = %q, %v", refPath, id, ok)
	}
	if id, ok := emulatortest.Operation(t, "PUT", refPath); ok {
		t.Errorf("Operation(PUT) = %q, want none", id)
	}
	ops := s.Operations()
	found := false
	for _, op := range ops {
		if op.Method == "POST" && op.Path == "/repos/{owner}/{repo}/check-runs" && op.ID == "checks/create" {
			found = true
		}
	}
	if len(ops) < 800 || !found {
		t.Errorf("Operations: %d, checks/create found: %v", len(ops), found)
	}

	cases := []struct{ method, path, want string }{
		{"PATCH", "/repos/o/r/git/refs/heads/feature/deep/x", refPath},
		{"GET", "/repos/o/r/git/ref/heads/main", "/repos/{owner}/{repo}/git/ref/{ref}"},
		{"GET", "/repos/o/r/contents/docs/a/b.md?ref=dev", "/repos/{owner}/{repo}/contents/{path}"},
		{"GET", "/repos/o/r/branches/release/v1/protection", "/repos/{owner}/{repo}/branches/{branch}/protection"},
		{"GET", "/repos/o/r/branches/release/v1", "/repos/{owner}/{repo}/branches/{branch}"},
		{"GET", "/repos/o/r/pulls/comments", "/repos/{owner}/{repo}/pulls/comments"},
		{"GET", "/repos/o/r/pulls/12", "/repos/{owner}/{repo}/pulls/{pull_number}"},
		{"GET", "/repos/o/r/compare/main...feature/x", "/repos/{owner}/{repo}/compare/{basehead}"},
		{"POST", "/repos/o/r/check-runs", "/repos/{owner}/{repo}/check-runs"},
		{"get", "/", "/"},
		{"GET", "/repos/o/r/git/refs/", ""},           // the old listing, gone
		{"PUT", "/repos/o/r/git/refs/heads/main", ""}, // no such method
		{"GET", "/repos/o/r/pulls/12/nothing", ""},
	}
	for _, c := range cases {
		got, ok := s.MatchPath(c.method, c.path)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("MatchPath(%s %s) = %q, %v; want %q", c.method, c.path, got, ok, c.want)
		}
	}
}

func readWebhook(t *testing.T, name string) []byte {
	t.Helper()
	data, err := readFile(t, filepath.Join("webhooks", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func readFile(tb testing.TB, name string) ([]byte, error) {
	return os.ReadFile(filepath.Join(testenv.SharedGitHubDir(tb), name))
}

func TestWebhooks(t *testing.T) {
	s := emulatortest.Shared(t)
	good := []struct{ event, file string }{
		{"check_run", "check_run/completed.payload.json"},
		{"check_run", "check_run/requested_action.payload.json"},
		{"check_suite", "check_suite/requested.payload.json"},
		{"issue_comment", "issue_comment/created.payload.json"},
		{"pull_request", "pull_request/opened.payload.json"},
		{"pull_request", "pull_request/closed.payload.json"},
		{"create", "create/with-installation.payload.json"},
		{"deployment", "deployment/payload.json"},
		{"installation", "installation/suspend.payload.json"},
	}
	for _, g := range good {
		if err := s.CheckWebhook(g.event, "", readWebhook(t, g.file)); err != nil {
			t.Errorf("%s: %v", g.file, err)
		}
	}
	r := &recorder{TB: t}
	emulatortest.ValidateWebhook(r, "check_run", "completed", readWebhook(t, "check_run/completed.payload.json"))
	if len(r.errs) != 0 {
		t.Errorf("ValidateWebhook failed a good payload: %v", r.errs)
	}

	noRepo := mutate(t, readWebhook(t, "check_run/completed.payload.json"), func(m map[string]any) { delete(m, "repository") })
	wantErr(t, s.CheckWebhook("check_run", "completed", noRepo),
		"check_run.completed", "webhook-check-run-completed", `property "repository" is missing`)
	emulatortest.ValidateWebhook(r, "check_run", "", noRepo)
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], "repository") {
		t.Errorf("ValidateWebhook reported %q, want one error about repository", r.errs)
	}

	// The push examples predate has_discussions; with it, they match.
	push := readWebhook(t, "push/payload.json")
	wantErr(t, s.CheckWebhook("push", "", push), "webhook push", "webhook-push", `/repository/has_discussions: property "has_discussions" is missing`)
	push = mutate(t, push, func(m map[string]any) { m["repository"].(map[string]any)["has_discussions"] = false })
	if err := s.CheckWebhook("push", "", push); err != nil {
		t.Errorf("push with has_discussions: %v", err)
	}

	// Timestamps that are not RFC 3339 (GitHub never sends them).
	wantErr(t, s.CheckWebhook("check_run", "", readWebhook(t, "check_run/rerequested.payload.json")),
		"check_run.rerequested", `"2018-04-25 20:42:10" is not a valid "date-time"`)

	// repository_dispatch actions are the sender's event_type.
	dispatch := mutate(t, readWebhook(t, "repository_dispatch/payload.json"), func(m map[string]any) {
		m["repository"].(map[string]any)["disabled"] = false
	})
	if err := s.CheckWebhook("repository_dispatch", "content-changed", dispatch); err != nil {
		t.Errorf("repository_dispatch: %v", err)
	}

	wantErr(t, s.CheckWebhook("check_run", "exploded", noRepo), "check_run.exploded", "documents no such payload", "completed, created, requested_action, rerequested")
	wantErr(t, s.CheckWebhook("no_such_event", "x", []byte(`{}`)), "unknown event")
	wantErr(t, s.CheckWebhook("push", "", []byte(`[`)), "not JSON")
}

func TestWebhookIndex(t *testing.T) {
	s := emulatortest.Shared(t)
	hooks := s.Webhooks()
	if len(hooks) != 270 {
		t.Errorf("%d webhooks, want 270", len(hooks))
	}
	for _, c := range []struct{ event, action, schema string }{
		{"push", "", "webhook-push"},
		{"check_run", "requested_action", "webhook-check-run-requested-action"},
		{"pull_request", "ready_for_review", "webhook-pull-request-ready-for-review"},
		{"installation", "new_permissions_accepted", "webhook-installation-new-permissions-accepted"},
		{"repository_dispatch", "anything", "webhook-repository-dispatch-sample"},
	} {
		if got, ok := s.WebhookSchema(c.event, c.action); !ok || got != c.schema {
			t.Errorf("WebhookSchema(%s, %s) = %q, %v; want %s", c.event, c.action, got, ok, c.schema)
		}
	}
}

// Every line of the published event → schema table resolves to the same schema.
func TestWebhookSchemaNamesTable(t *testing.T) {
	s := emulatortest.Shared(t)
	data, err := os.ReadFile(filepath.Join(testenv.SharedGitHubDir(t), "openapi", "webhook-schema-names.txt"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, " | ")
		event, key, schema := f[0], f[1], f[2]
		action := strings.TrimPrefix(key, strings.ReplaceAll(event, "_", "-"))
		action = strings.ReplaceAll(strings.TrimPrefix(action, "-"), "-", "_")
		if got, ok := s.WebhookSchema(event, action); !ok || got != schema {
			t.Errorf("%s: WebhookSchema(%s, %s) = %q, %v", line, event, action, got, ok)
		}
		n++
	}
	if n < 40 {
		t.Errorf("only %d lines read", n)
	}
}

func TestFixture(t *testing.T) {
	ex := emulatortest.Fixture(t, "git-refs")
	if len(ex) != 5 {
		t.Fatalf("%d exchanges, want 5", len(ex))
	}
	create := ex[1]
	if create.Method != "POST" || create.Status != 201 || create.URL != "https://api.github.com:443/repos/octokit-fixture-org/git-refs/git/refs" {
		t.Errorf("create = %s %s %d", create.Method, create.URL, create.Status)
	}
	var req map[string]string
	if err := json.Unmarshal(create.RequestBody, &req); err != nil || req["ref"] != "refs/heads/test" {
		t.Errorf("request body %s: %v", create.RequestBody, err)
	}
	if got := create.RequestHeader.Get("Accept"); got != "application/vnd.github.v3+json" {
		t.Errorf("Accept = %q", got)
	}
	if got := create.Header.Get("X-Ratelimit-Used"); got == "" {
		t.Errorf("numeric header value lost")
	}
	if len(ex[4].Body) != 0 || ex[4].Status != 204 {
		t.Errorf("delete: %d %q", ex[4].Status, ex[4].Body)
	}
	readme := findExchange(t, "get-content.json", "GET", "/README.md")
	if string(readme.Body) != "# hello-world" {
		t.Errorf("raw body = %q", readme.Body)
	}
	if _, err := emulatortest.LoadFixture(filepath.Join(t.TempDir(), "absent.json")); err == nil {
		t.Error("LoadFixture of a missing file: no error")
	}
}
