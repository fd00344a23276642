package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/internal/testenv"
)

// TestGeneratedSiteFromTriggerToPurgedEdge plays issue 8's whole flow on
// one hoist server: content changes ask for a build (one workflow
// dispatch per debounce window, whatever the burst), the build pushes a
// generated site to pre-staging, hoist smoke-tests it in Chromium,
// fast-forwards staging, deploys the diff to S3 and purges both Varnish
// nodes; a build with a broken page stops at the smoke test; the
// dashboard shows both; a deploy the bucket refuses fails visibly and is
// retried.
func TestGeneratedSiteFromTriggerToPurgedEdge(t *testing.T) {
	w := start(t)
	ctx := context.Background()
	var ds []emulator.WorkflowDispatch

	ok := t.Run("a signed POST makes one workflow dispatch", func(t *testing.T) {
		w.t = t
		code, res, err := w.trigger([]byte(`{"environment":"staging","reason":"price list imported"}`))
		if err != nil || code != http.StatusAccepted || res.Status != "scheduled" || res.Environment != "staging" {
			t.Fatalf("trigger: %d %+v %v, want 202 scheduled for staging", code, res, err)
		}
		ds = w.waitDispatches(1)
		if len(ds) != 1 {
			t.Fatalf("%d workflow dispatches, want 1: %+v", len(ds), ds)
		}
		d := ds[0]
		if d.Repo != "acme/site" || d.Workflow != "build-site.yml" || d.Ref != "main" ||
			d.Inputs["environment"] != "staging" || d.Inputs["reason"] != "price list imported" || !isTime(d.Inputs["requested_at"]) {
			t.Fatalf("dispatch %+v: want build-site.yml on main with environment, reason and requested_at", d)
		}
	})
	ok = ok && t.Run("a repository_dispatch of the configured type makes one workflow dispatch", func(t *testing.T) {
		w.t = t
		c := w.gh.Client(w.gh.InstallationToken(w.inst))
		for _, typ := range []string{"deploy-docs", "content-changed"} { // another type is not a trigger
			payload := json.RawMessage(`{"reason":"product 42 updated (` + typ + `)"}`)
			if _, _, err := c.Repositories.Dispatch(ctx, "acme", "site", github.DispatchRequestOptions{EventType: typ, ClientPayload: &payload}); err != nil {
				t.Fatal(err)
			}
		}
		ds = w.waitDispatches(2)
		if len(ds) != 2 {
			t.Fatalf("%d workflow dispatches, want 2: %+v", len(ds), ds)
		}
		if d := ds[1]; d.Inputs["environment"] != "staging" || d.Inputs["reason"] != "product 42 updated (content-changed)" {
			t.Fatalf("dispatch %+v: want the default environment staging and the payload's reason", d)
		}
	})
	ok = ok && t.Run("50 triggers within the debounce window make one dispatch", func(t *testing.T) {
		w.t = t
		var mu sync.Mutex
		answers := map[string]int{}
		var failures []string
		var wg sync.WaitGroup
		t0 := time.Now()
		for g := 0; g < 10; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := 0; i < 5; i++ {
					code, res, err := w.trigger([]byte(fmt.Sprintf(`{"environment":"staging","reason":"bulk update %d"}`, g*5+i)))
					mu.Lock()
					if err != nil || code/100 != 2 {
						failures = append(failures, fmt.Sprintf("%d %+v %v", code, res, err))
					} else {
						answers[res.Status]++
					}
					mu.Unlock()
				}
			}(g)
		}
		wg.Wait()
		burst := time.Since(t0)
		t.Logf("50 triggers sent in %s (window %s)", burst, debounce)
		if len(failures) > 0 {
			t.Fatalf("%d of 50 triggers failed: %v", len(failures), failures)
		}
		if answers["scheduled"] != 1 || answers["coalesced"] != 49 {
			t.Fatalf("answers %v (burst took %s, window %s): want 1 scheduled, 49 coalesced", answers, burst, debounce)
		}
		ds = w.waitDispatches(3)
		if len(ds) != 3 {
			t.Fatalf("%d workflow dispatches after the burst, want 3 (one for the burst): %+v", len(ds), ds[2:])
		}
		if r, _ := ds[2].Inputs["reason"].(string); !strings.HasPrefix(r, "bulk update ") {
			t.Fatalf("the burst's dispatch has reason %q", r)
		}
	})
	if !ok {
		return
	}

	good := ""
	ok = t.Run("the build is smoke-tested, promoted, deployed by diff and purged", func(t *testing.T) {
		w.t = t
		// The edge caches the coming-soon site for an hour.
		for _, n := range w.nodes {
			for i := 0; i < 2; i++ {
				if code, body := w.edge(n, "/"); code != 200 || !strings.Contains(body, "Coming soon") {
					t.Fatalf("edge %s: %d %q, want the coming-soon page", n, code, body)
				}
			}
		}
		puts0, _, _ := w.writes.Snapshot()
		var purges0 []int64
		for _, g := range w.purges {
			purges0 = append(purges0, g.requests.Load())
			g.hold()
		}

		sha := w.runWorkflow(ds[2], map[string]string{
			"index.html":          homePage,
			"products/index.html": productsPage("Forged steel, <em>guaranteed</em> to fall straight.", "Twin boosters; brakes sold separately."),
		})
		run := w.smokeRun(sha)
		if run.GetConclusion() != "success" {
			t.Fatalf("hoist/smoke on the build: %s (%s)\n%s", run.GetConclusion(), run.GetOutput().GetTitle(), run.GetOutput().GetSummary())
		}
		imgs := w.images(run)
		if len(imgs) == 0 {
			t.Fatal("the passing check run shows no screenshot")
		}
		for _, img := range imgs {
			if u, _ := img["image_url"].(string); !strings.HasPrefix(u, w.url+"/artifacts/") {
				t.Fatalf("screenshot %v is not served by hoist", img)
			}
		}

		// Promoted, deployed, and held at the purge: the bucket has the new
		// home page, the edge still the cached old one.
		// (hoist purges the nodes one after the other: the first one's
		// request is held, the second one's not sent yet.)
		select {
		case <-w.purges[0].waiting:
		case <-w.purges[1].waiting:
		case <-time.After(waitLimit):
			t.Fatalf("no purge reached the edge after the deploy (staging at %.7s)", w.staging())
		}
		if head := w.staging(); head != sha {
			t.Fatalf("staging at %.7s, want the smoke-tested build %.7s", head, sha)
		}
		puts1, _, _ := w.writes.Snapshot()
		want := []string{"site/acme/site/staging/index.html", "site/acme/site/staging/products/index.html"}
		if got := testenv.SiteObjects(puts1[len(puts0):]); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("the deploy wrote %v, want only the changed %v", got, want)
		}
		if _, body := fetch(t, "http://"+w.origin+"/"); !strings.Contains(body, "Spring prices") {
			t.Fatalf("the origin serves %q, want the new home page", body)
		}
		for _, n := range w.nodes {
			if _, body := w.edge(n, "/"); !strings.Contains(body, "Coming soon") {
				t.Fatalf("before the purge edge %s served %q, want the cached old page", n, body)
			}
		}
		for _, g := range w.purges {
			g.open()
		}
		st := w.waitDeployment(sha)
		if st.GetState() != "success" || st.GetEnvironmentURL() != "http://"+w.nodes[0]+"/" {
			t.Fatalf("deployment of staging: %s %q, environment_url %q; want success with http://%s/",
				st.GetState(), st.GetDescription(), st.GetEnvironmentURL(), w.nodes[0])
		}
		for _, n := range w.nodes {
			if _, body := w.edge(n, "/"); !strings.Contains(body, "Spring prices") {
				t.Fatalf("after the purge edge %s served %q, want the new home page", n, body)
			}
			if _, body := w.edge(n, "/products/"); !strings.Contains(body, "Twin boosters") {
				t.Fatalf("edge %s /products/: %q", n, body)
			}
		}
		for i, g := range w.purges {
			if got := g.requests.Load() - purges0[i]; got != 1 {
				t.Errorf("node %d got %d purge requests, want 1", i, got)
			}
		}
		good = sha
	})
	if !ok {
		return
	}

	broken, shot := "", ""
	ok = t.Run("a build with a broken page stops at the smoke test", func(t *testing.T) {
		w.t = t
		bucket0 := w.bucketState()
		puts0, _, deletes0 := w.writes.Snapshot()
		var purges0 []int64
		for _, g := range w.purges {
			purges0 = append(purges0, g.requests.Load())
		}
		// Someone pasted a script into a description: it removes the
		// product list and throws.
		broken = w.runWorkflow(ds[1], map[string]string{"products/index.html": productsPage("Forged steel.",
			`Irresistible.<script>document.querySelector("main").remove(); throw new Error("catalogue script")</script>`)})
		run := w.smokeRun(broken)
		if run.GetConclusion() != "failure" {
			t.Fatalf("hoist/smoke on the broken build: %s (%s), want failure", run.GetConclusion(), run.GetOutput().GetTitle())
		}
		for _, img := range w.images(run) {
			if alt, _ := img["alt"].(string); strings.Contains(alt, "/products/") {
				shot, _ = img["image_url"].(string)
			}
		}
		if shot == "" {
			t.Fatalf("the check run shows no screenshot of /products/: %v", w.images(run))
		}
		res, err := http.Get(shot)
		if err != nil {
			t.Fatal(err)
		}
		var png bytes.Buffer
		png.ReadFrom(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/png" || !bytes.HasPrefix(png.Bytes(), []byte("\x89PNG\r\n\x1a\n")) {
			t.Fatalf("GET %s: %d %s, %d bytes; want a PNG", shot, res.StatusCode, res.Header.Get("Content-Type"), png.Len())
		}

		// The gate is evaluated when the check run completes: wait for
		// hoist's decision on the broken build, which must not promote it.
		w.waitAudit(broken)
		if head := w.staging(); head != good {
			t.Fatalf("staging moved to %.7s after a failed smoke test, want %.7s", head, good)
		}
		deps, _, err := w.alice.Repositories.ListDeployments(ctx, "acme", "site", &github.DeploymentsListOptions{SHA: broken})
		if err != nil || len(deps) != 0 {
			t.Fatalf("deployments of the broken build: %d (%v), want none", len(deps), err)
		}
		puts1, _, deletes1 := w.writes.Snapshot()
		if len(puts1) != len(puts0) || deletes1 != deletes0 {
			t.Fatalf("the broken build wrote %v and %d deletes to the bucket", puts1[len(puts0):], deletes1-deletes0)
		}
		if after := w.bucketState(); fmt.Sprint(after) != fmt.Sprint(bucket0) {
			t.Fatalf("the bucket changed:\nbefore %v\nafter  %v", bucket0, after)
		}
		for i, g := range w.purges {
			if got := g.requests.Load() - purges0[i]; got != 0 {
				t.Errorf("node %d got %d purge requests after the failed smoke test", i, got)
			}
		}
		for _, n := range w.nodes {
			if _, body := w.edge(n, "/products/"); !strings.Contains(body, "Twin boosters") {
				t.Fatalf("edge %s /products/ serves %q, want the good build's", n, body)
			}
		}
	})
	if !ok {
		return
	}

	// The dashboard is read once, at the end: it reuses what it read from
	// GitHub for 15 s.
	ok = t.Run("the dashboard shows staging deployed and the failed candidate with screenshots", func(t *testing.T) {
		w.t = t
		page := w.dashboard("/repos/acme/site")
		row := dashboardRow(t, page, `id="acme/site/staging"`)
		for _, want := range []string{good[:7], ">success<", `href="http://` + w.nodes[0] + `/"`, `<img src="` + w.url + `/artifacts/`} {
			if !strings.Contains(row, want) {
				t.Errorf("staging row lacks %q:\n%s", want, row)
			}
		}
		cand := dashboardRow(t, page, `<tr class="candidate">`)
		for _, want := range []string{"pre-staging", broken[:7], "not promoted yet", ">failure<", `<img src="` + html.EscapeString(shot) + `"`} {
			if !strings.Contains(cand, want) {
				t.Errorf("pre-staging row lacks %q:\n%s", want, cand)
			}
		}
	})
	if !ok {
		return
	}

	t.Run("a failed deploy says so on the deployment and is retried", func(t *testing.T) {
		w.t = t
		var purges0 []int64
		for _, g := range w.purges {
			purges0 = append(purges0, g.requests.Load())
		}
		w.writes.Refuse(true)
		sha := w.runWorkflow(ds[0], map[string]string{"index.html": strings.ReplaceAll(homePage, "Spring prices", "Summer prices")})
		if run := w.smokeRun(sha); run.GetConclusion() != "success" {
			t.Fatalf("hoist/smoke on the build: %s (%s)", run.GetConclusion(), run.GetOutput().GetTitle())
		}
		st := w.waitDeployment(sha)
		w.writes.Refuse(false)
		if st.GetState() != "failure" || !strings.Contains(st.GetDescription(), "attempt 1 of") || !strings.Contains(st.GetDescription(), "retrying") ||
			!strings.Contains(st.GetDescription(), "acme/site/staging/") || st.GetLogURL() == "" {
			t.Fatalf("deployment status %s %q (log %q): want failure saying where the write failed, that it is retried, and a log", st.GetState(), st.GetDescription(), st.GetLogURL())
		}
		// The description is cut to GitHub's 140 characters; the
		// hoist/deploy check run it links to has the bucket's answer and
		// the key that was refused.
		runs, _, err := w.alice.Checks.ListCheckRunsForRef(ctx, "acme", "site", sha, &github.ListCheckRunsOptions{CheckName: github.String("hoist/deploy")})
		if err != nil || len(runs.CheckRuns) == 0 {
			t.Fatalf("no hoist/deploy check run on %.7s (%v)", sha, err)
		}
		if out := runs.CheckRuns[0].GetOutput(); runs.CheckRuns[0].GetConclusion() != "failure" || !strings.Contains(out.GetSummary()+out.GetText(), "AccessDenied") ||
			!strings.Contains(out.GetSummary()+out.GetText(), "put acme/site/staging/") {
			t.Fatalf("hoist/deploy %s: %s\n%s\n%s", runs.CheckRuns[0].GetConclusion(), out.GetTitle(), out.GetSummary(), out.GetText())
		}
		for _, n := range w.nodes {
			if _, body := w.edge(n, "/"); !strings.Contains(body, "Spring prices") {
				t.Fatalf("after the failed deploy edge %s served %q, want the deployed build's page", n, body)
			}
		}
		if got := w.purges[0].requests.Load() - purges0[0]; got != 0 {
			t.Fatalf("the failed deploy sent %d purge requests", got)
		}
		// The bucket takes writes again: the retry deploys and purges.
		deadline := time.Now().Add(waitLimit)
		for st.GetState() != "success" {
			if time.Now().After(deadline) {
				t.Fatalf("the deploy was not retried: %s %q", st.GetState(), st.GetDescription())
			}
			time.Sleep(100 * time.Millisecond)
			st = w.waitDeployment(sha)
		}
		for _, n := range w.nodes {
			if _, body := w.edge(n, "/"); !strings.Contains(body, "Summer prices") {
				t.Fatalf("after the retried deploy edge %s served %q, want the new page", n, body)
			}
		}
	})

	t.Run("the metrics tell what happened", func(t *testing.T) {
		w.t = t
		body := w.metrics()
		// Three builds smoke-tested, one failed; three deploys to S3 (one
		// refused by the bucket and retried), each purging the one
		// Varnish CDN.
		atLeast := map[string]float64{
			`hoist_smoke_runs_total{outcome="success"}`:                               2,
			`hoist_smoke_runs_total{outcome="failure"}`:                               1,
			`hoist_deploys_total{outcome="success",target_type="s3"}`:                 2,
			`hoist_deploys_total{outcome="retrying",target_type="s3"}`:                1,
			`hoist_deploy_objects_total{operation="uploaded",target_type="s3"}`:       3,
			`hoist_deploy_duration_seconds_count{outcome="success",target_type="s3"}`: 2,
			`hoist_purges_total{cdn_type="varnish",outcome="success"}`:                2,
			`hoist_jobs_total{kind="hoist_publish",outcome="completed"}`:              2,
			`hoist_jobs_total{kind="hoist_publish",outcome="retried"}`:                1,
			`hoist_jobs_total{kind="github_delivery",outcome="completed"}`:            5,
			`hoist_deliveries_total{event="push",outcome="accepted",reason=""}`:       3,
			`hoist_github_requests_total{method="POST",status_class="2xx"}`:           5,
			`hoist_smoke_duration_seconds_count{outcome="success"}`:                   2,
		}
		for series, least := range atLeast {
			if v, ok := metricValue(body, series); !ok || v < least {
				t.Errorf("%s = %v (present %v), want at least %v", series, v, ok, least)
			}
		}
		for _, series := range []string{
			`hoist_job_queue_jobs{kind="hoist_publish",state="available"}`,
			`hoist_job_queue_oldest_age_seconds{kind="hoist_publish",state="running"}`,
			`hoist_job_queue_depth`,
		} {
			if _, ok := metricValue(body, series); !ok {
				t.Errorf("no %s in /metrics", series)
			}
		}
		if _, ok := metricValue(body, `hoist_smoke_runs_total{outcome="error"}`); ok {
			t.Error("a smoke run counted as an error")
		}
		// The budget gauge is what the emulator's headers last said for the
		// installation: GET /rate_limit costs nothing, and its headers
		// carry the installation's budget.
		c := w.gh.Client(w.gh.InstallationToken(w.inst))
		inst := strconv.FormatInt(w.inst, 10)
		var got, want float64
		for i := 0; i < 50; i++ {
			_, res, err := c.RateLimit.Get(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want = float64(res.Rate.Remaining)
			got, _ = metricValue(w.metrics(), `hoist_github_rate_limit_remaining{installation="`+inst+`",resource="core"}`)
			if got == want {
				break
			}
			time.Sleep(100 * time.Millisecond) // hoist was still at work
		}
		if got != want || want >= 15000 || want <= 0 {
			t.Errorf("budget gauge of installation %s = %v, the emulator says %v left of 15000", inst, got, want)
		}
		if v, _ := metricValue(body, `hoist_github_rate_limit_limit{installation="`+inst+`",resource="core"}`); v != 15000 {
			t.Errorf("limit gauge = %v, want the emulator's 15000", v)
		}
		for _, line := range strings.Split(body, "\n") {
			if strings.Contains(line, "acme") || strings.Contains(line, good) {
				t.Errorf("a repository or commit in a metric label: %s", line)
			}
		}
		t.Logf("/metrics: %d bytes, %d series", len(body), strings.Count(body, "\nhoist_"))
	})
}

