package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/emulator/emulatortest"
	"github.com/hoist-dev/hoist/examples/varnish"
	"github.com/hoist-dev/hoist/internal/deploy"
	"github.com/hoist-dev/hoist/internal/generate"
	"github.com/hoist-dev/hoist/internal/hoisttest"
	"github.com/hoist-dev/hoist/internal/purge"
	"github.com/hoist-dev/hoist/internal/server"
	"github.com/hoist-dev/hoist/internal/servetest"
	"github.com/hoist-dev/hoist/internal/testenv"
)

const (
	// triggerSecret signs acme/site's POST /api/generate requests.
	triggerSecret = "acme-site-trigger-secret"
	bucket        = "site"
	// debounce is acme/site's generate.debounce: a burst of 50 signed
	// requests takes some tens of milliseconds, far inside it.
	debounce  = time.Second
	waitLimit = 90 * time.Second
)

// repoConfig is acme/site's .github/hoist.yml: a generated site is pushed
// to pre-staging, smoke-tested, then promoted to staging, which is
// deployed to the S3 target's acme/site/staging/ folder and purged on the edge.
func repoConfig(siteURL string) string {
	return fmt.Sprintf(`version: 1
site: { root: public }
environments:
  staging: { branch: staging, auto: true, gates: { smoke: true },
             deploy: { target: site, prefix: staging/, url: %q },
             purge: [ { cdn: edge } ] }
candidates:
  - { from: pre-staging, to: staging }
smoke:
  viewports: [ { name: desktop, width: 1280, height: 800 } ]
  pages:
    - { path: /, expect_text: "Acme Shop" }
    - { path: /products/, expect_selector: ".product" }
    - { path: /about/, expect_text: "About" }
generate: { dispatch_type: content-changed, workflow: build-site.yml, debounce: %s }
`, siteURL, debounce)
}

// world is the emulator with acme/site, hoist from app.New on SQLite,
// versitygw behind a counting proxy, and two Varnish nodes in front of an
// origin that serves the bucket's acme/site/staging/ folder.
type world struct {
	t     *testing.T
	gh    *emulatortest.Harness
	srv   *server.Server
	url   string
	inst  int64
	alice *github.Client
	work  string

	s3      *s3.Client // direct, not counted
	writes  *testenv.S3Writes
	nodes   []string // Varnish nodes, host:port
	origin  string   // host:port
	purges  []*purgeGate
	initial string
}

func start(t *testing.T) *world {
	t.Helper()
	chromium := testenv.Chromium(t)
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	ctx := context.Background()
	endpoint, key, secret := testenv.VersityGW(t)
	counted := testenv.CountS3Writes(t, endpoint)
	proxy := counted.URL
	direct, err := deploy.NewS3Target(ctx, deploy.TargetConfig{Type: "s3", Bucket: bucket, Endpoint: endpoint, PathStyle: true,
		AccessKeyID: key, SecretAccessKey: secret}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := direct.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	origin := bucketOrigin(t, direct.Client(), "acme/site/staging/")
	vcl := filepath.Join(t.TempDir(), "hoist.vcl")
	if err := os.WriteFile(vcl, varnish.VCL, 0o644); err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, s3: direct.Client(), writes: counted, origin: origin}
	var cdnNodes []string
	for i := 0; i < 2; i++ {
		node := testenv.Varnish(t, vcl, origin)
		g := newPurgeGate(t, node)
		w.nodes = append(w.nodes, node)
		w.purges = append(w.purges, g)
		cdnNodes = append(cdnNodes, strconv.Quote(g.url))
	}

	ln, hoistURL := servetest.Listen(t)
	ws := hoisttest.Start(t, hoisttest.Spec{App: emulator.AppSpec{WebhookURL: hoistURL + server.WebhookPath}, Repos: []string{"site"}})
	gh, app, aliceToken, inst := ws.GH, ws.App, ws.UserToken, ws.InstallationID

	dir := t.TempDir()
	serverYAML := fmt.Sprintf(`generate:
  repositories:
    acme/site: { secret: %q }
targets:
  site: { type: s3, bucket: %s, endpoint: %q, path_style: true, access_key_id: %q, secret_access_key: "${S3_SECRET}", repos: [acme/site] }
cdns:
  edge: { type: varnish, nodes: [ %s ], repos: [acme/site] }
`, triggerSecret, bucket, proxy, key, strings.Join(cdnNodes, ", "))
	srv := servetest.Start(t, servetest.Spec{GitHub: gh, App: app, Listener: ln, ServerYAML: serverYAML, Dashboard: true,
		Env: map[string]string{"HOIST_CHROMIUM": chromium, "S3_SECRET": secret}})
	w.gh, w.srv, w.url, w.inst = gh, srv, hoistURL, inst
	w.alice = gh.Client(aliceToken)
	w.work = filepath.Join(dir, "work")

	// main and staging start at a "coming soon" site with the
	// configuration; staging's first publication deploys it.
	w.git("", "clone", "-q", gh.GitURL("acme/site", aliceToken), w.work)
	w.git(w.work, "config", "user.email", "alice@example.com")
	w.git(w.work, "config", "user.name", "Alice")
	w.write(".github/hoist.yml", repoConfig("http://"+w.nodes[0]+"/"))
	w.write(".github/workflows/build-site.yml", generate.DispatchTrigger)
	w.write("public/index.html", comingSoon)
	w.write("public/about/index.html", aboutPage)
	w.write("public/css/site.css", siteCSS)
	w.git(w.work, "add", "-A")
	w.git(w.work, "commit", "-q", "-m", "Configure hoist; coming soon")
	w.initial = w.git(w.work, "rev-parse", "HEAD")
	for _, b := range []string{"main", "staging"} {
		w.git(w.work, "push", "-q", "origin", "HEAD:"+b)
	}
	if st := w.waitDeployment(w.initial); st.GetState() != "success" {
		t.Fatalf("first deployment of staging: %s %s", st.GetState(), st.GetDescription())
	}
	return w
}

