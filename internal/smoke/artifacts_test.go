package smoke

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDirStorePutIsContentAddressed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := NewDirStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("\x89PNG fake bytes")
	sum := sha256.Sum256(data)
	sha, err := s.Put(ctx, data)
	if err != nil || sha != hex.EncodeToString(sum[:]) {
		t.Fatalf("Put: %s %v", sha, err)
	}
	fi, err := os.Stat(filepath.Join(dir, sha+".png"))
	if err != nil {
		t.Fatal(err)
	}
	mtime := fi.ModTime()
	time.Sleep(10 * time.Millisecond)
	// The same bytes again: nothing is rewritten.
	if sha2, err := s.Put(ctx, data); err != nil || sha2 != sha {
		t.Fatalf("second Put: %s %v", sha2, err)
	}
	if fi2, _ := os.Stat(filepath.Join(dir, sha+".png")); !fi2.ModTime().Equal(mtime) {
		t.Error("identical artifact written twice")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("stray files: %v", entries)
	}
	rc, err := s.Open(ctx, sha)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != string(data) {
		t.Fatalf("Open: %q", got)
	}
	if _, err := s.Open(ctx, "../"+sha); !os.IsNotExist(err) {
		t.Fatalf("Open with a path: %v", err)
	}
}

func TestArtifactHandler(t *testing.T) {
	ctx := context.Background()
	s, err := NewDirStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("\x89PNG\r\n\x1a\n pretend")
	sha, _ := s.Put(ctx, data)
	// A file in the folder that is not an artifact must stay unreachable.
	os.WriteFile(filepath.Join(s.Dir(), "secret.png"), []byte("no"), 0o644)
	ts := httptest.NewServer(ArtifactHandler(s))
	t.Cleanup(ts.Close)

	resp, err := http.Get(ts.URL + "/artifacts/" + sha + ".png")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != string(data) {
		t.Fatalf("GET: %s %q", resp.Status, body)
	}
	for k, v := range map[string]string{
		"Content-Type":           "image/png",
		"Cache-Control":          "public, max-age=31536000, immutable",
		"X-Content-Type-Options": "nosniff",
		"Content-Length":         fmt.Sprint(len(data)),
	} {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	head, err := http.Head(ts.URL + "/artifacts/" + sha + ".png")
	if err != nil || head.StatusCode != 200 || head.ContentLength != int64(len(data)) {
		t.Fatalf("HEAD: %v %+v", err, head)
	}

	missing := strings.Repeat("0", 64)
	for _, p := range []string{
		"/artifacts/" + missing + ".png",              // well-formed, absent
		"/artifacts/" + strings.ToUpper(sha) + ".png", // uppercase hex
		"/artifacts/" + sha[:63] + ".png",             // 63 digits
		"/artifacts/" + sha + "0.png",                 // 65 digits
		"/artifacts/" + sha + ".PNG",                  // other extension
		"/artifacts/" + sha,                           // no extension
		"/artifacts/secret.png",                       // not a sha
		"/artifacts/" + sha + ".png/",                 // trailing slash
		"/artifacts/../artifacts/" + sha + ".png",     // dot segments
		"/artifacts/" + sha[:60] + "zzzz.png",         // non-hex
		"/other/" + sha + ".png",                      // other folder
		"/artifacts/" + sha + ".png?download=1",       // query
		"/artifacts/%2e%2e%2f" + sha[:55] + "x.png",   // encoded traversal
	} {
		resp, err := http.Get(ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("GET %s: %s, want 404", p, resp.Status)
		}
	}
	req, _ := http.NewRequest("DELETE", ts.URL+"/artifacts/"+sha+".png", nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("DELETE: %s", resp.Status)
	}
}
