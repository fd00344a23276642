package generate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/internal/generate"
	"github.com/hoist-dev/hoist/internal/hoisttest"
	"github.com/hoist-dev/hoist/internal/store"
)

func TestRepositoryDispatchStartsOneGeneration(t *testing.T) {
	w := newWorld(t, "200ms")
	w.repositoryDispatch("content-changed", map[string]any{"reason": "product 42 updated"})

	hoisttest.WaitFor(t, 30*time.Second, "one workflow dispatch", func() bool { return len(w.dispatches()) >= 1 })
	ds := w.settle()
	if len(ds) != 1 {
		t.Fatalf("%d workflow dispatches, want 1: %+v", len(ds), ds)
	}
	d := ds[0]
	if d.Workflow != "build-site.yml" || d.Ref != "main" || d.Actor != "hoist[bot]" {
		t.Errorf("dispatch %+v: want build-site.yml on main by hoist[bot]", d)
	}
	if d.Inputs["environment"] != "staging" || d.Inputs["reason"] != "product 42 updated" {
		t.Errorf("inputs %v: want the default environment (the first candidate's) and the payload's reason", d.Inputs)
	}
	at, err := time.Parse(time.RFC3339, fmt.Sprint(d.Inputs["requested_at"]))
	if err != nil || time.Since(at) > time.Minute || at.After(d.At) {
		t.Errorf("requested_at %v: want the trigger's time (%v)", d.Inputs["requested_at"], err)
	}
	got := countOutcomes(w.audit())
	if got["scheduled"] != 1 || got["dispatched"] != 1 || len(got) != 2 {
		t.Errorf("audit outcomes %v, want one scheduled and one dispatched", got)
	}
}

func TestRepositoryDispatchOfAnotherTypeIsIgnored(t *testing.T) {
	w := newWorld(t, "200ms")
	w.repositoryDispatch("something-else", map[string]any{"environment": "staging"})
	if n := w.allJobs(); n != 0 {
		t.Fatalf("%d jobs for a dispatch type generation does not listen to", n)
	}
	if got := countOutcomes(w.audit()); len(got) != 0 {
		t.Fatalf("audit %v for an unrelated dispatch", got)
	}
}

func TestBurstCoalescesIntoOneGeneration(t *testing.T) {
	// The window is long enough for 50 requests on a slow machine; the
	// assertions do not depend on how long they took.
	w := newWorld(t, "3s")
	// The first trigger opens the window, then 49 arrive at once.
	code, first := w.post("acme/site", secrets["acme/site"], []byte(`{"environment":"staging","reason":"row 0 changed"}`))
	if code != http.StatusAccepted || first.Status != "scheduled" {
		t.Fatalf("first trigger: %d %+v", code, first)
	}
	type answer struct {
		code int
		res  generate.Response
	}
	answers := make(chan answer, 49)
	var wg sync.WaitGroup
	for i := 1; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := []byte(fmt.Sprintf(`{"environment":"staging","reason":"row %d changed"}`, i))
			c, r := w.post("acme/site", secrets["acme/site"], body)
			answers <- answer{c, r}
		}()
	}
	wg.Wait()
	close(answers)
	for a := range answers {
		if a.code != http.StatusAccepted || a.res.Status != "coalesced" || a.res.JobID != first.JobID || a.res.Environment != "staging" {
			t.Fatalf("trigger in the burst: %d %+v, want it coalesced into job %d", a.code, a.res, first.JobID)
		}
	}
	hoisttest.WaitFor(t, 30*time.Second, "the workflow dispatch", func() bool { return len(w.dispatches()) >= 1 })
	ds := w.settle()
	if len(ds) != 1 {
		t.Fatalf("%d workflow dispatches for one burst, want 1", len(ds))
	}
	if ds[0].Inputs["reason"] != "row 0 changed" {
		t.Errorf("reason %v, want the first trigger's", ds[0].Inputs["reason"])
	}
	if got := countOutcomes(w.audit()); got["scheduled"] != 1 || got["coalesced"] != 49 || got["dispatched"] != 1 {
		t.Errorf("audit outcomes %v", got)
	}
}

