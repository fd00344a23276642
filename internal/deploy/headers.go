package deploy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"path"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/internal/site"
)

// Default Cache-Control values (the routes s3deploy users write by hand).
const (
	CacheHTML        = "public, max-age=0, must-revalidate"
	CacheFingerprint = "public, max-age=31536000, immutable"
	CacheDefault     = "public, max-age=300"
)

// Metadata names written on every object (sent as x-amz-meta-<name>).
const (
	MetaGitBlob      = "git-blob"
	MetaSurrogateKey = "surrogate-key"
)

// EditionKey is the stable surrogate key of an edition: every object of the
// edition carries it, so one purge of it refreshes the whole edition.
// Names that are not plain [a-z0-9._-] are hashed to keep keys header-safe.
func EditionKey(edition string) string {
	if edition == "" {
		edition = "default"
	}
	if plainKey.MatchString(edition) && len(edition) <= 64 {
		return "e-" + edition
	}
	return "e-" + shortHash(edition)
}

var plainKey = regexp.MustCompile(`^[a-z0-9._-]+$`)

// PathKey is the surrogate key of one path of an edition: short (18
// characters) whatever the path's length, so hundreds fit in one purge
// request and the Surrogate-Key header stays far below Fastly's limits.
// It includes the edition so that purging a production page never evicts
// the staging copy of it.
func PathKey(edition, p string) string {
	return "p-" + shortHash(edition+"\x00"+p)
}

func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:8])
}

// Route sets headers for paths matching Pattern (a regular expression over
// the path relative to the site root, e.g. `\.html$`). The first matching
// route wins; empty fields fall back to the defaults.
type Route struct {
	Pattern      string `yaml:"pattern" json:"pattern"`
	CacheControl string `yaml:"cache_control,omitempty" json:"cache_control,omitempty"`
	ContentType  string `yaml:"content_type,omitempty" json:"content_type,omitempty"`
	re           *regexp.Regexp
	// rooted routes come from path globs, which match "/" and the path.
	rooted bool
}

// Rules decide an object's headers from its path.
type Rules struct {
	routes []Route
}

// NewRules compiles routes; a bad pattern is an error naming it.
func NewRules(routes []Route) (*Rules, error) {
	r := &Rules{}
	for i, rt := range routes {
		re, err := regexp.Compile(rt.Pattern)
		if err != nil {
			return nil, fmt.Errorf("route %d pattern %q: %w", i+1, rt.Pattern, err)
		}
		rt.re = re
		r.routes = append(r.routes, rt)
	}
	return r, nil
}

// RulesFromConfig compiles the cache rules of the repository configuration
// (deploy.cache, path globs): the first rule whose path matches wins, and
// what it leaves out keeps the default.
func RulesFromConfig(rules []config.RepoCacheRule) (*Rules, error) {
	r := &Rules{}
	for i, c := range rules {
		re, err := config.CacheGlob(c.Path)
		if err != nil {
			return nil, fmt.Errorf("deploy.cache[%d].path %w", i, err)
		}
		r.routes = append(r.routes, Route{Pattern: re.String(), CacheControl: c.CacheControl, ContentType: c.ContentType, re: re, rooted: true})
	}
	return r, nil
}

// Headers returns the Content-Type and Cache-Control for a path.
func (r *Rules) Headers(p string) (contentType, cacheControl string) {
	if r != nil {
		for _, rt := range r.routes {
			subject := p
			if rt.rooted {
				subject = "/" + p
			}
			if rt.re.MatchString(subject) {
				contentType, cacheControl = rt.ContentType, rt.CacheControl
				break
			}
		}
	}
	if contentType == "" {
		contentType = ContentType(p)
	}
	if cacheControl == "" {
		switch {
		case IsHTML(p):
			cacheControl = CacheHTML
		case Fingerprinted(p):
			cacheControl = CacheFingerprint
		default:
			cacheControl = CacheDefault
		}
	}
	return contentType, cacheControl
}

// IsHTML reports whether a path is a page.
func IsHTML(p string) bool {
	ext := strings.ToLower(path.Ext(p))
	return ext == ".html" || ext == ".htm"
}

// Fingerprinted reports whether a file name carries a content hash
// (app.3f2a9c1b.js, index-BxY7k2Qa.js), so it can be cached forever.
func Fingerprinted(p string) bool {
	base := path.Base(p)
	ext := path.Ext(base)
	stem := strings.TrimSuffix(base, ext)
	for _, seg := range strings.FieldsFunc(stem, func(r rune) bool { return r == '.' || r == '-' || r == '_' }) {
		if hashLike(seg) {
			return true
		}
	}
	return false
}

