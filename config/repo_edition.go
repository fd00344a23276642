package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"strconv"
	"strings"
)

// maxEditionSegment bounds an edition's folder name: a DNS label's length,
// so that the same name can also serve as a host label.
const maxEditionSegment = 63

// EditionSegment turns a branch name (or "pr-<n>") into one safe path
// segment for the edition it publishes: lower-case letters, digits, '.',
// '_' and '-' are kept, every other run of characters (slashes, spaces,
// unicode, "..") becomes one '-', and the ends are trimmed of '-' and '.'.
// Whenever that changed the name or had to shorten it, 8 hex digits of the
// name's SHA-256 are appended, so that two branches that read alike
// ("feature/a", "feature-a", "Feature/A") never share an edition. A name
// with nothing safe left is named by its hash alone. The result is never
// empty, ".", ".." nor longer than 63 bytes.
func EditionSegment(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			b.WriteRune(r)
			dash = r == '-'
			continue
		}
		if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	seg := strings.Trim(b.String(), "-.")
	// ".." inside a segment is harmless to a path but reads like one.
	for strings.Contains(seg, "..") {
		seg = strings.ReplaceAll(seg, "..", ".")
	}
	if seg == name && len(seg) <= maxEditionSegment {
		return seg
	}
	return withHash(seg, name)
}

// withHash appends 8 hex digits of name's SHA-256 to seg, shortening seg
// to keep within maxEditionSegment.
func withHash(seg, name string) string {
	sum := sha256.Sum256([]byte(name))
	h := hex.EncodeToString(sum[:4])
	if seg == "" {
		return "b-" + h
	}
	if len(seg) > maxEditionSegment-9 {
		seg = strings.TrimRight(seg[:maxEditionSegment-9], "-.")
	}
	return seg + "-" + h
}

// PullEdition is the name of pull request number's edition.
func PullEdition(number int) string { return fmt.Sprintf("pr-%d", number) }

// EditionIsPull reports whether name is how a pull request's edition is
// named (pr-<digits>).
func EditionIsPull(name string) bool {
	d, ok := strings.CutPrefix(name, "pr-")
	if !ok || d == "" {
		return false
	}
	for _, r := range d {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// EditionOf is the name of branch's edition: the one names gives it, or
// the branch made one safe segment. A branch that reads like a pull
// request's edition (pr-42) gets the hash too, so it never takes the
// folder of the pull request.
func (e RepoEditions) EditionOf(branch string) string {
	for _, n := range e.Names {
		if n.Branch == branch {
			return n.Name
		}
	}
	seg := EditionSegment(branch)
	if EditionIsPull(seg) {
		return withHash(seg, branch)
	}
	return seg
}

// MatchBranch reports whether branch is published as an edition by one of
// the branch patterns or names (an environment's branch is excluded by
// the caller, which knows the environments).
func (e RepoEditions) MatchBranch(branch string) bool {
	for _, n := range e.Names {
		if n.Branch == branch {
			return true
		}
	}
	for _, g := range e.Branches {
		if ok, err := path.Match(g, branch); err == nil && ok {
			return true
		}
	}
	return false
}

// EditionPlaceholder is what an edition path template replaces with the
// edition's name.
const EditionPlaceholder = "{edition}"

// EditionPathProblem explains why an edition path template (/v/{edition}/)
// is unusable, or returns "".
func EditionPathProblem(template string) string {
	if !strings.Contains(template, EditionPlaceholder) {
		return fmt.Sprintf("%q must contain %s, such as /v/%s/", template, EditionPlaceholder, EditionPlaceholder)
	}
	p := strings.TrimSuffix(strings.ReplaceAll(strings.TrimPrefix(template, "/"), EditionPlaceholder, "x"), "/") + "/"
	if msg := CheckRelPrefix(p); msg != "" {
		return strings.Replace(msg, strconv.Quote(p), strconv.Quote(template), 1)
	}
	return ""
}

// EditionPrefix expands a path template holding "{edition}" (such as
// "/v/{edition}/"; "{branch}" is read alike) for name, relative to the
// repository's folder, with name made safe by EditionSegment, and checks
// that the result is a clean relative folder that does not overlap any of
// taken (the prefixes of configured environments and other editions): an
// edition must never write into, nor delete from, another's files.
func EditionPrefix(template, name string, taken []string) (string, error) {
	ph := EditionPlaceholder
	if !strings.Contains(template, ph) {
		ph = "{branch}"
	}
	if !strings.Contains(template, ph) {
		return "", fmt.Errorf("edition path %q must contain %s", template, EditionPlaceholder)
	}
	p := strings.ReplaceAll(strings.TrimPrefix(template, "/"), ph, EditionSegment(name))
	p = strings.TrimSuffix(p, "/") + "/"
	if msg := CheckRelPrefix(p); msg != "" {
		return "", fmt.Errorf("edition path %s", msg)
	}
	for _, t := range taken {
		if t == "" {
			continue
		}
		t = strings.TrimSuffix(t, "/") + "/"
		if strings.HasPrefix(p, t) || strings.HasPrefix(t, p) {
			return "", fmt.Errorf("the edition of %q at %q overlaps %q", name, p, t)
		}
	}
	return p, nil
}
