package site

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// A folder inside a git work tree (a CI checkout) need not be hashed file by
// file: git's index holds each tracked file's blob id with the stat data
// the file had when git last looked at it. A fresh clone has new mtimes
// everywhere, so a cache keyed by mtime alone would miss every file there;
// git's index does not.
//
// A file's id is taken from the index only when git itself would trust it
// and more: its ctime and mtime equal the recorded ones to the nanosecond
// (git compares whole seconds unless built with USE_NSEC, so a file
// rewritten with its size and mtime kept within the same second would look
// unchanged to it), its size and inode equal, the entry is not "racily
// clean" (recorded just before the index was written, which git answers by
// comparing content: here, by hashing), and nothing marks it
// assume-unchanged, skip-worktree or intent-to-add. The index is read here
// because git has no command that prints this stat data; anything in it
// that this reader does not know (a split index, another version or hash)
// makes every file hashed.

// racyWindow is how long before the index was written an entry's recorded
// times make it "racily clean" on a file system with sub-second times
// (kernel timestamps advance by clock ticks of 1 to 10 ms).
const racyWindow = 50 * time.Millisecond

// gitIndexEntry is what the index says of one file.
type gitIndexEntry struct {
	ctime, mtime       time.Time // as recorded, to the nanosecond
	ino, size, mode    uint32
	blob               [20]byte
	stage              int
	assumeValid, extra bool // extra: skip-worktree or intent-to-add
}

// workTree is a folder's git work tree: the index entries under the
// folder, keyed by path relative to it.
type workTree struct {
	entries    map[string]gitIndexEntry
	indexMtime time.Time
	converted  map[string]bool // paths git converts on checkout or add
	// attrsKnown: converted was filled in, by git check-attr or because
	// no attribute nor core.autocrlf can apply to the folder's files.
	attrsKnown bool
}

// openWorkTree reads the index of the work tree root is in, or returns
// nil when git is absent, root is not inside a work tree, or the index is
// one this reader does not know.
func openWorkTree(ctx context.Context, root string) *workTree {
	if _, err := exec.LookPath("git"); err != nil {
		return nil
	}
	// The questions attributesMayApply asks do not depend on the answer
	// to this one: all three git processes run at once.
	ask := func(args ...string) func() ([]byte, error) {
		type answer struct {
			out []byte
			err error
		}
		c := make(chan answer, 1)
		go func() {
			out, err := gitIn(ctx, root, nil, args...)
			c <- answer{out, err}
		}()
		return func() ([]byte, error) { a := <-c; return a.out, a.err }
	}
	g := gitAnswers{
		config:   ask("config", "-z", "--get-regexp", `^core\.(autocrlf|attributesfile)$`), // none set is an error exit
		execPath: func() ([]byte, error) { return nil, errors.New("not asked") },
	}
	if os.Getenv("GIT_ATTR_NOSYSTEM") == "" {
		g.execPath = ask("--exec-path")
	}
	out, err := gitIn(ctx, root, nil, "rev-parse", "--is-inside-work-tree", "--show-prefix", "--git-path", "index",
		"--show-object-format", "--git-path", "info/attributes")
	if err != nil {
		return nil
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) != 5 || lines[0] != "true" || lines[3] != "sha1" {
		return nil
	}
	prefix, indexPath, infoAttrs := lines[1], lines[2], lines[4]
	if !filepath.IsAbs(indexPath) {
		indexPath = filepath.Join(root, indexPath)
	}
	if !filepath.IsAbs(infoAttrs) {
		infoAttrs = filepath.Join(root, infoAttrs)
	}
	data, err := os.ReadFile(indexPath)
	if err != nil {
		return nil
	}
	info, err := os.Stat(indexPath)
	if err != nil {
		return nil
	}
	entries, attrFiles, err := parseGitIndex(data, prefix)
	if err != nil {
		return nil
	}
	w := &workTree{entries: entries, indexMtime: info.ModTime()}
	if !attributesMayApply(root, prefix, infoAttrs, attrFiles, g) {
		w.converted, w.attrsKnown = map[string]bool{}, true
	}
	return w
}

// gitAnswers are git's answers that attributesMayApply reads: `git config
// -z --get-regexp ^core\.(autocrlf|attributesfile)$` and `git --exec-path`
// in the folder.
type gitAnswers struct {
	config, execPath func() ([]byte, error)
}

