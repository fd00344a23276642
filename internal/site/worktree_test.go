package site

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hashAll reads the folder without git: every blob id hashed.
func hashAll(t *testing.T, dir string) map[string]string {
	t.Helper()
	tree, err := NewDirTreeWith(dir, DirOptions{NoGit: true})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range tree.Entries() {
		out[e.Path] = e.BlobSHA
	}
	return out
}

// sameAsHashed checks that NewDirTree names every file as hashing it does
// and returns how many ids came from git.
func sameAsHashed(t *testing.T, dir string) (fromGit, hashed int) {
	t.Helper()
	tree, err := NewDirTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := hashAll(t, dir)
	if len(tree.Entries()) != len(want) {
		t.Fatalf("%d entries, want %d", len(tree.Entries()), len(want))
	}
	for _, e := range tree.Entries() {
		if want[e.Path] != e.BlobSHA {
			t.Errorf("%s: blob %s, but its content hashes to %s", e.Path, e.BlobSHA, want[e.Path])
		}
	}
	return tree.Counts()
}

// A folder in a fresh clone is named by git's index without hashing; a
// file rewritten with its size and mtime kept, an untracked, an ignored, a
// staged and an assume-unchanged file are all hashed, and a deleted one is
// gone.
func TestDirTreeTakesUnchangedFilesFromGit(t *testing.T) {
	src, _ := workRepo(t)
	clone := t.TempDir()
	gitCmd(t, src, "clone", "-q", src, clone)
	site := filepath.Join(clone, "public")

	// Straight after the clone, files written just before the index are
	// "racily clean" and hashed; whatever comes from git must be right.
	sameAsHashed(t, site)

	// Same size, same mtime, other content: git sees the ctime change.
	// The files are made older than the index first, so that git trusts
	// their stat data instead of comparing content as it does for files
	// written in the same instant as the index ("racy git").
	notRacy(t, clone, site)
	if fromGit, hashed := sameAsHashed(t, site); fromGit != 4 || hashed != 0 {
		// index.html, site.css, big.bin, ü.txt; the symlink is no file.
		t.Fatalf("after a refresh: %d from git, %d hashed; want 4 and 0", fromGit, hashed)
	}
	index := filepath.Join(site, "index.html")
	info, err := os.Stat(index)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	if err := os.WriteFile(index, []byte("<h1>HOME</h1>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(index, info.ModTime(), info.ModTime()); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Stat(index); after.Size() != info.Size() || !after.ModTime().Equal(info.ModTime()) {
		t.Fatalf("the rewrite changed size or mtime")
	}
	fromGit, hashed := sameAsHashed(t, site)
	if hashed != 1 || fromGit != 3 {
		t.Fatalf("after a same-size, same-mtime rewrite: %d from git, %d hashed; want 3 and 1", fromGit, hashed)
	}

	// Untracked and ignored files are hashed; a deleted file is absent.
	os.WriteFile(filepath.Join(clone, ".gitignore"), []byte("*.log\n"), 0o644)
	os.WriteFile(filepath.Join(site, "new.html"), []byte("new"), 0o644)
	os.WriteFile(filepath.Join(site, "build.log"), []byte("ignored but published"), 0o644)
	os.Remove(filepath.Join(site, "css", "site.css"))
	if fromGit, hashed = sameAsHashed(t, site); hashed != 3 || fromGit != 2 {
		t.Fatalf("with new, ignored and deleted files: %d from git, %d hashed; want 2 and 3", fromGit, hashed)
	}

	// A staged change: the index's blob is the file's. The rewrite above
	// changed the file's ctime; staging it within racyWindow of that
	// would record a racily clean entry, which is rightly hashed.
	time.Sleep(2 * racyWindow)
	gitCmd(t, clone, "add", "public/index.html")
	if fromGit, hashed = sameAsHashed(t, site); fromGit != 3 {
		t.Fatalf("after staging: %d from git, %d hashed; want 3 from git", fromGit, hashed)
	}

	// assume-unchanged hides a change from git: such files are hashed.
	big := filepath.Join(site, "big.bin")
	gitCmd(t, clone, "update-index", "--assume-unchanged", "public/big.bin")
	os.WriteFile(big, []byte(strings.Repeat("y", 3<<20)), 0o644)
	if fromGit, hashed = sameAsHashed(t, site); fromGit != 2 {
		t.Fatalf("with an assume-unchanged file: %d from git, %d hashed; want 2 from git", fromGit, hashed)
	}
}

// Files git converts between the work tree and its objects (end of line
// here) are hashed: their blob is not their content.
func TestDirTreeHashesConvertedFiles(t *testing.T) {
	dir := t.TempDir()
	site := filepath.Join(dir, "site")
	os.MkdirAll(site, 0o755)
	gitCmd(t, dir, "init", "-q", "-b", "main")
	os.WriteFile(filepath.Join(dir, ".gitattributes"), []byte("*.txt text eol=crlf\n*.md ident\n"), 0o644)
	os.WriteFile(filepath.Join(site, "a.txt"), []byte("one\ntwo\n"), 0o644)
	os.WriteFile(filepath.Join(site, "id.md"), []byte("$Id$\n"), 0o644)
	os.WriteFile(filepath.Join(site, "b.html"), []byte("plain\n"), 0o644)
	gitCmd(t, dir, "add", "-A")
	gitCmd(t, dir, "commit", "-q", "-m", "converted")
	// Past the racy window of b.html's entry, so that its id may be
	// taken from the index written by the checkout below.
	time.Sleep(100 * time.Millisecond)
	// Checked out again, a.txt has CRLF in the work tree, LF in git, and
	// id.md its blob id expanded.
	os.Remove(filepath.Join(site, "a.txt"))
	os.Remove(filepath.Join(site, "id.md"))
	gitCmd(t, dir, "checkout", "--", "site")
	if b, _ := os.ReadFile(filepath.Join(site, "a.txt")); string(b) != "one\r\ntwo\r\n" {
		t.Fatalf("a.txt = %q, want CRLF line ends", b)
	}
	if b, _ := os.ReadFile(filepath.Join(site, "id.md")); !strings.HasPrefix(string(b), "$Id: ") {
		t.Fatalf("id.md = %q, want its id expanded", b)
	}
	if fromGit, hashed := sameAsHashed(t, site); fromGit != 1 || hashed != 2 {
		t.Fatalf("%d from git, %d hashed; want b.html from git, a.txt and id.md hashed", fromGit, hashed)
	}
}

// Outside a work tree everything is hashed.
func TestDirTreeWithoutGit(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("x"), 0o644)
	if fromGit, hashed := sameAsHashed(t, dir); fromGit != 0 || hashed != 1 {
		t.Fatalf("%d from git, %d hashed", fromGit, hashed)
	}
}

