package verify_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/emulator"
	hoistapp "github.com/hoist-dev/hoist/internal/app"
	"github.com/hoist-dev/hoist/internal/deploy"
	"github.com/hoist-dev/hoist/internal/purge"
	"github.com/hoist-dev/hoist/internal/sitetest"
	"github.com/hoist-dev/hoist/internal/testenv"
	"github.com/hoist-dev/hoist/internal/verify"
)

// Helpers of this package's tests only; the test world is sitetest.Site.

// alerts records what hoist alerted.
type alerts struct {
	mu   sync.Mutex
	list []verify.Alert
}

func (a *alerts) Alert(_ context.Context, x verify.Alert) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.list = append(a.list, x)
	return nil
}

func (a *alerts) kinds() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, x := range a.list {
		out = append(out, x.Kind)
	}
	return out
}

// outcomes records what verification counted.
type outcomes struct {
	mu   sync.Mutex
	list []string
}

func (o *outcomes) Record(_ context.Context, repo, env, kind string, ok bool, sha string, _ time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.list = append(o.list, fmt.Sprintf("%s %s %s %v %s", repo, env, kind, ok, sha[:7]))
	return nil
}

func (o *outcomes) all() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.list...)
}

// edge is a Varnish node in front of an origin that serves the staging
// edition of the bucket at the site's root, as an S3 website endpoint with
// an origin path would; pages are cached for an hour and purged by hoist.
type edge struct {
	addr string
}

func (e edge) get(t *testing.T, p string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + e.addr + p)
	if err != nil {
		t.Fatalf("GET %s: %v", p, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// world is acme/site with staging deployed to versitygw behind Varnish,
// verified at the Varnish address with automatic rollback.
type world struct {
	*sitetest.Site
	edge     edge
	alerts   *alerts
	outcomes *outcomes
}

const goodPage = `<!doctype html><title>Shop</title><h1>Shop</h1><ul><li class="product">Tea</li></ul>`

func startWorld(t *testing.T, beforeMove func(w *world)) *world {
	return startWorldWith(t, beforeMove, nil)
}

// startWorldWith is startWorld with an observer of the emulator's answers.
func startWorldWith(t *testing.T, beforeMove func(w *world), observe func(method, path string, status int)) *world {
	t.Helper()
	return startWorldVerifying(t, beforeMove, observe, "")
}

// startWorldVerifying is startWorldWith with verify.url set to verifyURL
// (empty: the edge, as deploy.url).
func startWorldVerifying(t *testing.T, beforeMove func(w *world), observe func(method, path string, status int), verifyURL string) *world {
	t.Helper()
	if !testenv.HaveVarnish() {
		t.Skip("varnishd not installed")
	}
	endpoint, key, secret := testenv.VersityGW(t)
	ctx := context.Background()
	tc := deploy.TargetConfig{Type: "s3", Bucket: "site", Endpoint: endpoint, PathStyle: true, AccessKeyID: key, SecretAccessKey: secret}
	direct, err := deploy.NewS3Target(ctx, tc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := direct.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("site")}); err != nil {
		t.Fatal(err)
	}
	client := direct.Client()
	origin := sitetest.BucketOrigin(t, client, "site", "acme/site/staging/")
	_, file, _, _ := runtime.Caller(0)
	node := testenv.Varnish(t, filepath.Join(filepath.Dir(file), "..", "..", "examples", "varnish", "hoist.vcl"), origin)

	serverYAML := fmt.Sprintf(`targets:
  site: { type: s3, bucket: site, endpoint: %q, path_style: true, access_key_id: %q, secret_access_key: "${S3_SECRET}", repos: [acme] }
cdns:
  edge: { type: varnish, nodes: [ "http://%s" ], repos: [acme/site] }
smoke: { verify_private_hosts: [ %q ] }
`, endpoint, key, node, node)
	repoYML := fmt.Sprintf(`version: 1
site: { root: public }
environments:
  staging: { branch: staging,
             deploy: { target: site, prefix: staging/, url: "http://%s/" },
             purge: [ { cdn: edge } ],
             verify: { auto_rollback: true%s } }
smoke:
  pages: [ { path: /, expect_selector: ".product" } ]
`, node, verifyURLLine(verifyURL))
	w := &world{edge: edge{addr: node}, alerts: &alerts{}, outcomes: &outcomes{}}
	w.Site = sitetest.StartSite(t, sitetest.SiteSpec{ServerYAML: serverYAML, RepoYML: repoYML,
		Env:      map[string]string{"S3_SECRET": secret, "HOIST_CHROMIUM": testenv.Chromium(t)},
		Branches: []string{"main", "staging"},
		Files:    map[string]string{"public/index.html": goodPage},
		Emulator: emulator.Options{ObserveResponse: func(method, specPath string, status int, _ http.Header, _ []byte) {
			if observe != nil {
				observe(method, specPath, status)
			}
		}},
		Setup: []func(*hoistapp.Hooks){func(h *hoistapp.Hooks) {
			h.Alerts, h.Outcomes = w.alerts, w.outcomes
			h.PurgeOptions = []purge.Option{purge.WithRetry(purge.RetryPolicy{Attempts: 2, Base: 10 * time.Millisecond})}
			if beforeMove != nil {
				h.BeforeRollbackMove = func(string, string) { beforeMove(w) }
			}
		}}})
	return w
}

// verifyRun waits for the completed hoist/verify check run on sha.
func (w *world) verifyRun(sha string) *github.CheckRun {
	w.T.Helper()
	var run *github.CheckRun
	sitetest.Eventually(w.T, 90*time.Second, func() (bool, string) {
		res, _, err := w.Alice.Checks.ListCheckRunsForRef(context.Background(), "acme", "site", sha,
			&github.ListCheckRunsOptions{CheckName: github.String(verify.CheckName), Filter: github.String("all")})
		if err != nil {
			return false, err.Error()
		}
		if len(res.CheckRuns) == 0 {
			return false, "no " + verify.CheckName + " check run on " + sha[:7]
		}
		run = res.CheckRuns[0]
		return run.GetStatus() == "completed", "check run " + run.GetStatus()
	})
	return run
}

// statuses lists the states of the newest deployment of sha to staging,
// oldest first.
func (w *world) statuses(sha string) []string {
	w.T.Helper()
	ctx := context.Background()
	deps, _, err := w.Alice.Repositories.ListDeployments(ctx, "acme", "site", &github.DeploymentsListOptions{Environment: "staging", SHA: sha})
	if err != nil || len(deps) == 0 {
		w.T.Fatalf("deployments of %s: %v %d", sha, err, len(deps))
	}
	sts, _, err := w.Alice.Repositories.ListDeploymentStatuses(ctx, "acme", "site", deps[0].GetID(), &github.ListOptions{PerPage: 100})
	if err != nil {
		w.T.Fatal(err)
	}
	var out []string
	for i := len(sts) - 1; i >= 0; i-- {
		out = append(out, sts[i].GetState()+": "+sts[i].GetDescription())
	}
	return out
}

func hasState(list []string, state, contains string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, state+": ") && strings.Contains(s, contains) {
			return true
		}
	}
	return false
}

// fetchStaging brings the working clone onto the branch's head.
func (w *world) fetchStaging() {
	w.Git(w.Work, "fetch", "-q", "origin", "staging")
	w.Git(w.Work, "reset", "-q", "--hard", "origin/staging")
}

func verifyURLLine(u string) string {
	if u == "" {
		return ""
	}
	return fmt.Sprintf(", url: %q", u)
}
