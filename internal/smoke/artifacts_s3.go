package smoke

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// MaxArtifactBytes is the largest screenshot a public store accepts: GitHub's
// image proxy does not show images of 5 MB or more, and the runner retakes
// bigger shots at a smaller scale to stay under it.
const MaxArtifactBytes = 5_000_000 - 1

// ErrArtifactTooLarge is returned by S3Store.Put for a PNG over
// MaxArtifactBytes.
var ErrArtifactTooLarge = errors.New("artifact too large")

// ArtifactCacheControl is sent with every artifact: its name is the hash of
// its bytes, so it never changes.
const ArtifactCacheControl = "public, max-age=31536000, immutable"

// S3Store is an ArtifactStore in an S3 bucket (or an S3-compatible server):
// <prefix><sha256>.png. hoist still serves the screenshots itself, so the
// bucket needs no public access.
type S3Store struct {
	client *s3.Client
	bucket string
	prefix string
}

// NewS3Store keeps artifacts under prefix in bucket. The client is built by
// the caller (a deploy target's, so endpoint, path style and credentials are
// configured in one place). A non-empty prefix ends with "/".
func NewS3Store(client *s3.Client, bucket, prefix string) *S3Store {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return &S3Store{client: client, bucket: bucket, prefix: prefix}
}

func (s *S3Store) String() string { return "s3://" + s.bucket + "/" + s.prefix }

func (s *S3Store) key(sha string) string { return s.prefix + sha + ".png" }

// Put uploads the PNG unless an object of that name exists already: the
// name is the content's hash, so an existing object is not rewritten,
// except once it is older than ArtifactRefresh (for retention).
// A HEAD comes first rather than a conditional PUT (If-None-Match), which
// not every S3-compatible server implements; two runs racing to upload the
// same name write the same bytes.
func (s *S3Store) Put(ctx context.Context, png []byte) (string, error) {
	sum := sha256.Sum256(png)
	sha := hex.EncodeToString(sum[:])
	if len(png) > MaxArtifactBytes {
		return "", fmt.Errorf("store artifact %s: %d bytes: %w (limit %d)", sha, len(png), ErrArtifactTooLarge, MaxArtifactBytes)
	}
	key := s.key(sha)
	head, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &key})
	switch {
	case err == nil && head.LastModified != nil && time.Since(*head.LastModified) > ArtifactRefresh:
		// Stored long ago: write the same bytes again so that retention,
		// which goes by the object's time, keeps it.
	case err == nil:
		return sha, nil
	case !s3NotFound(err):
		return "", fmt.Errorf("store artifact %s in %s: %w", sha, s, err)
	}
	md := md5.Sum(png)
	_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        &s.bucket,
		Key:           &key,
		Body:          bytes.NewReader(png),
		ContentLength: aws.Int64(int64(len(png))),
		ContentType:   aws.String("image/png"),
		CacheControl:  aws.String(ArtifactCacheControl),
		// The server checks the bytes arrived whole.
		ContentMD5: aws.String(base64.StdEncoding.EncodeToString(md[:])),
	})
	if err != nil {
		return "", fmt.Errorf("store artifact %s in %s: %w", sha, s, err)
	}
	return sha, nil
}

// Open streams a stored PNG; fs.ErrNotExist when absent. The name is
// validated before any request.
func (s *S3Store) Open(ctx context.Context, sha string) (io.ReadCloser, error) {
	if !ValidArtifactSHA(sha) {
		return nil, &fs.PathError{Op: "open", Path: sha, Err: fs.ErrNotExist}
	}
	key := s.key(sha)
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		if s3NotFound(err) {
			return nil, &fs.PathError{Op: "open", Path: sha, Err: fs.ErrNotExist}
		}
		return nil, fmt.Errorf("open artifact %s in %s: %w", sha, s, err)
	}
	return &s3Artifact{ReadCloser: out.Body, size: aws.ToInt64(out.ContentLength)}, nil
}

// s3Artifact is an object's body with its length, so the handler can send
// Content-Length while it streams.
type s3Artifact struct {
	io.ReadCloser
	size int64
}

func (a *s3Artifact) Size() int64 { return a.size }

func s3NotFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return true
		case "NoSuchBucket":
			return false // a setting is wrong: say so rather than 404
		}
	}
	var re interface{ HTTPStatusCode() int }
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound
}
