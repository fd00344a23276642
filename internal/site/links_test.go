package site

import (
	"context"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// linkSite builds a folder with every kind of link a real site has, and
// some a hostile one would: the returned folder is the site root, inside a
// parent that also holds a folder outside the site.
func linkSite(t *testing.T) (parent, root string) {
	t.Helper()
	parent = t.TempDir()
	root = filepath.Join(parent, "public")
	write := func(p, c string) {
		t.Helper()
		full := filepath.Join(parent, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, p string) {
		t.Helper()
		full := filepath.Join(parent, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, full); err != nil {
			t.Fatal(err)
		}
	}
	write("public/index.html", "<h1>home</h1>")
	write("public/v2/guide.html", "<h1>guide v2</h1>")
	write("public/v2/img/logo.svg", "<svg/>")
	write("secret/key.txt", "outside the site")
	link("index.html", "public/home.html")                                  // inside: a file
	link("../home.html", "public/chain/a.html")                             // a chain: a → home → index
	link("../chain/a.html", "public/chain/b.html")                          // a longer one, through ..
	link("v2", "public/latest")                                             // inside: a folder
	link("/etc/passwd", "public/passwd")                                    // outside: absolute
	link("../../secret/key.txt", "public/deep/key.txt")                     // outside: relative
	link("../secret", "public/secret")                                      // outside: a folder
	link("../passwd", "public/chain/passwd-too")                            // a chain that leaves
	link("nowhere.html", "public/dangling.html")                            // dangling
	link("loop2", "public/loop1")                                           // a loop of two
	link("loop1", "public/loop2")                                           // …
	link("self", "public/self")                                             // a loop of one
	link("..", "public/v2/up")                                              // a folder holding the link
	link("index.html/x", "public/through-a-file")                           // a file used as a folder
	link(filepath.Join(root, "v2", "guide.html"), "public/abs-inside.html") // absolute, inside
	return parent, root
}

func TestDirTreeResolvesLinksInsideTheSite(t *testing.T) {
	_, root := linkSite(t)
	tree, err := NewDirTree(root)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Entry{}
	for _, e := range tree.Entries() {
		got[e.Path] = e
	}
	published := map[string]string{
		"home.html":           "<h1>home</h1>",
		"chain/a.html":        "<h1>home</h1>",
		"chain/b.html":        "<h1>home</h1>",
		"latest/guide.html":   "<h1>guide v2</h1>",
		"latest/img/logo.svg": "<svg/>",
		"abs-inside.html":     "<h1>guide v2</h1>",
	}
	for p, want := range published {
		e, ok := got[p]
		if !ok {
			t.Errorf("%s: not in the tree", p)
			continue
		}
		if e.Mode&fs.ModeSymlink != 0 || e.Broken != "" {
			t.Errorf("%s: still a link: %+v", p, e)
		}
		sha, _ := BlobSHA(strings.NewReader(want), int64(len(want)))
		if e.BlobSHA != sha || e.Size != int64(len(want)) {
			t.Errorf("%s: blob %s size %d, want the target's %s", p, e.BlobSHA, e.Size, sha)
		}
		r, err := tree.Open(p)
		if err != nil {
			t.Errorf("open %s: %v", p, err)
			continue
		}
		b, _ := io.ReadAll(r)
		r.Close()
		if string(b) != want {
			t.Errorf("%s reads %q, want %q", p, b, want)
		}
	}
	broken := map[string]string{
		"passwd":           "leads outside the site",
		"deep/key.txt":     "leads outside the site",
		"secret":           "leads outside the site",
		"chain/passwd-too": "leads outside the site (through passwd → /etc/passwd)",
		"dangling.html":    "is dangling (nowhere.html does not exist in the site)",
		"loop1":            "is a loop of links",
		"loop2":            "is a loop of links",
		"self":             "is a loop of links",
		"v2/up":            "points to a folder that contains it (a loop)",
		"through-a-file":   "is dangling (index.html is not a folder)",
	}
	for p, want := range broken {
		e, ok := got[p]
		if !ok {
			t.Errorf("%s: the broken link is not reported", p)
			continue
		}
		if e.Mode&fs.ModeSymlink == 0 || e.Broken != want {
			t.Errorf("%s: mode %v, broken %q; want a link that %s", p, e.Mode, e.Broken, want)
		}
		if _, err := tree.Open(p); err == nil {
			t.Errorf("%s: a broken link opens", p)
		}
	}
	for p := range got {
		if strings.HasPrefix(p, "secret/") || strings.HasPrefix(p, "v2/up/") {
			t.Errorf("%s: a folder outside the site, or a loop, was walked", p)
		}
	}
	if e := got["passwd"]; e.Link != "/etc/passwd" {
		t.Errorf("passwd: Link = %q", e.Link)
	}
}

// A file of the walk swapped for a link to a secret before it is read is
// refused: the folder is opened through os.Root, which does not follow a
// link out of it.
func TestDirTreeOpenRefusesALinkSwappedInAfterTheWalk(t *testing.T) {
	parent, root := linkSite(t)
	tree, err := NewDirTree(root)
	if err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(root, "v2", "guide.html")
	if err := os.Remove(victim); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(parent, "secret", "key.txt"), victim); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"v2/guide.html", "latest/guide.html", "abs-inside.html"} {
		if r, err := tree.Open(p); err == nil {
			b, _ := io.ReadAll(r)
			r.Close()
			t.Errorf("%s opened after the swap and read %q", p, b)
		}
	}
}

