package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/hoist-dev/hoist/internal/site"
	"github.com/hoist-dev/hoist/internal/testenv"
)

// TestMain lets the test binary act as `hoist sync` in a child process, so
// that a test can kill a deploy with SIGKILL half-way.
func TestMain(m *testing.M) {
	if os.Getenv("HOIST_DEPLOY_CHILD") == "1" {
		throttle, _ := time.ParseDuration(os.Getenv("HOIST_CHILD_THROTTLE"))
		_, err := Sync(context.Background(), SyncOptions{
			Dir: os.Getenv("HOIST_CHILD_DIR"), Destination: os.Getenv("HOIST_CHILD_DEST"),
			Endpoint: os.Getenv("HOIST_CHILD_ENDPOINT"), PathStyle: true, Concurrency: 2, Throttle: throttle,
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestKilledDeployConverges(t *testing.T) {
	endpoint, key, secret, backend := testenv.VersityGWDir(t)
	ctx := context.Background()
	cfg := TargetConfig{Type: "s3", Bucket: "crash-bucket", Endpoint: endpoint, PathStyle: true, AccessKeyID: key, SecretAccessKey: secret}
	target, err := NewS3Target(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := target.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(cfg.Bucket)}); err != nil {
		t.Fatal(err)
	}
	filesA, filesB := map[string]string{}, map[string]string{}
	for i := 0; i < 120; i++ {
		p := fmt.Sprintf("section%d/page%d.html", i%7, i)
		filesA[p] = "A" + p
		if i%3 != 0 { // a third is deleted in B
			filesB[p] = "B" + p
		}
		filesB[fmt.Sprintf("new/%d.css", i)] = "new"
	}
	filesA["index.html"], filesB["index.html"] = "home A", "home B"
	treeA, treeB := writeSite(t, filesA), writeSite(t, filesB)
	if _, err := Deploy(ctx, target, Request{Tree: treeA, Prefix: "www/", Edition: "www"}); err != nil {
		t.Fatal(err)
	}

	siteB := writeSiteAt(t, t.TempDir(), filesB)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "HOIST_DEPLOY_CHILD=1", "HOIST_CHILD_THROTTLE=15ms",
		"HOIST_CHILD_DIR="+siteB, "HOIST_CHILD_DEST=s3://crash-bucket/www", "HOIST_CHILD_ENDPOINT="+endpoint,
		"AWS_ACCESS_KEY_ID="+key, "AWS_SECRET_ACCESS_KEY="+secret, "AWS_REGION=us-east-1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the child has written some of B, then kill it.
	newDir := filepath.Join(backend, "crash-bucket", "www", "new")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if entries, _ := os.ReadDir(newDir); len(entries) >= 10 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the child wrote nothing: %s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the child should have died of SIGKILL mid-deploy, got %v (%s)", err, stderr.String())
	}
	m, err := ReadManifest(ctx, target, "www/")
	if err != nil || m == nil || m.Files["index.html"].Blob != blobOf(treeA, "index.html") {
		t.Fatalf("the manifest must still describe A after the crash: %v", err)
	}

	res, err := Deploy(ctx, target, Request{Tree: treeB, Prefix: "www/", Edition: "www"})
	if err != nil {
		t.Fatal(err)
	}
	assertBucketEquals(t, target, "www/", "www", treeB)
	m, err = ReadManifest(ctx, target, "www/")
	if err != nil || len(m.Files) != len(treeB.Entries()) {
		t.Fatalf("manifest after recovery: %v", err)
	}
	for _, e := range treeB.Entries() {
		if m.Files[e.Path].Blob != e.BlobSHA {
			t.Fatalf("manifest %s: %s, want %s", e.Path, m.Files[e.Path].Blob, e.BlobSHA)
		}
	}
	t.Logf("recovery deploy: %d uploaded, %d deleted, %d unchanged", res.Uploaded, res.Deleted, res.Unchanged)
}

func writeSiteAt(t *testing.T, dir string, files map[string]string) string {
	t.Helper()
	for p, c := range files {
		name := filepath.Join(dir, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(name), 0o755)
		if err := os.WriteFile(name, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func blobOf(tree site.Tree, p string) string {
	for _, e := range tree.Entries() {
		if e.Path == p {
			return e.BlobSHA
		}
	}
	return ""
}
