// Package deploy publishes a site's tree to storage by git diff: a manifest
// kept next to the site records what is deployed, a deploy writes only what
// changed, in an order that never shows a broken page, and reports the
// changed paths and surrogate keys that a CDN purge needs.
package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrNotFound is returned by Target.Get and Target.Head for an absent key.
var ErrNotFound = errors.New("object not found")

// Object is one listed object.
type Object struct {
	Key  string
	Size int64
	// ETag as the store reports it, without quotes; for S3 an MD5 of the
	// content only for single-part uploads without SSE-KMS.
	ETag string
	// GitBlob is the git blob SHA of the content when the listing knows it
	// without another request (the local folder target hashes files).
	GitBlob string
}

// ObjectMeta is what Head returns.
type ObjectMeta struct {
	Size         int64
	ETag         string
	ContentType  string
	CacheControl string
	Metadata     map[string]string // user metadata, lower-case names without x-amz-meta-
}

// PutOptions are the headers an object is written with.
type PutOptions struct {
	Size         int64
	ContentType  string
	CacheControl string
	// Metadata is user metadata (x-amz-meta-*), lower-case names.
	Metadata map[string]string
}

// Target is storage a site is deployed to. Keys are full object keys
// (the edition prefix included). Implementations must be safe for
// concurrent use.
type Target interface {
	// Put writes an object, streaming body (Size bytes).
	Put(ctx context.Context, key string, body io.Reader, opts PutOptions) error
	// Copy writes dst from src server-side, replacing its headers with opts.
	Copy(ctx context.Context, src, dst string, opts PutOptions) error
	// Delete removes keys, in batches of at most 1,000; absent keys are
	// not an error. It returns the number of requests it made.
	Delete(ctx context.Context, keys []string) (int, error)
	// List calls fn with each page (≤ 1,000 objects) of keys under prefix.
	List(ctx context.Context, prefix string, fn func(page []Object) error) error
	// Get streams an object; ErrNotFound when absent.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Head reads an object's headers; ErrNotFound when absent.
	Head(ctx context.Context, key string) (ObjectMeta, error)
	// String names the target for logs and summaries (no secrets).
	String() string
}

// TargetConfig names a storage target in the server configuration
// (`targets:`) or on the command line.
type TargetConfig struct {
	// Type is "s3" or "local".
	Type string `yaml:"type" json:"type"`
	// S3
	Bucket          string `yaml:"bucket,omitempty" json:"bucket,omitempty"`
	Region          string `yaml:"region,omitempty" json:"region,omitempty"`
	Endpoint        string `yaml:"endpoint,omitempty" json:"endpoint,omitempty"`
	PathStyle       bool   `yaml:"path_style,omitempty" json:"path_style,omitempty"`
	AccessKeyID     string `yaml:"access_key_id,omitempty" json:"access_key_id,omitempty"`
	SecretAccessKey string `yaml:"secret_access_key,omitempty" json:"-"`
	// local
	Dir string `yaml:"dir,omitempty" json:"dir,omitempty"`
	// PublicURL is where the bucket or folder is served, for the
	// environment URL of deployments (an edition's prefix is appended).
	PublicURL string `yaml:"public_url,omitempty" json:"public_url,omitempty"`
}

// Validate reports the first setting that is missing or wrong.
func (c TargetConfig) Validate() error {
	switch c.Type {
	case "s3":
		if c.Bucket == "" {
			return errors.New("target type s3 needs bucket")
		}
		if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
			return errors.New("target: access_key_id and secret_access_key go together (or leave both empty for the default credential chain)")
		}
		if c.Endpoint != "" && !strings.HasPrefix(c.Endpoint, "http://") && !strings.HasPrefix(c.Endpoint, "https://") {
			return fmt.Errorf("target endpoint %q: must start with http:// or https://", c.Endpoint)
		}
	case "local":
		if c.Dir == "" {
			return errors.New("target type local needs dir")
		}
	case "":
		return errors.New("target needs a type (s3 or local)")
	default:
		return fmt.Errorf("target type %q: must be s3 or local", c.Type)
	}
	return nil
}

// NewTarget opens the target a config describes.
func NewTarget(ctx context.Context, c TargetConfig) (Target, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.Type == "local" {
		return NewLocalTarget(c.Dir)
	}
	return NewS3Target(ctx, c, nil)
}

// String names the target without credentials.
func (c TargetConfig) String() string {
	switch c.Type {
	case "s3":
		s := "s3://" + c.Bucket
		if c.Endpoint != "" {
			s += " at " + c.Endpoint
		}
		if c.SecretAccessKey != "" {
			s += " (static credentials)"
		}
		return s
	case "local":
		return "file://" + c.Dir
	}
	return "target of type " + c.Type
}

// GoString keeps %#v from printing the secret key.
func (c TargetConfig) GoString() string { return "deploy.TargetConfig{" + c.String() + "}" }

// MarshalYAML writes the entry with the secret key redacted, so a printed
// configuration never shows it.
func (c TargetConfig) MarshalYAML() (any, error) {
	type plain TargetConfig
	p := plain(c)
	if p.SecretAccessKey != "" {
		p.SecretAccessKey = "[redacted]"
	}
	return p, nil
}
