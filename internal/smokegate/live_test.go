package smokegate_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/smoke"
	"github.com/hoist-dev/hoist/internal/smokegate"
	"github.com/hoist-dev/hoist/internal/testenv"
)

// The secret a private service of this machine holds: no live check may
// read it.
const secret = "s3cr3t-metadata-token-7f41"

// secretListener stands in for hoist's own /metrics, a private service or
// the metadata service on 127.0.0.1; it counts what reaches it.
func secretListener(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, "<!doctype html><title>inside</title><h1>%s</h1>", secret)
	}))
	t.Cleanup(func() { ts.CloseClientConnections(); ts.Close() })
	return ts, &hits
}

// liveGate is a gate of its own for live checks, with real Chromium,
// screenshots in a folder and the given smoke.verify_private_hosts.
func liveGate(t *testing.T, privateHosts ...string) (*smokegate.Gate, string) {
	t.Helper()
	dir := t.TempDir()
	artifacts := filepath.Join(dir, "artifacts")
	cfg := &serverconfig.Server{DataDir: dir, PublicURL: "https://hoist.example.com",
		Smoke: serverconfig.Smoke{Chromium: testenv.Chromium(t), ArtifactsDir: artifacts, ArtifactTTL: serverconfig.DefaultArtifactTTL,
			VerifyPrivateHosts: privateHosts}}
	cfg.GitHub.PrivateKey = "a key to sign screenshot URLs with"
	g := smokegate.New(smokegate.Deps{Server: cfg, Logger: zerolog.Nop()})
	if err := g.Ready(); err != nil {
		t.Fatal(err)
	}
	return g, artifacts
}

// leaked reports where the secret shows up: the error, the check run
// output, or any stored artifact.
func leaked(t *testing.T, err error, res smokegate.LiveResult, artifacts string) []string {
	t.Helper()
	var where []string
	if err != nil && strings.Contains(err.Error(), secret) {
		where = append(where, "error")
	}
	if o := res.Output; o != nil && strings.Contains(o.GetTitle()+o.GetSummary()+o.GetText(), secret) {
		where = append(where, "check run output")
	}
	filepath.WalkDir(artifacts, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, _ := os.ReadFile(p); strings.Contains(string(b), secret) {
				where = append(where, p)
			}
		}
		return nil
	})
	return where
}

