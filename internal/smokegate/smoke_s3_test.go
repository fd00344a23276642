package smokegate_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/hoist-dev/hoist/internal/deploy"
	"github.com/hoist-dev/hoist/internal/sitetest"
	"github.com/hoist-dev/hoist/internal/testenv"
)

// With smoke.artifacts_target the screenshots live in a bucket, and the
// check run's image URLs are still hoist's own, served from there.
func TestSmokeArtifactsInS3(t *testing.T) {
	endpoint, ak, sk := testenv.VersityGW(t)
	ctx := context.Background()
	direct, err := deploy.NewS3Target(ctx, deploy.TargetConfig{Type: "s3", Bucket: "assets", Endpoint: endpoint, PathStyle: true,
		AccessKeyID: ak, SecretAccessKey: sk}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := direct.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("assets")}); err != nil {
		t.Fatal(err)
	}
	serverYML := fmt.Sprintf(`targets:
  assets: { type: s3, bucket: assets, endpoint: %q, path_style: true, access_key_id: "${S3_KEY}", secret_access_key: "${S3_SECRET}" }
smoke:
  artifacts_target: assets
  artifacts_prefix: shots/
`, endpoint)
	w := sitetest.StartSmokeServer(t, fmt.Sprintf(sitetest.CandidateYML, ""), serverYML, map[string]string{"S3_KEY": ak, "S3_SECRET": sk})
	sha := w.Commit("public/about/index.html", `<!doctype html><title>About</title><h1>About the Shop</h1><p>Since 1999.</p>`, "Regenerate the site")
	w.Git(w.Work, "push", "-q", "origin", "HEAD:pre-staging")

	runs := w.WaitSmoke(sha, 1)
	cr := runs[len(runs)-1]
	if cr.GetConclusion() != "success" {
		t.Fatalf("smoke run: %s %q", cr.GetConclusion(), cr.GetOutput().GetTitle())
	}
	state, ok := w.GH.CheckRunState(cr.GetID())
	if !ok || len(state.Output.Images) == 0 {
		t.Fatalf("no images on the check run: %+v", state.Output)
	}
	for _, img := range state.Output.Images {
		checkImage(w, img)
		// /artifacts/<owner>/<repo>/<sha256>.png?<signature>: the object is
		// the screenshot's content name.
		u, _ := url.Parse(fmt.Sprint(img["image_url"]))
		name := path.Base(u.Path)
		head, err := direct.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("assets"), Key: aws.String("shots/" + name)})
		if err != nil {
			t.Fatalf("%s is not in the bucket: %v", name, err)
		}
		if aws.ToString(head.ContentType) != "image/png" {
			t.Errorf("%s stored as %q", name, aws.ToString(head.ContentType))
		}
	}
	// Nothing went to the local folder.
	if entries, err := os.ReadDir(filepath.Join(w.Srv.Config().DataDir, "artifacts")); err == nil && len(entries) > 0 {
		t.Errorf("artifacts written locally too: %v", entries)
	}
	if resp, _ := get(w, w.URL+"/artifacts/"+strings.Repeat("0", 64)+".png"); resp.StatusCode != 404 {
		t.Errorf("unknown artifact: %d", resp.StatusCode)
	}
}
