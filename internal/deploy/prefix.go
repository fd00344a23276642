package deploy

import (
	"fmt"
	"strings"
	"unicode"
)

// CheckRelPrefix explains why p, a prefix written in a repository's
// configuration, could leave the folder it is placed under, or returns
// "". It is stricter than a clean path: no absolute path, no "." or ".."
// segment, no empty segment, no backslash, no percent sign (a store or a
// CDN in front of it may decode %2e%2e or %2f), no control character.
func CheckRelPrefix(p string) string {
	switch {
	case p == "":
		return ""
	case strings.HasPrefix(p, "/"):
		return fmt.Sprintf("%q must be relative (no leading /): it is placed under this repository's folder", p)
	case strings.ContainsAny(p, `\%`):
		return fmt.Sprintf("%q must not contain \\ or %%", p)
	}
	for _, r := range p {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return fmt.Sprintf("%q must not contain control characters", p)
		}
	}
	for _, seg := range strings.Split(strings.TrimSuffix(p, "/"), "/") {
		switch seg {
		case "":
			return fmt.Sprintf("%q has an empty folder name (//)", p)
		case ".", "..":
			return fmt.Sprintf("%q must not contain a %q folder", p, seg)
		}
	}
	return ""
}

// JoinPrefix places a repository's prefix rel ("production/") under the
// folder the server gives the repository on a target (base, such as
// "acme/site/", already expanded from the target's template). The result
// always lies under base; a rel that could escape it is refused.
func JoinPrefix(base, rel string) (string, error) {
	if msg := CheckRelPrefix(rel); msg != "" {
		return "", fmt.Errorf("prefix %s", msg)
	}
	if base != "" {
		b, err := cleanPrefix(base)
		if err != nil || CheckRelPrefix(base) != "" {
			return "", fmt.Errorf("folder %q of the target is not a clean relative folder", base)
		}
		base = b
	}
	joined := base + strings.TrimSuffix(rel, "/")
	out, err := cleanPrefix(joined)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(out, base) {
		return "", fmt.Errorf("prefix %q leaves the folder %q", rel, base)
	}
	return out, nil
}
