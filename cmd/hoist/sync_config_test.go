package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/hoist-dev/hoist/internal/deploy"
	"github.com/hoist-dev/hoist/internal/testenv"
)

// runSyncStderr runs hoist sync and returns its exit status and stderr.
func runSyncStderr(t *testing.T, args ...string) (int, string) {
	t.Helper()
	return withStderr(t, func() int { return runSync(context.Background(), args) })
}

// hoist sync applies the cache rules of the repository configuration: the
// objects on a real S3 server carry the headers the rules set, and the
// defaults elsewhere. A mistake in the rules stops it before anything is
// written, with file:line:column.
func TestSyncAppliesTheConfigCacheRules(t *testing.T) {
	endpoint, key, secret := testenv.VersityGW(t)
	t.Setenv("AWS_ACCESS_KEY_ID", key)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	ctx := context.Background()
	target, err := deploy.NewS3Target(ctx, deploy.TargetConfig{Type: "s3", Bucket: "www", Endpoint: endpoint, PathStyle: true,
		AccessKeyID: key, SecretAccessKey: secret}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := target.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("www")}); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	for p, c := range map[string]string{"index.html": "<h1>home</h1>", "health.html": "ok", "assets/app.js": "run()", "robots.txt": "User-agent: *"} {
		os.MkdirAll(filepath.Dir(filepath.Join(src, p)), 0o755)
		os.WriteFile(filepath.Join(src, p), []byte(c), 0o644)
	}
	cfg := filepath.Join(t.TempDir(), "hoist.yml")
	bad := "version: 1\nenvironments: { production: {} }\ndeploy:\n  cache:\n    - { path: \"assets/**\", cache_control: \"no-cache\\r\\nSet-Cookie: x=1\" }\n"
	os.WriteFile(cfg, []byte(bad), 0o644)
	args := []string{src, "s3://www/site/", "--endpoint", endpoint, "--path-style", "--config", cfg}
	code, out := runSyncStderr(t, args...)
	if code != 2 || !strings.Contains(out, cfg+":5:15: deploy.cache[0].path") || !strings.Contains(out, cfg+":5:43: deploy.cache[0].cache_control") ||
		!strings.Contains(out, "nothing was deployed") {
		t.Fatalf("bad rules: exit %d:\n%s", code, out)
	}
	if _, err := target.Head(ctx, "site/index.html"); err == nil {
		t.Fatal("a refused configuration deployed")
	}

	good := "version: 1\nenvironments: { production: {} }\ndeploy:\n  cache:\n    - { path: /health.html, cache_control: no-cache }\n    - { path: \"/assets/**\", cache_control: \"public, max-age=31536000, immutable\" }\n    - { path: /robots.txt, content_type: \"text/plain; charset=us-ascii\" }\n"
	os.WriteFile(cfg, []byte(good), 0o644)
	if code, out := runSyncStderr(t, args...); code != 0 {
		t.Fatalf("sync: exit %d:\n%s", code, out)
	}
	for p, h := range map[string][2]string{
		"health.html":   {"no-cache", "text/html; charset=utf-8"},
		"assets/app.js": {"public, max-age=31536000, immutable", "text/javascript; charset=utf-8"},
		"robots.txt":    {deploy.CacheDefault, "text/plain; charset=us-ascii"},
		"index.html":    {deploy.CacheHTML, "text/html; charset=utf-8"},
	} {
		out, err := target.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("www"), Key: aws.String("site/" + p)})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if aws.ToString(out.CacheControl) != h[0] || aws.ToString(out.ContentType) != h[1] {
			t.Errorf("%s: Cache-Control %q, Content-Type %q; want %q, %q", p, aws.ToString(out.CacheControl), aws.ToString(out.ContentType), h[0], h[1])
		}
	}
	// A changed rule rewrites the objects it now covers on the next sync.
	os.WriteFile(cfg, []byte(strings.Replace(good, "cache_control: no-cache", "cache_control: no-store", 1)), 0o644)
	if code, out := runSyncStderr(t, args...); code != 0 {
		t.Fatalf("sync: exit %d:\n%s", code, out)
	}
	head, err := target.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("www"), Key: aws.String("site/health.html")})
	if err != nil || aws.ToString(head.CacheControl) != "no-store" {
		t.Fatalf("after the rule changed: %v", err)
	}
}
