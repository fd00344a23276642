package smoke

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Screenshots last stored before the retention are deleted from the folder;
// newer ones, one stored again (renewed) and files that are not
// screenshots stay.
func TestDirStorePrune(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := NewDirStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-100 * 24 * time.Hour)
	var shas []string
	for i := range 5 {
		sha, err := s.Put(ctx, fmt.Appendf(nil, "\x89PNG %d", i))
		if err != nil {
			t.Fatal(err)
		}
		shas = append(shas, sha)
		if i < 3 {
			if err := os.Chtimes(filepath.Join(dir, sha+".png"), old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Screenshot 0 is taken again by a new run: it must survive.
	if _, err := s.Put(ctx, []byte("\x89PNG 0")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"notes.txt", ".put-123"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.Prune(ctx, time.Now().Add(-90*24*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("Prune: %d, %v; want 2 deleted", n, err)
	}
	for i, sha := range shas {
		_, err := os.Stat(filepath.Join(dir, sha+".png"))
		if gone := os.IsNotExist(err); gone != (i == 1 || i == 2) {
			t.Errorf("screenshot %d: gone=%v", i, gone)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "notes.txt")); err != nil {
		t.Errorf("a file that is not a screenshot was deleted: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".put-123")); !os.IsNotExist(err) {
		t.Errorf("a stale temporary file was kept")
	}
}

// The S3 store deletes its old screenshots and leaves other keys alone.
func TestS3StorePrune(t *testing.T) {
	s, client, _ := versityStore(t)
	ctx := context.Background()
	for i := range 3 {
		if _, err := s.Put(ctx, fmt.Appendf(nil, "\x89PNG %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, key := range []string{"hoist-artifacts/readme.txt", "site/index.html"} {
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("assets"), Key: aws.String(key)}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.Prune(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("Prune of fresh screenshots: %d, %v", n, err)
	}
	if n, err := s.Prune(ctx, time.Now().Add(time.Minute)); err != nil || n != 3 {
		t.Fatalf("Prune: %d, %v; want 3", n, err)
	}
	out, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("assets")})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, o := range out.Contents {
		left = append(left, aws.ToString(o.Key))
	}
	if len(left) != 2 {
		t.Errorf("left %v, want only the two keys that are not screenshots", left)
	}
}
