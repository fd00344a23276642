package deploy

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/hoist-dev/hoist/internal/site"
	"github.com/hoist-dev/hoist/internal/testenv"
)

// requestCounter is an HTTP client that counts what reaches the server.
type requestCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (c *requestCounter) Do(r *http.Request) (*http.Response, error) {
	kind := r.Method
	switch {
	case r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != "":
		kind = "COPY"
	case r.Method == http.MethodPost && r.URL.Query().Has("delete"):
		kind = "DELETE-BATCH"
	}
	c.mu.Lock()
	c.counts[kind]++
	c.mu.Unlock()
	return http.DefaultClient.Do(r)
}

func (c *requestCounter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	got := c.counts
	c.counts = map[string]int{}
	return got
}

// newBucket starts versitygw, creates a bucket and returns a target whose
// requests are counted.
func newBucket(t *testing.T) (*S3Target, *requestCounter, TargetConfig) {
	t.Helper()
	endpoint, key, secret := testenv.VersityGW(t)
	cfg := TargetConfig{Type: "s3", Bucket: "site-bucket", Endpoint: endpoint, PathStyle: true,
		AccessKeyID: key, SecretAccessKey: secret, Region: "us-east-1"}
	counter := &requestCounter{counts: map[string]int{}}
	target, err := NewS3Target(context.Background(), cfg, counter)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := target.Client().CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(cfg.Bucket)}); err != nil {
		t.Fatal("create bucket:", err)
	}
	counter.take()
	return target, counter, cfg
}

// gitRepo is a work repository whose commits a Mirror fetches over file://.
type gitRepo struct {
	t    *testing.T
	dir  string
	data string
}

func newGitRepo(t *testing.T) *gitRepo {
	r := &gitRepo{t: t, dir: t.TempDir(), data: t.TempDir()}
	r.git("init", "-q", "-b", "main")
	return r
}

