package purge

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/testenv"
)

// originSite is a small S3-like origin: it serves site paths with the
// x-amz-meta-surrogate-key header hoist writes, maps dir/ to
// dir/index.html as the S3 website endpoint does, and counts fetches.
type originSite struct {
	mu    sync.Mutex
	pages map[string]originPage
	hits  map[string]int
}

type originPage struct {
	body string
	keys []string
}

func newOrigin(t *testing.T) (*originSite, string) {
	o := &originSite{pages: map[string]originPage{}, hits: map[string]int{}}
	srv := httptest.NewServer(o)
	t.Cleanup(srv.Close)
	return o, srv.Listener.Addr().String()
}

func (o *originSite) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, "/")
	if p == "" || strings.HasSuffix(p, "/") {
		p += "index.html"
	}
	o.mu.Lock()
	page, ok := o.pages[p]
	o.hits[p]++
	o.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("x-amz-meta-surrogate-key", strings.Join(page.keys, " "))
	io.WriteString(w, page.body)
}

func (o *originSite) set(p, body string, keys ...string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.pages[p] = originPage{body: body, keys: keys}
}

func (o *originSite) remove(p string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.pages, p)
}

func (o *originSite) hitCount(p string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.hits[p]
}

var varnishClient = &http.Client{Timeout: 10 * time.Second}

