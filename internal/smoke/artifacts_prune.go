package smoke

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// ArtifactRefresh is how old a stored screenshot may be before storing the
// same bytes again renews its time. Artifacts are named by their hash and
// shared between runs, so retention goes by when one was last stored, not
// first; renewing at most once a day keeps Put cheap.
const ArtifactRefresh = 24 * time.Hour

// ArtifactPruner is an ArtifactStore that can delete the artifacts last
// stored before a time.
type ArtifactPruner interface {
	Prune(ctx context.Context, before time.Time) (int64, error)
}

var (
	_ ArtifactPruner = (*DirStore)(nil)
	_ ArtifactPruner = (*S3Store)(nil)
)

// renew marks an existing artifact file as stored now, when it is old
// enough to need it.
func renew(path string, fi fs.FileInfo) {
	if now := time.Now(); now.Sub(fi.ModTime()) > ArtifactRefresh {
		_ = os.Chtimes(path, now, now)
	}
}

// Prune deletes the screenshots last stored before before, and temporary
// files of Puts that died more than an hour ago.
func (s *DirStore) Prune(ctx context.Context, before time.Time) (int64, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return 0, fmt.Errorf("prune artifacts in %s: %w", s.dir, err)
	}
	var n int64
	for _, e := range entries {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		name := e.Name()
		cut := before
		switch {
		case strings.HasSuffix(name, ".png") && ValidArtifactSHA(strings.TrimSuffix(name, ".png")):
		case strings.HasPrefix(name, ".put-"):
			cut = time.Now().Add(-time.Hour)
		default:
			continue // not ours
		}
		fi, err := e.Info()
		if err != nil || !fi.Mode().IsRegular() || !fi.ModTime().Before(cut) {
			continue
		}
		if err := os.Remove(filepath.Join(s.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return n, fmt.Errorf("prune artifact %s: %w", name, err)
		}
		if !strings.HasPrefix(name, ".put-") {
			n++
		}
	}
	return n, nil
}

// Prune deletes the screenshots under the store's prefix last stored
// before before, listing 1,000 keys a page and deleting up to 1,000 a
// request (S3's limits).
func (s *S3Store) Prune(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: aws.String(s.prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return n, fmt.Errorf("prune artifacts in %s: list: %w", s, err)
		}
		var old []types.ObjectIdentifier
		for _, o := range page.Contents {
			name := strings.TrimPrefix(aws.ToString(o.Key), s.prefix)
			if !strings.HasSuffix(name, ".png") || !ValidArtifactSHA(strings.TrimSuffix(name, ".png")) {
				continue // not ours (or in a sub-folder)
			}
			if o.LastModified != nil && o.LastModified.Before(before) {
				old = append(old, types.ObjectIdentifier{Key: o.Key})
			}
		}
		if len(old) == 0 {
			continue
		}
		out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &s.bucket, Delete: &types.Delete{Objects: old, Quiet: aws.Bool(true)}})
		if err != nil {
			return n, fmt.Errorf("prune artifacts in %s: delete: %w", s, err)
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return n + int64(len(old)-len(out.Errors)), fmt.Errorf("prune artifacts in %s: %d not deleted, first %s: %s", s, len(out.Errors), aws.ToString(e.Key), aws.ToString(e.Message))
		}
		n += int64(len(old))
	}
	return n, nil
}
