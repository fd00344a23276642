package site

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeSite makes a small site folder and returns its tree.
func writeSite(t *testing.T, files map[string]string) *DirTree {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tree, err := NewDirTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

var sampleSite = map[string]string{
	"index.html":          "<!doctype html><title>Home</title><h1>Home</h1>",
	"404.html":            "<!doctype html><h1>Lost</h1>",
	"css/site.css":        "body{color:#222}",
	"js/app.js":           "console.log('hi')",
	"img/logo.svg":        "<svg xmlns='http://www.w3.org/2000/svg'/>",
	"img/photo.png":       "\x89PNG\r\n\x1a\nnot really",
	"fonts/a.woff2":       "wOF2",
	"docs/index.html":     "<!doctype html><h1>Docs</h1>",
	"docs/guide.html":     "<!doctype html><h1>Guide</h1>",
	"data/feed.json":      `{"a":1}`,
	"assets/noext":        "plain text here",
	"empty-dir/readme.md": "# readme",
}

func startPreview(t *testing.T, tree Tree) *Preview {
	t.Helper()
	p, err := ServePreview(context.Background(), tree)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func get(t *testing.T, method, u string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestPreviewListensOnLoopbackOnly(t *testing.T) {
	p := startPreview(t, writeSite(t, sampleSite))
	u, err := url.Parse(p.URL())
	if err != nil {
		t.Fatal(err)
	}
	if u.Hostname() != "127.0.0.1" || u.Port() == "" || u.Port() == "0" {
		t.Fatalf("preview URL %s: want 127.0.0.1 with a chosen port", p.URL())
	}
	if p.ln.Addr().(*net.TCPAddr).IP.String() != "127.0.0.1" {
		t.Fatalf("listener on %s", p.ln.Addr())
	}
}

func TestPreviewServesFilesWithTypes(t *testing.T) {
	p := startPreview(t, writeSite(t, sampleSite))
	cases := []struct {
		path, status, ctype, body string
	}{
		{"/", "200 OK", "text/html; charset=utf-8", "<h1>Home</h1>"},
		{"/index.html", "200 OK", "text/html; charset=utf-8", "<h1>Home</h1>"},
		{"/css/site.css", "200 OK", "text/css; charset=utf-8", "color"},
		{"/js/app.js", "200 OK", "text/javascript; charset=utf-8", "console.log"},
		{"/img/logo.svg", "200 OK", "image/svg+xml", "<svg"},
		{"/img/photo.png", "200 OK", "image/png", "PNG"},
		{"/fonts/a.woff2", "200 OK", "font/woff2", "wOF2"},
		{"/data/feed.json", "200 OK", "application/json", `"a"`},
		{"/assets/noext", "200 OK", "text/plain; charset=utf-8", "plain"},
		{"/docs/", "200 OK", "text/html; charset=utf-8", "<h1>Docs</h1>"},
		{"/docs/guide.html", "200 OK", "text/html; charset=utf-8", "Guide"},
		{"/docs/guide.html?x=1", "200 OK", "text/html; charset=utf-8", "Guide"},
		// The site's own 404 page, with the status a static host sends.
		{"/nope.html", "404 Not Found", "text/html; charset=utf-8", "<h1>Lost</h1>"},
		{"/css/", "404 Not Found", "text/html; charset=utf-8", "<h1>Lost</h1>"},
		// No directory listing for a folder without index.html.
		{"/empty-dir/", "404 Not Found", "text/html; charset=utf-8", "<h1>Lost</h1>"},
	}
	for _, c := range cases {
		resp, body := get(t, "GET", p.URL()+c.path)
		if resp.Status != c.status || resp.Header.Get("Content-Type") != c.ctype || !strings.Contains(body, c.body) {
			t.Errorf("GET %s: %s %q %q; want %s %q containing %q", c.path, resp.Status, resp.Header.Get("Content-Type"), body, c.status, c.ctype, c.body)
		}
		if strings.Contains(body, "readme.md") {
			t.Errorf("GET %s lists a folder: %q", c.path, body)
		}
	}
}

func TestPreviewFolderRedirect(t *testing.T) {
	p := startPreview(t, writeSite(t, sampleSite))
	resp, _ := get(t, "GET", p.URL()+"/docs?lang=en")
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/docs/?lang=en" {
		t.Fatalf("GET /docs: %s Location %q; want 301 to /docs/?lang=en", resp.Status, resp.Header.Get("Location"))
	}
	// No redirect for a folder that has no index.html.
	resp, _ = get(t, "GET", p.URL()+"/empty-dir")
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /empty-dir: %s; want 404", resp.Status)
	}
}

func TestPreviewHead(t *testing.T) {
	p := startPreview(t, writeSite(t, sampleSite))
	resp, body := get(t, "HEAD", p.URL()+"/css/site.css")
	if resp.StatusCode != 200 || body != "" || resp.ContentLength != int64(len(sampleSite["css/site.css"])) || resp.Header.Get("Content-Type") != "text/css; charset=utf-8" {
		t.Fatalf("HEAD: %s len %d body %q type %q", resp.Status, resp.ContentLength, body, resp.Header.Get("Content-Type"))
	}
	resp, body = get(t, "HEAD", p.URL()+"/missing")
	if resp.StatusCode != 404 || body != "" || resp.ContentLength != int64(len(sampleSite["404.html"])) {
		t.Fatalf("HEAD missing: %s len %d body %q", resp.Status, resp.ContentLength, body)
	}
	resp, _ = get(t, "POST", p.URL()+"/")
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST: %s Allow %q", resp.Status, resp.Header.Get("Allow"))
	}
}