func (w *world) git(dir string, args ...string) string {
	w.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		w.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func (w *world) write(name, content string) {
	w.t.Helper()
	p := filepath.Join(w.work, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

// trigger sends acme/site's signed generation request.
func (w *world) trigger(body []byte) (int, generate.Response, error) {
	req, err := http.NewRequest(http.MethodPost, w.url+generate.Path+"acme/site", bytes.NewReader(body))
	if err != nil {
		return 0, generate.Response{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	generate.Sign(req, triggerSecret, body, time.Now())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, generate.Response{}, err
	}
	defer res.Body.Close()
	var out generate.Response
	raw, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		return res.StatusCode, out, fmt.Errorf("answer %d is not JSON: %q", res.StatusCode, raw)
	}
	return res.StatusCode, out, nil
}

// waitDispatches waits until the emulator has recorded n workflow
// dispatches, then for longer than hoist's job scheduler takes to run a
// due job, so that a surplus dispatch would be seen.
func (w *world) waitDispatches(n int) []emulator.WorkflowDispatch {
	w.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for len(w.gh.WorkflowDispatches()) < n {
		if time.Now().After(deadline) {
			w.t.Fatalf("%d workflow dispatches after %s, want %d", len(w.gh.WorkflowDispatches()), waitLimit, n)
		}
		time.Sleep(25 * time.Millisecond)
	}
	time.Sleep(debounce + 2*time.Second)
	return w.gh.WorkflowDispatches()
}

// runWorkflow plays the dispatched build-site.yml, which the emulator
// records without running: check out the environment's branch, generate
// the site into public/, commit, force-push to pre-<environment>.
func (w *world) runWorkflow(d emulator.WorkflowDispatch, pages map[string]string) string {
	w.t.Helper()
	env, _ := d.Inputs["environment"].(string)
	if d.Workflow != "build-site.yml" || env == "" {
		w.t.Fatalf("dispatch %+v: want build-site.yml with an environment", d)
	}
	w.git(w.work, "fetch", "-q", "origin")
	w.git(w.work, "checkout", "-q", "-B", "pre-"+env, "origin/"+env)
	for name, content := range pages {
		w.write("public/"+name, content)
	}
	w.git(w.work, "add", "-A")
	reason, _ := d.Inputs["reason"].(string)
	w.git(w.work, "commit", "-q", "-m", "Build: "+reason)
	sha := w.git(w.work, "rev-parse", "HEAD")
	// Each build replaces the candidate: after a failed one, pre-<env> is
	// not behind <env>, so the push is forced.
	w.git(w.work, "push", "-q", "--force", "origin", "HEAD:pre-"+env)
	return sha
}

// smokeRun waits for hoist/smoke on sha to complete.
func (w *world) smokeRun(sha string) *github.CheckRun {
	w.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for time.Now().Before(deadline) {
		res, _, err := w.alice.Checks.ListCheckRunsForRef(context.Background(), "acme", "site", sha,
			&github.ListCheckRunsOptions{CheckName: github.String("hoist/smoke")})
		if err != nil {
			w.t.Fatal(err)
		}
		if len(res.CheckRuns) > 0 && res.CheckRuns[0].GetStatus() == "completed" {
			return res.CheckRuns[0]
		}
		time.Sleep(50 * time.Millisecond)
	}
	w.t.Fatalf("hoist/smoke on %.7s did not complete within %s", sha, waitLimit)
	return nil
}

// images are the screenshots a check run shows on GitHub, which the REST
// answer leaves out.
func (w *world) images(run *github.CheckRun) []map[string]any {
	w.t.Helper()
	st, ok := w.gh.CheckRunState(run.GetID())
	if !ok {
		w.t.Fatalf("the emulator has no check run %d", run.GetID())
	}
	return st.Output.Images
}

func (w *world) staging() string {
	w.t.Helper()
	ref, _, err := w.alice.Git.GetRef(context.Background(), "acme", "site", "heads/staging")
	if err != nil {
		w.t.Fatal(err)
	}
	return ref.GetObject().GetSHA()
}

// waitDeployment waits for the deployment of sha to staging to reach a
// final state and returns its newest status.
func (w *world) waitDeployment(sha string) *github.DeploymentStatus {
	w.t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(waitLimit)
	for time.Now().Before(deadline) {
		deps, _, err := w.alice.Repositories.ListDeployments(ctx, "acme", "site", &github.DeploymentsListOptions{Environment: "staging", SHA: sha})
		if err != nil {
			w.t.Fatal(err)
		}
		if len(deps) > 0 {
			sts, _, err := w.alice.Repositories.ListDeploymentStatuses(ctx, "acme", "site", deps[0].GetID(), nil)
			if err != nil {
				w.t.Fatal(err)
			}
			if len(sts) > 0 {
				switch sts[0].GetState() {
				case "success", "failure", "error":
					return sts[0]
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	w.t.Fatalf("no finished deployment of %.7s to staging within %s", sha, waitLimit)
	return nil
}

// bucketState is every object of the bucket with its ETag.
func (w *world) bucketState() map[string]string {
	w.t.Helper()
	out := map[string]string{}
	p := s3.NewListObjectsV2Paginator(w.s3, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			w.t.Fatal(err)
		}
		for _, o := range page.Contents {
			out[aws.ToString(o.Key)] = aws.ToString(o.ETag)
		}
	}
	return out
}

// edge fetches a page from a Varnish node.
func (w *world) edge(node, p string) (int, string) {
	w.t.Helper()
	return fetch(w.t, "http://"+node+p)
}

func fetch(t *testing.T, u string) (int, string) {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res.StatusCode, string(b)
}

// bucketOrigin serves the bucket's prefix folder at the root of a site, as
// an S3 website endpoint with an origin path does: dir/ is dir/index.html,
// and the object's surrogate keys travel in x-amz-meta-surrogate-key,
// which the shipped VCL indexes. Pages are cacheable for an hour, so only
// a purge refreshes the edge.
func bucketOrigin(t *testing.T, client *s3.Client, prefix string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := purge.SitePath(r.URL.Path)
		if strings.HasPrefix(p, ".hoist/") {
			http.NotFound(w, r)
			return
		}
		out, err := client.GetObject(r.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(prefix + p)})
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer out.Body.Close()
		w.Header().Set("Content-Type", aws.ToString(out.ContentType))
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("x-amz-meta-"+deploy.MetaSurrogateKey, out.Metadata[deploy.MetaSurrogateKey])
		io.Copy(w, out.Body)
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// purgeGate is a proxy in front of one Varnish node's purge endpoint, the
// address hoist is configured with: it counts the purge requests and can
// hold them, so a test sees the edge between the deploy and the purge.
type purgeGate struct {
	url      string
	requests atomic.Int64
	mu       sync.Mutex
	held     chan struct{} // nil: requests pass
	waiting  chan struct{}
}

func newPurgeGate(t *testing.T, node string) *purgeGate {
	g := &purgeGate{waiting: make(chan struct{}, 100)}
	target, _ := url.Parse("http://" + node)
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.requests.Add(1)
		g.mu.Lock()
		held := g.held
		g.mu.Unlock()
		if held != nil {
			g.waiting <- struct{}{}
			select {
			case <-held:
			case <-r.Context().Done():
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { g.open(); srv.Close() })
	g.url = srv.URL
	return g
}

func (g *purgeGate) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held == nil {
		g.held = make(chan struct{})
	}
}

func (g *purgeGate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held != nil {
		close(g.held)
		g.held = nil
	}
}

// The generated site: the shop's pages rendered from its catalogue.
const (
	comingSoon = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Acme Shop</title><link rel="icon" href="data:,"></head>
<body><h1>Acme Shop</h1><p>Coming soon.</p></body></html>
`
	aboutPage = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>About · Acme Shop</title>
<link rel="stylesheet" href="/css/site.css"><link rel="icon" href="data:,"></head>
<body><h1>About Acme Shop</h1><p>Fine goods since 1949.</p></body></html>
`
	siteCSS  = "body { font-family: sans-serif; margin: 2rem; }\n.product { padding: .5rem 0; }\n"
	homePage = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Acme Shop</title>
<link rel="stylesheet" href="/css/site.css"><link rel="icon" href="data:,"></head>
<body><h1>Acme Shop</h1><nav><a href="/products/">Products</a> <a href="/about/">About</a></nav>
<main><p>Spring prices: 2 products.</p></main></body></html>
`
)

// productsPage renders the catalogue; a description is rich text from the
// back office, inserted as HTML, which is how data breaks a page.
func productsPage(descriptions ...string) string {
	var b strings.Builder
	b.WriteString(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Products · Acme Shop</title>
<link rel="stylesheet" href="/css/site.css"><link rel="icon" href="data:,"></head>
<body><h1>Products</h1><main><ul>
`)
	for i, d := range descriptions {
		fmt.Fprintf(&b, "<li class=\"product\"><strong>Product %d</strong> %s</li>\n", i+1, d)
	}
	b.WriteString("</ul></main></body></html>\n")
	return b.String()
}
