package fleet_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/deploy"
	"github.com/hoist-dev/hoist/internal/fleet/rollout"
	"github.com/hoist-dev/hoist/internal/sitetest"
	"github.com/hoist-dev/hoist/internal/testenv"
	hoistworld "github.com/hoist-dev/hoist/internal/world"
)

// Helpers of this package's tests only.

const (
	opsToken   = "ops-token-0123456789abcdef"
	otherToken = "other-token-0123456789abcdef"
	cfToken    = "cf-token-0123456789"
	cfZone     = "023e105f4ecef8ad9ca31a8372d0c353"
)

// fleetYML is a fleet of a 20-page site: both stages smoke-tested in
// Chromium, purged on the "edge" CDN, with hostnames.
const fleetYML = `version: 1
site: { root: public }
fleet:
  release: { branch: main }
  target: instances
  staging:    { host: "stg-{name}.example.com", gates: { smoke: true }, purge: [ { cdn: edge } ] }
  production: { host: "{name}.example.com", gates: { smoke: true }, purge: [ { cdn: edge } ] }
  settings:
    schema:
      required: [colour]
      properties:
        colour: { type: string, pattern: "^#[0-9a-f]{6}$" }
        contact: { type: string, default: "help@example.com" }
        features: { type: object, properties: { chat: { type: boolean, default: false } } }
smoke:
  pages: [ %s ]
`

// sitePages is a 20-page site and its smoke pages.
func sitePages() (map[string]string, string) {
	files := map[string]string{"public/index.html": `<!doctype html><title>Shop</title><h1>Shop</h1><script>fetch("/hoist-settings.json")</script>`}
	pages := []string{`{ path: /, expect_text: "Shop" }`}
	for i := 1; i < 20; i++ {
		files[fmt.Sprintf("public/p%d/index.html", i)] = fmt.Sprintf(`<!doctype html><title>Page %d</title><h1>Page %d</h1><a href="/">Home</a>`, i, i)
		pages = append(pages, fmt.Sprintf(`{ path: /p%d/, expect_text: "Page %d" }`, i, i))
	}
	return files, strings.Join(pages, ", ")
}

// cloudflare is a stand-in of Cloudflare's DNS records API held to its
// documented shapes: Bearer auth, the v4 envelope {success, errors,
// messages, result}, list filtered by type and name, create with type,
// name, content, ttl and proxied. hold, when set, keeps the answer of the
// first create (after the record was made) until the caller gives up, as a
// server stopping mid-request sees it.
type cloudflare struct {
	t       testing.TB
	mu      sync.Mutex
	records map[string]map[string]any // id → record
	creates []string                  // names created, in order
	calls   int
	hold    bool
	held    chan struct{}
	srv     *httptest.Server
}

func newCloudflare(t testing.TB) *cloudflare {
	c := &cloudflare{t: t, records: map[string]map[string]any{}, held: make(chan struct{}, 1)}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *cloudflare) answer(w http.ResponseWriter, status int, result any, errs ...string) {
	var list []map[string]any
	for _, e := range errs {
		list = append(list, map[string]any{"code": 1000, "message": e})
	}
	if list == nil {
		list = []map[string]any{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"success": len(errs) == 0, "errors": list, "messages": []any{}, "result": result})
}

