package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
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

// EditionPrefix expands a path template holding "{branch}" (such as
// "v/{branch}/") for name, with name made safe by EditionSegment, and checks
// that the result is a clean relative folder that does not overlap any of
// taken (the prefixes of configured environments and other editions): an
// edition must never write into, nor delete from, another's files.
func EditionPrefix(template, name string, taken []string) (string, error) {
	if !strings.Contains(template, "{branch}") {
		return "", fmt.Errorf("edition path %q must contain {branch}", template)
	}
	p := strings.ReplaceAll(template, "{branch}", EditionSegment(name))
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
