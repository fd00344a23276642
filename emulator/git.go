package emulator

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// gitRepo runs the git CLI on one bare repository. Git is the truth for
// refs and objects; the emulator never keeps copies of either.
type gitRepo struct {
	dir  string
	cats *catFiles // nil: every read starts git
}

const zeroSHA = "0000000000000000000000000000000000000000"

// errGit carries git's stderr so callers can tell "not found" from failures.
type errGit struct {
	args   []string
	stderr string
	code   int
}

func (e *errGit) Error() string {
	return fmt.Sprintf("git %s: exit %d: %s", strings.Join(e.args, " "), e.code, strings.TrimSpace(e.stderr))
}

func (g gitRepo) run(stdin []byte, env []string, args ...string) ([]byte, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = g.dir
	cmd.Env = append(os.Environ(), "GIT_DIR="+g.dir, "GIT_TERMINAL_PROMPT=0", "LC_ALL=C")
	cmd.Env = append(cmd.Env, env...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		code := -1
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		return out.Bytes(), &errGit{args: args, stderr: errb.String(), code: code}
	}
	return out.Bytes(), nil
}

func (g gitRepo) out(args ...string) (string, error) {
	b, err := g.run(nil, nil, args...)
	return strings.TrimSpace(string(b)), err
}

func initBare(dir, defaultBranch string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	cmd := exec.Command("git", "init", "--bare", "--quiet", "--initial-branch="+defaultBranch, dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("git init %s: %v: %s", dir, err, out)
	}
	g := gitRepo{dir: dir}
	for _, kv := range [][2]string{{"http.receivepack", "true"}, {"uploadpack.allowAnySHA1InWant", "true"}, {"receive.denyDeleteCurrent", "false"}, {"core.logAllRefUpdates", "true"}} {
		if _, err := g.out("config", kv[0], kv[1]); err != nil {
			return err
		}
	}
	return nil
}

// refs lists every ref with its object id.
func (g gitRepo) refs() (map[string]string, error) {
	out, err := g.out("for-each-ref", "--format=%(objectname) %(refname)")
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		sha, ref, ok := strings.Cut(line, " ")
		if ok {
			m[ref] = sha
		}
	}
	return m, nil
}

// resolve turns a sha, branch, tag or full ref into a commit id; ok is false
// when it names nothing.
func (g gitRepo) resolve(rev string) (string, bool) {
	if rev == "" || strings.HasPrefix(rev, "-") {
		return "", false
	}
	out, err := g.out("rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}")
	if err != nil || out == "" {
		return "", false
	}
	return out, true
}

func (g gitRepo) objectType(sha string) string {
	if sha == "" || strings.HasPrefix(sha, "-") {
		return ""
	}
	if typ, _, found, ok := g.batch("info", sha); ok {
		if !found {
			return ""
		}
		return typ
	}
	out, err := g.out("cat-file", "-t", sha)
	if err != nil {
		return ""
	}
	return out
}

// batch asks the repository's long-running cat-file; ok is false when it
// cannot answer (no reader, not a hex id, reader broke).
func (g gitRepo) batch(cmd, sha string) (typ string, data []byte, found, ok bool) {
	if g.cats == nil || !isHex(sha) {
		return "", nil, false, false
	}
	cf := g.cats.get(g.dir)
	if cf == nil {
		return "", nil, false, false
	}
	typ, data, found, err := cf.query(cmd, sha)
	if err != nil {
		return "", nil, false, false
	}
	return typ, data, found, true
}

// blob reads a blob's bytes.
func (g gitRepo) blob(sha string) ([]byte, error) {
	if typ, data, found, ok := g.batch("contents", sha); ok {
		if !found || typ != "blob" {
			return nil, fmt.Errorf("no blob %s", sha)
		}
		return data, nil
	}
	return g.run(nil, nil, "cat-file", "blob", sha)
}

func (g gitRepo) readObject(sha string) ([]byte, error) {
	typ := g.objectType(sha)
	if typ == "" {
		return nil, fmt.Errorf("no object %s", sha)
	}
	return g.run(nil, nil, "cat-file", typ, sha)
}

// person is a git identity with its timestamp.
type person struct {
	Name  string
	Email string
	When  time.Time
}

func parsePerson(s string) person {
	// "Name <email> 1700000000 +0000"
	var p person
	lt := strings.Index(s, "<")
	gt := strings.LastIndex(s, ">")
	if lt < 0 || gt < lt {
		return p
	}
	p.Name = strings.TrimSpace(s[:lt])
	p.Email = s[lt+1 : gt]
	f := strings.Fields(s[gt+1:])
	if len(f) >= 1 {
		sec, _ := strconv.ParseInt(f[0], 10, 64)
		p.When = time.Unix(sec, 0).UTC()
	}
	return p
}

