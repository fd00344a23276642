package config

import (
	"fmt"
	"mime"
	"regexp"
	"strings"
)

// Cache rules are written as globs over the site's paths: friendlier than
// regular expressions for the common cases (/health.html, /assets/**), and
// compiled here to RE2, which matches in linear time whatever the pattern.
// The glob dialect is small and written out below because path.Match has
// no ** and the libraries that do differ in how they read it.

// Limits of the deploy: section.
const (
	repoMaxCacheRules   = 200
	repoMaxCacheGlob    = 512
	repoMaxHeaderLength = 1024
)

// CacheGlob compiles a cache rule's path glob to a regular expression over
// "/" followed by the file's path from the site root. The error says what
// is wrong in words a user can act on.
func CacheGlob(glob string) (*regexp.Regexp, error) {
	switch {
	case glob == "":
		return nil, fmt.Errorf("is empty")
	case len(glob) > repoMaxCacheGlob:
		return nil, fmt.Errorf("is longer than %d characters", repoMaxCacheGlob)
	case !strings.HasPrefix(glob, "/"):
		return nil, fmt.Errorf("%q must start with / (the site root)", glob)
	case strings.ContainsFunc(glob, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return nil, fmt.Errorf("%q contains a control character", glob)
	case strings.ContainsAny(glob, `[]{}\`):
		return nil, fmt.Errorf("%q: only *, ** and ? are special in a path; list the paths as separate rules instead of [ ] or { }", glob)
	case glob != "/" && strings.HasSuffix(glob, "/"):
		return nil, fmt.Errorf("%q ends in /: write %s** for everything under it, or %sindex.html for the page", glob, glob, glob)
	}
	segs := strings.Split(glob[1:], "/")
	var b strings.Builder
	b.WriteString("^/")
	for i, seg := range segs {
		last := i == len(segs)-1
		switch {
		case seg == "" && !last:
			return nil, fmt.Errorf("%q has an empty folder (//)", glob)
		case seg == "." || seg == "..":
			return nil, fmt.Errorf("%q: . and .. are not folders of a site", glob)
		case seg == "**" && last:
			b.WriteString(".*")
			continue
		case seg == "**":
			b.WriteString("(?:[^/]+/)*")
			continue
		case strings.Contains(seg, "**"):
			return nil, fmt.Errorf("%q: ** must be a whole folder, as in /assets/**/*.js", glob)
		}
		for _, r := range seg {
			switch r {
			case '*':
				b.WriteString("[^/]*")
			case '?':
				b.WriteString("[^/]")
			default:
				b.WriteString(regexp.QuoteMeta(string(r)))
			}
		}
		if !last {
			b.WriteByte('/')
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// checkHeaderValue explains why v cannot be sent as a header value, or "".
// A line break would let a repository add headers of its own choosing.
func checkHeaderValue(v string) string {
	switch {
	case len(v) > repoMaxHeaderLength:
		return fmt.Sprintf("is longer than %d characters", repoMaxHeaderLength)
	case strings.TrimSpace(v) == "":
		return "is empty; leave the key out to keep the default"
	case strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f || r > 0x7e }):
		return fmt.Sprintf("%q: only printable ASCII is allowed in a header (no line breaks)", v)
	}
	return ""
}

func (v *repoValidator) publish() {
	rules := v.cfg.Deploy.Cache
	if len(rules) > repoMaxCacheRules {
		v.errorf("deploy.cache", "deploy.cache has %d rules, more than %d", len(rules), repoMaxCacheRules)
	}
	seen := map[string]int{}
	for i, r := range rules {
		at := fmt.Sprintf("deploy.cache[%d]", i)
		if r.Path == "" && !v.written(at+".path") {
			v.errorf(at, "%s needs a path, such as /health.html", at)
		} else if _, err := CacheGlob(r.Path); err != nil {
			v.errorf(at+".path", "%s.path %v", at, err)
		} else if j, dup := seen[r.Path]; dup {
			v.errorf(at+".path", "%s.path %q repeats deploy.cache[%d], which always wins", at, r.Path, j)
		} else {
			seen[r.Path] = i
		}
		if r.CacheControl == "" && r.ContentType == "" && !v.written(at+".cache_control") && !v.written(at+".content_type") {
			v.errorf(at, "%s sets nothing: give cache_control, content_type or both", at)
		}
		if v.written(at + ".cache_control") {
			if msg := checkHeaderValue(r.CacheControl); msg != "" {
				v.errorf(at+".cache_control", "%s.cache_control %s", at, msg)
			}
		}
		if v.written(at + ".content_type") {
			if msg := checkHeaderValue(r.ContentType); msg != "" {
				v.errorf(at+".content_type", "%s.content_type %s", at, msg)
			} else if mt, _, err := mime.ParseMediaType(r.ContentType); err != nil || !strings.Contains(mt, "/") {
				v.errorf(at+".content_type", "%s.content_type %q is not a media type such as text/html; charset=utf-8", at, r.ContentType)
			}
		}
	}
}
