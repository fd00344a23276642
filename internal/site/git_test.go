package site

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func gitCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// workRepo makes a repository with a public/ site, a symlink and a large
// file, and returns its folder and head commit.
func workRepo(t *testing.T) (string, string) {
	dir := t.TempDir()
	gitCmd(t, dir, "init", "-q", "-b", "main")
	files := map[string]string{
		"public/index.html":   "<h1>home</h1>",
		"public/css/site.css": "body{}",
		"public/big.bin":      strings.Repeat("x", 3<<20),
		"public/a b/ü.txt":    "unicode",
		"README.md":           "not part of the site",
	}
	for p, c := range files {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644)
	}
	os.Symlink("/etc/passwd", filepath.Join(dir, "public", "passwd"))
	gitCmd(t, dir, "add", "-A")
	gitCmd(t, dir, "commit", "-q", "-m", "site")
	return dir, gitCmd(t, dir, "rev-parse", "HEAD")
}

func TestMirrorTreeOverFileRemote(t *testing.T) {
	ctx := context.Background()
	work, head := workRepo(t)
	m, err := OpenMirror(t.TempDir(), "acme", "shop")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Fetch(ctx, "file://"+work, "", "main"); err != nil {
		t.Fatal(err)
	}
	tree, err := m.Tree(ctx, "refs/heads/main", "public")
	if err != nil {
		t.Fatal(err)
	}
	if tree.Commit() != head {
		t.Fatalf("Commit() = %s, want the resolved %s", tree.Commit(), head)
	}
	var paths []string
	for _, e := range tree.Entries() {
		paths = append(paths, e.Path)
	}
	if got := strings.Join(paths, ","); got != "a b/ü.txt,big.bin,css/site.css,index.html,passwd" {
		t.Fatalf("entries: %s", got)
	}
	// Entries name the same blobs a folder checkout would.
	dir, err := NewDirTree(filepath.Join(work, "public"))
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range dir.Entries() {
		g := tree.Entries()[i]
		if g.BlobSHA != e.BlobSHA || g.Size != e.Size || (g.Mode&fs.ModeSymlink != 0) != (e.Mode&fs.ModeSymlink != 0) {
			t.Errorf("%s: git %+v, folder %+v", e.Path, g, e)
		}
		if e.Mode&fs.ModeSymlink != 0 {
			if _, err := tree.Open(e.Path); err == nil {
				t.Errorf("opening a symlink must fail")
			}
			continue
		}
		r, err := tree.Open(e.Path)
		if err != nil {
			t.Fatal(err)
		}
		sha, err := BlobSHA(r, g.Size)
		r.Close()
		if err != nil || sha != g.BlobSHA {
			t.Errorf("%s: content hashes to %s (%v)", e.Path, sha, err)
		}
	}
	if _, err := tree.Open("README.md"); err == nil {
		t.Error("files outside the root must not open")
	}
	// Concurrent small reads share one cat-file process safely.
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := tree.Open("index.html")
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(r)
			if string(b) != "<h1>home</h1>" {
				t.Errorf("got %q", b)
			}
		}()
	}
	wg.Wait()

	ts, err := m.TreeSHA(ctx, head, "public")
	if err != nil || ts != gitCmd(t, work, "rev-parse", "HEAD:public") {
		t.Fatalf("TreeSHA = %s, %v", ts, err)
	}
	// A commit that changes only the README keeps the site's tree SHA.
	os.WriteFile(filepath.Join(work, "README.md"), []byte("changed"), 0o644)
	gitCmd(t, work, "commit", "-qam", "readme")
	if err := m.Fetch(ctx, "file://"+work, "", "main"); err != nil {
		t.Fatal(err)
	}
	if ts2, err := m.TreeSHA(ctx, "refs/heads/main", "public/"); err != nil || ts2 != ts {
		t.Fatalf("same site, different tree sha: %s %s %v", ts, ts2, err)
	}
	if _, err := m.Tree(ctx, head, "missing"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("missing root: %v", err)
	}
	if _, err := m.Tree(ctx, head, "public/index.html"); err == nil || !strings.Contains(err.Error(), "not a folder") {
		t.Fatalf("root that is a file: %v", err)
	}
	if _, err := m.Tree(ctx, head, "../x"); err == nil {
		t.Fatal("a root escaping the repository must be refused")
	}
}

func TestMirrorRefusesBadInput(t *testing.T) {
	if _, err := OpenMirror(t.TempDir(), "..", "x"); err == nil {
		t.Fatal("owner .. accepted")
	}
	m, err := OpenMirror(t.TempDir(), "acme", "shop")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := m.Fetch(ctx, "https://user:secret@example.com/a.git", ""); err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("credentials in the URL must be refused without echoing them: %v", err)
	}
	if err := m.Fetch(ctx, "file:///nonexistent", "", "--upload-pack=evil"); err == nil || !strings.Contains(err.Error(), "invalid ref") {
		t.Fatalf("option-like ref: %v", err)
	}
}