// attributesMayApply reports whether git could convert any file under
// root between the work tree and its objects: core.autocrlf is on, or a
// gitattributes file exists that applies to root's files (in the index or
// the work tree from the top level down to root, in the repository's
// info/attributes, the user's or the system's file). Files named
// .gitattributes under root that git does not track are found by the walk
// (NewDirTreeWith). Asking git check-attr about every file costs more than
// all the rest of reading a folder, so it is asked only when this is true.
func attributesMayApply(root, prefix, infoAttrs string, indexAttrFiles []string, g gitAnswers) bool {
	cfg, _ := g.config() // none set is an error exit
	userAttrs := ""
	for _, kv := range splitZ(cfg) {
		k, v, _ := strings.Cut(kv, "\n")
		switch strings.ToLower(k) {
		case "core.autocrlf":
			if v = strings.ToLower(strings.TrimSpace(v)); v != "false" && v != "0" && v != "no" && v != "off" {
				return true // true, input or a value this reader does not know
			}
		case "core.attributesfile":
			userAttrs = v
		}
	}
	if userAttrs == "" {
		if xdg := os.Getenv("XDG_CONFIG_HOME"); xdg != "" {
			userAttrs = filepath.Join(xdg, "git", "attributes")
		} else if home, err := os.UserHomeDir(); err == nil {
			userAttrs = filepath.Join(home, ".config", "git", "attributes")
		}
	} else if rest, ok := strings.CutPrefix(userAttrs, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			userAttrs = filepath.Join(home, rest)
		}
	}
	candidates := []string{infoAttrs, userAttrs}
	if os.Getenv("GIT_ATTR_NOSYSTEM") == "" {
		// $(sysconfdir)/gitattributes: /etc for a /usr install, else
		// the etc of git's prefix (exec path <prefix>/libexec/git-core).
		candidates = append(candidates, "/etc/gitattributes")
		if exec, err := g.execPath(); err == nil {
			candidates = append(candidates, filepath.Join(strings.TrimSpace(string(exec)), "..", "..", "etc", "gitattributes"))
		} else {
			return true
		}
	}
	// The folders from the top level down to root's parent.
	dir := root
	for range strings.Count(prefix, "/") {
		dir = filepath.Dir(dir)
		candidates = append(candidates, filepath.Join(dir, ".gitattributes"))
	}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if _, err := os.Stat(c); err == nil || !errors.Is(err, fs.ErrNotExist) {
			return true
		}
	}
	for _, f := range indexAttrFiles {
		d := strings.TrimSuffix(strings.TrimSuffix(f, ".gitattributes"), "/")
		if d == "" || strings.HasPrefix(prefix, d+"/") || strings.HasPrefix(f, prefix) {
			return true
		}
	}
	return false
}

// loadConversions asks git which of paths it converts between the work
// tree and its objects: end-of-line (the text, eol and crlf attributes, or
// core.autocrlf), ident, filter drivers and working-tree-encoding. Their
// blob is not their content. It reports false when git could not say.
func (w *workTree) loadConversions(ctx context.Context, root string, paths []string) bool {
	autocrlf, _ := gitIn(ctx, root, nil, "config", "--get", "core.autocrlf") // unset is an error exit
	v := strings.TrimSpace(string(autocrlf))
	eolByConfig := v == "true" || v == "input"
	var in bytes.Buffer
	for _, p := range paths {
		in.WriteString(p)
		in.WriteByte(0)
	}
	attrs, err := gitIn(ctx, root, in.Bytes(), "check-attr", "-z", "--stdin", "text", "eol", "crlf", "ident", "filter", "working-tree-encoding")
	if err != nil {
		return false
	}
	w.converted, w.attrsKnown = map[string]bool{}, true
	rec := splitZ(attrs)
	for i := 0; i+2 < len(rec); i += 3 {
		path, attr, value := rec[i], rec[i+1], rec[i+2]
		specified := value != "unspecified"
		var conv bool
		switch attr {
		case "text":
			// Unset (binary) is never converted; set, auto or a value
			// may be, and so may a file without it under core.autocrlf.
			conv = specified && value != "unset" || !specified && eolByConfig
		case "crlf", "ident":
			conv = specified && value != "unset"
		default: // eol, filter, working-tree-encoding
			conv = specified
		}
		if conv {
			w.converted[path] = true
		}
	}
	return true
}

// blobOf returns the blob id git holds for the file at path (relative to
// the folder) when it is certainly the content of the regular file of this
// size and stat data.
func (w *workTree) blobOf(path string, size int64, st fileStat) (string, bool) {
	e, ok := w.entries[path]
	if !ok || !w.attrsKnown || e.stage != 0 || e.assumeValid || e.extra || w.converted[path] ||
		e.mode&0o170000 != 0o100000 {
		return "", false
	}
	if uint32(size) != e.size || st.ino != e.ino || !st.ctime.Equal(e.ctime) || !st.mtime.Equal(e.mtime) {
		return "", false
	}
	// Racily clean: recorded so shortly before the index was written that
	// a change made after the write, within the same timestamp tick,
	// leaves the stat data as it was. git answers this by comparing
	// content for entries recorded in the index's second; with times to
	// the nanosecond the window is the file system's tick: a whole second
	// where times have no sub-second part, otherwise well above any
	// kernel's clock tick.
	window := racyWindow
	if e.mtime.Nanosecond() == 0 && e.ctime.Nanosecond() == 0 || w.indexMtime.Nanosecond() == 0 {
		window = time.Second
	}
	if limit := w.indexMtime.Add(-window); e.mtime.After(limit) || e.ctime.After(limit) {
		return "", false
	}
	return hex.EncodeToString(e.blob[:]), true
}

