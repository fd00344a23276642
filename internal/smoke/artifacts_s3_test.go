package smoke

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/hoist-dev/hoist/internal/deploy"
	"github.com/hoist-dev/hoist/internal/testenv"
)

// countingClient counts the requests the SDK sends, by method.
type countingClient struct {
	puts, heads, gets atomic.Int32
}

func (c *countingClient) Do(r *http.Request) (*http.Response, error) {
	switch r.Method {
	case http.MethodPut:
		c.puts.Add(1)
	case http.MethodHead:
		c.heads.Add(1)
	case http.MethodGet:
		c.gets.Add(1)
	}
	return http.DefaultClient.Do(r)
}

// versityStore starts versitygw with a bucket and returns a store under a
// prefix in it, built from a deploy target's client as the server does.
func versityStore(t *testing.T) (*S3Store, *s3.Client, *countingClient) {
	t.Helper()
	endpoint, ak, sk := testenv.VersityGW(t)
	ctx := context.Background()
	counts := &countingClient{}
	target, err := deploy.NewS3Target(ctx, deploy.TargetConfig{Type: "s3", Bucket: "assets", Endpoint: endpoint,
		PathStyle: true, AccessKeyID: ak, SecretAccessKey: sk}, counts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := target.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("assets")}); err != nil {
		t.Fatal(err)
	}
	counts.puts.Store(0) // the bucket's creation
	return NewS3Store(target.Client(), "assets", "hoist-artifacts"), target.Client(), counts
}

func TestS3StorePutGet(t *testing.T) {
	ctx := context.Background()
	s, client, counts := versityStore(t)
	data := []byte("\x89PNG\r\n\x1a\n a screenshot")
	sum := sha256.Sum256(data)
	sha, err := s.Put(ctx, data)
	if err != nil || sha != hex.EncodeToString(sum[:]) {
		t.Fatalf("Put: %s %v", sha, err)
	}
	// The object is where the prefix says, typed and cached for good.
	head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("assets"), Key: aws.String("hoist-artifacts/" + sha + ".png")})
	if err != nil {
		t.Fatal(err)
	}
	if ct := aws.ToString(head.ContentType); ct != "image/png" {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := aws.ToString(head.CacheControl); cc != "public, max-age=31536000, immutable" {
		t.Errorf("Cache-Control %q", cc)
	}
	if n := aws.ToInt64(head.ContentLength); n != int64(len(data)) {
		t.Errorf("size %d", n)
	}
	if n := counts.puts.Load(); n != 1 {
		t.Fatalf("%d PUTs for one artifact", n)
	}

	// Idempotent: the same bytes again cost a HEAD and no PUT.
	for range 2 {
		if sha2, err := s.Put(ctx, data); err != nil || sha2 != sha {
			t.Fatalf("second Put: %s %v", sha2, err)
		}
	}
	if n := counts.puts.Load(); n != 1 {
		t.Fatalf("an existing artifact was rewritten: %d PUTs", n)
	}

	rc, err := s.Open(ctx, sha)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, data) {
		t.Fatalf("Open: %q", got)
	}
	if sz, ok := rc.(interface{ Size() int64 }); !ok || sz.Size() != int64(len(data)) {
		t.Errorf("Open does not tell the size")
	}

	// Unknown and malformed names are not found; a malformed one is not
	// even asked for.
	other := strings.Repeat("ab", 32)
	if _, err := s.Open(ctx, other); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open unknown: %v", err)
	}
	gets := counts.gets.Load()
	for _, bad := range []string{"", "../" + sha, strings.ToUpper(sha), sha + ".png"} {
		if _, err := s.Open(ctx, bad); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open %q: %v", bad, err)
		}
	}
	if counts.gets.Load() != gets {
		t.Error("a malformed name reached the bucket")
	}
}

func TestS3StoreRefusesLargeArtifacts(t *testing.T) {
	ctx := context.Background()
	s, _, counts := versityStore(t)
	big := make([]byte, MaxArtifactBytes+1)
	if _, err := s.Put(ctx, big); !errors.Is(err, ErrArtifactTooLarge) {
		t.Fatalf("Put of %d bytes: %v", len(big), err)
	}
	if n := counts.puts.Load() + counts.heads.Load(); n != 0 {
		t.Fatalf("%d requests for a refused artifact", n)
	}
	// Exactly the limit is accepted and read back whole.
	edge := bytes.Repeat([]byte{7}, MaxArtifactBytes)
	sha, err := s.Put(ctx, edge)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := s.Open(ctx, sha)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, edge) {
		t.Fatalf("read back %d bytes", len(got))
	}
}

func TestS3StoreMissingBucketIsAnError(t *testing.T) {
	s, client, _ := versityStore(t)
	wrong := NewS3Store(client, "no-such-bucket", "x/")
	if _, err := wrong.Put(context.Background(), []byte("png")); err == nil {
		t.Fatal("Put into a missing bucket succeeded")
	}
	sha, _ := s.Put(context.Background(), []byte("png"))
	if _, err := wrong.Open(context.Background(), sha); err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open from a missing bucket: %v, want an error other than not found", err)
	}
	// The handler says unavailable, not 404, and tells nothing of the bucket.
	ts := httptest.NewServer(ArtifactHandler(wrong))
	t.Cleanup(ts.Close)
	resp, err := http.Get(ts.URL + "/artifacts/" + sha + ".png")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || strings.Contains(string(b), "no-such-bucket") {
		t.Fatalf("GET from a missing bucket: %d %q", resp.StatusCode, b)
	}
}

func TestArtifactHandlerOverS3(t *testing.T) {
	ctx := context.Background()
	s, client, _ := versityStore(t)
	data := []byte("\x89PNG\r\n\x1a\n served from a bucket")
	sha, err := s.Put(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	// Another object under the prefix must stay unreachable.
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("assets"), Key: aws.String("hoist-artifacts/secret.png"),
		Body: strings.NewReader("no")}); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(ArtifactHandler(s))
	t.Cleanup(ts.Close)

	resp, err := http.Get(ts.URL + "/artifacts/" + sha + ".png")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(body, data) {
		t.Fatalf("GET: %d %q", resp.StatusCode, body)
	}
	for k, want := range map[string]string{
		"Content-Type":   "image/png",
		"Cache-Control":  "public, max-age=31536000, immutable",
		"Content-Length": strconv.Itoa(len(data)),
		"ETag":           `"` + sha + `"`,
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}

	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/artifacts/"+sha+".png", nil)
	req.Header.Set("If-None-Match", `"`+sha+`"`)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d", resp.StatusCode)
	}

	for _, p := range []string{
		"/artifacts/" + strings.Repeat("cd", 32) + ".png", // unknown
		"/artifacts/secret.png",
		"/artifacts/",
		"/artifacts/" + sha + ".png/",
		"/artifacts/" + sha,
	} {
		resp, err := http.Get(ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || strings.Contains(string(b), sha) || strings.Contains(string(b), "secret") {
			t.Errorf("GET %s: %d %q", p, resp.StatusCode, b)
		}
	}
}