// TestMirrorFetchOverSmartHTTPWithToken serves a repository with git
// http-backend behind a check of the installation token, as GitHub does.
func TestMirrorFetchOverSmartHTTPWithToken(t *testing.T) {
	work, head := workRepo(t)
	bare := filepath.Join(t.TempDir(), "shop.git")
	if out, err := exec.Command("git", "clone", "-q", "--bare", work, bare).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	backend, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git not installed")
	}
	const token = "ghs_testtoken123"
	var (
		mu   sync.Mutex
		seen []string
	)
	handler := &cgi.Handler{
		Path: backend,
		Args: []string{"http-backend"},
		Env:  []string{"GIT_PROJECT_ROOT=" + filepath.Dir(bare), "GIT_HTTP_EXPORT_ALL=1"},
	}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+token))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.String())
		mu.Unlock()
		if r.Header.Get("Authorization") != want {
			w.Header().Set("WWW-Authenticate", `Basic realm="GitHub"`)
			http.Error(w, "bad credentials", http.StatusUnauthorized)
			return
		}
		handler.ServeHTTP(w, r)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	remote := fmt.Sprintf("http://%s/shop.git", l.Addr())

	ctx := context.Background()
	m, err := OpenMirror(t.TempDir(), "acme", "shop")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Fetch(ctx, remote, "wrong", "main"); err == nil {
		t.Fatal("a wrong token must fail")
	} else if strings.Contains(err.Error(), "wrong") {
		t.Fatalf("the error must not carry the token: %v", err)
	}
	if err := m.Fetch(ctx, remote, token, "main"); err != nil {
		t.Fatal(err)
	}
	tree, err := m.Tree(ctx, head, "public")
	if err != nil || len(tree.Entries()) != 5 {
		t.Fatalf("tree after smart HTTP fetch: %v", err)
	}
	// A second fetch with nothing new is incremental: no pack arrives.
	packs := func() int {
		p, _ := filepath.Glob(filepath.Join(m.Dir(), "objects", "pack", "*.pack"))
		loose, _ := filepath.Glob(filepath.Join(m.Dir(), "objects", "??", "*"))
		return len(p) + len(loose)
	}
	before := packs()
	if err := m.Fetch(ctx, remote, token, "main"); err != nil {
		t.Fatal(err)
	}
	if after := packs(); after != before {
		t.Fatalf("an up-to-date mirror received objects: %d → %d", before, after)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, u := range seen {
		if strings.Contains(u, token) {
			t.Fatal("token in a URL")
		}
	}
}

func TestTreeKnowsItsTreeSHA(t *testing.T) {
	ctx := context.Background()
	work := t.TempDir()
	run := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-C", work, "-c", "user.name=a", "-c", "user.email=a@example.com"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run("init", "-q", "-b", "main")
	os.MkdirAll(filepath.Join(work, "public"), 0o755)
	os.WriteFile(filepath.Join(work, "public", "index.html"), []byte("hi"), 0o644)
	run("add", "-A")
	run("commit", "-q", "-m", "x")
	head := run("rev-parse", "HEAD")
	m, err := OpenMirror(t.TempDir(), "acme", "shop")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.HasCommit(ctx, head) {
		t.Fatal("an empty mirror has the commit")
	}
	if err := m.Fetch(ctx, "file://"+work, "", "main"); err != nil {
		t.Fatal(err)
	}
	if !m.HasCommit(ctx, head) || m.HasCommit(ctx, strings.Repeat("0", 40)) {
		t.Fatal("HasCommit")
	}
	tree, err := m.Tree(ctx, head, "public")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := m.TreeSHA(ctx, head, "public")
	if got := TreeSHAOf(tree); got != want || got != run("rev-parse", "HEAD:public") {
		t.Fatalf("TreeSHAOf = %q, want %q", got, want)
	}
	if TreeSHAOf(&DirTree{}) != "" {
		t.Fatal("a folder has no tree id")
	}
}

// Jobs that open a new repository's mirror at the same moment all get the
// one bare repository, none fails on git's config lock.
func TestOpenMirrorConcurrently(t *testing.T) {
	data := t.TempDir()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := OpenMirror(data, "acme", "site")
			if err == nil {
				_, err = m.git(context.Background(), nil, "config", "gc.auto")
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	left, _ := filepath.Glob(filepath.Join(data, "mirrors", "acme", "*"))
	if len(left) != 1 || filepath.Base(left[0]) != "site.git" {
		t.Errorf("mirror folder holds %v, want only site.git", left)
	}
}
