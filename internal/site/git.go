package site

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Mode bits a Tree read from git reports for entries that are not plain
// files, so that consumers can refuse them: a symlink (git mode 120000) has
// fs.ModeSymlink, a submodule (git mode 160000, a commit in the tree) has
// ModeSubmodule.
const ModeSubmodule = fs.ModeIrregular

// smallBlob is the size under which Open reads a blob whole from the shared
// `git cat-file --batch` process; larger blobs stream from their own process
// so memory never holds a big file and the batch process is never held by a
// slow reader.
const smallBlob = 1 << 20

// Mirror is a local bare mirror of one repository, kept at
// <data>/mirrors/<owner>/<repo>.git and fetched incrementally: a job never
// clones from scratch. One Mirror value is safe for concurrent use; fetches of
// the same repository are serialized across goroutines and processes.
type Mirror struct {
	dir string

	mu    sync.Mutex // serializes fetches within this process
	batch *catFile   // long-lived `git cat-file --batch`, started on first use
	bmu   sync.Mutex // guards batch

	touched atomic.Value // time.Time of the last Touch
}

var mirrorLocks sync.Map // dir → *sync.Mutex shared by every Mirror of one repository

var namePart = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// OpenMirror returns the mirror of owner/repo under dataDir, creating the bare
// repository on first use.
func OpenMirror(dataDir, owner, repo string) (*Mirror, error) {
	for _, p := range []string{owner, repo} {
		if !namePart.MatchString(p) || p == "." || p == ".." {
			return nil, fmt.Errorf("mirror %s/%s: invalid repository name %q", owner, repo, p)
		}
	}
	dir := filepath.Join(dataDir, "mirrors", owner, repo+".git")
	m := &Mirror{dir: dir}
	if _, err := os.Stat(filepath.Join(dir, "HEAD")); err == nil {
		return m, nil
	}
	// Two jobs may open a new repository's mirror at once: each builds its
	// own bare repository beside the final one and renames it into place,
	// so neither sees the other's half-made one (git init in one folder
	// from two processes fails on git's config lock).
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("mirror %s/%s: %w", owner, repo, err)
	}
	tmp, err := os.MkdirTemp(parent, repo+".git.init-")
	if err != nil {
		return nil, fmt.Errorf("mirror %s/%s: %w", owner, repo, err)
	}
	defer os.RemoveAll(tmp)
	fresh := &Mirror{dir: tmp}
	if _, err := fresh.git(context.Background(), nil, "init", "--bare", "--quiet"); err != nil {
		return nil, fmt.Errorf("mirror %s/%s: init: %w", owner, repo, err)
	}
	// Objects arrive only by fetch; never let git try to gc in the
	// middle of a job.
	if _, err := fresh.git(context.Background(), nil, "config", "gc.auto", "0"); err != nil {
		return nil, fmt.Errorf("mirror %s/%s: init: %w", owner, repo, err)
	}
	// rename(2) replaces a missing or empty folder; when another opener
	// won the race the folder holds its repository and that one is used.
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, "HEAD")); serr != nil {
			return nil, fmt.Errorf("mirror %s/%s: init: %w", owner, repo, err)
		}
	}
	return m, nil
}

// Dir is the mirror's bare repository folder.
func (m *Mirror) Dir() string { return m.dir }

// Close stops the mirror's cat-file process.
func (m *Mirror) Close() error {
	m.bmu.Lock()
	defer m.bmu.Unlock()
	if m.batch != nil {
		m.batch.close()
		m.batch = nil
	}
	return nil
}

// Fetch brings refs from remoteURL into the mirror. A ref is a branch name
// ("main"), a full ref ("refs/tags/v1") or a commit SHA; with no refs every
// branch and tag is fetched. The token, when set, travels in an
// Authorization header given to git through its environment: never in the
// URL, the command line or the logs.
func (m *Mirror) Fetch(ctx context.Context, remoteURL, token string, refs ...string) error {
	if u, err := url.Parse(remoteURL); err != nil || u.User != nil {
		return fmt.Errorf("fetch %s: the remote must be a URL without credentials (pass the token separately)", redactURL(remoteURL))
	}
	specs := make([]string, 0, len(refs))
	for _, r := range refs {
		switch {
		case shaPattern.MatchString(r):
			specs = append(specs, r)
		case strings.HasPrefix(r, "refs/"):
			specs = append(specs, "+"+r+":"+r)
		case r == "" || strings.HasPrefix(r, "-") || strings.ContainsAny(r, ": \t\n"):
			return fmt.Errorf("fetch: invalid ref %q", r)
		default:
			specs = append(specs, "+refs/heads/"+r+":refs/heads/"+r)
		}
	}
	if len(specs) == 0 {
		specs = []string{"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"}
	}
	var env []string
	if token != "" {
		basic := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + token))
		env = []string{
			"GIT_CONFIG_COUNT=1",
			"GIT_CONFIG_KEY_0=http.extraHeader",
			"GIT_CONFIG_VALUE_0=Authorization: Basic " + basic,
		}
	}
	unlock, err := m.lock()
	if err != nil {
		return err
	}
	defer unlock()
	m.Touch()
	args := append([]string{"fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--", remoteURL}, specs...)
	if _, err := m.git(ctx, env, args...); err != nil {
		return fmt.Errorf("fetch %s: %w", redactURL(remoteURL), err)
	}
	return nil
}

