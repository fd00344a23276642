package deploy

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/internal/site"
)

func md5Hex(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }

// writeSite writes files (path → content) into a fresh folder and returns
// its tree.
func writeSite(t *testing.T, files map[string]string) *site.DirTree {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		name := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tree, err := site.NewDirTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

func TestDiff(t *testing.T) {
	m := &Manifest{Files: map[string]ManifestFile{
		"a.css":      {Blob: "1", Size: 1, Keys: []string{"e-x", "p-a"}},
		"index.html": {Blob: "2"},
		"gone.js":    {Blob: "3", Keys: []string{"e-x", "p-gone"}},
	}}
	cs := Diff(m, []site.Entry{
		{Path: "a.css", BlobSHA: "1"},
		{Path: "index.html", BlobSHA: "22"},
		{Path: "new.js", BlobSHA: "4"},
	})
	if cs.Unchanged != 1 || len(cs.Added) != 1 || cs.Added[0].Path != "new.js" ||
		len(cs.Modified) != 1 || cs.Modified[0].Path != "index.html" || cs.Modified[0].OldBlob != "2" ||
		len(cs.Deleted) != 1 || cs.Deleted[0].Path != "gone.js" || cs.Deleted[0].Keys[1] != "p-gone" {
		t.Fatalf("unexpected change set: %+v", cs)
	}
	if got := Diff(nil, []site.Entry{{Path: "x", BlobSHA: "1"}}); len(got.Added) != 1 || got.Unchanged != 0 {
		t.Fatalf("nil manifest: everything is added, got %+v", got)
	}
	if got := strings.Join(cs.Paths(), ","); got != "gone.js,index.html,new.js" {
		t.Fatalf("Paths() = %s", got)
	}
}

func TestHeaders(t *testing.T) {
	cases := []struct{ path, ctype, cache string }{
		{"index.html", "text/html; charset=utf-8", CacheHTML},
		{"docs/a.htm", "text/html; charset=utf-8", CacheHTML},
		{"assets/app.3f2a9c1b.js", "text/javascript; charset=utf-8", CacheFingerprint},
		{"assets/index-BxY7k2Qa.css", "text/css; charset=utf-8", CacheFingerprint},
		{"img/logo.png", "image/png", CacheDefault},
		{"js/jquery-3.6.0.min.js", "text/javascript; charset=utf-8", CacheDefault},
		{"fonts/font-awesome-webfont.woff2", "font/woff2", CacheDefault},
		{"data/blob", "application/octet-stream", CacheDefault},
	}
	for _, c := range cases {
		ct, cc := (*Rules)(nil).Headers(c.path)
		if ct != c.ctype || cc != c.cache {
			t.Errorf("%s: got (%q, %q), want (%q, %q)", c.path, ct, cc, c.ctype, c.cache)
		}
	}
	r, err := NewRules([]Route{{Pattern: `^health\.html$`, CacheControl: "no-store"}, {Pattern: `\.bin$`, ContentType: "application/x-thing"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, cc := r.Headers("health.html"); cc != "no-store" {
		t.Errorf("route not applied: %q", cc)
	}
	if ct, cc := r.Headers("x.bin"); ct != "application/x-thing" || cc != CacheDefault {
		t.Errorf("route fallback: %q %q", ct, cc)
	}
	if _, err := NewRules([]Route{{Pattern: "("}}); err == nil || !strings.Contains(err.Error(), "route 1") {
		t.Errorf("bad pattern should name the route: %v", err)
	}
}

func TestKeys(t *testing.T) {
	if EditionKey("production") != "e-production" {
		t.Fatal(EditionKey("production"))
	}
	if k := EditionKey("Prod Ü"); !strings.HasPrefix(k, "e-") || len(k) != 18 {
		t.Fatalf("unsafe edition name must be hashed: %q", k)
	}
	long := strings.Repeat("deep/", 200) + "index.html"
	k := PathKey("production", long)
	if len(k) != 18 || k == PathKey("staging", long) || k != PathKey("production", long) {
		t.Fatalf("path key must be short, per edition and deterministic: %q", k)
	}
}

func TestValidateRefusesUnsafeEntries(t *testing.T) {
	bad := []site.Entry{
		{Path: "link", Mode: fs.ModeSymlink},
		{Path: "sub", Mode: site.ModeSubmodule},
		{Path: "../etc/passwd", Mode: 0o644},
		{Path: "/abs", Mode: 0o644},
		{Path: "a/../../b", Mode: 0o644},
		{Path: "bell\x07.html", Mode: 0o644},
		{Path: "back\\slash", Mode: 0o644},
		{Path: ".hoist/manifest.json", Mode: 0o644},
		{Path: "bad\xff", Mode: 0o644},
	}
	err := Validate(append([]site.Entry{{Path: "ok.html", Mode: 0o644}}, bad...))
	var ue *UnsafeEntryError
	if !errors.As(err, &ue) || len(ue.Problems) != len(bad) {
		t.Fatalf("want %d problems, got %v", len(bad), err)
	}
	if !strings.Contains(err.Error(), `"link" is a symbolic link`) || !strings.Contains(err.Error(), "escapes the site root") {
		t.Fatalf("error should say what is wrong and where: %v", err)
	}
}

func TestDeployFolderTargetRoundTrip(t *testing.T) {
	ctx := context.Background()
	dest := t.TempDir()
	target, err := NewLocalTarget(dest)
	if err != nil {
		t.Fatal(err)
	}
	a := writeSite(t, map[string]string{"index.html": "A", "css/site.css": "body{}", "old.html": "old"})
	res, err := Deploy(ctx, target, Request{Tree: a, Prefix: "prod", Edition: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Uploaded != 3 || !res.NoManifest {
		t.Fatalf("first deploy: %+v", res)
	}
	b := writeSite(t, map[string]string{"index.html": "B", "css/site.css": "body{}", "new/page.html": "new"})
	res, err = Deploy(ctx, target, Request{Tree: b, Prefix: "prod/", Edition: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Uploaded != 2 || res.Deleted != 1 || res.Unchanged != 1 || res.NoManifest {
		t.Fatalf("second deploy: %+v", res)
	}
	assertFolderEquals(t, filepath.Join(dest, "prod"), b)
	if _, err := os.Stat(filepath.Join(dest, "prod", ManifestName)); err != nil {
		t.Fatal("manifest missing:", err)
	}
	res, err = Deploy(ctx, target, Request{Tree: b, Prefix: "prod/", Edition: "prod"})
	if err != nil || res.Changed() || res.Uploaded+res.Deleted != 0 {
		t.Fatalf("unchanged deploy wrote: %+v %v", res, err)
	}
}

// assertFolderEquals checks that dir holds exactly the tree's files (and
// hoist's .hoist folder).
func assertFolderEquals(t *testing.T, dir string, tree site.Tree) {
	t.Helper()
	want := map[string]string{}
	for _, e := range tree.Entries() {
		want[e.Path] = e.BlobSHA
	}
	got, err := site.NewDirTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range got.Entries() {
		if strings.HasPrefix(e.Path, ".hoist/") {
			continue
		}
		n++
		if want[e.Path] != e.BlobSHA {
			t.Errorf("%s: blob %s, want %q", e.Path, e.BlobSHA, want[e.Path])
		}
	}
	if n != len(want) {
		t.Errorf("folder has %d files, tree %d", n, len(want))
	}
}

// TestWriteOrderProperty deploys random change sets to a recording target
// and checks the order that keeps every page whole: assets before pages,
// deeper pages before shallower ones, the root index.html after every other
// write, deletions after all writes, and the manifest last of all.
func TestWriteOrderProperty(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewSource(1))
	names := []string{"index.html", "about.html", "a/index.html", "a/b/index.html", "a/b/c/page.html",
		"x/y.html", "app.3f2a9c1b.js", "css/site.css", "img/logo.png", "a/b/data.json", "a/b/c/d/e.txt"}
	for round := 0; round < 200; round++ {
		target := newMemTarget()
		var prev map[string]string
		for step := 0; step < 2; step++ {
			files := map[string]string{}
			for _, n := range names {
				if rng.Intn(3) > 0 {
					files[n] = fmt.Sprint(n, rng.Intn(3))
				}
			}
			tree := writeSite(t, files)
			target.reset()
			res, err := Deploy(ctx, target, Request{Tree: tree, Prefix: "site/", Edition: "e", Concurrency: 1 + rng.Intn(8)})
			if err != nil {
				t.Fatal(err)
			}
			checkOrder(t, target.writes(), res)
			prev = files
		}
		_ = prev
	}
}

func writeRank(key string) (rank int, depth int) {
	p := strings.TrimPrefix(key, "site/")
	switch {
	case p == PendingName:
		return 0, 0
	case p == ManifestName:
		return 5, 0
	case p == "index.html":
		return 3, 0
	case IsHTML(p):
		return 2, strings.Count(p, "/")
	}
	return 1, 0
}

func checkOrder(t *testing.T, ops []memOp, res *Result) {
	t.Helper()
	for _, a := range ops {
		for _, b := range ops {
			ra, da := writeRank(a.key)
			rb, db := writeRank(b.key)
			if a.kind == "delete" {
				ra = 4
			}
			if b.kind == "delete" {
				rb = 4
			}
			before := ra < rb || (ra == 2 && rb == 2 && da > db)
			if before && a.end > b.start {
				t.Fatalf("%s %s (rank %d depth %d) must finish before %s %s starts (rank %d depth %d); changes %v",
					a.kind, a.key, ra, da, b.kind, b.key, rb, db, res.Changes.Paths())
			}
		}
	}
	if n := len(ops); n > 0 && (ops[n-1].kind != "put" || !strings.HasSuffix(ops[n-1].key, ManifestName)) {
		t.Fatalf("last write must be the manifest, was %s %s", ops[n-1].kind, ops[n-1].key)
	}
}

// TestCrashConvergesOnRollback simulates a deploy that died after writing
// some objects: the manifest still names the old tree, and redeploying that
// old tree (a rollback) must still repair what the crashed deploy changed.
func TestCrashConvergesOnRollback(t *testing.T) {
	ctx := context.Background()
	target := newMemTarget()
	a := writeSite(t, map[string]string{"index.html": "A", "a.css": "a"})
	if _, err := Deploy(ctx, target, Request{Tree: a, Prefix: "p/", Edition: "p", TreeSHA: "treeA"}); err != nil {
		t.Fatal(err)
	}
	b := writeSite(t, map[string]string{"index.html": "B", "a.css": "a", "b.css": "b"})
	failing := &failAfter{Target: target, puts: 2} // pending + one object
	if _, err := Deploy(ctx, failing, Request{Tree: b, Prefix: "p/", Edition: "p", TreeSHA: "treeB", Concurrency: 1}); err == nil {
		t.Fatal("expected the deploy to fail")
	}
	if _, ok := target.objects["p/b.css"]; !ok {
		t.Fatal("the crashed deploy should have written b.css")
	}
	res, err := Deploy(ctx, target, Request{Tree: a, Prefix: "p/", Edition: "p", TreeSHA: "treeA"})
	if err != nil {
		t.Fatal(err)
	}
	if res.SameTree {
		t.Fatal("a crashed deploy must not let the same-tree shortcut skip repairs")
	}
	if _, ok := target.objects["p/b.css"]; ok {
		t.Fatal("b.css from the crashed deploy must be removed")
	}
	if got := string(target.objects["p/index.html"].data); got != "A" {
		t.Fatalf("index.html = %q", got)
	}
	res, err = Deploy(ctx, target, Request{Tree: a, Prefix: "p/", Edition: "p", TreeSHA: "treeA"})
	if err != nil || !res.SameTree || res.Requests != 2 {
		t.Fatalf("after repair the same tree costs two reads: %+v %v", res, err)
	}
}

type failAfter struct {
	Target
	puts int
}

func (f *failAfter) Put(ctx context.Context, key string, body io.Reader, o PutOptions) error {
	if f.puts == 0 {
		return errors.New("simulated crash")
	}
	f.puts--
	return f.Target.Put(ctx, key, body, o)
}

func TestEditionCopyAndDryRun(t *testing.T) {
	ctx := context.Background()
	target := newMemTarget()
	tree := writeSite(t, map[string]string{"index.html": "S", "a.css": "a"})
	if _, err := Deploy(ctx, target, Request{Tree: tree, Prefix: "staging/", Edition: "staging"}); err != nil {
		t.Fatal(err)
	}
	dry, err := Deploy(ctx, target, Request{Tree: tree, Prefix: "production/", Edition: "production", CopyFrom: "staging/", DryRun: true})
	if err != nil || dry.Copied != 2 || len(target.objects) != 4 {
		t.Fatalf("dry run: %+v %v (objects %d)", dry, err, len(target.objects))
	}
	res, err := Deploy(ctx, target, Request{Tree: tree, Prefix: "production/", Edition: "production", CopyFrom: "staging/"})
	if err != nil || res.Copied != 2 || res.Uploaded != 0 {
		t.Fatalf("promotion should copy: %+v %v", res, err)
	}
	o := target.objects["production/index.html"]
	if o.opts.Metadata[MetaSurrogateKey] != "e-production "+PathKey("production", "index.html") {
		t.Fatalf("copied object must carry the destination's keys: %v", o.opts.Metadata)
	}
	if !strings.Contains(res.Markdown(), "| 2 | 0 | 0 | 0 | 0 | 2 |") {
		t.Fatalf("summary:\n%s", res.Markdown())
	}
}

func TestParseDestination(t *testing.T) {
	cases := []struct {
		in, typ, bucket, dir, prefix, err string
	}{
		{in: "s3://site/production", typ: "s3", bucket: "site", prefix: "production/"},
		{in: "s3://site", typ: "s3", bucket: "site"},
		{in: "file:///srv/www", typ: "local", dir: "/srv/www"},
		{in: "out/www", typ: "local", dir: "out/www"},
		{in: "s3://site/../x", err: "prefix"},
		{in: "gs://x", err: "unsupported scheme"},
	}
	for _, c := range cases {
		cfg, prefix, err := ParseDestination(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: want error %q, got %v", c.in, c.err, err)
			}
			continue
		}
		if err != nil || cfg.Type != c.typ || cfg.Bucket != c.bucket || cfg.Dir != c.dir || prefix != c.prefix {
			t.Errorf("%s: got %+v %q %v", c.in, cfg, prefix, err)
		}
	}
}
