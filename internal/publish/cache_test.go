package publish_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/internal/deploy"
	"github.com/hoist-dev/hoist/internal/sitetest"
	"github.com/hoist-dev/hoist/internal/testenv"
)

// TestCacheRulesAndLinksOnServerDeploys: the deploy: section of
// .github/hoist.yml reaches the objects on a real S3 server, on upload
// (staging) and on server-side copy (production): a no-cache health page,
// immutable assets, a content type by path, the defaults elsewhere. A link
// inside the site is published as its target's content, a dangling one is
// skipped as the file asks.
func TestCacheRulesAndLinksOnServerDeploys(t *testing.T) {
	endpoint, key, secret := testenv.VersityGW(t)
	ctx := context.Background()
	direct, err := deploy.NewS3Target(ctx, deploy.TargetConfig{Type: "s3", Bucket: "site", Endpoint: endpoint, PathStyle: true,
		AccessKeyID: key, SecretAccessKey: secret}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := direct.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("site")}); err != nil {
		t.Fatal(err)
	}
	serverYAML := fmt.Sprintf("targets:\n  site: { type: s3, bucket: site, endpoint: %q, path_style: true, access_key_id: %q, secret_access_key: %q, repos: [\"*\"] }\n",
		endpoint, key, secret)
	repoYML := `version: 1
site: { root: public }
environments:
  dev:        { branch: dev }
  staging:    { branch: staging, promote_from: dev, auto: true, deploy: { target: site, prefix: staging/ }, gates: { checks: ["ci / test"] } }
  production: { branch: main, promote_from: staging, auto: true, deploy: { target: site, prefix: production/ }, gates: { checks: ["ci / test", "qa"] } }
deploy:
  skip_broken_links: true
  cache:
    - { path: /health.html, cache_control: no-cache }
    - { path: "/assets/**", cache_control: "public, max-age=31536000, immutable" }
    - { path: /feed, content_type: "application/rss+xml" }
`
	w := sitetest.StartSiteWith(t, serverYAML, repoYML, nil, nil)
	w.Commit("public/health.html", "ok", "Health")
	w.Commit("public/assets/js/app.js", "run()", "App")
	w.Commit("public/feed", "<rss/>", "Feed")
	w.Commit("public/index.html", "<h1>home</h1>", "Home")
	for link, to := range map[string]string{"public/home.html": "index.html", "public/gone.html": "missing.html"} {
		if err := os.Symlink(to, filepath.Join(w.Work, link)); err != nil {
			t.Fatal(err)
		}
	}
	w.Git(w.Work, "add", "-A")
	w.Git(w.Work, "commit", "-q", "-m", "Links")
	sha := w.Git(w.Work, "rev-parse", "HEAD")
	w.Promote()
	if _, sts := w.WaitDeployment("staging", sha); sts[0].GetState() != "success" {
		t.Fatalf("staging: %+v", sts[0])
	}
	if s := outputOf(t, w, sha, "Deployed to staging"); !strings.Contains(s, "`gone.html` → `missing.html` is dangling") {
		t.Errorf("the check run does not list the skipped link:\n%s", s)
	}
	if _, _, err := w.Alice.Repositories.CreateStatus(ctx, "acme", "site", sha,
		&github.RepoStatus{State: github.String("success"), Context: github.String("qa")}); err != nil {
		t.Fatal(err)
	}
	w.WaitAudit("production", sha, "promoted")
	if _, sts := w.WaitDeployment("production", sha); sts[0].GetState() != "success" {
		t.Fatalf("production: %+v", sts[0])
	}
	want := map[string][2]string{ // path → Cache-Control, Content-Type
		"health.html":      {"no-cache", "text/html; charset=utf-8"},
		"assets/js/app.js": {"public, max-age=31536000, immutable", "text/javascript; charset=utf-8"},
		"feed":             {deploy.CacheDefault, "application/rss+xml"},
		"index.html":       {deploy.CacheHTML, "text/html; charset=utf-8"},
		"home.html":        {deploy.CacheHTML, "text/html; charset=utf-8"},
	}
	for _, env := range []string{"staging", "production"} {
		for p, h := range want {
			key := "acme/site/" + env + "/" + p
			out, err := direct.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("site"), Key: aws.String(key)})
			if err != nil {
				t.Errorf("%s: %v", key, err)
				continue
			}
			if got := aws.ToString(out.CacheControl); got != h[0] {
				t.Errorf("%s: Cache-Control %q, want %q", key, got, h[0])
			}
			if got := aws.ToString(out.ContentType); got != h[1] {
				t.Errorf("%s: Content-Type %q, want %q", key, got, h[1])
			}
		}
		if _, err := direct.Head(ctx, "acme/site/"+env+"/gone.html"); err == nil {
			t.Errorf("%s: the dangling link was published", env)
		}
	}
	body, err := direct.Get(ctx, "acme/site/production/home.html")
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	if b, err := io.ReadAll(body); err != nil || string(b) != "<h1>home</h1>" {
		t.Errorf("home.html = %q (%v), want the link target's content", b, err)
	}
}
