package testenv

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// S3Writes is a proxy in front of an S3 server that counts the writes
// reaching it, by key: uploads, server-side copies and DeleteObjects
// requests. It can refuse uploads, as a bucket policy would.
type S3Writes struct {
	// URL is the proxy's endpoint, to give clients instead of the server's.
	URL     string
	refuse  atomic.Bool
	mu      sync.Mutex
	puts    []string
	copies  []string
	deletes int
}

// CountS3Writes starts the proxy in front of endpoint for the test.
func CountS3Writes(t testing.TB, endpoint string) *S3Writes {
	t.Helper()
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatalf("S3 endpoint %q: %v", endpoint, err)
	}
	c := &S3Writes{}
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host // the S3 signature covers the Host the client used
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && c.refuse.Load() {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`)
			return
		}
		key := strings.TrimPrefix(r.URL.Path, "/")
		c.mu.Lock()
		switch {
		case r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != "":
			c.copies = append(c.copies, key)
		case r.Method == http.MethodPut:
			c.puts = append(c.puts, key)
		case r.Method == http.MethodPost && r.URL.Query().Has("delete"):
			c.deletes++
		}
		c.mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c.URL = srv.URL
	return c
}

// Refuse makes uploads fail with 403 AccessDenied (true) or pass (false).
func (c *S3Writes) Refuse(on bool) { c.refuse.Store(on) }

// Snapshot returns the keys uploaded and copied so far, in order, and the
// number of DeleteObjects requests.
func (c *S3Writes) Snapshot() (puts, copies []string, deletes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.puts...), append([]string(nil), c.copies...), c.deletes
}

// SiteObjects drops hoist's own bookkeeping under .hoist/ (manifest,
// pending list) from keys, sorted.
func SiteObjects(keys []string) []string {
	var out []string
	for _, k := range keys {
		if !strings.Contains(k, ".hoist/") {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