func TestPreviewETagRevalidates(t *testing.T) {
	p := startPreview(t, writeSite(t, sampleSite))
	resp, _ := get(t, "GET", p.URL()+"/css/site.css")
	etag := resp.Header.Get("ETag")
	if len(etag) != 42 {
		t.Fatalf("ETag %q: want the quoted blob SHA", etag)
	}
	req, _ := http.NewRequest("GET", p.URL()+"/css/site.css", nil)
	req.Header.Set("If-None-Match", etag)
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusNotModified {
		t.Fatalf("conditional GET: %s; want 304", r2.Status)
	}
}

// rawGet sends a request line as written, so that no client cleans it.
func rawGet(t *testing.T, base, target string) int {
	t.Helper()
	u, _ := url.Parse(base)
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET "+target+" HTTP/1.1\r\nHost: "+u.Host+"\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(b), "root:") {
		t.Fatalf("GET %s leaked a file outside the site: %q", target, b)
	}
	return resp.StatusCode
}

func TestPreviewRefusesTraversal(t *testing.T) {
	files := map[string]string{}
	for k, v := range sampleSite {
		files[k] = v
	}
	tree := writeSite(t, files)
	// A symlink out of the site is listed by the tree but never served.
	if err := os.Symlink("/etc/passwd", filepath.Join(tree.root, "passwd")); err != nil {
		t.Fatal(err)
	}
	tree, err := NewDirTree(tree.root)
	if err != nil {
		t.Fatal(err)
	}
	p := startPreview(t, tree)
	for _, target := range []string{
		"/../etc/passwd",
		"/%2e%2e/etc/passwd",
		"/%2E%2E/%2E%2E/etc/passwd",
		"/css/..%2f..%2f..%2fetc/passwd",
		"/css/../../etc/passwd",
		"/./index.html",
		"/css//site.css",
		"/..\\..\\etc\\passwd",
		"/%5c..%5cetc/passwd",
		"/index.html%00.css",
	} {
		if code := rawGet(t, p.URL(), target); code != http.StatusBadRequest {
			t.Errorf("GET %s: %d; want 400", target, code)
		}
	}
	if code := rawGet(t, p.URL(), "/passwd"); code != http.StatusNotFound {
		t.Errorf("GET /passwd (symlink): %d; want 404", code)
	}
}

func TestPreviewWithout404Page(t *testing.T) {
	p := startPreview(t, writeSite(t, map[string]string{"index.html": "hi"}))
	resp, body := get(t, "GET", p.URL()+"/missing")
	if resp.StatusCode != 404 || !strings.Contains(body, "404 page not found") {
		t.Fatalf("%s %q", resp.Status, body)
	}
}

func TestPreviewStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p, err := ServePreview(ctx, writeSite(t, sampleSite))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	<-p.done
	if _, err := http.Get(p.URL() + "/"); err == nil {
		t.Fatal("preview still answers after its context ended")
	}
	p.Close()
}