// lock holds the repository both within this process (a mutex shared by
// every Mirror of the folder) and across processes (flock on a lock file),
// so that two replicas never fetch into the same mirror at once.
func (m *Mirror) lock() (func(), error) {
	v, _ := mirrorLocks.LoadOrStore(m.dir, &sync.Mutex{})
	mu := v.(*sync.Mutex)
	mu.Lock()
	f, err := os.OpenFile(filepath.Join(m.dir, usedFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		mu.Unlock()
		return nil, fmt.Errorf("lock mirror: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		mu.Unlock()
		return nil, fmt.Errorf("lock mirror: %w", err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
		mu.Unlock()
	}, nil
}

var shaPattern = regexp.MustCompile(`^[0-9a-f]{40}([0-9a-f]{24})?$`)

// TreeSHA is the object id of the tree at root in commit: two commits with
// the same TreeSHA hold the same site, byte for byte.
func (m *Mirror) TreeSHA(ctx context.Context, commit, root string) (string, error) {
	spec, err := treeSpec(commit, root)
	if err != nil {
		return "", err
	}
	// "<commit>:<path>^{tree}" would read "^{tree}" as part of the path, so
	// the object is resolved first and its type checked after.
	out, err := m.git(ctx, nil, "rev-parse", "--verify", "--quiet", spec)
	if err != nil {
		return "", fmt.Errorf("tree of %s at %q: not found in the mirror (fetched? folder exists?): %w", commit, root, err)
	}
	sha := strings.TrimSpace(string(out))
	typ, err := m.git(ctx, nil, "cat-file", "-t", sha)
	if err != nil {
		return "", fmt.Errorf("tree of %s at %q: %w", commit, root, err)
	}
	if t := strings.TrimSpace(string(typ)); t != "tree" {
		return "", fmt.Errorf("site root %q in %s is a %s, not a folder", root, commit, t)
	}
	return sha, nil
}

func treeSpec(commit, root string) (string, error) {
	if !shaPattern.MatchString(commit) && !strings.HasPrefix(commit, "refs/") {
		if commit == "" || strings.HasPrefix(commit, "-") || strings.ContainsAny(commit, ": \t\n") {
			return "", fmt.Errorf("invalid commit %q", commit)
		}
	}
	root = strings.Trim(root, "/")
	if root == "" || root == "." {
		return commit + "^{tree}", nil
	}
	if !fs.ValidPath(root) {
		return "", fmt.Errorf("invalid site root %q: must be a relative folder without '..'", root)
	}
	return commit + ":" + root, nil
}

// HasCommit reports whether the mirror holds commit (so a deploy need not
// fetch first).
func (m *Mirror) HasCommit(ctx context.Context, commit string) bool {
	if _, err := treeSpec(commit, ""); err != nil {
		return false
	}
	_, err := m.git(ctx, nil, "rev-parse", "--verify", "--quiet", commit+"^{commit}")
	return err == nil
}

// Tree lists the files under root in commit with `git ls-tree -r -l -z`.
// Symlinks (blobs of mode 120000) are resolved inside the site root as a
// folder's are (see Entry); submodules are listed with their mode bits
// (see ModeSubmodule).
func (m *Mirror) Tree(ctx context.Context, commit, root string) (Tree, error) {
	spec, err := treeSpec(commit, root)
	if err != nil {
		return nil, err
	}
	// Resolve the commit first so the Tree names a SHA, not a ref that
	// could move under us.
	out, err := m.git(ctx, nil, "rev-parse", "--verify", "--quiet", commit+"^{commit}")
	if err != nil {
		return nil, fmt.Errorf("commit %s: not in the mirror: %w", commit, err)
	}
	sha := strings.TrimSpace(string(out))
	treeSHA, err := m.TreeSHA(ctx, sha, root)
	if err != nil {
		return nil, err
	}
	spec, _ = treeSpec(sha, root)
	out, err = m.git(ctx, nil, "ls-tree", "-r", "-l", "-z", "--full-tree", spec)
	if err != nil {
		return nil, fmt.Errorf("list tree %s: %w", spec, err)
	}
	entries, err := parseLsTree(out)
	if err != nil {
		return nil, fmt.Errorf("list tree %s: %w", spec, err)
	}
	// A link's blob holds its target; resolved links take their target's
	// blob, so Open below reads the target.
	readlink := func(e Entry) (string, error) {
		if e.Size > maxLinkTarget {
			return "", fmt.Errorf("link target of %d bytes", e.Size)
		}
		b, err := m.readBlob(e.BlobSHA)
		return string(b), err
	}
	entries, _ = resolveLinks(entries, readlink, nil)
	t := &gitTree{m: m, commit: sha, tree: treeSHA, entries: entries, index: make(map[string]int, len(entries))}
	for i, e := range entries {
		t.index[e.Path] = i
	}
	return t, nil
}

// parseLsTree reads records "<mode> SP <type> SP <sha> SP+ <size> TAB <path> NUL".
func parseLsTree(out []byte) ([]Entry, error) {
	var entries []Entry
	for len(out) > 0 {
		i := bytes.IndexByte(out, 0)
		if i < 0 {
			return nil, errors.New("truncated ls-tree output")
		}
		rec := string(out[:i])
		out = out[i+1:]
		tab := strings.IndexByte(rec, '\t')
		if tab < 0 {
			return nil, fmt.Errorf("bad ls-tree record %q", rec)
		}
		fields := strings.Fields(rec[:tab])
		if len(fields) != 4 {
			return nil, fmt.Errorf("bad ls-tree record %q", rec)
		}
		e := Entry{Path: rec[tab+1:], BlobSHA: fields[2]}
		switch fields[0] {
		case "100644":
			e.Mode = 0o644
		case "100755":
			e.Mode = 0o755
		case "120000":
			e.Mode = fs.ModeSymlink | 0o777
		case "160000":
			e.Mode = ModeSubmodule
		default:
			e.Mode = fs.ModeIrregular
		}
		if fields[3] != "-" {
			n, err := strconv.ParseInt(fields[3], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("bad size in ls-tree record %q", rec)
			}
			e.Size = n
		}
		entries = append(entries, e)
	}
	// git sorts tree entries with directories as if suffixed by '/';
	// the Tree contract is plain byte order.
	sort.Slice(entries, func(i, j int) bool { return entries[i].Path < entries[j].Path })
	return entries, nil
}

type gitTree struct {
	m       *Mirror
	commit  string
	tree    string
	entries []Entry
	index   map[string]int
}

func (t *gitTree) Commit() string   { return t.commit }
func (t *gitTree) Entries() []Entry { return t.entries }

// TreeSHA is the id of the tree at the site root, as Mirror.TreeSHA
// returns it (read once when the tree was listed).
func (t *gitTree) TreeSHA() string { return t.tree }

// Open streams a file's blob. Small blobs come from the mirror's shared
// batch process; large ones stream from their own `git cat-file blob`.
func (t *gitTree) Open(p string) (io.ReadCloser, error) {
	i, ok := t.index[p]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
	e := t.entries[i]
	if e.Mode&(fs.ModeSymlink|fs.ModeIrregular) != 0 {
		return nil, &fs.PathError{Op: "open", Path: p, Err: fmt.Errorf("not a regular file (git mode %v)", e.Mode)}
	}
	if e.Size <= smallBlob {
		b, err := t.m.readBlob(e.BlobSHA)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", p, err)
		}
		return readSeekNopCloser{bytes.NewReader(b)}, nil
	}
	return t.m.streamBlob(e.BlobSHA)
}

// readSeekNopCloser keeps a small blob seekable, so an uploader can sign or
// retry it without buffering again.
type readSeekNopCloser struct{ *bytes.Reader }

func (readSeekNopCloser) Close() error { return nil }

// OpenBlob streams one blob of the mirror by its SHA.
func (m *Mirror) OpenBlob(sha string) (io.ReadCloser, error) {
	if !shaPattern.MatchString(sha) {
		return nil, fmt.Errorf("invalid blob sha %q", sha)
	}
	return m.streamBlob(sha)
}

func (m *Mirror) streamBlob(sha string) (io.ReadCloser, error) {
	cmd := exec.Command("git", "--git-dir", m.dir, "cat-file", "blob", sha)
	cmd.Env = gitEnv(nil)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cat-file %s: %w", sha, err)
	}
	return &cmdReader{r: out, cmd: cmd, stderr: &stderr}, nil
}

type cmdReader struct {
	r      io.ReadCloser
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	eof    bool
	done   bool
}

func (c *cmdReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err == io.EOF && !c.done {
		c.done = true
		if werr := c.cmd.Wait(); werr != nil {
			return n, fmt.Errorf("git cat-file: %v: %s", werr, strings.TrimSpace(c.stderr.String()))
		}
	}
	return n, err
}

func (c *cmdReader) Close() error {
	if !c.done {
		c.done = true
		c.r.Close()
		c.cmd.Process.Kill()
		c.cmd.Wait()
	}
	return nil
}

func (m *Mirror) readBlob(sha string) ([]byte, error) {
	m.bmu.Lock()
	defer m.bmu.Unlock()
	if m.batch == nil {
		b, err := startCatFile(m.dir)
		if err != nil {
			return nil, err
		}
		m.batch = b
	}
	data, err := m.batch.read(sha)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		// The process may be broken mid-record; start afresh next time.
		m.batch.close()
		m.batch = nil
	}
	return data, err
}

