package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hoist-dev/hoist/internal/deploy"
	"github.com/hoist-dev/hoist/internal/purge"
	"github.com/hoist-dev/hoist/internal/testenv"
)

func TestSyncPurgeSpecs(t *testing.T) {
	file := filepath.Join(t.TempDir(), "server.yml")
	os.WriteFile(file, []byte("github: { app_id: 1 }\ncdns:\n  fastly-main: { type: fastly, service_id: SVC, api_token: \"${TEST_FASTLY_TOKEN}\" }\n"), 0o600)
	t.Setenv("TEST_FASTLY_TOKEN", "tok")
	ctx := context.Background()
	p, err := newSyncPurger(ctx, []string{"varnish:http://127.0.0.1:1,http://127.0.0.1:2", "fastly-main"}, file)
	if err != nil {
		t.Fatal(err)
	}
	cdns := p.(*purge.DeployPurger).CDNs
	if len(cdns) != 2 || len(cdns[0].Nodes) != 2 || cdns[1].ServiceID != "SVC" || cdns[1].APIToken.Reveal() != "tok" {
		t.Fatalf("cdns = %v", cdns)
	}
	for spec, want := range map[string]string{
		"akamai:x":    "inline CDNs are",
		"nope":        `no cdn named "nope"`,
		"varnish:ftp": "must be a URL",
	} {
		if _, err := newSyncPurger(ctx, []string{spec}, file); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", spec, err, want)
		}
	}
	if _, err := newSyncPurger(ctx, []string{"edge"}, ""); err == nil || !strings.Contains(err.Error(), "no --cdns file") {
		t.Errorf("no file: %v", err)
	}
}

// TestSyncPurgesVarnish: hoist sync --purge deploys a folder and purges a
// real Varnish in front of it, only when something changed.
func TestSyncPurgesVarnish(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	node := varnishInFrontOf(t, dst)
	get := func(p string) (int, string) {
		resp, err := http.Get("http://" + node + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	write := func(p, body string) {
		os.MkdirAll(filepath.Dir(filepath.Join(src, p)), 0o755)
		if err := os.WriteFile(filepath.Join(src, p), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sync := func() {
		t.Helper()
		if code := runSync(context.Background(), []string{src, dst, "--purge", "varnish:http://" + node}); code != 0 {
			t.Fatalf("hoist sync exited %d", code)
		}
	}
	write("index.html", "v1 home")
	write("gone.html", "v1 gone")
	sync()
	for _, p := range []string{"/", "/gone.html"} {
		if code, body := get(p); code != 200 || !strings.HasPrefix(body, "v1") {
			t.Fatalf("GET %s: %d %q", p, code, body)
		}
	}
	write("index.html", "v2 home")
	os.Remove(filepath.Join(src, "gone.html"))
	sync()
	if _, body := get("/"); body != "v2 home" {
		t.Fatalf("after sync --purge: %q", body)
	}
	if code, _ := get("/gone.html"); code != 404 {
		t.Fatalf("deleted page: %d", code)
	}
}

// TestSyncRetriesAFailedPurge: when the CDN refuses the purge after a
// deploy, hoist sync fails and keeps the purge; the next sync, with nothing
// new to write, purges it (the CDN stops serving the stale page) and then
// forgets it.
func TestSyncRetriesAFailedPurge(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	node := varnishInFrontOf(t, dst)
	// The purge endpoint hoist is given: Varnish behind a door that can be
	// made to refuse purges (the adapter's own retries included) for the
	// length of one sync.
	nodeURL, _ := url.Parse("http://" + node)
	proxy := httputil.NewSingleHostReverseProxy(nodeURL)
	var failing atomic.Bool
	var purges atomic.Int32
	door := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		purges.Add(1)
		if failing.Load() {
			http.Error(w, "purge refused", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(door.Close)
	get := func(p string) string {
		resp, err := http.Get("http://" + node + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	write := func(p, body string) {
		if err := os.WriteFile(filepath.Join(src, p), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sync := func() (int, string) {
		t.Helper()
		return runSyncStderr(t, src, dst, "--purge", "varnish:"+door.URL, "--config", "")
	}
	pending := filepath.Join(dst, filepath.FromSlash(deploy.PurgePendingName))

	write("index.html", "v1 home")
	if code, out := sync(); code != 0 {
		t.Fatalf("first sync: exit %d: %s", code, out)
	}
	if body := get("/"); body != "v1 home" {
		t.Fatalf("GET / = %q", body)
	}

	write("index.html", "v2 home")
	failing.Store(true)
	code, out := sync()
	failing.Store(false)
	if code != 1 || !strings.Contains(out, "deployed, but the purge failed") || !strings.Contains(out, "the next hoist sync purges it") {
		t.Fatalf("sync with a refused purge: exit %d: %s", code, out)
	}
	if body := get("/"); body != "v1 home" {
		t.Fatalf("the CDN should still serve the stale page, got %q", body)
	}
	if _, err := os.Stat(pending); err != nil {
		t.Fatalf("no pending purge kept: %v", err)
	}

	// Nothing changed since: the retry still purges what is pending.
	purges.Store(0)
	if code, out := sync(); code != 0 {
		t.Fatalf("retry: exit %d: %s", code, out)
	}
	if purges.Load() == 0 {
		t.Fatal("the retry did not purge")
	}
	if body := get("/"); body != "v2 home" {
		t.Fatalf("after the retry the CDN serves %q", body)
	}
	if _, err := os.Stat(pending); !os.IsNotExist(err) {
		t.Fatalf("the pending purge outlived a successful purge: %v", err)
	}
	// And once purged, a sync with nothing to do purges nothing.
	purges.Store(0)
	if code, out := sync(); code != 0 || purges.Load() != 0 {
		t.Fatalf("idle sync: exit %d, %d purge requests: %s", code, purges.Load(), out)
	}
}

// varnishInFrontOf starts Varnish with the shipped VCL in front of an
// origin serving the folder dst, as a bucket would: cached for an hour,
// tagged with the default edition's surrogate keys. It returns the node's
// address.
func varnishInFrontOf(t *testing.T, dst string) string {
	t.Helper()
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := purge.SitePath(r.URL.Path)
		b, err := os.ReadFile(filepath.Join(dst, filepath.FromSlash(p)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("Surrogate-Key", deploy.EditionKey("default")+" "+deploy.PathKey("default", p))
		w.Write(b)
	}))
	t.Cleanup(origin.Close)
	return testenv.Varnish(t, filepath.Join("..", "..", "examples", "varnish", "hoist.vcl"), origin.Listener.Addr().String())
}
