package sitetest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/hoist-dev/hoist/internal/purge"
)

// BucketOrigin serves the folder prefix of bucket at the root of a site,
// as an S3 website endpoint with an origin path would: dir/ is
// dir/index.html, and an object's surrogate keys travel in
// x-amz-meta-surrogate-key. Every page may be cached for an hour, so an
// edge in front of it (testenv.Varnish) relies on purges. It returns the
// origin's host:port.
func BucketOrigin(t testing.TB, client *s3.Client, bucket, prefix string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out, err := client.GetObject(r.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(prefix + purge.SitePath(r.URL.Path))})
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer out.Body.Close()
		w.Header().Set("Content-Type", aws.ToString(out.ContentType))
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("x-amz-meta-surrogate-key", out.Metadata["surrogate-key"])
		io.Copy(w, out.Body)
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}