type catFile struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func startCatFile(dir string) (*catFile, error) {
	cmd := exec.Command("git", "--git-dir", dir, "cat-file", "--batch")
	cmd.Env = gitEnv(nil)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start git cat-file --batch: %w", err)
	}
	return &catFile{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 64<<10)}, nil
}

func (c *catFile) read(sha string) ([]byte, error) {
	if _, err := io.WriteString(c.in, sha+"\n"); err != nil {
		return nil, fmt.Errorf("cat-file %s: %w", sha, err)
	}
	header, err := c.out.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("cat-file %s: %w", sha, err)
	}
	f := strings.Fields(header)
	if len(f) == 2 && f[1] == "missing" {
		return nil, fmt.Errorf("blob %s: %w", sha, fs.ErrNotExist)
	}
	if len(f) != 3 || f[1] != "blob" {
		return nil, fmt.Errorf("cat-file %s: unexpected header %q", sha, strings.TrimSpace(header))
	}
	n, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("cat-file %s: bad size in %q", sha, header)
	}
	buf := make([]byte, n+1) // content and the trailing newline
	if _, err := io.ReadFull(c.out, buf); err != nil {
		return nil, fmt.Errorf("cat-file %s: %w", sha, err)
	}
	return buf[:n], nil
}

func (c *catFile) close() {
	c.in.Close()
	c.cmd.Wait()
}