func get(t *testing.T, addr, p string) (int, string) {
	t.Helper()
	resp, err := varnishClient.Get("http://" + addr + "/" + p)
	if err != nil {
		t.Fatalf("GET %s: %v", p, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("xkey") != "" || resp.Header.Get("x-amz-meta-surrogate-key") != "" {
		t.Fatalf("GET %s: cache keys leak to visitors: %v", p, resp.Header)
	}
	return resp.StatusCode, string(b)
}

func shippedVCL(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "examples", "varnish", "hoist.vcl")
}

func pathKey(p string) string { return "p-" + strings.NewReplacer("/", "_", ".", "_").Replace(p) }

// TestVarnishXkeyPurge runs the shipped VCL on two real Varnish nodes in
// front of an origin: cached pages stay old until the purge, only pages
// with purged keys change, a deleted page is 404 after it, and a node that
// is down is reported by name while the others are purged.
func TestVarnishXkeyPurge(t *testing.T) {
	origin, backend := newOrigin(t)
	vcl := shippedVCL(t)
	nodeA := testenv.Varnish(t, vcl, backend)
	nodeB := testenv.Varnish(t, vcl, backend)

	site := []string{"index.html", "docs/a/index.html", "css/site.css", "old.html"}
	for _, p := range site {
		origin.set(p, "v1 "+p, "e-prod", pathKey(p))
	}
	pages := append(site, "", "docs/a/")
	for _, node := range []string{nodeA, nodeB} {
		for _, p := range pages {
			for i := 0; i < 2; i++ {
				if code, body := get(t, node, p); code != 200 || !strings.HasPrefix(body, "v1 ") {
					t.Fatalf("GET %s on %s: %d %q", p, node, code, body)
				}
			}
		}
	}
	if n := origin.hitCount("css/site.css"); n != 2 {
		t.Fatalf("css fetched %d times from the origin, want once per node", n)
	}

	// Deploy v2: index.html changes, old.html is deleted.
	origin.set("index.html", "v2 index.html", "e-prod", pathKey("index.html"))
	origin.remove("old.html")
	for _, node := range []string{nodeA, nodeB} {
		if _, body := get(t, node, ""); body != "v1 index.html" {
			t.Fatalf("before the purge Varnish should serve the cached page, got %q", body)
		}
	}

	cfg := CDNConfig{Name: "varnish", Type: Varnish, Nodes: []string{"http://" + nodeA, "http://" + nodeB}}
	req := Request{Edition: "prod", EditionKey: "e-prod", Changes: []Change{
		{Path: "index.html", Keys: []string{"e-prod", pathKey("index.html")}},
		{Path: "old.html", Keys: []string{"e-prod", pathKey("old.html")}},
	}}
	plan, res, err := Run(context.Background(), req, cfg)
	if err != nil {
		t.Fatalf("purge: %v", err)
	}
	if len(plan.Batches) != 2 || res.Nodes != 2 || res.Requests != 2 || res.Keys != 2 {
		t.Fatalf("plan %+v result %+v", plan, res)
	}
	// index.html, / and old.html on each node.
	if res.Evicted != 6 {
		t.Fatalf("evicted %d objects, want 6", res.Evicted)
	}
	for _, node := range []string{nodeA, nodeB} {
		for _, p := range []string{"", "index.html"} {
			if code, body := get(t, node, p); code != 200 || body != "v2 index.html" {
				t.Fatalf("after the purge GET /%s on %s = %d %q, want v2", p, node, code, body)
			}
		}
		if code, _ := get(t, node, "old.html"); code != 404 {
			t.Fatalf("deleted page: %d, want 404", code)
		}
		for _, p := range []string{"css/site.css", "docs/a/", "docs/a/index.html"} {
			if _, body := get(t, node, p); !strings.HasPrefix(body, "v1 ") {
				t.Fatalf("%s was not purged but changed: %q", p, body)
			}
		}
	}
	if n := origin.hitCount("css/site.css"); n != 2 {
		t.Fatalf("css fetched %d times, want 2: a purge evicted an unrelated page", n)
	}

	// A PURGE without an xkey header is refused rather than purging the URL.
	r, _ := http.NewRequest("PURGE", "http://"+nodeA+"/", nil)
	resp, err := varnishClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("PURGE without keys: %d, want 400", resp.StatusCode)
	}

	// A node that is down: the error names it, the live node is purged.
	dead := "http://" + freeLoopback(t)
	origin.set("css/site.css", "v2 css", "e-prod", pathKey("css/site.css"))
	cfg.Nodes = []string{"http://" + nodeA, dead}
	_, res, err = Run(context.Background(), Request{Edition: "prod", EditionKey: "e-prod",
		Changes: []Change{{Path: "css/site.css", Keys: []string{"e-prod", pathKey("css/site.css")}}}},
		cfg, WithRetry(RetryPolicy{Attempts: 2, Base: time.Millisecond}))
	if err == nil || !strings.Contains(err.Error(), dead) || strings.Contains(err.Error(), nodeA) {
		t.Fatalf("want an error naming only %s, got %v", dead, err)
	}
	if res.Nodes != 1 {
		t.Fatalf("nodes purged = %d, want 1", res.Nodes)
	}
	if _, body := get(t, nodeA, "css/site.css"); body != "v2 css" {
		t.Fatalf("live node not purged: %q", body)
	}

	// A soft purge marks the page stale: Varnish may serve the old copy
	// once (grace) while it fetches the new one, then serves the new one.
	origin.set("docs/a/index.html", "v2 docs", "e-prod", pathKey("docs/a/index.html"))
	cfg.Nodes, cfg.Soft = []string{"http://" + nodeB}, true
	_, res, err = Run(context.Background(), Request{Edition: "prod", EditionKey: "e-prod",
		Changes: []Change{{Path: "docs/a/index.html", Keys: []string{"e-prod", pathKey("docs/a/index.html")}}}}, cfg)
	if err != nil || res.Evicted != 2 {
		t.Fatalf("soft purge: %v, evicted %d (want docs/a/ and docs/a/index.html)", err, res.Evicted)
	}
	for i := 0; ; i++ {
		_, body := get(t, nodeB, "docs/a/")
		if body == "v2 docs" {
			break
		}
		if body != "v1 docs/a/index.html" || i == 100 {
			t.Fatalf("after a soft purge: %q", body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freeLoopback(t *testing.T) string {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.Listener.Addr().String()
	srv.Close()
	return addr
}

// TestVarnishManyKeys purges 2,000 keys: one header with all of them is
// over Varnish's 8 KB header limit, the chunked plan is accepted and
// evicts every page.
func TestVarnishManyKeys(t *testing.T) {
	origin, backend := newOrigin(t)
	node := testenv.Varnish(t, shippedVCL(t), backend)
	const n = 2000
	var changes []Change
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("pages/%04d.html", i)
		key := fmt.Sprintf("p-%016x", uint64(i)*0x9e3779b97f4a7c15)
		origin.set(p, "v1", "e-prod", key)
		changes = append(changes, Change{Path: p, Keys: []string{"e-prod", key}})
	}
	fetchAll := func(want string) {
		var wg sync.WaitGroup
		errs := make(chan string, n)
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := w; i < n; i += 8 {
					resp, err := varnishClient.Get(fmt.Sprintf("http://%s/pages/%04d.html", node, i))
					if err != nil {
						errs <- err.Error()
						return
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if string(b) != want {
						errs <- fmt.Sprintf("page %d: %q, want %q", i, b, want)
						return
					}
				}
			}(w)
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Fatal(e)
		}
	}
	fetchAll("v1")
	for _, c := range changes {
		origin.set(c.Path, "v2", c.Keys...)
	}
	fetchAll("v1") // cached

	// One request with every key is refused by Varnish.
	var all []string
	for _, c := range changes {
		all = append(all, c.Keys[1])
	}
	r, _ := http.NewRequest("PURGE", "http://"+node+"/", nil)
	r.Header.Set("xkey-purge", strings.Join(all, " "))
	if resp, err := varnishClient.Do(r); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatalf("an unchunked %d-byte header was accepted; the test proves nothing", len(strings.Join(all, " ")))
		}
	}

	cfg := CDNConfig{Name: "varnish", Type: Varnish, Nodes: []string{"http://" + node}, MaxBatches: 50}
	plan, res, err := Run(context.Background(), Request{Edition: "prod", EditionKey: "e-prod", Changes: changes}, cfg)
	if err != nil {
		t.Fatalf("purge: %v", err)
	}
	if plan.Whole || len(plan.Batches) < 5 || res.Keys != n || res.Evicted != n {
		t.Fatalf("plan: %d batches (whole %v); result %+v", len(plan.Batches), plan.Whole, res)
	}
	fetchAll("v2")
}
