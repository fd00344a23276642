package site

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
)

// Symbolic links are resolved the same way in a local folder and in a git
// tree (a blob of mode 120000 holding the target): a link that ends at a
// file inside the site becomes an entry with that file's content; a link
// that ends at a folder inside the site becomes that folder's files under
// the link's path; anything else stays a symlink entry with Broken saying
// why, for the deploy to refuse or skip. Resolution is lexical over the
// site's own entries, so nothing outside the site is ever read, whatever
// the link says.

// maxLinkHops bounds the links one path may go through, as the kernel's
// ELOOP does (40 on Linux).
const maxLinkHops = 40

// maxLinkTarget bounds what a git blob of mode 120000 may hold to count as
// a link target (PATH_MAX); a larger one is refused unread.
const maxLinkTarget = 4096

// maxExpansion bounds how many entries links to folders may add, so that
// a tree of links to folders that link to folders cannot multiply a small
// tree into millions of entries.
const maxExpansion = 1_000_000

// linkResolver resolves the links of one tree.
type linkResolver struct {
	files map[string]Entry // regular files
	links map[string]Entry // symbolic links
	other map[string]bool  // submodules and special files
	dirs  map[string]bool  // folders, from the entries' paths
	// readlink returns a link's target as written (slash-separated).
	readlink func(e Entry) (string, error)
	// inside maps an absolute target to a path in the site, when the site
	// is a folder and the target lies in it; nil for a git tree, where an
	// absolute target never names the site.
	inside func(abs string) (string, bool)
}

// resolveLinks replaces the symlink entries of a tree by what they resolve
// to. real maps each path whose content lives at another path of the site
// (a link, or a file under a link to a folder) to that path.
func resolveLinks(entries []Entry, readlink func(Entry) (string, error), inside func(string) (string, bool)) (out []Entry, real map[string]string) {
	// Most sites have no link: they are returned without building the
	// maps below, which for 10,000 files cost more than reading them.
	if !slices.ContainsFunc(entries, func(e Entry) bool { return e.Mode&fs.ModeSymlink != 0 }) {
		return entries, nil
	}
	r := &linkResolver{files: map[string]Entry{}, links: map[string]Entry{}, other: map[string]bool{}, dirs: map[string]bool{"": true},
		readlink: readlink, inside: inside}
	for _, e := range entries {
		switch {
		case e.Mode&fs.ModeSymlink != 0:
			r.links[e.Path] = e
		case e.Mode.IsRegular():
			r.files[e.Path] = e
		default:
			r.other[e.Path] = true
		}
		for d := path.Dir(e.Path); d != "."; d = path.Dir(d) {
			r.dirs[d] = true
		}
	}
	if len(r.links) == 0 {
		return entries, nil
	}
	real = map[string]string{}
	byPath := make(map[string]Entry, len(entries))
	type dirLink struct{ path, target string }
	var folders []dirLink
	for _, e := range entries {
		if e.Mode&fs.ModeSymlink == 0 {
			byPath[e.Path] = e
			continue
		}
		written, err := readlink(e)
		if err != nil {
			e.Broken = "cannot be read: " + err.Error()
			byPath[e.Path] = e
			continue
		}
		e.Link = written
		target, problem := r.resolve(e.Path)
		switch {
		case problem != "":
			e.Broken = problem
		case r.files[target].Path != "":
			f := r.files[target]
			e.BlobSHA, e.Size, e.Mode = f.BlobSHA, f.Size, f.Mode
			real[e.Path] = target
		case r.dirs[target]:
			if target == "" || strings.HasPrefix(e.Path, target+"/") {
				e.Broken = "points to a folder that contains it (a loop)"
			} else {
				folders = append(folders, dirLink{e.Path, target})
				continue
			}
		default:
			e.Broken = fmt.Sprintf("points to %q, a submodule or special file", target)
		}
		byPath[e.Path] = e
	}
	// Links to folders: each pass copies what the folder holds so far,
	// which may itself come from a link to a folder; the loop check above
	// makes this converge, the pass and size limits make sure it does.
	added := 0
	for pass := 0; pass < maxLinkHops && len(folders) > 0; pass++ {
		grew := false
		paths := make([]string, 0, len(byPath))
		for p := range byPath {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, f := range folders {
			for _, p := range paths {
				e := byPath[p]
				if !strings.HasPrefix(p, f.target+"/") || e.Broken != "" {
					continue
				}
				np := f.path + p[len(f.target):]
				if _, ok := byPath[np]; ok {
					continue
				}
				if added++; added > maxExpansion {
					break
				}
				src := p
				if rp, ok := real[p]; ok {
					src = rp
				}
				e.Path, e.Link = np, ""
				byPath[np] = e
				real[np] = src
				grew = true
			}
		}
		if !grew || added > maxExpansion {
			break
		}
	}
	if added > maxExpansion {
		for _, f := range folders {
			written, _ := readlink(r.links[f.path])
			e := r.links[f.path]
			e.Link, e.Broken = written, fmt.Sprintf("expands the site past %d files", maxExpansion)
			for p := range byPath {
				if strings.HasPrefix(p, f.path+"/") {
					delete(byPath, p)
					delete(real, p)
				}
			}
			byPath[f.path] = e
		}
	}
	out = make([]Entry, 0, len(byPath))
	for _, e := range byPath {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, real
}

// resolve follows the link at p to a path of the site, or says why it
// cannot: it leaves the site, dangles, or loops.
func (r *linkResolver) resolve(p string) (string, string) {
	pending := strings.Split(p, "/")
	var done []string
	hops := 0
	for len(pending) > 0 {
		c := pending[0]
		pending = pending[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) == 0 {
				if hops > 1 {
					return "", "leads outside the site (through a chain of links)"
				}
				return "", "leads outside the site"
			}
			done = done[:len(done)-1]
			continue
		}
		cur := path.Join(strings.Join(done, "/"), c)
		if l, ok := r.links[cur]; ok {
			if hops++; hops > maxLinkHops {
				return "", "is a loop of links"
			}
			t, err := r.readlink(l)
			if err != nil {
				return "", fmt.Sprintf("goes through %q, which cannot be read: %v", cur, err)
			}
			if t == "" {
				return "", fmt.Sprintf("goes through %q, an empty link", cur)
			}
			if strings.HasPrefix(t, "/") {
				rel, ok := "", false
				if r.inside != nil {
					rel, ok = r.inside(t)
				}
				if !ok {
					if cur == p {
						return "", "leads outside the site"
					}
					return "", fmt.Sprintf("leads outside the site (through %s → %s)", cur, t)
				}
				done = nil
				t = rel
			}
			pending = append(strings.Split(t, "/"), pending...)
			continue
		}
		switch {
		case r.dirs[cur]:
		case len(pending) > 0 && (r.files[cur].Path != "" || r.other[cur]):
			return "", fmt.Sprintf("is dangling (%s is not a folder)", cur)
		case r.files[cur].Path != "" || r.other[cur]:
		default:
			return "", fmt.Sprintf("is dangling (%s does not exist in the site)", cur)
		}
		done = append(done, c)
	}
	return strings.Join(done, "/"), ""
}