func (c *cloudflare) serve(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+cfToken {
		c.answer(w, http.StatusForbidden, nil, "Invalid request headers")
		return
	}
	base := "/zones/" + cfZone + "/dns_records"
	switch {
	case r.Method == http.MethodGet && r.URL.Path == base:
		c.mu.Lock()
		var out []map[string]any
		for _, rec := range c.records {
			if (r.URL.Query().Get("type") == "" || rec["type"] == r.URL.Query().Get("type")) &&
				(r.URL.Query().Get("name") == "" || rec["name"] == r.URL.Query().Get("name")) {
				out = append(out, rec)
			}
		}
		c.mu.Unlock()
		if out == nil {
			out = []map[string]any{}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"success": true, "errors": []any{}, "messages": []any{}, "result": out,
			"result_info": map[string]any{"page": 1, "per_page": 100, "count": len(out), "total_count": len(out)}})
	case r.Method == http.MethodPost && r.URL.Path == base:
		if r.Header.Get("Content-Type") != "application/json" {
			c.answer(w, http.StatusBadRequest, nil, "Content-Type must be application/json")
			return
		}
		var rec map[string]any
		if err := json.NewDecoder(r.Body).Decode(&rec); err != nil {
			c.answer(w, http.StatusBadRequest, nil, "bad JSON")
			return
		}
		name, _ := rec["name"].(string)
		content, _ := rec["content"].(string)
		ttl, _ := rec["ttl"].(float64)
		if rec["type"] != "CNAME" || name == "" || content == "" || (ttl != 1 && (ttl < 60 || ttl > 86400)) {
			c.answer(w, http.StatusBadRequest, nil, "DNS Validation Error")
			return
		}
		c.mu.Lock()
		for _, old := range c.records {
			if old["name"] == name {
				c.mu.Unlock()
				c.answer(w, http.StatusBadRequest, nil, "An A, AAAA, or CNAME record with that host already exists.")
				return
			}
		}
		id := fmt.Sprintf("%032x", len(c.records)+1)
		rec["id"], rec["zone_id"] = id, cfZone
		c.records[id] = rec
		c.creates = append(c.creates, name)
		hold := c.hold
		c.hold = false
		c.mu.Unlock()
		if hold {
			c.held <- struct{}{}
			<-r.Context().Done()
			return
		}
		c.answer(w, http.StatusOK, rec)
	case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, base+"/"):
		id := strings.TrimPrefix(r.URL.Path, base+"/")
		c.mu.Lock()
		_, ok := c.records[id]
		delete(c.records, id)
		c.mu.Unlock()
		if !ok {
			c.answer(w, http.StatusNotFound, nil, "Record does not exist.")
			return
		}
		c.answer(w, http.StatusOK, map[string]any{"id": id})
	default:
		c.answer(w, http.StatusNotFound, nil, "no route")
	}
}

func (c *cloudflare) created() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.creates...)
}

// edge is a stand-in Varnish node: it answers every purge and records it.
type edge struct {
	mu       sync.Mutex
	requests []string // method and xkey / path of each request
	srv      *httptest.Server
}

func newEdge(t testing.TB) *edge {
	e := &edge{}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.requests = append(e.requests, r.Method+" "+r.URL.Path+" xkey="+r.Header.Get("xkey")+r.Header.Get("xkey-purge"))
		e.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *edge) seen() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.requests...)
}

// world is a fleet site: acme/site with fleetYML, acme/other without a
// fleet, an S3 server counting writes, the Cloudflare and edge stand-ins.
type world struct {
	*sitetest.Site
	bucket *s3.Client
	writes *testenv.S3Writes
	cf     *cloudflare
	edge   *edge
}

func startFleet(t *testing.T, tweaks ...func(*serverconfig.Server)) *world {
	return startFleetWith(t, false, tweaks...)
}

func startFleetWith(t *testing.T, dashboard bool, tweaks ...func(*serverconfig.Server)) *world {
	t.Helper()
	files, pages := sitePages()
	return startFleetSpec(t, fleetSpec{repoYML: fmt.Sprintf(fleetYML, pages), files: files, dashboard: dashboard, tweaks: tweaks})
}

// fleetSpec is a fleet world's repository and server: the template and
// site files of acme/site, HOIST_* settings (a PostgreSQL database) and
// changes to the server configuration.
type fleetSpec struct {
	repoYML   string
	files     map[string]string
	env       map[string]string
	dashboard bool
	tweaks    []func(*serverconfig.Server)
}

func startFleetSpec(t *testing.T, spec fleetSpec) *world {
	t.Helper()
	endpoint, key, secret := testenv.VersityGW(t)
	counted := testenv.CountS3Writes(t, endpoint)
	ctx := context.Background()
	direct, err := deploy.NewS3Target(ctx, deploy.TargetConfig{Type: "s3", Bucket: "fleet", Endpoint: endpoint, PathStyle: true, AccessKeyID: key, SecretAccessKey: secret}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := direct.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("fleet")}); err != nil {
		t.Fatal(err)
	}
	cf := newCloudflare(t)
	ed := newEdge(t)
	// The job poll and GitHub write pace are those servetest.Tune gives
	// hoist in process, written out for a hoist serve started as a process
	// of its own on this file.
	serverYAML := fmt.Sprintf(`targets:
  instances: { type: s3, bucket: fleet, endpoint: %q, path_style: true, access_key_id: %q, secret_access_key: "${S3_SECRET}", repos: [acme] }
cdns:
  edge: { type: varnish, nodes: [ %q ], repos: [acme/site] }
fleet:
  tokens:
    - { name: ops, token: %q, repos: [acme/site, acme/other] }
    - { name: elsewhere, token: %q, repos: [acme/third] }
  dns: { api_url: %q, token: %q, zone_id: %q, target: edge.example.net, proxied: true }
jobs: { poll_interval: 50ms }
github: { write_interval: 50ms, writes_per_minute: 1220 }
`, counted.URL, key, ed.srv.URL, opsToken, otherToken, cf.srv.URL, cfToken, cfZone)
	env := map[string]string{"S3_SECRET": secret, "HOIST_CHROMIUM": testenv.Chromium(t)}
	for k, v := range spec.env {
		env[k] = v
	}
	site := sitetest.StartSite(t, sitetest.SiteSpec{ServerYAML: serverYAML, RepoYML: spec.repoYML,
		Env: env, Files: spec.files, Branches: []string{"main"}, Repos: []string{"other"}, Tweaks: spec.tweaks, Dashboard: spec.dashboard})
	return &world{Site: site, bucket: direct.Client(), writes: counted, cf: cf, edge: ed}
}