func hashLike(s string) bool {
	if len(s) < 8 || len(s) > 64 {
		return false
	}
	var digits, lower, upper, other int
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c >= 'a' && c <= 'z':
			lower++
		case c >= 'A' && c <= 'Z':
			upper++
		default:
			other++
		}
	}
	if other > 0 || digits == 0 {
		return false
	}
	if isHex(s) {
		return lower+upper > 0 || len(s) >= 16
	}
	// base64url-style hashes mix cases and digits.
	return lower > 0 && upper > 0
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// webTypes pins the content types of web files: the system's mime.types
// differs between machines, and a wrong type breaks a page.
var webTypes = map[string]string{
	".html": "text/html; charset=utf-8", ".htm": "text/html; charset=utf-8",
	".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
	".mjs": "text/javascript; charset=utf-8", ".json": "application/json",
	".map": "application/json", ".xml": "application/xml", ".txt": "text/plain; charset=utf-8",
	".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
	".gif": "image/gif", ".webp": "image/webp", ".avif": "image/avif", ".ico": "image/x-icon",
	".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf", ".otf": "font/otf",
	".wasm": "application/wasm", ".pdf": "application/pdf", ".webmanifest": "application/manifest+json",
	".md": "text/markdown; charset=utf-8", ".csv": "text/csv; charset=utf-8", ".mp4": "video/mp4",
	".webm": "video/webm", ".mp3": "audio/mpeg", ".zip": "application/zip", ".gz": "application/gzip",
	".rss": "application/rss+xml", ".atom": "application/atom+xml",
}

// ContentType by extension: the pinned web types, then the system's table,
// then application/octet-stream.
func ContentType(p string) string {
	ext := strings.ToLower(path.Ext(p))
	if t, ok := webTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

// UnsafeEntryError lists every entry of a tree that cannot be deployed.
type UnsafeEntryError struct {
	Problems []string
	// BrokenLinks counts the problems that are symbolic links leaving the
	// site, dangling or looping: skipping them would publish the rest.
	BrokenLinks int
}

func (e *UnsafeEntryError) Error() string {
	const show = 10
	msg := fmt.Sprintf("refusing to deploy: %d unsafe entr", len(e.Problems))
	if len(e.Problems) == 1 {
		msg += "y: "
	} else {
		msg += "ies: "
	}
	if len(e.Problems) > show {
		msg += strings.Join(e.Problems[:show], "; ") + fmt.Sprintf("; and %d more", len(e.Problems)-show)
	} else {
		msg += strings.Join(e.Problems, "; ")
	}
	if e.BrokenLinks > 0 && e.BrokenLinks == len(e.Problems) {
		msg += " (to publish the site without them: hoist sync --skip-broken-links, or deploy.skip_broken_links: true in .github/hoist.yml)"
	}
	return msg
}

// Validate refuses, before anything is written, symlinks, submodules and
// names that could escape the site root or confuse a shell, a URL or a
// header: "..", absolute paths, backslashes, control characters, invalid
// UTF-8, and the reserved .hoist/ folder.
func Validate(entries []site.Entry) error {
	var problems []string
	links := 0
	for _, e := range entries {
		// Quoted only for a problem: formatting every path of a large
		// site costs more than checking it.
		q := func() string { return strconv.Quote(e.Path) }
		switch {
		case e.Mode&fs.ModeSymlink != 0 && e.Broken != "":
			problems = append(problems, fmt.Sprintf("%s is a symbolic link to %q that %s", q(), e.Link, e.Broken))
			links++
		case e.Mode&fs.ModeSymlink != 0:
			problems = append(problems, q()+" is a symbolic link")
		case e.Mode&fs.ModeIrregular != 0:
			problems = append(problems, q()+" is a submodule or not a regular file")
		case !utf8.ValidString(e.Path):
			problems = append(problems, q()+" is not valid UTF-8")
		case strings.ContainsFunc(e.Path, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			problems = append(problems, q()+" contains a control character")
		case strings.Contains(e.Path, `\`):
			problems = append(problems, q()+" contains a backslash")
		case !fs.ValidPath(e.Path) || e.Path == ".":
			problems = append(problems, q()+" escapes the site root (absolute, '..' or empty segment)")
		case e.Path == ".hoist" || strings.HasPrefix(e.Path, ".hoist/"):
			problems = append(problems, q()+" is inside .hoist/, which holds the deploy manifest")
		}
	}
	if len(problems) > 0 {
		return &UnsafeEntryError{Problems: problems, BrokenLinks: links}
	}
	return nil
}

// BrokenLink is a symbolic link a deploy skipped.
type BrokenLink struct {
	Path   string `json:"path"`
	Link   string `json:"link"`
	Reason string `json:"reason"`
}

func (b BrokenLink) String() string {
	return fmt.Sprintf("%q → %q %s", b.Path, b.Link, b.Reason)
}

// skipBrokenLinks drops the links that cannot be published (see
// site.Entry.Broken) and returns them.
func skipBrokenLinks(entries []site.Entry) ([]site.Entry, []BrokenLink) {
	var skipped []BrokenLink
	kept := entries[:0:0]
	for _, e := range entries {
		if e.Mode&fs.ModeSymlink != 0 && e.Broken != "" {
			skipped = append(skipped, BrokenLink{Path: e.Path, Link: e.Link, Reason: e.Broken})
			continue
		}
		kept = append(kept, e)
	}
	if skipped == nil {
		return entries, nil
	}
	return kept, skipped
}
