package config

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
//
// The rule belongs to the repository config, which refuses such a file
// when it loads; the deploy applies it again when it places files, so it
// lives here, where both can reach it without the config depending on
// the deploy.
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