// call sends a fleet API request and decodes the JSON answer.
func (w *world) call(method, path, token string, body any) (int, map[string]any) {
	w.T.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, w.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		w.T.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

// object reads an object of the bucket, or "" when absent.
func (w *world) object(key string) string {
	w.T.Helper()
	out, err := w.bucket.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("fleet"), Key: aws.String(key)})
	if err != nil {
		return ""
	}
	defer out.Body.Close()
	b, _ := io.ReadAll(out.Body)
	return string(b)
}

// waitState waits until the instance is in state and returns its view.
func (w *world) waitState(name, state string, within time.Duration) map[string]any {
	w.T.Helper()
	deadline := time.Now().Add(within)
	var last map[string]any
	for time.Now().Before(deadline) {
		_, last = w.call("GET", "/api/fleets/acme/site/instances/"+name, opsToken, nil)
		if last["state"] == state {
			return last
		}
		if last["state"] == "failed" {
			w.T.Fatalf("instance %s failed: %v", name, last["reason"])
		}
		time.Sleep(50 * time.Millisecond)
	}
	w.T.Fatalf("instance %s not %s within %s: %v", name, state, within, last)
	return nil
}

// rolloutYML is a fleet of a one-page site whose stages are both
// smoke-tested in Chromium, with rollout as the template's fleet.rollout.
func rolloutYML(rollout string) string {
	return `version: 1
site: { root: public }
fleet:
  release: { branch: main }
  target: instances
  staging:    { host: "stg-{name}.example.com", gates: { smoke: true }, purge: [ { cdn: edge } ] }
  production: { host: "{name}.example.com", gates: { smoke: true }, purge: [ { cdn: edge } ] }
  settings:
    schema:
      required: [colour]
      properties:
        colour: { type: string, pattern: "^#[0-9a-f]{6}$" }
  rollout: { ` + rollout + ` }
smoke:
  pages: [ { path: /, expect_text: "Shop" } ]
`
}

// rolloutSpec is a fleet world on the one-page site of rolloutPage.
func rolloutSpec(repoYML string) fleetSpec {
	return fleetSpec{repoYML: repoYML, files: map[string]string{"public/index.html": rolloutPage("Release 1")}}
}

// rolloutPage is the site's page: it paints the instance's colour from
// its settings file.
func rolloutPage(version string) string {
	return `<!doctype html><html><head><title>Shop</title></head><body><h1>Shop</h1><p>` + version + `</p>
<script>fetch("/hoist-settings.json").then(r => r.json()).then(s => { document.body.style.background = s.colour; });</script>
</body></html>`
}

// colourOf is the colour an instance is launched with.
func colourOf(name string) string {
	return fmt.Sprintf("#%06x", 0x102030+len(name)*0x010101+int(name[0]))
}

// launchAll launches the instances through the API at once and waits
// until every one is live.
func (w *world) launchAll(names ...string) {
	w.T.Helper()
	for _, n := range names {
		code, out := w.call("POST", "/api/fleets/acme/site/instances", opsToken,
			map[string]any{"name": n, "plan": "paid", "settings": map[string]any{"colour": colourOf(n)}})
		if code != 202 {
			w.T.Fatalf("launch %s: %d %v", n, code, out)
		}
	}
	for _, n := range names {
		w.waitState(n, "live", 90*time.Second)
	}
}

// until polls cond until it holds, failing the test with its last
// explanation after timeout.
func (w *world) until(timeout time.Duration, cond func() (bool, string)) {
	w.T.Helper()
	sitetest.Eventually(w.T, timeout, cond)
}