func (r *gitRepo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", append([]string{"-C", r.dir, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit replaces the work tree's public/ folder with files and commits.
func (r *gitRepo) commit(files map[string]string) string {
	r.t.Helper()
	os.RemoveAll(filepath.Join(r.dir, "public"))
	for p, c := range files {
		name := filepath.Join(r.dir, "public", filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(name), 0o755)
		if err := os.WriteFile(name, []byte(c), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	r.git("add", "-A")
	r.git("commit", "-q", "--allow-empty", "-m", "site")
	return r.git("rev-parse", "HEAD")
}

// mirrorTree fetches the repository into a mirror and reads commit's site.
func mirrorTree(t *testing.T, r *gitRepo, commit string) (site.Tree, string) {
	t.Helper()
	ctx := context.Background()
	m, err := site.OpenMirror(r.data, "acme", "shop")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if err := m.Fetch(ctx, "file://"+r.dir, "", "main"); err != nil {
		t.Fatal(err)
	}
	tree, err := m.Tree(ctx, commit, "public")
	if err != nil {
		t.Fatal(err)
	}
	sha, err := m.TreeSHA(ctx, commit, "public")
	if err != nil {
		t.Fatal(err)
	}
	return tree, sha
}

// assertBucketEquals reads every object under prefix and compares it with
// the tree, content and headers.
func assertBucketEquals(t *testing.T, target *S3Target, prefix, edition string, tree site.Tree, foreign ...string) {
	t.Helper()
	ctx := context.Background()
	want := map[string]site.Entry{}
	for _, e := range tree.Entries() {
		want[e.Path] = e
	}
	got := 0
	err := target.List(ctx, prefix, func(page []Object) error {
		for _, o := range page {
			p := strings.TrimPrefix(o.Key, prefix)
			if strings.HasPrefix(p, ".hoist/") || slices.ContainsFunc(foreign, func(f string) bool { return strings.HasSuffix(f, "/") && strings.HasPrefix(p, f) }) {
				continue
			}
			got++
			e, ok := want[p]
			if !ok {
				t.Errorf("bucket holds %s, which is not in the tree", o.Key)
				continue
			}
			out, err := target.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: &target.bucket, Key: aws.String(o.Key)})
			if err != nil {
				t.Fatal(err)
			}
			sha, err := site.BlobSHA(out.Body, aws.ToInt64(out.ContentLength))
			out.Body.Close()
			if err != nil || sha != e.BlobSHA {
				t.Errorf("%s: content blob %s, want %s (%v)", p, sha, e.BlobSHA, err)
			}
			if slices.Contains(foreign, p) {
				continue // written by another tool and identical: left as it was
			}
			ctype, cache := (*Rules)(nil).Headers(p)
			if aws.ToString(out.ContentType) != ctype || aws.ToString(out.CacheControl) != cache {
				t.Errorf("%s: headers %q %q, want %q %q", p, aws.ToString(out.ContentType), aws.ToString(out.CacheControl), ctype, cache)
			}
			wantKeys := EditionKey(edition) + " " + PathKey(edition, p)
			if out.Metadata[MetaGitBlob] != e.BlobSHA || out.Metadata[MetaSurrogateKey] != wantKeys {
				t.Errorf("%s: metadata %v, want git-blob %s and surrogate-key %q", p, out.Metadata, e.BlobSHA, wantKeys)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != len(want) {
		t.Errorf("bucket holds %d objects under %q, tree has %d", got, prefix, len(want))
	}
}

func TestS3DeployByGitDiff(t *testing.T) {
	ctx := context.Background()
	target, counter, _ := newBucket(t)
	repo := newGitRepo(t)
	big := strings.Repeat("0123456789abcdef", 1<<17) // 2 MiB: streams from git, unsigned payload
	commitA := repo.commit(map[string]string{
		"index.html": "<h1>A</h1>", "about/index.html": "about", "css/site.css": "body{}",
		"assets/app.3f2a9c1b.js": "js", "old.txt": "old", "video/big.bin": big,
	})
	commitB := repo.commit(map[string]string{
		"index.html": "<h1>B</h1>", "about/index.html": "about", "css/site.css": "body{}",
		"assets/app.3f2a9c1b.js": "js", "video/big.bin": big, "news/today.html": "news",
	})
	treeA, shaA := mirrorTree(t, repo, commitA)
	res, err := Deploy(ctx, target, Request{Tree: treeA, TreeSHA: shaA, Prefix: "production/", Edition: "production"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Uploaded != 6 || res.Commit != commitA {
		t.Fatalf("first deploy: %+v", res)
	}
	assertBucketEquals(t, target, "production/", "production", treeA)
	counter.take()

	treeB, shaB := mirrorTree(t, repo, commitB)
	res, err = Deploy(ctx, target, Request{Tree: treeB, TreeSHA: shaB, Prefix: "production/", Edition: "production"})
	if err != nil {
		t.Fatal(err)
	}
	got := counter.take()
	// pending + index.html + news/today.html + manifest; one batch delete.
	if got["PUT"] != 4 || got["DELETE-BATCH"] != 1 || got["COPY"] != 0 {
		t.Fatalf("B over A should write only what changed, got requests %v", got)
	}
	if len(res.Changes.Added) != 1 || len(res.Changes.Modified) != 1 || len(res.Changes.Deleted) != 1 ||
		res.Changes.Deleted[0].Path != "old.txt" || res.Unchanged != 4 || res.PreviousCommit != commitA {
		t.Fatalf("change set: %+v", res.Changes)
	}
	if k := res.Changes.Deleted[0].Keys; len(k) != 2 || k[0] != "e-production" || k[1] != PathKey("production", "old.txt") {
		t.Fatalf("deleted path keys: %v", k)
	}
	if res.Requests != 2+4+1 {
		t.Fatalf("result counts %d requests, want 7", res.Requests)
	}
	assertBucketEquals(t, target, "production/", "production", treeB)

	// The same tree again: one read of the manifest, one of the pending
	// list, nothing written.
	counter.take()
	res, err = Deploy(ctx, target, Request{Tree: treeB, TreeSHA: shaB, Prefix: "production/", Edition: "production"})
	if err != nil || !res.SameTree || res.Changed() {
		t.Fatalf("same tree: %+v %v", res, err)
	}
	if got := counter.take(); got["GET"] != 2 || len(got) != 1 {
		t.Fatalf("same tree must only read the manifest: %v", got)
	}

	// Rollback is a deploy of the older commit by the same diff.
	res, err = Deploy(ctx, target, Request{Tree: treeA, TreeSHA: shaA, Prefix: "production/", Edition: "production"})
	if err != nil || res.Uploaded != 2 || res.Deleted != 1 {
		t.Fatalf("rollback: %+v %v", res, err)
	}
	assertBucketEquals(t, target, "production/", "production", treeA)
}

func TestS3EditionPromotionCopies(t *testing.T) {
	ctx := context.Background()
	target, counter, _ := newBucket(t)
	repo := newGitRepo(t)
	c1 := repo.commit(map[string]string{"index.html": "v1", "a.css": "a", "b.js": "b"})
	c2 := repo.commit(map[string]string{"index.html": "v2", "a.css": "a2", "b.js": "b"})
	t1, s1 := mirrorTree(t, repo, c1)
	t2, s2 := mirrorTree(t, repo, c2)
	for _, d := range []Request{
		{Tree: t1, TreeSHA: s1, Prefix: "production/", Edition: "production"},
		{Tree: t2, TreeSHA: s2, Prefix: "staging/", Edition: "staging"},
	} {
		if _, err := Deploy(ctx, target, d); err != nil {
			t.Fatal(err)
		}
	}
	counter.take()
	res, err := Deploy(ctx, target, Request{Tree: t2, TreeSHA: s2, Prefix: "production/", Edition: "production", CopyFrom: "staging/"})
	if err != nil {
		t.Fatal(err)
	}
	got := counter.take()
	if res.Copied != 2 || res.Uploaded != 0 || got["COPY"] != 2 || got["PUT"] != 2 {
		t.Fatalf("promotion should copy the 2 changed objects server-side: %+v, requests %v", res, got)
	}
	assertBucketEquals(t, target, "production/", "production", t2)
	assertBucketEquals(t, target, "staging/", "staging", t2)
}

func TestS3FirstDeployWithoutManifestSkipsIdenticalObjects(t *testing.T) {
	ctx := context.Background()
	target, counter, _ := newBucket(t)
	tree := writeSite(t, map[string]string{"index.html": "home", "a.css": "same", "b.css": "new content", "c.js": "same size"})
	// Pre-fill as another tool would: same content for two files, a
	// different body of the same size for one, and a stray object.
	client := target.Client()
	for k, v := range map[string]string{"p/index.html": "home", "p/a.css": "same", "p/c.js": "SAME SIZE", "p/stray.txt": "x"} {
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("site-bucket"), Key: aws.String(k), Body: bytes.NewReader([]byte(v))}); err != nil {
			t.Fatal(err)
		}
	}
	// Another edition nested under the prefix is left alone.
	other := writeSite(t, map[string]string{"index.html": "nested"})
	if _, err := Deploy(ctx, target, Request{Tree: other, Prefix: "p/nested/", Edition: "nested"}); err != nil {
		t.Fatal(err)
	}
	counter.take()
	res, err := Deploy(ctx, target, Request{Tree: tree, Prefix: "p/", Edition: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.NoManifest || res.Unchanged != 2 || len(res.Changes.Added) != 1 || len(res.Changes.Modified) != 1 ||
		len(res.Changes.Deleted) != 1 || res.Changes.Deleted[0].Path != "stray.txt" {
		t.Fatalf("first deploy should compare hashes: %+v", res.Changes)
	}
	got := counter.take()
	// list + c.js HEAD (MD5 differs), then pending, 2 objects, manifest.
	if got["PUT"] != 4 || got["HEAD"] != 1 {
		t.Fatalf("requests %v", got)
	}
	assertBucketEquals(t, target, "p/", "p", tree, "nested/", "index.html", "a.css")
	if _, err := target.Head(ctx, "p/nested/index.html"); err != nil {
		t.Fatalf("the nested edition must survive: %v", err)
	}
}

func TestS3HeadAndGetNotFound(t *testing.T) {
	target, _, _ := newBucket(t)
	ctx := context.Background()
	if _, err := target.Get(ctx, "nope"); !isErrNotFound(err) {
		t.Fatalf("Get: %v", err)
	}
	if _, err := target.Head(ctx, "nope"); !isErrNotFound(err) {
		t.Fatalf("Head: %v", err)
	}
	keys := make([]string, 2500)
	for i := range keys {
		keys[i] = fmt.Sprintf("k/%d", i)
	}
	n, err := target.Delete(ctx, keys)
	if err != nil || n != 3 {
		t.Fatalf("2,500 deletions take 3 batches: %d %v", n, err)
	}
}

func isErrNotFound(err error) bool {
	return err != nil && strings.Contains(err.Error(), ErrNotFound.Error())
}