type commitObj struct {
	SHA       string
	Tree      string
	Parents   []string
	Author    person
	Committer person
	Message   string
}

func (g gitRepo) commit(sha string) (*commitObj, error) {
	var raw []byte
	if typ, data, found, ok := g.batch("contents", sha); ok {
		if !found || typ != "commit" {
			return nil, fmt.Errorf("no commit %s", sha)
		}
		raw = data
	} else {
		if g.objectType(sha) != "commit" {
			return nil, fmt.Errorf("no commit %s", sha)
		}
		var err error
		if raw, err = g.run(nil, nil, "cat-file", "commit", sha); err != nil {
			return nil, err
		}
	}
	c := &commitObj{SHA: sha}
	head, msg, _ := strings.Cut(string(raw), "\n\n")
	c.Message = msg
	for _, line := range strings.Split(head, "\n") {
		k, v, _ := strings.Cut(line, " ")
		switch k {
		case "tree":
			c.Tree = v
		case "parent":
			c.Parents = append(c.Parents, v)
		case "author":
			c.Author = parsePerson(v)
		case "committer":
			c.Committer = parsePerson(v)
		}
	}
	c.Message = strings.TrimSuffix(c.Message, "\n")
	return c, nil
}

type treeEntry struct {
	Mode string
	Type string
	SHA  string
	Size int64 // -1 for trees
	Path string
}

// lsTree lists a tree (recursively when asked), with blob sizes.
func (g gitRepo) lsTree(treeish string, recursive bool, paths ...string) ([]treeEntry, error) {
	args := []string{"ls-tree", "-l", "-z"}
	if recursive {
		args = append(args, "-r", "-t")
	}
	args = append(args, "--end-of-options", treeish)
	if len(paths) > 0 {
		args = append(args, "--")
		args = append(args, paths...)
	}
	out, err := g.run(nil, nil, args...)
	if err != nil {
		return nil, err
	}
	var es []treeEntry
	for _, rec := range strings.Split(string(out), "\x00") {
		if rec == "" {
			continue
		}
		meta, path, ok := strings.Cut(rec, "\t")
		if !ok {
			continue
		}
		f := strings.Fields(meta)
		if len(f) < 4 {
			continue
		}
		size, err := strconv.ParseInt(f[3], 10, 64)
		if err != nil {
			size = -1
		}
		es = append(es, treeEntry{Mode: f[0], Type: f[1], SHA: f[2], Size: size, Path: path})
	}
	return es, nil
}

func (g gitRepo) hashObject(typ string, data []byte) (string, error) {
	out, err := g.run(data, nil, "hash-object", "-w", "-t", typ, "--stdin")
	return strings.TrimSpace(string(out)), err
}

// commitTree writes a commit object.
func (g gitRepo) commitTree(tree string, parents []string, msg string, author, committer person) (string, error) {
	args := []string{"commit-tree", tree}
	for _, p := range parents {
		args = append(args, "-p", p)
	}
	env := []string{
		"GIT_AUTHOR_NAME=" + author.Name, "GIT_AUTHOR_EMAIL=" + author.Email,
		"GIT_AUTHOR_DATE=" + strconv.FormatInt(author.When.Unix(), 10) + " +0000",
		"GIT_COMMITTER_NAME=" + committer.Name, "GIT_COMMITTER_EMAIL=" + committer.Email,
		"GIT_COMMITTER_DATE=" + strconv.FormatInt(committer.When.Unix(), 10) + " +0000",
	}
	out, err := g.run([]byte(msg), env, args...)
	return strings.TrimSpace(string(out)), err
}

// updateRef moves ref to newSHA only if it is at oldSHA now (zeroSHA: must
// not exist). This is git's own compare-and-swap under its ref lock.
func (g gitRepo) updateRef(ref, newSHA, oldSHA string) error {
	_, err := g.out("update-ref", "-m", "emulator", ref, newSHA, oldSHA)
	return err
}

func (g gitRepo) deleteRef(ref, oldSHA string) error {
	_, err := g.out("update-ref", "-d", ref, oldSHA)
	return err
}

func (g gitRepo) isAncestor(a, b string) bool {
	_, err := g.out("merge-base", "--is-ancestor", a, b)
	return err == nil
}

func (g gitRepo) mergeBase(a, b string) (string, bool) {
	out, err := g.out("merge-base", a, b)
	return out, err == nil && out != ""
}

// mergeTree merges two commits without a worktree; conflict is true when
// git could not merge them cleanly.
func (g gitRepo) mergeTree(a, b string) (tree string, conflict bool, err error) {
	out, err := g.run(nil, nil, "merge-tree", "--write-tree", "--no-messages", a, b)
	first, _, _ := strings.Cut(string(out), "\n")
	var ge *errGit
	if errors.As(err, &ge) && ge.code == 1 {
		return strings.TrimSpace(first), true, nil
	}
	if err != nil {
		return "", false, err
	}
	return strings.TrimSpace(first), false, nil
}