// rolloutOf waits for the rollout of sha to reach state and returns it
// with its instances by name.
func (w *world) rolloutOf(sha string, state rollout.RolloutState) (rollout.Rollout, map[string]rollout.Instance) {
	w.T.Helper()
	var r rollout.Rollout
	var insts []rollout.Instance
	w.until(90*time.Second, func() (bool, string) {
		var err error
		if r, err = w.Caps.Rollouts.Find(context.Background(), "acme/site", sha); err != nil {
			return false, err.Error()
		}
		if r, insts, err = w.Caps.Rollouts.Rollout(context.Background(), r.ID); err != nil {
			return false, err.Error()
		}
		return r.State == state, fmt.Sprintf("rollout %d is %s (%s), want %s", r.ID, r.State, r.Reason, state)
	})
	out := map[string]rollout.Instance{}
	for _, i := range insts {
		out[i.Name] = i
	}
	return r, out
}

// fleetRun waits for the newest hoist/fleet check run on sha to be
// completed with conclusion.
func (w *world) fleetRun(sha, conclusion string) *github.CheckRun {
	w.T.Helper()
	var run *github.CheckRun
	w.until(2*time.Minute, func() (bool, string) {
		runs, _, err := w.Alice.Checks.ListCheckRunsForRef(context.Background(), "acme", "site", sha,
			&github.ListCheckRunsOptions{CheckName: github.String(rollout.CheckName)})
		if err != nil {
			return false, err.Error()
		}
		if len(runs.CheckRuns) == 0 {
			return false, "no " + rollout.CheckName + " check run"
		}
		run = runs.CheckRuns[0]
		for _, r := range runs.CheckRuns {
			if r.GetID() > run.GetID() {
				run = r
			}
		}
		return run.GetStatus() == "completed" && run.GetConclusion() == conclusion,
			fmt.Sprintf("%s is %s/%s, want completed/%s: %s\n%s", rollout.CheckName, run.GetStatus(), run.GetConclusion(), conclusion,
				run.GetOutput().GetTitle(), run.GetOutput().GetSummary())
	})
	return run
}

// refMoves are the pushes GitHub sent for branches moving to sha, by
// branch: the ids of their deliveries, in order.
func (w *world) refMoves(sha string) map[string][]int64 {
	w.T.Helper()
	out := map[string][]int64{}
	for _, d := range w.GH.Deliveries() {
		// A redelivery (asked for by hoist after a delivery it missed
		// while stopped) repeats a move; it is not a second one.
		if d.Event != "push" || d.Redelivery {
			continue
		}
		var p struct{ Ref, Before, After string }
		if err := json.Unmarshal(d.Payload, &p); err != nil {
			w.T.Fatalf("push delivery %d: %v", d.ID, err)
		}
		if p.After == sha && p.Before != p.After && strings.HasPrefix(p.Ref, "refs/heads/") {
			b := strings.TrimPrefix(p.Ref, "refs/heads/")
			out[b] = append(out[b], d.ID)
		}
	}
	return out
}

// get fetches url and returns the body of a 200 answer, or the status.
func get(t testing.TB, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return resp.Status
	}
	return string(b)
}

// buildHoist builds the hoist binary for the test.
func buildHoist(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hoist")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/hoist")
	cmd.Dir = testenv.RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// serveProcess is `hoist serve` running as a process of its own, in a
// process group of its own so that its browsers go with it.
type serveProcess struct {
	t      testing.TB
	cmd    *exec.Cmd
	done   chan struct{}
	output *bytes.Buffer
	mu     *sync.Mutex
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// startServe runs bin serve on the configuration file and settings (as
// sitetest's Settings gives them) and waits until it is ready. Its log is
// shown when the test fails.
func startServe(t testing.TB, bin, file string, env map[string]string) *serveProcess {
	t.Helper()
	p := &serveProcess{t: t, done: make(chan struct{}), output: &bytes.Buffer{}, mu: &sync.Mutex{}}
	p.cmd = exec.Command(bin, "serve", "--config", file)
	p.cmd.Env = os.Environ()
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = lockedWriter{p.mu, p.output}, lockedWriter{p.mu, p.output}
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			p.mu.Lock()
			t.Logf("hoist serve (pid %d) said:\n%s", p.cmd.Process.Pid, p.output.String())
			p.mu.Unlock()
		}
	})
	if err := hoistworld.WaitReady(env["HOIST_PUBLIC_URL"], 60*time.Second); err != nil {
		p.mu.Lock()
		defer p.mu.Unlock()
		t.Fatalf("hoist serve: %v\n%s", err, p.output.String())
	}
	return p
}

// kill sends SIGKILL to the process and its children, and waits.
func (p *serveProcess) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// stop asks the process to stop (SIGTERM) and waits, killing it after 30 s.
func (p *serveProcess) stop() {
	_ = syscall.Kill(p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.t.Errorf("hoist serve did not stop within 30s of SIGTERM")
		p.kill()
	}
}
