package deploy

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// brokenLinkSite is a site with links inside it (a file, a folder, a
// chain) and the links a careless or hostile build leaves: to /etc/passwd,
// to a folder outside the root, a chain that ends outside, a loop and a
// dangling one.
func brokenLinkSite(t *testing.T) string {
	t.Helper()
	parent := t.TempDir()
	root := filepath.Join(parent, "site")
	for p, c := range map[string]string{
		"site/index.html":    "<h1>home</h1>",
		"site/v2/guide.html": "<h1>guide</h1>",
		"outside/secret.txt": "secret",
	} {
		name := filepath.Join(parent, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(name), 0o755)
		if err := os.WriteFile(name, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		"home.html":    "index.html",
		"latest":       "v2",
		"alias.html":   "home.html",
		"passwd":       "/etc/passwd",
		"ext":          "../outside",
		"via.txt":      "ext/secret.txt",
		"loop-a":       "loop-b",
		"loop-b":       "loop-a",
		"missing.html": "gone.html",
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// By default a site with broken links is refused whole, every link named
// with where it points and why, and nothing is written; asked to skip
// them, hoist publishes the rest (links inside the site as their target's
// content, as plain files) and lists what it skipped.
func TestSyncBrokenLinksRefusedOrSkipped(t *testing.T) {
	ctx := context.Background()
	dir := brokenLinkSite(t)
	dest := filepath.Join(t.TempDir(), "www")

	_, err := Sync(ctx, SyncOptions{Dir: dir, Destination: dest})
	var ue *UnsafeEntryError
	if !errors.As(err, &ue) {
		t.Fatalf("want a refusal, got %v", err)
	}
	for _, want := range []string{
		`"passwd" is a symbolic link to "/etc/passwd" that leads outside the site`,
		`"ext" is a symbolic link to "../outside" that leads outside the site`,
		`"via.txt" is a symbolic link to "ext/secret.txt" that leads outside the site`,
		`"loop-a" is a symbolic link to "loop-b" that is a loop of links`,
		`"missing.html" is a symbolic link to "gone.html" that is dangling`,
		"--skip-broken-links",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), `"home.html"`) || strings.Contains(err.Error(), `"latest"`) {
		t.Errorf("links inside the site are refused: %v", err)
	}
	if files := walkFiles(t, dest); len(files) != 0 {
		t.Fatalf("a refused site wrote %v", files)
	}

	res, err := Sync(ctx, SyncOptions{Dir: dir, Destination: dest, SkipBrokenLinks: true})
	if err != nil {
		t.Fatal(err)
	}
	var skipped []string
	for _, b := range res.SkippedLinks {
		skipped = append(skipped, b.Path)
	}
	if got := strings.Join(skipped, ","); got != "ext,loop-a,loop-b,missing.html,passwd,via.txt" {
		t.Errorf("skipped %s", got)
	}
	got := walkFiles(t, dest)
	want := map[string]string{
		"index.html": "<h1>home</h1>", "home.html": "<h1>home</h1>", "alias.html": "<h1>home</h1>",
		"v2/guide.html": "<h1>guide</h1>", "latest/guide.html": "<h1>guide</h1>",
	}
	for p, c := range want {
		if got[p] != c {
			t.Errorf("%s = %q, want %q", p, got[p], c)
		}
		if info, err := os.Lstat(filepath.Join(dest, p)); err != nil || info.Mode()&fs.ModeSymlink != 0 {
			t.Errorf("%s is not published as a plain file (%v)", p, err)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s was published", p)
		}
	}
}

// walkFiles reads every file under dir except hoist's own.
func walkFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if strings.HasPrefix(rel, ".hoist/") {
			return nil
		}
		b, _ := os.ReadFile(p)
		out[rel] = string(b)
		return nil
	})
	return out
}

// A commit stores links as blobs of mode 120000: the server deploys them
// by the same rules, a link inside the site as its target's content on
// S3, a link to /etc/passwd refused (or skipped when asked).
func TestGitLinksDeployByTheSameRules(t *testing.T) {
	ctx := context.Background()
	target, _, cfg := newBucket(t)
	repo := newGitRepo(t)
	repo.commit(map[string]string{"index.html": "<h1>home</h1>"})
	pub := filepath.Join(repo.dir, "public")
	for link, to := range map[string]string{"home.html": "index.html", "passwd": "/etc/passwd", "up": "../../x"} {
		if err := os.Symlink(to, filepath.Join(pub, link)); err != nil {
			t.Fatal(err)
		}
	}
	repo.git("add", "-A")
	repo.git("commit", "-q", "-m", "links")
	commit := repo.git("rev-parse", "HEAD")
	tree, sha := mirrorTree(t, repo, commit)

	_, err := Deploy(ctx, target, Request{Tree: tree, TreeSHA: sha, Prefix: "www/", Edition: "www"})
	if err == nil || !strings.Contains(err.Error(), `"passwd" is a symbolic link to "/etc/passwd" that leads outside the site`) ||
		!strings.Contains(err.Error(), `"up" is a symbolic link to "../../x" that leads outside the site`) {
		t.Fatalf("want a refusal naming both links, got %v", err)
	}
	res, err := Deploy(ctx, target, Request{Tree: tree, TreeSHA: sha, Prefix: "www/", Edition: "www", SkipBrokenLinks: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.SkippedLinks) != 2 {
		t.Errorf("skipped %v", res.SkippedLinks)
	}
	out, err := target.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(cfg.Bucket), Key: aws.String("www/home.html")})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(b) != "<h1>home</h1>" || aws.ToString(out.ContentType) != "text/html; charset=utf-8" {
		t.Errorf("www/home.html = %q (%s), want the target's content as a page", b, aws.ToString(out.ContentType))
	}
	for _, k := range []string{"www/passwd", "www/up"} {
		if _, err := target.Head(ctx, k); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: %v, want not found", k, err)
		}
	}
}
