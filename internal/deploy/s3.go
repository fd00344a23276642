package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// S3Target deploys to an S3 bucket or an S3-compatible server.
type S3Target struct {
	client *s3.Client
	bucket string
	name   string
}

// NewS3Target opens a bucket. Credentials come from the config when set,
// otherwise from the default chain (environment, shared files, IAM role).
// httpClient may be nil; tests pass one that counts requests.
func NewS3Target(ctx context.Context, c TargetConfig, httpClient aws.HTTPClient) (*S3Target, error) {
	opts := []func(*config.LoadOptions) error{}
	region := c.Region
	if region == "" && c.Endpoint != "" {
		// S3-compatible servers rarely care; the signer needs a value.
		region = "us-east-1"
	}
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	if c.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3 target %s: load AWS config: %w", c.Bucket, err)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("s3 target %s: no region (set region in the target or AWS_REGION)", c.Bucket)
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
		o.UsePathStyle = c.PathStyle
		if httpClient != nil {
			o.HTTPClient = httpClient
		}
		// Checksums only where the API requires them (DeleteObjects):
		// a trailing checksum on every PUT costs a chunked encoding that
		// some S3-compatible servers reject, and the git blob SHA already
		// travels in the metadata.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	name := "s3://" + c.Bucket
	if c.Endpoint != "" {
		name += " at " + c.Endpoint
	}
	return &S3Target{client: client, bucket: c.Bucket, name: name}, nil
}

func (t *S3Target) String() string { return t.name }

// Client is the underlying SDK client (tests create buckets with it).
func (t *S3Target) Client() *s3.Client { return t.client }

func (t *S3Target) Put(ctx context.Context, key string, body io.Reader, o PutOptions) error {
	in := &s3.PutObjectInput{
		Bucket:        &t.bucket,
		Key:           &key,
		Body:          body,
		ContentLength: aws.Int64(o.Size),
		Metadata:      o.Metadata,
	}
	if o.ContentType != "" {
		in.ContentType = aws.String(o.ContentType)
	}
	if o.CacheControl != "" {
		in.CacheControl = aws.String(o.CacheControl)
	}
	var optFns []func(*s3.Options)
	if _, seekable := body.(io.Seeker); !seekable {
		// A large blob streams straight from git: the signature cannot
		// cover a payload that is not in memory, so it is sent unsigned
		// (TLS protects it in transit) with its exact length.
		optFns = append(optFns, s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware))
	}
	if _, err := t.client.PutObject(ctx, in, optFns...); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

func (t *S3Target) Copy(ctx context.Context, src, dst string, o PutOptions) error {
	in := &s3.CopyObjectInput{
		Bucket:            &t.bucket,
		Key:               &dst,
		CopySource:        aws.String(t.bucket + "/" + escapeKey(src)),
		MetadataDirective: types.MetadataDirectiveReplace,
		Metadata:          o.Metadata,
	}
	if o.ContentType != "" {
		in.ContentType = aws.String(o.ContentType)
	}
	if o.CacheControl != "" {
		in.CacheControl = aws.String(o.CacheControl)
	}
	if _, err := t.client.CopyObject(ctx, in); err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return nil
}

func escapeKey(k string) string {
	parts := strings.Split(k, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

func (t *S3Target) Delete(ctx context.Context, keys []string) (int, error) {
	requests := 0
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		batch := keys[:n]
		keys = keys[n:]
		ids := make([]types.ObjectIdentifier, len(batch))
		for i := range batch {
			ids[i] = types.ObjectIdentifier{Key: aws.String(batch[i])}
		}
		requests++
		out, err := t.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: &t.bucket,
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return requests, fmt.Errorf("delete %d objects: %w", len(batch), err)
		}
		for _, e := range out.Errors {
			if aws.ToString(e.Code) == "NoSuchKey" {
				continue
			}
			return requests, fmt.Errorf("delete %s: %s: %s", aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message))
		}
	}
	return requests, nil
}

func (t *S3Target) List(ctx context.Context, prefix string, fn func([]Object) error) error {
	p := s3.NewListObjectsV2Paginator(t.client, &s3.ListObjectsV2Input{
		Bucket: &t.bucket,
		Prefix: aws.String(prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list %s: %w", prefix, err)
		}
		objs := make([]Object, 0, len(page.Contents))
		for _, o := range page.Contents {
			objs = append(objs, Object{
				Key:  aws.ToString(o.Key),
				Size: aws.ToInt64(o.Size),
				ETag: strings.Trim(aws.ToString(o.ETag), `"`),
			})
		}
		if err := fn(objs); err != nil {
			return err
		}
	}
	return nil
}

func (t *S3Target) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	out, err := t.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &t.bucket, Key: &key})
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("get %s: %w", key, ErrNotFound)
		}
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	return sizedBody{out.Body, aws.ToInt64(out.ContentLength)}, nil
}

// sizedBody is a body whose length the server announced, so that a reader
// of the whole (readDecoded) allocates it once.
type sizedBody struct {
	io.ReadCloser
	size int64
}

func (b sizedBody) Size() int64 { return b.size }

func (t *S3Target) Head(ctx context.Context, key string) (ObjectMeta, error) {
	out, err := t.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &t.bucket, Key: &key})
	if err != nil {
		if isNotFound(err) {
			return ObjectMeta{}, fmt.Errorf("head %s: %w", key, ErrNotFound)
		}
		return ObjectMeta{}, fmt.Errorf("head %s: %w", key, err)
	}
	return ObjectMeta{
		Size:         aws.ToInt64(out.ContentLength),
		ETag:         strings.Trim(aws.ToString(out.ETag), `"`),
		ContentType:  aws.ToString(out.ContentType),
		CacheControl: aws.ToString(out.CacheControl),
		Metadata:     out.Metadata,
	}, nil
}

func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	var api smithy.APIError
	if errors.As(err, &api) && (api.ErrorCode() == "NoSuchKey" || api.ErrorCode() == "NotFound") {
		return true
	}
	var re interface{ HTTPStatusCode() int }
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound
}