// revList lists commits in range args (e.g. "b..a"), oldest first.
func (g gitRepo) revList(max int, args ...string) ([]string, error) {
	a := []string{"rev-list", "--reverse", "--topo-order"}
	if max > 0 {
		// --reverse applies after limiting, so limit from the newest end.
		a = []string{"rev-list", "--topo-order", "--max-count=" + strconv.Itoa(max)}
	}
	a = append(a, args...)
	out, err := g.out(a...)
	if err != nil {
		return nil, err
	}
	if out == "" {
		return nil, nil
	}
	list := strings.Split(out, "\n")
	if max > 0 {
		for i, j := 0, len(list)-1; i < j; i, j = i+1, j-1 {
			list[i], list[j] = list[j], list[i]
		}
	}
	return list, nil
}

// fileChange is one changed path between two trees.
type fileChange struct {
	Status    string // added, removed, modified, renamed
	Path      string
	OldPath   string
	SHA       string
	Additions int
	Deletions int
}

// diff lists the files changed from a to b (commits or trees; a may be
// empty for a root commit).
func (g gitRepo) diff(a, b string) ([]fileChange, error) {
	args := []string{"diff-tree", "-r", "--no-commit-id", "-z", "--no-renames", "--raw", "--numstat"}
	if a == "" {
		args = append(args, "--root", b)
	} else {
		args = append(args, a, b)
	}
	out, err := g.run(nil, nil, args...)
	if err != nil {
		return nil, err
	}
	// -z output: raw records ":mode mode sha sha S\0path\0", then numstat
	// records "add\tdel\tpath\0".
	var changes []fileChange
	byPath := map[string]*fileChange{}
	fields := strings.Split(string(out), "\x00")
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if strings.HasPrefix(f, ":") {
			meta := strings.Fields(f)
			if len(meta) < 5 || i+1 >= len(fields) {
				continue
			}
			i++
			fc := fileChange{Path: fields[i], SHA: meta[3]}
			switch meta[4][0] {
			case 'A':
				fc.Status = "added"
			case 'D':
				fc.Status = "removed"
				fc.SHA = meta[2]
			default:
				fc.Status = "modified"
			}
			changes = append(changes, fc)
			continue
		}
		parts := strings.SplitN(f, "\t", 3)
		if len(parts) == 3 {
			add, _ := strconv.Atoi(parts[0])
			del, _ := strconv.Atoi(parts[1])
			byPath[parts[2]] = &fileChange{Additions: add, Deletions: del}
		}
	}
	for i := range changes {
		if n, ok := byPath[changes[i].Path]; ok {
			changes[i].Additions, changes[i].Deletions = n.Additions, n.Deletions
		}
	}
	return changes, nil
}

// patch returns the unified diff of one path between two commits.
func (g gitRepo) patch(a, b, path string) string {
	if a == "" {
		return ""
	}
	out, err := g.run(nil, nil, "diff", "--no-color", "--no-ext-diff", a, b, "--", path)
	if err != nil {
		return ""
	}
	s := string(out)
	if i := strings.Index(s, "\n@@"); i >= 0 {
		return s[i+1:]
	}
	return ""
}

// withIndex edits a tree through a temporary index file: read base (may be
// empty), apply edits with update-index, write the tree.
func (g gitRepo) editTree(base string, edits []indexEdit) (string, error) {
	idx, err := os.CreateTemp("", "ghemu-index-*")
	if err != nil {
		return "", err
	}
	idx.Close()
	os.Remove(idx.Name())
	defer os.Remove(idx.Name())
	env := []string{"GIT_INDEX_FILE=" + idx.Name()}
	if base != "" {
		if _, err := g.run(nil, env, "read-tree", base); err != nil {
			return "", err
		}
	} else if _, err := g.run(nil, env, "read-tree", "--empty"); err != nil {
		return "", err
	}
	var in bytes.Buffer
	w := bufio.NewWriter(&in)
	for _, e := range edits {
		if e.SHA == "" {
			// Remove the path (and anything under it).
			fmt.Fprintf(w, "0 %s\t%s\x00", zeroSHA, e.Path)
			continue
		}
		fmt.Fprintf(w, "%s %s\t%s\x00", e.Mode, e.SHA, e.Path)
	}
	w.Flush()
	if _, err := g.run(in.Bytes(), env, "update-index", "-z", "--index-info"); err != nil {
		return "", err
	}
	out, err := g.run(nil, env, "write-tree")
	return strings.TrimSpace(string(out)), err
}

type indexEdit struct {
	Path string
	Mode string
	SHA  string // empty removes
}
