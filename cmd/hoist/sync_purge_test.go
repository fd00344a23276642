package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
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
	node := testenv.Varnish(t, filepath.Join("..", "..", "examples", "varnish", "hoist.vcl"), origin.Listener.Addr().String())
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