// metrics is hoist's /metrics page.
func (w *world) metrics() string {
	w.t.Helper()
	res, err := http.Get(w.url + "/metrics")
	if err != nil {
		w.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		w.t.Fatalf("GET /metrics = %d", res.StatusCode)
	}
	return string(b)
}

// metricValue is the value of one series, named as the text format
// writes it (labels in alphabetical order).
func metricValue(body, series string) (float64, bool) {
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}

// isTime says whether a workflow input is an RFC 3339 time.
func isTime(v any) bool {
	s, _ := v.(string)
	_, err := time.Parse(time.RFC3339, s)
	return err == nil
}

// dashboard reads one of the dashboard's pages, signed in as alice.
func (w *world) dashboard(page string) string {
	w.t.Helper()
	res, err := w.gh.SignedInClient("alice").Get(w.url + page)
	if err != nil {
		w.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		w.t.Fatalf("GET %s = %d", page, res.StatusCode)
	}
	return string(b)
}

// dashboardRow is the table row of page that starts at the first marker.
func dashboardRow(t *testing.T, page, marker string) string {
	t.Helper()
	i := strings.Index(page, marker)
	if i < 0 {
		t.Fatalf("the dashboard has no %s:\n%s", marker, page)
	}
	row := page[i:]
	if j := strings.Index(row, "</tr>"); j >= 0 {
		row = row[:j]
	}
	return row
}

// waitAudit waits for the promotion decision hoist records on sha in
// staging, which must be a refusal for the failed smoke gate.
func (w *world) waitAudit(sha string) {
	w.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for time.Now().Before(deadline) {
		entries, err := w.srv.Store().AuditLog(context.Background(), "acme/site", 200)
		if err != nil {
			w.t.Fatal(err)
		}
		for _, e := range entries {
			if e.Action == "promote" && e.Env == "staging" && e.SHA == sha {
				if e.Outcome != "refuse" || !strings.Contains(fmt.Sprint(e.Detail["reasons"]), "smoke failed") {
					w.t.Fatalf("hoist's decision on %.7s: %s %v, want refuse because the smoke gate failed", sha, e.Outcome, e.Detail["reasons"])
				}
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	w.t.Fatalf("hoist recorded no promotion decision on %.7s within %s", sha, waitLimit)
}