func TestTriggerDuringRunningGenerationGetsExactlyOneFollowUp(t *testing.T) {
	w := newWorld(t, "200ms")
	post := func(reason string) generate.Response {
		t.Helper()
		code, res := w.post("acme/site", secrets["acme/site"], []byte(`{"environment":"staging","reason":"`+reason+`"}`))
		if code != http.StatusAccepted {
			t.Fatalf("%s: %d %+v", reason, code, res)
		}
		return res
	}

	// The first generation's dispatch reaches GitHub and is held there.
	w.gate.close()
	post("first")
	hoisttest.WaitFor(t, 30*time.Second, "the first dispatch to reach GitHub", func() bool { return w.gate.waiting.Load() == 1 })

	// Changes while it runs: one follow-up window, joined by the rest.
	first := post("during 1")
	if first.Status != "scheduled" {
		t.Fatalf("first change during the run: %+v, want a new window", first)
	}
	for i := 2; i <= 5; i++ {
		if res := post(fmt.Sprintf("during %d", i)); res.Status != "coalesced" || res.JobID != first.JobID {
			t.Fatalf("change %d during the run: %+v, want it to join job %d", i, res, first.JobID)
		}
	}
	// The follow-up's window closes while the first dispatch still runs:
	// it must wait, not fold into the running one nor start beside it.
	hoisttest.WaitFor(t, 30*time.Second, "the follow-up to find the generation running", func() bool {
		var snoozes int
		err := w.st.QueryRow(t.Context(), `SELECT coalesce(json_extract(metadata, '$.snoozes'), 0) FROM river_job WHERE id = ?`, first.JobID).Scan(&snoozes)
		if err != nil {
			t.Fatal(err)
		}
		return snoozes > 0
	})
	if n := w.gate.waiting.Load(); n != 1 || len(w.dispatches()) != 0 {
		t.Fatalf("%d dispatches held and %d recorded while one generation runs, want 1 and 0", n, len(w.dispatches()))
	}

	w.gate.release()
	hoisttest.WaitFor(t, 30*time.Second, "the follow-up dispatch", func() bool { return len(w.dispatches()) >= 2 })
	ds := w.settle()
	if len(ds) != 2 {
		t.Fatalf("%d workflow dispatches, want the first and one follow-up", len(ds))
	}
	if ds[0].Inputs["reason"] != "first" || ds[1].Inputs["reason"] != "during 1" {
		t.Errorf("reasons %v, %v", ds[0].Inputs["reason"], ds[1].Inputs["reason"])
	}
}

func TestWindowSurvivesRestart(t *testing.T) {
	w := newWorld(t, "2s")
	code, res := w.post("acme/site", secrets["acme/site"], []byte(`{"environment":"production","reason":"before restart"}`))
	if code != http.StatusAccepted || res.Status != "scheduled" {
		t.Fatalf("%d %+v", code, res)
	}
	w.stop()
	w.start()
	var state string
	if err := w.st.QueryRow(t.Context(), `SELECT state FROM river_job WHERE id = ?`, res.JobID).Scan(&state); err != nil {
		t.Fatal(err)
	}
	if state != "scheduled" || len(w.dispatches()) != 0 {
		t.Fatalf("after the restart the window is %s with %d dispatches; the test needs it still open", state, len(w.dispatches()))
	}
	// A trigger after the restart joins the window opened before it.
	if code, again := w.post("acme/site", secrets["acme/site"], []byte(`{"environment":"production"}`)); code != http.StatusAccepted || again.JobID != res.JobID {
		t.Fatalf("trigger after restart: %d %+v, want it to join job %d", code, again, res.JobID)
	}
	hoisttest.WaitFor(t, 30*time.Second, "the dispatch after the restart", func() bool { return len(w.dispatches()) >= 1 })
	ds := w.settle()
	if len(ds) != 1 || ds[0].Inputs["environment"] != "production" || ds[0].Inputs["reason"] != "before restart" {
		t.Fatalf("dispatches %+v, want one for production", ds)
	}
}

