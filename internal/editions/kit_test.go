package editions_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-github/v60/github"

	hoistapp "github.com/hoist-dev/hoist/internal/app"
	"github.com/hoist-dev/hoist/internal/deploy"
	"github.com/hoist-dev/hoist/internal/purge"
	"github.com/hoist-dev/hoist/internal/sitetest"
	"github.com/hoist-dev/hoist/internal/testenv"
	"github.com/hoist-dev/hoist/internal/world"
)

// Helpers of this package's tests only; the test world is sitetest.Site.

// editionWorld is acme/site with hoist, a versitygw bucket and a Varnish
// node in front of the repository's folder of it, as docs.example.com.
type editionWorld struct {
	*sitetest.Site
	s3   *s3.Client
	edge string
}

// startEditions starts the world with repoYML; the target is "site" and
// the CDN "edge".
func startEditions(t *testing.T, repoYML string) *editionWorld {
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
	origin := sitetest.BucketOrigin(t, direct.Client(), "site", "acme/site/")
	_, file, _, _ := runtime.Caller(0)
	node := testenv.Varnish(t, filepath.Join(filepath.Dir(file), "..", "..", "examples", "varnish", "hoist.vcl"), origin)
	serverYAML := fmt.Sprintf(`targets:
  site: { type: s3, bucket: site, endpoint: %q, path_style: true, access_key_id: %q, secret_access_key: "${S3_SECRET}", repos: [acme] }
cdns:
  edge: { type: varnish, nodes: [ "http://%s" ], repos: [acme/site] }
`, endpoint, key, node)
	site := sitetest.StartSite(t, sitetest.SiteSpec{ServerYAML: serverYAML, RepoYML: repoYML, Env: map[string]string{"S3_SECRET": secret},
		Files:    map[string]string{"public/index.html": "<h1>main</h1>"},
		Branches: []string{"main", "dev", "staging"},
		Setup: []func(*hoistapp.Hooks){func(h *hoistapp.Hooks) {
			h.PurgeOptions = []purge.Option{purge.WithRetry(purge.RetryPolicy{Attempts: 2, Base: 10 * time.Millisecond})}
		}}})
	return &editionWorld{Site: site, s3: direct.Client(), edge: node}
}

// get fetches p from the edge.
func (w *editionWorld) get(p string) (int, string) {
	w.T.Helper()
	resp, err := http.Get("http://" + w.edge + p)
	if err != nil {
		w.T.Fatalf("GET %s: %v", p, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// objects lists the keys of the bucket under prefix.
func (w *editionWorld) objects(prefix string) []string {
	w.T.Helper()
	out, err := w.s3.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("site"), Prefix: aws.String(prefix)})
	if err != nil {
		w.T.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

// put writes an object of the bucket directly, as an earlier deploy had.
func (w *editionWorld) put(key, body string) {
	w.T.Helper()
	_, err := w.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("site"), Key: aws.String(key),
		Body: strings.NewReader(body), ContentType: aws.String("text/html")})
	if err != nil {
		w.T.Fatal(err)
	}
}

// waitEdition waits until the newest deployment of the edition env for
// sha has the status state, and returns that status.
func (w *editionWorld) waitEdition(env, sha, state string) *github.DeploymentStatus {
	w.T.Helper()
	ctx := context.Background()
	var last *github.DeploymentStatus
	reached := func() bool {
		opts := &github.DeploymentsListOptions{Environment: env, SHA: sha}
		deps, _, err := w.Alice.Repositories.ListDeployments(ctx, "acme", "site", opts)
		if err != nil || len(deps) == 0 {
			return false
		}
		sts, _, err := w.Alice.Repositories.ListDeploymentStatuses(ctx, "acme", "site", deps[0].GetID(), nil)
		if err != nil || len(sts) == 0 {
			return false
		}
		last = sts[0]
		return sts[0].GetState() == state
	}
	if world.WaitFor(90*time.Second, reached) != nil {
		w.T.Fatalf("deployment of %s to %s never %s; last %+v", sha, env, state, last)
	}
	return last
}

// waitGone waits until the bucket holds nothing under prefix.
func (w *editionWorld) waitGone(prefix string) {
	w.T.Helper()
	if world.WaitFor(60*time.Second, func() bool { return len(w.objects(prefix)) == 0 }) != nil {
		w.T.Fatalf("%s still holds %v", prefix, w.objects(prefix))
	}
}
