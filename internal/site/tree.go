// Package site reads a commit's tree as a website and serves it privately to
// the browser that tests it.
package site

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sync/errgroup"
)

// Entry is one file of a site: its path relative to the site root (forward
// slashes, no leading slash), git's blob SHA-1 of its content, its size, and
// its mode. A symbolic link that resolves to a file inside the site is an
// entry with that file's content, mode and blob (Link says where it
// pointed); a link to a folder inside the site is that folder's files under
// the link's path. A link that cannot be published stays a symlink entry
// (Mode&fs.ModeSymlink != 0) with Broken saying why, so that consumers can
// refuse or skip it; nothing outside the site is ever read.
type Entry struct {
	Path    string
	BlobSHA string
	Size    int64
	Mode    fs.FileMode
	// Link is the target of a symbolic link as it was written.
	Link string
	// Broken says why a link cannot be published: it leads outside the
	// site, dangles, or loops. Empty for every other entry.
	Broken string
}

// Tree is a site at one version: a commit's tree under the site root, or a
// local folder. Entries are files only, sorted by Path.
type Tree interface {
	// Commit is the commit SHA the tree was read from; empty for a folder.
	Commit() string
	Entries() []Entry
	// Open streams one file's content; fs.ErrNotExist when the path is absent.
	Open(path string) (io.ReadCloser, error)
}

// TreeSHAOf returns the git tree id of a Tree read from a mirror, or ""
// (a local folder has none).
func TreeSHAOf(t Tree) string {
	if g, ok := t.(interface{ TreeSHA() string }); ok {
		return g.TreeSHA()
	}
	return ""
}

