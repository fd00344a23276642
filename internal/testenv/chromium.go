package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// chromiumCandidates are the browser binaries tests try, in order. Debian's
// chromium-headless-shell comes first: its /usr/bin wrapper script does not
// exec the binary, so the real path is used.
var chromiumCandidates = []string{
	"/usr/lib/chromium/chromium-headless-shell",
	"/usr/lib/chromium/chromium",
	"/usr/bin/chromium-headless-shell",
	"/usr/bin/chromium",
	"/usr/bin/google-chrome",
}

// Chromium returns the path of a headless Chromium for tests: $HOIST_CHROMIUM
// when set (the test fails if it is not executable), else the first installed
// candidate. The test skips only when no browser is installed.
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("HOIST_CHROMIUM"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("HOIST_CHROMIUM=%s is not an executable: %v", p, err)
		}
		return p
	}
	for _, p := range chromiumCandidates {
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	t.Skipf("headless Chromium not installed (apt-get install chromium-headless-shell, or set HOIST_CHROMIUM)")
	return ""
}
