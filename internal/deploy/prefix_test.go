package deploy

import (
	"strings"
	"testing"
)

func TestJoinPrefixNeverLeavesTheBase(t *testing.T) {
	for _, c := range []struct{ base, rel, want string }{
		{"acme/site/", "production/", "acme/site/production/"},
		{"acme/site/", "production", "acme/site/production/"},
		{"acme/site", "docs/v2/", "acme/site/docs/v2/"},
		{"acme/site/", "", "acme/site/"},
		{"", "production/", "production/"},
		{"", "", ""},
	} {
		got, err := JoinPrefix(c.base, c.rel)
		if err != nil || got != c.want {
			t.Errorf("JoinPrefix(%q, %q) = %q, %v; want %q", c.base, c.rel, got, err, c.want)
		}
	}
	for _, rel := range []string{
		"..", "../", "../other/", "a/../..", "a/../../b/", "/abs/", "/", "//", "a//b", "./", ".", "a/./b",
		`..\other`, `a\b`, "%2e%2e/", "%2E%2E%2F", "a%2f..", "a\x00b", "a\tb/", "a\u0085b", "a\xffb",
	} {
		if got, err := JoinPrefix("acme/site/", rel); err == nil {
			t.Errorf("JoinPrefix(acme/site/, %q) = %q, want an error", rel, got)
		} else if !strings.Contains(err.Error(), "prefix") {
			t.Errorf("JoinPrefix(acme/site/, %q): %v does not name the prefix", rel, err)
		}
	}
	for _, base := range []string{"../x/", "/abs/", "a/../b/", "a%2f/"} {
		if got, err := JoinPrefix(base, "production/"); err == nil {
			t.Errorf("JoinPrefix(%q, production/) = %q, want an error", base, got)
		}
	}
}
