package site

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const (
	testRepo = "acme/shop"
	testSHA  = "0123456789abcdef0123456789abcdef01234567"
)

func accessServer(t *testing.T, signer *AccessSigner) *httptest.Server {
	t.Helper()
	tree := writeSite(t, sampleSite)
	resolves := 0
	mux := http.NewServeMux()
	mux.Handle(AccessPrefix, AccessHandler(signer, func(repo, sha string) (Tree, error) {
		resolves++
		if repo != testRepo || sha != testSHA {
			return nil, fmt.Errorf("no such commit %s@%s", repo, sha)
		}
		return tree, nil
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts
}

func newSigner(t *testing.T, ttl time.Duration) *AccessSigner {
	t.Helper()
	s, err := NewAccessSigner([]byte(strings.Repeat("k", 32)), ttl)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAccessLinkValid(t *testing.T) {
	s := newSigner(t, 0)
	if s.TTL() != 30*time.Minute {
		t.Fatalf("default TTL %s", s.TTL())
	}
	ts := accessServer(t, s)
	link := s.Sign(testRepo, testSHA, time.Now())
	resp, body := get(t, "GET", ts.URL+link)
	if resp.StatusCode != 200 || !strings.Contains(body, "<h1>Home</h1>") {
		t.Fatalf("GET %s: %s %q", link, resp.Status, body)
	}
	if resp.Header.Get("Cache-Control") != "private, no-store" || resp.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("headers %v", resp.Header)
	}
	resp, body = get(t, "GET", ts.URL+link+"css/site.css")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/css; charset=utf-8" || body != sampleSite["css/site.css"] {
		t.Fatalf("asset: %s %q", resp.Status, body)
	}
	// Folder redirects stay inside the link.
	resp, _ = get(t, "GET", ts.URL+link+"docs")
	if resp.StatusCode != 301 || resp.Header.Get("Location") != link+"docs/" {
		t.Fatalf("folder redirect: %s %q", resp.Status, resp.Header.Get("Location"))
	}
	resp, _ = get(t, "GET", ts.URL+strings.TrimSuffix(link, "/"))
	if resp.StatusCode != 301 || resp.Header.Get("Location") != link {
		t.Fatalf("link without slash: %s %q", resp.Status, resp.Header.Get("Location"))
	}
	// The site's 404 page, still behind the link.
	resp, body = get(t, "GET", ts.URL+link+"missing")
	if resp.StatusCode != 404 || !strings.Contains(body, "Lost") {
		t.Fatalf("missing: %s %q", resp.Status, body)
	}
	// Traversal out of the site is refused behind the link too.
	if code := rawGet(t, ts.URL, link+"%2e%2e/%2e%2e/etc/passwd"); code != 400 {
		t.Fatalf("traversal through link: %d", code)
	}
}

func TestAccessLinkTamperedIs403(t *testing.T) {
	s := newSigner(t, time.Hour)
	ts := accessServer(t, s)
	link := s.Sign(testRepo, testSHA, time.Now())
	l, _, err := ParseAccessPath(link)
	if err != nil {
		t.Fatal(err)
	}
	other := "fedcba9876543210fedcba9876543210fedcba98"
	later := l.Expires.Add(24 * time.Hour).Unix()
	flipped := []byte(l.Sig)
	if flipped[0] == 'A' {
		flipped[0] = 'B'
	} else {
		flipped[0] = 'A'
	}
	otherSigner, _ := NewAccessSigner([]byte(strings.Repeat("x", 32)), time.Hour)
	tampered := map[string]string{
		"other commit":   strings.Replace(link, testSHA, other, 1),
		"other repo":     strings.Replace(link, "acme/shop", "acme/blog", 1),
		"later expiry":   strings.Replace(link, fmt.Sprint(l.Expires.Unix()), fmt.Sprint(later), 1),
		"flipped sig":    strings.Replace(link, l.Sig, string(flipped), 1),
		"short sig":      strings.Replace(link, l.Sig, "x", 1),
		"other secret":   otherSigner.Sign(testRepo, testSHA, time.Now()),
		"truncated path": AccessPrefix + testRepo + "/" + testSHA + "/",
		"garbage":        AccessPrefix + "x",
	}
	for name, p := range tampered {
		resp, body := get(t, "GET", ts.URL+p)
		if resp.StatusCode != http.StatusForbidden || strings.Contains(body, "Home") {
			t.Errorf("%s (%s): %s %q; want 403", name, p, resp.Status, body)
		}
	}
	if err := s.Verify(AccessLink{Repo: l.Repo, SHA: other, Expires: l.Expires, Sig: l.Sig}, time.Now()); !errors.Is(err, ErrAccessInvalid) {
		t.Fatalf("Verify other sha: %v", err)
	}
}

func TestAccessLinkExpiredIs403(t *testing.T) {
	s := newSigner(t, 30*time.Minute)
	ts := accessServer(t, s)
	link := s.Sign(testRepo, testSHA, time.Now().Add(-31*time.Minute))
	resp, body := get(t, "GET", ts.URL+link)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "expired") {
		t.Fatalf("expired link: %s %q", resp.Status, body)
	}
	l, _, _ := ParseAccessPath(link)
	if err := s.Verify(l, time.Now()); !errors.Is(err, ErrAccessExpired) {
		t.Fatalf("Verify: %v", err)
	}
	// Right up to the expiry the link works.
	if err := s.Verify(l, l.Expires.Add(-time.Second)); err != nil {
		t.Fatalf("Verify just before expiry: %v", err)
	}
}

func TestAccessOffWithoutSigner(t *testing.T) {
	ts := accessServer(t, nil)
	s := newSigner(t, 0)
	resp, _ := get(t, "GET", ts.URL+s.Sign(testRepo, testSHA, time.Now()))
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("access off: %s; want 404", resp.Status)
	}
}

func TestNewAccessSignerRejectsBadInput(t *testing.T) {
	if _, err := NewAccessSigner([]byte("short"), 0); err == nil || !strings.Contains(err.Error(), "at least 32") {
		t.Fatalf("short secret: %v", err)
	}
	if _, err := NewAccessSigner([]byte(strings.Repeat("k", 32)), -time.Second); err == nil {
		t.Fatal("negative ttl accepted")
	}
}