func TestBadRequestsAreRefused(t *testing.T) {
	w := newWorld(t, "200ms")
	good := []byte(`{"environment":"staging","reason":"x"}`)
	big := []byte(`{"environment":"staging","reason":"` + strings.Repeat("a", generate.MaxBody) + `"}`)
	site := secrets["acme/site"]
	now := time.Now()
	signed := func(secret string, body []byte, at time.Time, edit func(h http.Header)) func(*http.Request) {
		return func(req *http.Request) {
			generate.Sign(req, secret, body, at)
			if edit != nil {
				edit(req.Header)
			}
		}
	}
	for _, tc := range []struct {
		name   string
		repo   string
		body   []byte
		sign   func(*http.Request)
		status int
		code   string
		// audited: the caller proved it holds the secret, so the refusal
		// is recorded; before that nothing is.
		audited bool
	}{
		{"no signature", "acme/site", good, nil, 401, "missing_signature", false},
		{"wrong secret", "acme/site", good, signed("not-the-secret-at-all", good, now, nil), 401, "bad_signature", false},
		{"signature over another body", "acme/site", good, signed(site, []byte(`{"environment":"production"}`), now, nil), 401, "bad_signature", false},
		{"truncated signature", "acme/site", good, signed(site, good, now, func(h http.Header) { h.Set(generate.SignatureHeader, h.Get(generate.SignatureHeader)[:40]) }), 401, "bad_signature", false},
		{"sha1 signature", "acme/site", good, signed(site, good, now, func(h http.Header) {
			h.Set(generate.SignatureHeader, "sha1="+strings.TrimPrefix(h.Get(generate.SignatureHeader), "sha256="))
		}), 401, "bad_signature", false},
		{"body signature only (the old scheme)", "acme/site", good, signed(site, good, now, func(h http.Header) { h.Set(generate.SignatureHeader, emulator.Sign(site, good)) }), 401, "bad_signature", false},
		{"no timestamp", "acme/site", good, signed(site, good, now, func(h http.Header) { h.Del(generate.TimestampHeader) }), 401, "bad_timestamp", false},
		{"timestamp changed after signing", "acme/site", good, signed(site, good, now, func(h http.Header) { h.Set(generate.TimestampHeader, fmt.Sprint(now.Unix()+1)) }), 401, "bad_signature", false},
		{"stale timestamp", "acme/site", good, signed(site, good, now.Add(-6*time.Minute), nil), 401, "stale_timestamp", false},
		{"timestamp in the future", "acme/site", good, signed(site, good, now.Add(6*time.Minute), nil), 401, "stale_timestamp", false},
		{"no nonce", "acme/site", good, signed(site, good, now, func(h http.Header) { h.Del(generate.NonceHeader) }), 401, "bad_nonce", false},
		{"nonce changed after signing", "acme/site", good, signed(site, good, now, func(h http.Header) { h.Set(generate.NonceHeader, "ffffffffffffffffffffffff") }), 401, "bad_signature", false},
		{"unknown repository", "acme/unknown", good, signed(site, good, now, nil), 404, "unknown_repository", false},
		{"too large", "acme/site", big, signed(site, big, now, nil), 413, "too_large", false},
		{"not JSON", "acme/site", []byte("environment=staging"), signed(site, []byte("environment=staging"), now, nil), 400, "invalid_json", true},
		{"empty body", "acme/site", []byte(""), signed(site, nil, now, nil), 400, "invalid_json", true},
		{"JSON array", "acme/site", []byte(`["staging"]`), signed(site, []byte(`["staging"]`), now, nil), 400, "invalid_json", true},
		{"misspelt field", "acme/site", []byte(`{"enviroment":"staging"}`), signed(site, []byte(`{"enviroment":"staging"}`), now, nil), 400, "invalid_json", true},
		{"two objects", "acme/site", []byte(`{"environment":"staging"}{}`), signed(site, []byte(`{"environment":"staging"}{}`), now, nil), 400, "invalid_json", true},
		{"unknown environment", "acme/site", []byte(`{"environment":"qa"}`), signed(site, []byte(`{"environment":"qa"}`), now, nil), 422, "unknown_environment", true},
		{"no workflow configured", "acme/blog", good, signed(secrets["acme/blog"], good, now, nil), 422, "no_workflow", true},
		{"App not installed", "acme/other", good, signed(secrets["acme/other"], good, now, nil), 404, "not_installed", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(w.audit())
			req, _ := http.NewRequest(http.MethodPost, w.api.URL+generate.Path+tc.repo, strings.NewReader(string(tc.body)))
			if tc.sign != nil {
				tc.sign(req)
			}
			code, res := do(t, req)
			if code != tc.status || res.Code != tc.code || res.Status != "refused" || res.Message == "" {
				t.Fatalf("got %d %+v, want %d %s with a message", code, res, tc.status, tc.code)
			}
			if wrote := len(w.audit()) - before; wrote != map[bool]int{true: 1, false: 0}[tc.audited] {
				t.Errorf("%d audit rows written; want one only once the caller is authenticated", wrote)
			}
		})
	}
	req, _ := http.NewRequest(http.MethodGet, w.api.URL+generate.Path+"acme/site", nil)
	if code, res := do(t, req); code != http.StatusMethodNotAllowed || res.Code != "method_not_allowed" {
		t.Errorf("GET: %d %+v", code, res)
	}

	if n := w.allJobs(); n != 0 {
		t.Fatalf("%d generation jobs after refused requests, want none", n)
	}
	if got := countOutcomes(w.audit()); got["refused"] != 8 || len(got) != 1 {
		t.Errorf("audit outcomes %v, want 8 refusals", got)
	}
	for _, e := range w.audit() {
		if strings.Contains(fmt.Sprint(e.Detail), "secret-0123456789") {
			t.Errorf("audit entry holds a secret: %+v", e)
		}
	}
}