// A git tree holds links as blobs of mode 120000; the mirror resolves them
// by the same rules, so a commit and its checkout deploy the same files.
func TestGitTreeResolvesLinksLikeAFolder(t *testing.T) {
	parent, root := linkSite(t)
	// The absolute link names this machine's folder: in a repository it
	// would point nowhere, so it is left out of the comparison.
	os.Remove(filepath.Join(root, "abs-inside.html"))
	gitCmd(t, parent, "init", "-q", "-b", "main")
	gitCmd(t, parent, "add", "-A")
	gitCmd(t, parent, "commit", "-q", "-m", "site")
	m, err := OpenMirror(t.TempDir(), "acme", "docs")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	if err := m.Fetch(ctx, "file://"+parent, "", "main"); err != nil {
		t.Fatal(err)
	}
	gt, err := m.Tree(ctx, "refs/heads/main", "public")
	if err != nil {
		t.Fatal(err)
	}
	dt, err := NewDirTree(root)
	if err != nil {
		t.Fatal(err)
	}
	de, ge := dt.Entries(), gt.Entries()
	if len(de) != len(ge) {
		t.Fatalf("folder has %d entries, git %d", len(de), len(ge))
	}
	for i := range de {
		d, g := de[i], ge[i]
		if d.Path != g.Path || d.BlobSHA != g.BlobSHA || d.Size != g.Size || d.Broken != g.Broken || d.Link != g.Link {
			t.Errorf("folder %+v\ngit    %+v", d, g)
			continue
		}
		if d.Broken != "" {
			if _, err := gt.Open(g.Path); err == nil {
				t.Errorf("git: broken link %s opens", g.Path)
			}
			continue
		}
		r, err := gt.Open(g.Path)
		if err != nil {
			t.Errorf("git: open %s: %v", g.Path, err)
			continue
		}
		sha, err := BlobSHA(r, g.Size)
		r.Close()
		if err != nil || sha != d.BlobSHA {
			t.Errorf("git: %s reads as %s (%v), want %s", g.Path, sha, err, d.BlobSHA)
		}
	}
}

// A crafted commit can hold link blobs no checkout would make: a target
// thousands of bytes long, one with a NUL, a link into a submodule. Each is
// reported as a broken link, and none is read as a path outside the site.
func TestGitTreeHostileLinks(t *testing.T) {
	dir := t.TempDir()
	gitCmd(t, dir, "init", "-q", "-b", "main")
	os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644)
	gitCmd(t, dir, "add", "-A")
	gitCmd(t, dir, "commit", "-q", "-m", "base")
	base := gitCmd(t, dir, "rev-parse", "HEAD")
	hash := func(content string) string {
		p := filepath.Join(t.TempDir(), "blob")
		os.WriteFile(p, []byte(content), 0o644)
		return gitCmd(t, dir, "hash-object", "-w", p)
	}
	mktree := func(lines ...string) string {
		cmd := exec.Command("git", "-C", dir, "mktree")
		cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("mktree: %v %s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	public := mktree(
		"100644 blob "+hash("<h1>home</h1>")+"\tindex.html",
		"120000 blob "+hash(strings.Repeat("a/", 3000)+"index.html")+"\tlong",
		"120000 blob "+hash("index.html\x00../../etc/passwd")+"\tnul",
		"120000 blob "+hash("../../../../../../etc/shadow")+"\tshadow",
		"160000 commit "+base+"\tvendor",
		"120000 blob "+hash("vendor")+"\tto-vendor",
		"120000 blob "+hash("vendor/f")+"\tinto-vendor",
	)
	root := mktree("040000 tree " + public + "\tpublic")
	commit := gitCmd(t, dir, "commit-tree", root, "-m", "crafted")
	gitCmd(t, dir, "update-ref", "refs/heads/main", commit)
	m, err := OpenMirror(t.TempDir(), "acme", "evil")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	if err := m.Fetch(ctx, "file://"+dir, "", "main"); err != nil {
		t.Fatal(err)
	}
	tree, err := m.Tree(ctx, commit, "public")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"long":        "cannot be read: link target of 6010 bytes",
		"nul":         "is dangling (index.html\x00.. does not exist in the site)",
		"shadow":      "leads outside the site",
		"to-vendor":   `points to "vendor", a submodule or special file`,
		"into-vendor": "is dangling (vendor is not a folder)",
	}
	for _, e := range tree.Entries() {
		if w, ok := want[e.Path]; ok {
			if e.Broken != w {
				t.Errorf("%s: broken %q, want %q", e.Path, e.Broken, w)
			}
			delete(want, e.Path)
		}
	}
	for p := range want {
		t.Errorf("%s: not reported", p)
	}
}