// gitEnv is a predictable environment for git: no user or system config
// that could redirect fetches or run hooks, no terminal prompts.
func gitEnv(extra []string) []string {
	env := []string{
		"GIT_TERMINAL_PROMPT=0",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"HOME=" + os.TempDir(),
		"LC_ALL=C",
	}
	if p := os.Getenv("PATH"); p != "" {
		env = append(env, "PATH="+p)
	}
	return append(env, extra...)
}

func (m *Mirror) git(ctx context.Context, env []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"--git-dir", m.dir}, args...)...)
	cmd.Env = gitEnv(env)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return nil, fmt.Errorf("git %s: %w", args[0], err)
		}
		return nil, fmt.Errorf("git %s: %w: %s", args[0], err, msg)
	}
	return out, nil
}

// redactURL drops any user information and query from a URL before it
// appears in an error.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	u.RawQuery = ""
	return u.String()
}

// usedFile is touched whenever a mirror is used, so that retention can tell
// the mirrors nobody needed for a while (PruneMirrors).
const usedFile = "hoist.lock"

// Touch records that the mirror was used now, at most once a minute.
func (m *Mirror) Touch() {
	now := time.Now()
	if last, ok := m.touched.Load().(time.Time); ok && now.Sub(last) < time.Minute {
		return
	}
	m.touched.Store(now)
	p := filepath.Join(m.dir, usedFile)
	if err := os.Chtimes(p, now, now); errors.Is(err, fs.ErrNotExist) {
		if f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o644); err == nil {
			f.Close()
		}
	}
}

// PruneMirrors deletes the mirrors under dataDir last used (Touch, or
// created) before before. forget is called first with each mirror's
// owner and name so that its user can drop an open Mirror. A mirror is
// deleted under its lock, so never during a fetch.
func PruneMirrors(ctx context.Context, dataDir string, before time.Time, forget func(owner, repo string)) (int64, error) {
	dirs, err := filepath.Glob(filepath.Join(dataDir, "mirrors", "*", "*.git"))
	if err != nil {
		return 0, err
	}
	var n int64
	for _, dir := range dirs {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		if lastUse(dir).After(before) {
			continue
		}
		owner, repo := filepath.Base(filepath.Dir(dir)), strings.TrimSuffix(filepath.Base(dir), ".git")
		if forget != nil {
			forget(owner, repo)
		}
		m := &Mirror{dir: dir}
		unlock, err := m.lock()
		if err != nil {
			return n, err
		}
		// Used while we waited for the lock: keep it.
		if lastUse(dir).After(before) {
			unlock()
			continue
		}
		err = os.RemoveAll(dir)
		unlock()
		if err != nil {
			return n, fmt.Errorf("prune mirror %s/%s: %w", owner, repo, err)
		}
		n++
	}
	return n, nil
}

// lastUse is when a mirror was last used: its use marker, else its HEAD.
func lastUse(dir string) time.Time {
	for _, name := range []string{usedFile, "HEAD"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return fi.ModTime()
		}
	}
	return time.Time{}
}