// A signed request sent again (same nonce) is refused and schedules
// nothing more; a fresh signature of the same body is accepted.
func TestReplayedRequestIsRefused(t *testing.T) {
	w := newWorld(t, "200ms")
	body := []byte(`{"environment":"staging","reason":"replay"}`)
	req, _ := http.NewRequest(http.MethodPost, w.api.URL+generate.Path+"acme/site", bytes.NewReader(body))
	generate.Sign(req, secrets["acme/site"], body, time.Now())
	headers := req.Header.Clone()
	if code, res := do(t, req); code != http.StatusAccepted || res.Status != "scheduled" {
		t.Fatalf("first request: %d %+v", code, res)
	}
	audited := len(w.audit())
	for range 3 {
		again, _ := http.NewRequest(http.MethodPost, w.api.URL+generate.Path+"acme/site", bytes.NewReader(body))
		again.Header = headers.Clone()
		if code, res := do(t, again); code != http.StatusConflict || res.Code != "replayed" {
			t.Fatalf("replay: %d %+v, want 409 replayed", code, res)
		}
	}
	if n := len(w.audit()); n != audited {
		t.Errorf("replays wrote %d audit rows", n-audited)
	}
	if code, res := w.post("acme/site", secrets["acme/site"], body); code != http.StatusAccepted || (res.Status != "coalesced" && res.Status != "scheduled") {
		t.Fatalf("fresh signature of the same body: %d %+v, want 202", code, res)
	}
}