// BlobSHA is git's object id for a blob with this content, so that a local
// folder and a commit's tree name identical files identically.
func BlobSHA(r io.Reader, size int64) (string, error) {
	h := sha1.New()
	h.Write([]byte("blob " + strconv.FormatInt(size, 10) + "\x00"))
	n, err := io.Copy(h, r)
	if err != nil {
		return "", err
	}
	if n != size {
		return "", fmt.Errorf("blob changed while hashing: read %d bytes, expected %d", n, size)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// DirTree is a Tree over a local folder, hashed the way git hashes blobs.
type DirTree struct {
	root    string
	entries []Entry
	// real maps paths that are links, or under a link to a folder, to the
	// path in the folder that holds their content.
	real map[string]string
	// fromGit and hashed count the files whose blob id came from git's
	// index and those hashed here.
	fromGit, hashed int
}

// DirOptions tune NewDirTreeWith.
type DirOptions struct {
	// NoGit hashes every file even when the folder is inside a git work
	// tree.
	NoGit bool
}

// NewDirTree walks root and names every file by its git blob id: taken
// from git's index for the files git tracks and certainly unchanged when
// root is inside a git work tree (see worktree.go), hashed otherwise. Symlinks
// are resolved inside the folder (see Entry); the walk never follows them.
func NewDirTree(root string) (*DirTree, error) { return NewDirTreeWith(root, DirOptions{}) }

// NewDirTreeWith is NewDirTree with options.
func NewDirTreeWith(root string, o DirOptions) (*DirTree, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("site folder %s: %w", root, err)
	}
	t := &DirTree{root: abs}
	// git is asked while the folder is walked; its answer is only used
	// once both are done.
	wtc := make(chan *workTree, 1)
	if o.NoGit {
		wtc <- nil
	} else {
		go func() {
			ctx := context.Background()
			wt := openWorkTree(ctx, abs)
			if wt != nil && !wt.attrsKnown && !wt.loadConversions(ctx, abs, wt.paths()) {
				wt = nil
			}
			wtc <- wt
		}()
	}
	files, err := walkFolder(abs)
	wt := <-wtc
	if err != nil {
		return nil, fmt.Errorf("read site folder %s: %w", root, err)
	}
	var (
		toHash = make([]int, 0, len(files)) // indexes into t.entries of regular files
		stats  = make([]walkedFile, 0, len(files))
		// attrs: a .gitattributes file in the folder, which git may
		// not track and so the index does not show.
		attrs bool
	)
	t.entries = make([]Entry, 0, len(files))
	for _, f := range files {
		e := Entry{Path: f.path, Size: f.size, Mode: f.mode}
		attrs = attrs || path.Base(f.path) == ".gitattributes"
		if f.mode&fs.ModeSymlink != 0 {
			target, err := os.Readlink(filepath.Join(abs, filepath.FromSlash(f.path)))
			if err != nil {
				return nil, fmt.Errorf("read site folder %s: %w", root, err)
			}
			// git hashes a symlink as a blob holding its target.
			e.Size = int64(len(target))
			if e.BlobSHA, err = BlobSHA(strings.NewReader(target), e.Size); err != nil {
				return nil, fmt.Errorf("read site folder %s: %w", root, err)
			}
		} else if f.mode.IsRegular() {
			toHash = append(toHash, len(t.entries))
			stats = append(stats, f)
		} else {
			return nil, fmt.Errorf("read site folder %s: %w", root, notRegular(f.path, f.mode))
		}
		t.entries = append(t.entries, e)
	}
	if wt != nil && attrs && !wt.loadConversions(context.Background(), abs, wt.paths()) {
		wt = nil
	}
	var hash []int
	for k, i := range toHash {
		if wt != nil && stats[k].statOK {
			if sha, ok := wt.blobOf(t.entries[i].Path, stats[k].size, stats[k].stat); ok {
				t.entries[i].BlobSHA = sha
				t.fromGit++
				continue
			}
		}
		hash = append(hash, i)
	}
	t.hashed = len(hash)
	if err := hashFiles(abs, t.entries, hash); err != nil {
		return nil, fmt.Errorf("read site folder %s: %w", root, err)
	}
	slices.SortFunc(t.entries, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) })
	roots := []string{abs}
	if ev, err := filepath.EvalSymlinks(abs); err == nil && ev != abs {
		roots = append(roots, ev)
	}
	readlink := func(e Entry) (string, error) {
		target, err := os.Readlink(filepath.Join(abs, filepath.FromSlash(e.Path)))
		return filepath.ToSlash(target), err
	}
	inside := func(target string) (string, bool) {
		for _, r := range roots {
			rel, err := filepath.Rel(r, filepath.FromSlash(target))
			if err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel) {
				return filepath.ToSlash(rel), true
			}
		}
		return "", false
	}
	t.entries, t.real = resolveLinks(t.entries, readlink, inside)
	return t, nil
}

// hashFiles sets the blob id of entries[i] for each i in which, hashing
// on every core: SHA-1 runs at about 1.5 GB/s a core, so a site of
// hundreds of megabytes is hashed in parallel.
func hashFiles(root string, entries []Entry, which []int) error {
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, i := range which {
		e := &entries[i]
		g.Go(func() error {
			f, err := os.Open(filepath.Join(root, filepath.FromSlash(e.Path)))
			if err != nil {
				return err
			}
			defer f.Close()
			if e.BlobSHA, err = BlobSHA(f, e.Size); err != nil {
				return fmt.Errorf("hash %s: %w", e.Path, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// Counts reports how many files had their blob id from git's index and how
// many were hashed.
func (t *DirTree) Counts() (fromGit, hashed int) { return t.fromGit, t.hashed }

func (t *DirTree) Commit() string   { return "" }
func (t *DirTree) Entries() []Entry { return t.entries }

// Open refuses paths that are not clean and relative, and opens through
// os.Root, so neither a hostile name nor a link swapped in after the walk
// can reach outside the folder. A link's path opens its target.
func (t *DirTree) Open(path string) (io.ReadCloser, error) {
	if !fs.ValidPath(path) {
		return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrInvalid}
	}
	if r, ok := t.real[path]; ok {
		path = r
	}
	f, err := os.OpenInRoot(t.root, filepath.FromSlash(path))
	if err != nil {
		return nil, err
	}
	if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() {
		f.Close()
		return nil, &fs.PathError{Op: "open", Path: path, Err: errors.New("not a regular file")}
	}
	return f, nil
}