// The index reader reads versions 2, 3 and 4 (path compression) alike, and
// flags an intent-to-add entry.
func TestParseGitIndexVersions(t *testing.T) {
	dir, _ := workRepo(t)
	os.WriteFile(filepath.Join(dir, "public", "later.html"), []byte("later"), 0o644)
	gitCmd(t, dir, "add", "-N", "public/later.html")
	var first map[string]gitIndexEntry
	for _, v := range []string{"2", "3", "4"} {
		gitCmd(t, dir, "update-index", "--index-version", v)
		data, err := os.ReadFile(filepath.Join(dir, ".git", "index"))
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := parseGitIndex(data, "public/")
		if err != nil {
			t.Fatalf("version %s: %v", v, err)
		}
		if len(got) != 6 || got["a b/ü.txt"].blob == [20]byte{} || !got["later.html"].extra || got["index.html"].extra {
			t.Fatalf("version %s: %+v", v, got)
		}
		if first == nil {
			first = got
			continue
		}
		for p, e := range first {
			if g := got[p]; g.blob != e.blob || g.size != e.size || !g.mtime.Equal(e.mtime) || g.extra != e.extra {
				t.Errorf("version %s: %s = %+v, version 2 read %+v", v, p, g, e)
			}
		}
	}
}

// An untracked .gitattributes in the folder counts: git applies it, so
// the files it names are hashed.
func TestDirTreeHeedsUntrackedAttributes(t *testing.T) {
	src, _ := workRepo(t)
	site := filepath.Join(src, "public")
	notRacy(t, src, site)
	if fromGit, hashed := sameAsHashed(t, site); fromGit != 4 || hashed != 0 {
		t.Fatalf("before: %d from git, %d hashed; want 4 and 0", fromGit, hashed)
	}
	os.WriteFile(filepath.Join(site, "css", ".gitattributes"), []byte("*.css filter=minify\n"), 0o644)
	if fromGit, hashed := sameAsHashed(t, site); fromGit != 3 || hashed != 2 {
		// site.css (filtered) and the .gitattributes file itself are hashed.
		t.Fatalf("%d from git, %d hashed; want site.css and .gitattributes hashed", fromGit, hashed)
	}
}

// notRacy makes the files under site older than the index of repo, which
// is then written again with their stat data, so that none is "racily
// clean".
func notRacy(t *testing.T, repo, site string) {
	t.Helper()
	hourAgo := time.Now().Add(-time.Hour)
	filepath.WalkDir(site, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			os.Chtimes(p, hourAgo, hourAgo)
		}
		return nil
	})
	time.Sleep(1100 * time.Millisecond) // the index written in a later second
	gitCmd(t, repo, "update-index", "-q", "--refresh")
}