// A flood of refused requests for a repository with a secret writes
// nothing: no audit rows (which once filled the database and replaced the
// repository's activity on the dashboard), no nonces.
func TestRefusedRequestsWriteNothing(t *testing.T) {
	w := newWorld(t, "200ms")
	ctx := context.Background()
	count := func() (n int) {
		for _, table := range []string{"audit_log", "nonces", "deliveries"} {
			var c int
			if err := w.st.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&c); err != nil {
				t.Fatal(err)
			}
			n += c
		}
		return n
	}
	before := count()
	body := []byte(`{"environment":"staging","reason":"` + strings.Repeat("x", 60000) + `"}`)
	for i := range 200 {
		req, _ := http.NewRequest(http.MethodPost, w.api.URL+generate.Path+"acme/site", bytes.NewReader(body))
		generate.Sign(req, "an attacker's guess at the secret", body, time.Now())
		if i%2 == 1 {
			req.Header.Del(generate.SignatureHeader)
		}
		if code, _ := do(t, req); code != http.StatusUnauthorized {
			t.Fatalf("request %d: %d, want 401", i, code)
		}
	}
	if after := count(); after != before {
		t.Fatalf("refused requests wrote %d rows", after-before)
	}
}

func TestRepositoryDispatchWithoutWorkflowIsRefused(t *testing.T) {
	w := newWorld(t, "200ms")
	// acme/blog has hoist but no generate section.
	c := w.gh.Client(w.gh.InstallationToken(w.inst))
	before := len(w.gh.Deliveries())
	if _, _, err := c.Repositories.Dispatch(t.Context(), "acme", "blog", githubDispatch("content-changed")); err != nil {
		t.Fatal(err)
	}
	hoisttest.WaitFor(t, 10*time.Second, "delivery", func() bool {
		for _, d := range w.gh.Deliveries()[before:] {
			if d.Event == "repository_dispatch" && !d.Pending() {
				return true
			}
		}
		return false
	})
	if n := w.allJobs(); n != 0 {
		t.Fatalf("%d jobs, want none", n)
	}
	entries := w.audit()
	if len(entries) != 1 || entries[0].Outcome != "refused" || entries[0].Repo != "acme/blog" ||
		entries[0].Detail["code"] != "no_workflow" || !strings.Contains(fmt.Sprint(entries[0].Detail["error"]), "generate.workflow") {
		b, _ := json.Marshal(entries)
		t.Fatalf("audit %s, want one no_workflow refusal for acme/blog", b)
	}
}

func githubDispatch(eventType string) github.DispatchRequestOptions {
	return github.DispatchRequestOptions{EventType: eventType}
}

// A workflow that does not declare hoist's inputs is refused by GitHub
// (422 Unexpected inputs provided); hoist audits the refusal once and does
// not retry it.
func TestWorkflowWithoutHoistsInputsIsRefusedByGitHub(t *testing.T) {
	w := newWorld(t, "100ms")
	c := w.gh.Client(w.gh.InstallationToken(w.inst))
	const path = ".github/workflows/build-site.yml"
	file, _, _, err := c.Repositories.GetContents(t.Context(), "acme", "site", path, nil)
	if err != nil {
		t.Fatal(err)
	}
	narrow := "on:\n  workflow_dispatch:\n    inputs:\n      environment: { required: true }\n"
	if _, _, err := c.Repositories.UpdateFile(t.Context(), "acme", "site", path, &github.RepositoryContentFileOptions{
		Message: github.String("declare only environment"), Content: []byte(narrow), SHA: file.SHA,
	}); err != nil {
		t.Fatal(err)
	}
	w.repositoryDispatch("content-changed", map[string]any{"reason": "product 42 updated"})
	hoisttest.WaitFor(t, 30*time.Second, "the refusal audited", func() bool { return countOutcomes(w.audit())["failed"] > 0 })
	if ds := w.settle(); len(ds) != 0 {
		t.Fatalf("%d dispatches recorded, want none: %+v", len(ds), ds)
	}
	var failed []store.AuditEntry
	for _, e := range w.audit() {
		if e.Action == "generate" && e.Outcome == "failed" {
			failed = append(failed, e)
		}
	}
	if len(failed) != 1 || failed[0].Detail["code"] != "github_refused" ||
		!strings.Contains(fmt.Sprint(failed[0].Detail["error"]), `Unexpected inputs provided: ["reason","requested_at"]`) {
		b, _ := json.Marshal(failed)
		t.Fatalf("failures %s, want one github_refused naming the undeclared inputs", b)
	}
}
