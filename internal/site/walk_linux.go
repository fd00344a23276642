package site

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"
)

// walkChunk is how many names of one folder a task stats: a folder of
// thousands of files is spread over the cores too.
const walkChunk = 512

// walkFolder lists every non-folder entry under root. Reading a folder
// whose files are unchanged is mostly lstat calls, one per file, so they
// run on several goroutines at once (the kernel serves them in parallel)
// and each is an fstatat relative to its open folder, so that the kernel
// resolves one name instead of the whole path each time.
// filepath.WalkDir (and the walkers built on it) can do neither.
func walkFolder(root string) ([]walkedFile, error) {
	if !isRealDir(root) {
		return walkGeneric(root)
	}
	w := &walker{root: root}
	// More goroutines than cores: a goroutine waiting in the kernel for
	// a folder's blocks leaves its core to another.
	w.g.SetLimit(2 * runtime.GOMAXPROCS(0))
	w.g.Go(func() error { return w.dir("") })
	err := w.g.Wait()
	n := 0
	for _, part := range w.out {
		n += len(part)
	}
	out := make([]walkedFile, 0, n)
	for _, part := range w.out {
		out = append(out, part...)
	}
	return out, err
}

type walker struct {
	root string
	g    errgroup.Group
	mu   sync.Mutex
	out  [][]walkedFile // one part per folder chunk, joined at the end
}

// spawn runs fn on another goroutine when the limit allows, else on this
// one: a task that waited for a free slot while holding its own could
// deadlock the walk.
func (w *walker) spawn(fn func() error) error {
	if w.g.TryGo(fn) {
		return nil
	}
	return fn()
}

// dir lists the folder rel ("" for the root) and walks its sub-folders.
func (w *walker) dir(rel string) error {
	f, err := os.Open(filepath.Join(w.root, filepath.FromSlash(rel)))
	if err != nil {
		return err
	}
	ents, err := f.ReadDir(-1)
	if err != nil {
		f.Close()
		return err
	}
	// The folder stays open until every chunk of its names is stated.
	var pending sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err })
	}
	for start := 0; start < len(ents); start += walkChunk {
		chunk := ents[start:min(start+walkChunk, len(ents))]
		pending.Add(1)
		task := func() error {
			defer pending.Done()
			if err := w.stat(f, rel, chunk); err != nil {
				fail(err)
			}
			return nil
		}
		if start+walkChunk >= len(ents) {
			task() // the last chunk on this goroutine
		} else {
			w.spawn(task) // task reports its error through fail
		}
	}
	pending.Wait()
	f.Close()
	if firstErr != nil {
		return firstErr
	}
	for _, d := range ents {
		if d.IsDir() {
			sub := path.Join(rel, d.Name())
			if err := w.spawn(func() error { return w.dir(sub) }); err != nil {
				return err
			}
		}
	}
	return nil
}

// stat records the non-folder entries among ents, in the open folder dir.
func (w *walker) stat(dir *os.File, rel string, ents []fs.DirEntry) error {
	fd := int(dir.Fd())
	out := make([]walkedFile, 0, len(ents))
	for _, d := range ents {
		if d.IsDir() {
			continue
		}
		p := d.Name()
		if rel != "" {
			p = rel + "/" + p
		}
		var st unix.Stat_t
		if err := ignoringEINTR(func() error { return unix.Fstatat(fd, d.Name(), &st, unix.AT_SYMLINK_NOFOLLOW) }); err != nil {
			return &fs.PathError{Op: "lstat", Path: filepath.Join(w.root, filepath.FromSlash(p)), Err: err}
		}
		mode := fs.FileMode(st.Mode & 0o777)
		if st.Mode&unix.S_ISUID != 0 {
			mode |= fs.ModeSetuid
		}
		if st.Mode&unix.S_ISGID != 0 {
			mode |= fs.ModeSetgid
		}
		if st.Mode&unix.S_ISVTX != 0 {
			mode |= fs.ModeSticky
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
		case unix.S_IFLNK:
			mode |= fs.ModeSymlink
		default:
			// Anything else (a folder too, if one replaced the file
			// since the listing) is refused by the caller: name its
			// type as os.Lstat does.
			info, err := os.Lstat(filepath.Join(w.root, filepath.FromSlash(p)))
			if err != nil {
				return err
			}
			mode = info.Mode()
		}
		out = append(out, walkedFile{path: p, size: st.Size, mode: mode, statOK: true, stat: fileStat{
			ctime: time.Unix(int64(st.Ctim.Sec), int64(st.Ctim.Nsec)),
			mtime: time.Unix(int64(st.Mtim.Sec), int64(st.Mtim.Nsec)),
			ino:   uint32(st.Ino),
		}})
	}
	w.mu.Lock()
	w.out = append(w.out, out)
	w.mu.Unlock()
	return nil
}

func ignoringEINTR(fn func() error) error {
	for {
		err := fn()
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
