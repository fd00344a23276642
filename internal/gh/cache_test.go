package gh

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/hoisttest"
)

// Two installations read the same URL from a server whose ETag is the same
// for both and that does not send Vary (the careless case): each must get
// its own answer, first and when revalidated, and the revalidations must
// be 304s, counted as such in the metrics.
func TestResponseCacheKeepsInstallationsApart(t *testing.T) {
	pemKey := hoisttest.AppKey(t).PrivateKeyPEM
	var notModified, full atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/access_tokens") {
			id := strings.Split(strings.TrimPrefix(r.URL.Path, "/api/v3/app/installations/"), "/")[0]
			w.WriteHeader(201)
			fmt.Fprintf(w, `{"token":"ghs_tok%s","expires_at":"%s"}`, id, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
			return
		}
		w.Header().Set("ETag", `W/"same-for-everyone"`)
		w.Header().Set("Cache-Control", "private, max-age=60, s-maxage=60")
		if r.Header.Get("If-None-Match") == `W/"same-for-everyone"` {
			notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		full.Add(1)
		owner := strings.TrimPrefix(r.Header.Get("Authorization"), "token ghs_tok")
		fmt.Fprintf(w, `{"full_name":"owner%s/site"}`, owner)
	}))
	defer srv.Close()

	cfg := &serverconfig.Server{}
	cfg.GitHub.URL = srv.URL + "/api/v3/"
	cfg.GitHub.AppID = 1
	cfg.GitHub.PrivateKey = string(pemKey)
	cfg.GitHub.Timeout = 5 * time.Second
	cfg.GitHub.CacheMB = 1
	metrics := NewMetrics(prometheus.NewRegistry())
	cc, err := NewClientCreator(cfg, RateLimitOptions{Logger: zerolog.Nop(), Metrics: metrics})
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 2; round++ {
		for _, id := range []int64{1, 2} {
			client, err := cc.NewInstallationClient(id)
			if err != nil {
				t.Fatal(err)
			}
			repo, _, err := client.Repositories.Get(context.Background(), "o", "r")
			if err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("owner%d/site", id); repo.GetFullName() != want {
				t.Fatalf("round %d: installation %d got %q, want %q", round, id, repo.GetFullName(), want)
			}
		}
	}
	if full.Load() != 2 || notModified.Load() != 2 {
		t.Fatalf("%d full answers and %d 304s, want 2 and 2 (one read per installation, then revalidations)", full.Load(), notModified.Load())
	}
	if got := testutil.ToFloat64(metrics.calls.WithLabelValues("304", "")); got != 2 {
		t.Fatalf("metrics counted %v 304s, want 2", got)
	}
	if got := testutil.ToFloat64(metrics.calls.WithLabelValues("200", "")); got != 2 {
		t.Fatalf("metrics counted %v 200s, want 2", got)
	}
}

// The cache holds at most its bound in bytes, dropping the least recently
// used answers first, and does not keep one answer larger than an eighth.
func TestResponseCacheBoundedInBytes(t *testing.T) {
	c := newResponseCache(8 << 10)
	a, b := c.scope(), c.scope()
	entry := make([]byte, 512)
	for i := 0; i < 100; i++ {
		a.Set(fmt.Sprint("k", i), entry)
	}
	n, size := c.size()
	if size > 8<<10 || n != 16 {
		t.Fatalf("%d entries, %d bytes; want 16 entries within 8 KiB", n, size)
	}
	if _, ok := a.Get("k0"); ok {
		t.Fatal("the oldest entry survived")
	}
	if _, ok := a.Get("k99"); !ok {
		t.Fatal("the newest entry was dropped")
	}
	if _, ok := b.Get("k99"); ok {
		t.Fatal("another client's scope sees the entry")
	}
	b.Set("big", make([]byte, 2<<10))
	if _, ok := b.Get("big"); ok {
		t.Fatal("an answer larger than an eighth of the cache was kept")
	}
	a.Set("k99", make([]byte, 100)) // replacing an entry frees its old size
	if _, size2 := c.size(); size2 != size-512+100 {
		t.Fatalf("size %d after replacing, want %d", size2, size-512+100)
	}
	a.Delete("k99")
	if _, size3 := c.size(); size3 != size-512 {
		t.Fatalf("size %d after delete, want %d", size3, size-512)
	}
}