func artifactCount(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

// A repository's verify URL that is, or resolves to, a loopback address
// is refused before any browser starts, with a reason that names the
// address and the server setting; the listener there receives nothing and
// its secret is nowhere. An entry of smoke.verify_private_hosts allows its
// exact host and port only.
func TestCheckLiveRefusesPrivateURLs(t *testing.T) {
	inside, hits := secretListener(t)
	port := strings.Split(inside.URL, ":")[2]
	g, artifacts := liveGate(t, "127.0.0.1:1", "edge.internal")
	var lookups sync.Map
	g.SetNetwork(&smoke.Network{Lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
		lookups.Store(host, true)
		switch host {
		case "shop.example":
			// Public to one lookup would not be enough: any private
			// answer refuses.
			return []netip.Addr{netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("127.0.0.1")}, nil
		case "edge.internal", "localhost":
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}})
	const unless = "; hoist does not browse private addresses unless the server allows the host (smoke.verify_private_hosts)"
	for _, c := range []struct{ url, want string }{
		{inside.URL + "/", "verify url host 127.0.0.1 is a loopback address" + unless},
		{"http://localhost:" + port + "/", "verify url host localhost resolves to loopback address 127.0.0.1" + unless},
		{"http://shop.example:" + port + "/", "verify url host shop.example resolves to loopback address 127.0.0.1" + unless},
		{"http://[::ffff:127.0.0.1]:" + port + "/", "verify url host ::ffff:127.0.0.1 is a loopback address" + unless},
		{"http://169.254.169.254/latest/meta-data/", "verify url host 169.254.169.254 is a cloud metadata address" + unless},
		// The allowed entries name another port, and a name: neither
		// covers this host and port.
		{"http://edge.internal:" + port + "/", "verify url host edge.internal resolves to loopback address 127.0.0.1" + unless},
	} {
		res, err := g.CheckLive(context.Background(), smokegate.LiveCheck{Repo: "acme/site", Env: "staging", SHA: "0123456789abcdef", URL: c.url})
		var refused *smokegate.URLRefusedError
		if !errors.As(err, &refused) || !jobs.IsPermanent(err) || refused.Reason != c.want && !strings.HasPrefix(refused.Reason, c.want) {
			t.Errorf("CheckLive(%s) = %v (%T), want a permanent refusal %q", c.url, err, err, c.want)
		}
		if res.Report != nil || res.Output != nil {
			t.Errorf("%s: a refused check has a report", c.url)
		}
		if where := leaked(t, err, res, artifacts); len(where) != 0 {
			t.Errorf("%s: the secret shows in %v", c.url, where)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the listener inside received %d requests", n)
	}
	if n := artifactCount(t, artifacts); n != 0 {
		t.Errorf("%d artifacts stored for refused checks", n)
	}
	if _, ok := lookups.Load("localhost"); !ok {
		t.Error("localhost was not resolved like any other name")
	}
}

// A public-looking live site that redirects to a loopback address: the
// first request reaches the site at the address checked before the run,
// the redirect's target is refused by the fence (a blocked_request that
// fails the check), and the name is never resolved again, so it cannot
// rebind to this machine while the browser runs.
func TestCheckLiveRefusesRedirectToLoopback(t *testing.T) {
	inside, hits := secretListener(t)
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			http.Redirect(w, r, inside.URL+"/metrics", http.StatusFound)
		case "/frame":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, `<!doctype html><title>Shop</title><h1>Shop</h1><iframe src="%s/"></iframe><img src="http://localhost:%s/x.png">`,
				inside.URL, strings.Split(inside.URL, ":")[2])
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(func() { site.CloseClientConnections(); site.Close() })
	siteAP := netip.MustParseAddrPort(strings.TrimPrefix(site.URL, "http://"))
	g, artifacts := liveGate(t)
	var lookups atomic.Int32
	g.SetNetwork(&smoke.Network{Public: []netip.AddrPort{siteAP}, Lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
		if host != "shop.example" {
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
		// The first answer is checked; a later one would be this
		// machine's secret listener.
		if lookups.Add(1) == 1 {
			return []netip.Addr{siteAP.Addr()}, nil
		}
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}})
	res, err := g.CheckLive(context.Background(), smokegate.LiveCheck{Repo: "acme/site", Env: "staging", SHA: "0123456789abcdef",
		URL:   fmt.Sprintf("http://shop.example:%d/", siteAP.Port()),
		Smoke: config.RepoSmoke{Pages: []config.RepoPage{{Path: "/"}, {Path: "/frame", ExpectText: "Shop"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Report.Conclusion != smoke.Failure || !strings.Contains(res.Reason, "blocked_request") {
		t.Fatalf("verification of a redirect to loopback: %s, reason %q", res.Report.Conclusion, res.Reason)
	}
	blocked := map[string]string{}
	for _, p := range res.Report.Pages {
		for _, f := range p.Findings {
			if f.Kind == smoke.KindBlockedRequest {
				blocked[p.Path+" "+f.Resource] = f.Message
			}
		}
	}
	for _, want := range []string{"/ " + inside.URL + "/metrics", "/frame " + inside.URL + "/"} {
		if !strings.Contains(blocked[want], "loopback address 127.0.0.1") {
			t.Errorf("no blocked_request for %s: %v", want, blocked)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the listener inside received %d requests", n)
	}
	if n := lookups.Load(); n != 1 {
		t.Errorf("shop.example resolved %d times, want once, before the run", n)
	}
	if where := leaked(t, nil, res, artifacts); len(where) != 0 {
		t.Errorf("the secret shows in %v", where)
	}
	if artifactCount(t, artifacts) == 0 {
		t.Error("no screenshot stored: the pages were not photographed")
	}
}

// With smoke.verify_private_hosts naming the edge's host and port, a live
// site on loopback is checked as before; a redirect from it to another
// port of this machine is still refused.
func TestCheckLiveAllowedPrivateHost(t *testing.T) {
	inside, hits := secretListener(t)
	edge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, `<!doctype html><title>Shop</title><h1>Shop</h1><ul><li class="product">Tea</li></ul>`)
		case "/away":
			http.Redirect(w, r, inside.URL+"/", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(func() { edge.CloseClientConnections(); edge.Close() })
	host := strings.TrimPrefix(edge.URL, "http://")
	port := strings.Split(host, ":")[1]
	g, artifacts := liveGate(t, host, "localhost:"+port)

	for _, u := range []string{edge.URL + "/", "http://localhost:" + port + "/"} {
		res, err := g.CheckLive(context.Background(), smokegate.LiveCheck{Repo: "acme/site", Env: "staging", SHA: "0123456789abcdef", URL: u,
			CacheBust: "0123456", Smoke: config.RepoSmoke{Pages: []config.RepoPage{{Path: "/", ExpectSelector: ".product"}}}})
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		if res.Reason != "" || res.Report.Conclusion != smoke.Success || !strings.Contains(res.Output.GetSummary(), "/") {
			t.Fatalf("%s: allowed edge: %s %q", u, res.Report.Conclusion, res.Reason)
		}
	}
	res, err := g.CheckLive(context.Background(), smokegate.LiveCheck{Repo: "acme/site", Env: "staging", SHA: "0123456789abcdef", URL: edge.URL + "/",
		Smoke: config.RepoSmoke{Pages: []config.RepoPage{{Path: "/away"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Report.Conclusion != smoke.Failure || !strings.Contains(res.Reason, "loopback address 127.0.0.1") {
		t.Errorf("a redirect from the allowed edge to another port: %s %q", res.Report.Conclusion, res.Reason)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the listener inside received %d requests", n)
	}
	if where := leaked(t, nil, res, artifacts); len(where) != 0 {
		t.Errorf("the secret shows in %v", where)
	}
}