// parseGitIndex reads a git index (versions 2 to 4, SHA-1) and returns the
// entries under prefix ("" for all, else ending in "/"), keyed by path
// relative to it, and the paths of every .gitattributes file it holds.
// See git's Documentation/gitformat-index.txt.
func parseGitIndex(data []byte, prefix string) (map[string]gitIndexEntry, []string, error) {
	if len(data) < 12+20 || string(data[:4]) != "DIRC" {
		return nil, nil, errors.New("not a git index")
	}
	version := binary.BigEndian.Uint32(data[4:8])
	if version < 2 || version > 4 {
		return nil, nil, fmt.Errorf("index version %d", version)
	}
	var attrFiles []string
	n := int(binary.BigEndian.Uint32(data[8:12]))
	body := data[:len(data)-20] // the trailing checksum
	out := make(map[string]gitIndexEntry, n)
	pos := 12
	var prev string
	for i := 0; i < n; i++ {
		start := pos
		if pos+62 > len(body) {
			return nil, nil, errors.New("index truncated")
		}
		u32 := func(off int) uint32 { return binary.BigEndian.Uint32(body[pos+off:]) }
		e := gitIndexEntry{
			ctime: time.Unix(int64(u32(0)), int64(u32(4))), mtime: time.Unix(int64(u32(8)), int64(u32(12))),
			ino: u32(20), mode: u32(24), size: u32(36)}
		// Kept as bytes: only the ids of the files in the folder are
		// ever spelled out.
		copy(e.blob[:], body[pos+40:pos+60])
		flags := binary.BigEndian.Uint16(body[pos+60:])
		e.assumeValid = flags&0x8000 != 0
		e.stage = int(flags>>12) & 3
		pos += 62
		if flags&0x4000 != 0 {
			if version < 3 || pos+2 > len(body) {
				return nil, nil, errors.New("index entry with extended flags")
			}
			ext := binary.BigEndian.Uint16(body[pos:])
			e.extra = ext&0x6000 != 0 // skip-worktree, intent-to-add
			pos += 2
		}
		var name string
		if version == 4 {
			// The path is the previous one less a varint's worth of
			// bytes, then a NUL-terminated suffix.
			strip, k := gitVarint(body[pos:])
			if k == 0 || int(strip) > len(prev) {
				return nil, nil, errors.New("index path compression out of range")
			}
			pos += k
			end := bytes.IndexByte(body[pos:], 0)
			if end < 0 {
				return nil, nil, errors.New("index path unterminated")
			}
			name = prev[:len(prev)-int(strip)] + string(body[pos:pos+end])
			pos += end + 1
		} else {
			end := bytes.IndexByte(body[pos:], 0)
			if end < 0 {
				return nil, nil, errors.New("index path unterminated")
			}
			name = string(body[pos : pos+end])
			// 1 to 8 NULs pad the entry to a multiple of 8 bytes.
			pos = start + (pos-start+end+8)&^7
		}
		prev = name
		if name == ".gitattributes" || strings.HasSuffix(name, "/.gitattributes") {
			attrFiles = append(attrFiles, name)
		}
		if rel, ok := strings.CutPrefix(name, prefix); ok {
			out[rel] = e
		}
	}
	// Extensions: a split index keeps most entries in another file.
	for pos+8 <= len(body) {
		sig, size := string(body[pos:pos+4]), int(binary.BigEndian.Uint32(body[pos+4:]))
		if sig == "link" || sig == "sdir" {
			return nil, nil, fmt.Errorf("index extension %s", sig)
		}
		pos += 8 + size
	}
	return out, attrFiles, nil
}

// gitVarint decodes git's offset varint (index v4 path compression) and
// returns the value and the bytes it took, 0 when malformed.
func gitVarint(b []byte) (uint64, int) {
	if len(b) == 0 {
		return 0, 0
	}
	c := b[0]
	v := uint64(c & 127)
	i := 1
	for c&128 != 0 {
		if i >= len(b) || i > 9 {
			return 0, 0
		}
		v++
		c = b[i]
		v = v<<7 + uint64(c&127)
		i++
	}
	return v, i
}

// gitIn runs git in dir with stdin and returns its standard output.
func gitIn(ctx context.Context, dir string, stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}

// splitZ splits NUL-terminated records.
func splitZ(b []byte) []string {
	s := strings.TrimSuffix(string(b), "\x00")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\x00")
}

// paths lists the index entries' paths.
func (w *workTree) paths() []string {
	out := make([]string, 0, len(w.entries))
	for p := range w.entries {
		out = append(out, p)
	}
	return out
}
