package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/emulator/emulatortest"
	"github.com/hoist-dev/hoist/internal/generate"
	"github.com/hoist-dev/hoist/internal/hoisttest"
	"github.com/hoist-dev/hoist/internal/server"
	"github.com/hoist-dev/hoist/internal/servetest"
)

// webConfig is acme/web's: staging is promoted from dev once CI passes.
const webConfig = `version: 1
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: true, deploy: { url: "https://staging.example.com/" },
             gates: { checks: ["ci / test"] } }
`

const (
	siteSecret = "site-secret-0123456789"
	blogSecret = "blog-secret-0123456789"
)

// served is the emulator with acme/site (generation configured),
// acme/blog (hoist without generate.workflow), and `hoist serve` as
// app.New builds it, in process, on a server configuration file that
// carries both repositories' trigger secrets.
type served struct {
	t     *testing.T
	gh    *emulatortest.Harness
	alice *github.Client
	inst  int64
	url   string
	srv   *server.Server
}

func startServe(t *testing.T) *served {
	t.Helper()
	ln, hoistURL := servetest.Listen(t)
	ws := hoisttest.Start(t, hoisttest.Spec{App: emulator.AppSpec{WebhookURL: hoistURL + server.WebhookPath},
		Repos: []string{"site", "blog", "web"}})
	gh, app, inst, user := ws.GH, ws.App, ws.InstallationID, ws.User()
	put := func(repo, body string) { ws.Put(repo, config.RepoConfigPath, body, "Configure hoist") }
	put("site", `version: 1
environments:
  staging: { branch: staging }
  production: { branch: main }
candidates:
  - { from: pre-staging, to: staging }
generate: { dispatch_type: content-changed, workflow: build-site.yml, debounce: 100ms }
`)
	if _, _, err := user.Repositories.CreateFile(context.Background(), "acme", "site", ".github/workflows/build-site.yml",
		&github.RepositoryContentFileOptions{Message: github.String("Add the build workflow"), Content: []byte(generate.DispatchTrigger)}); err != nil {
		t.Fatalf("push the workflow: %v", err)
	}
	put("blog", "version: 1\nenvironments:\n  staging: { branch: staging }\n")
	put("web", webConfig)

	dir := t.TempDir()
	secretFile := filepath.Join(dir, "site.secret")
	if err := os.WriteFile(secretFile, []byte(siteSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yml := "generate:\n  repositories:\n    acme/site: { secret_file: " + secretFile + " }\n    acme/blog: { secret: " + blogSecret + " }\n"
	srv := servetest.Start(t, servetest.Spec{GitHub: gh, App: app, Listener: ln, ServerYAML: yml, Dashboard: true})
	return &served{t: t, gh: gh, alice: user, inst: inst, url: hoistURL, srv: srv}
}

// post sends a trigger to the served address signed with secret; ""
// sends no signature.
func (s *served) post(repo, secret string, body []byte) (int, generate.Response) {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.url+generate.Path+repo, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		generate.Sign(req, secret, body, time.Now())
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out generate.Response
	if err := json.Unmarshal(raw, &out); err != nil {
		s.t.Fatalf("answer %d is not JSON: %q", res.StatusCode, raw)
	}
	return res.StatusCode, out
}

func (s *served) dispatches() []emulator.WorkflowDispatch { return s.gh.WorkflowDispatches() }

// waitDispatches waits for n workflow dispatches, then a little longer to
// see that no more come.
func (s *served) waitDispatches(n int) []emulator.WorkflowDispatch {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for len(s.dispatches()) < n {
		if time.Now().After(deadline) {
			s.t.Fatalf("%d workflow dispatches after 20 s, want %d", len(s.dispatches()), n)
		}
		time.Sleep(25 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	return s.dispatches()
}

func TestServeMountsTheSignedGenerationTrigger(t *testing.T) {
	s := startServe(t)
	body := []byte(`{"environment":"staging","reason":"price list imported"}`)

	// What a caller gets wrong is refused and starts nothing.
	big := append([]byte(`{"reason":"`), bytes.Repeat([]byte("x"), generate.MaxBody)...)
	big = append(big, `"}`...)
	refusals := []struct {
		name, repo, secret string
		body               []byte
		status             int
		code               string
	}{
		{"no signature", "acme/site", "", body, http.StatusUnauthorized, "missing_signature"},
		{"wrong signature", "acme/site", "not-the-secret-at-all", body, http.StatusUnauthorized, "bad_signature"},
		{"another repository's secret", "acme/site", blogSecret, body, http.StatusUnauthorized, "bad_signature"},
		{"unknown repository", "acme/unknown", siteSecret, body, http.StatusNotFound, "unknown_repository"},
		{"oversize body", "acme/site", siteSecret, big, http.StatusRequestEntityTooLarge, "too_large"},
		{"no workflow configured", "acme/blog", blogSecret, body, http.StatusUnprocessableEntity, "no_workflow"},
	}
	for _, r := range refusals {
		code, res := s.post(r.repo, r.secret, r.body)
		if code != r.status || res.Status != "refused" || res.Code != r.code {
			t.Errorf("%s: %d %+v, want %d %s", r.name, code, res, r.status, r.code)
		}
	}
	if _, res := s.post("acme/blog", blogSecret, body); !strings.Contains(res.Message, "generate.workflow") {
		t.Errorf("the no-workflow refusal %q does not say what to set", res.Message)
	}
	time.Sleep(300 * time.Millisecond)
	if ds := s.dispatches(); len(ds) != 0 {
		t.Fatalf("refused triggers dispatched %+v", ds)
	}

	code, res := s.post("acme/site", siteSecret, body)
	if code != http.StatusAccepted || res.Status != "scheduled" || res.Environment != "staging" {
		t.Fatalf("signed trigger: %d %+v, want 202 scheduled for staging", code, res)
	}
	ds := s.waitDispatches(1)
	if len(ds) != 1 {
		t.Fatalf("%d workflow dispatches, want 1: %+v", len(ds), ds)
	}
	d := ds[0]
	if d.Repo != "acme/site" || d.Workflow != "build-site.yml" || d.Ref != "main" ||
		d.Inputs["environment"] != "staging" || d.Inputs["reason"] != "price list imported" {
		t.Fatalf("dispatch %+v: want build-site.yml on main for staging with the trigger's reason", d)
	}
	entries, err := s.srv.Store().AuditLog(context.Background(), "acme/site", 100)
	if err != nil {
		t.Fatal(err)
	}
	outcomes := map[string]int{}
	for _, e := range entries {
		if e.Action == "generate" {
			outcomes[e.Outcome]++
		}
	}
	// The 4 refusals on acme/site came before the caller was authenticated:
	// they write nothing.
	if outcomes["scheduled"] != 1 || outcomes["dispatched"] != 1 || outcomes["refused"] != 0 {
		t.Errorf("audit of acme/site %v: want 1 scheduled, 1 dispatched and no refusals", outcomes)
	}
}

func TestServeHandsRepositoryDispatchToGeneration(t *testing.T) {
	s := startServe(t)
	c := s.gh.Client(s.gh.InstallationToken(s.inst))
	payload := json.RawMessage(`{"reason":"product 42 updated"}`)
	if _, _, err := c.Repositories.Dispatch(context.Background(), "acme", "site",
		github.DispatchRequestOptions{EventType: "content-changed", ClientPayload: &payload}); err != nil {
		t.Fatal(err)
	}
	ds := s.waitDispatches(1)
	if len(ds) != 1 || ds[0].Inputs["environment"] != "staging" || ds[0].Inputs["reason"] != "product 42 updated" {
		t.Fatalf("workflow dispatches %+v: want one for staging with the payload's reason", ds)
	}
}

func TestServeDashboardShowsAPromotionByTheFlow(t *testing.T) {
	s := startServe(t)
	ctx := context.Background()
	main, _, err := s.alice.Git.GetRef(ctx, "acme", "web", "heads/main")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"dev", "staging"} {
		if _, _, err := s.alice.Git.CreateRef(ctx, "acme", "web", &github.Reference{Ref: github.String("refs/heads/" + b), Object: main.Object}); err != nil {
			t.Fatal(err)
		}
	}
	res, _, err := s.alice.Repositories.CreateFile(ctx, "acme", "web", "public/index.html", &github.RepositoryContentFileOptions{
		Message: github.String("New <home> page"), Content: []byte("<h1>v2</h1>"), Branch: github.String("dev")})
	if err != nil {
		t.Fatal(err)
	}
	sha := res.GetSHA()
	if _, _, err := s.alice.Repositories.CreateStatus(ctx, "acme", "web", sha,
		&github.RepoStatus{State: github.String("success"), Context: github.String("ci / test")}); err != nil {
		t.Fatal(err)
	}
	// The flow promotes staging and records the deployment.
	deadline := time.Now().Add(30 * time.Second)
	for {
		// Pushing the branches published their first commit too; wait for
		// the deployment of the promoted one.
		deps, _, err := s.alice.Repositories.ListDeployments(ctx, "acme", "web", &github.DeploymentsListOptions{Environment: "staging", SHA: sha})
		if err != nil {
			t.Fatal(err)
		}
		if len(deps) > 0 {
			sts, _, err := s.alice.Repositories.ListDeploymentStatuses(ctx, "acme", "web", deps[0].GetID(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(sts) > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("staging was not promoted and deployed within 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// alice signs in with GitHub (the emulator) to see her repositories.
	resp, err := s.gh.SignedInClient("alice").Get(s.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	page := string(raw)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET / = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	i := strings.Index(page, `id="acme/web/staging"`)
	if i < 0 {
		t.Fatalf("the dashboard has no row for acme/web staging:\n%s", page)
	}
	row := page[i:]
	row = row[:strings.Index(row, "</tr>")]
	for _, want := range []string{sha[:7], "New &lt;home&gt; page", `href="https://staging.example.com/"`, ">success<"} {
		if !strings.Contains(row, want) {
			t.Errorf("staging row lacks %q:\n%s", want, row)
		}
	}
	if !strings.Contains(page, `<span class="badge ok">promoted</span>`) {
		t.Errorf("the promotion is not in the recent activity:\n%s", page)
	}
	for _, repo := range []string{"acme/site", "acme/blog"} {
		if !strings.Contains(page, `href="/repos/`+repo+`"`) {
			t.Errorf("the dashboard does not list %s", repo)
		}
	}
	if strings.Contains(page, siteSecret) || strings.Contains(page, blogSecret) {
		t.Error("the dashboard shows a trigger secret")
	}
}
