// Package testenv finds and starts the real tools that tests (and the demo) use
// (PostgreSQL, Chromium, versitygw, Varnish) and locates GitHub's published
// reference material. A test skips only when a tool is truly absent; the
// project's test script installs every one of them.
package testenv

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// RepoRoot is the root of the hoist module, found from this file's path so
// it works from any package's test binary.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// SharedGitHubDir returns the folder of GitHub's published material (OpenAPI
// description, webhook examples, recorded fixtures) that sits beside the
// project as ../shared/github. HOIST_GITHUB_REFERENCE overrides it. Tests
// that need it skip with a clear message when it is absent.
func SharedGitHubDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("HOIST_GITHUB_REFERENCE")
	if dir == "" {
		dir = filepath.Join(RepoRoot(), "..", "shared", "github")
	}
	if _, err := os.Stat(filepath.Join(dir, "openapi", "api.github.com.json.gz")); err != nil {
		t.Skipf("GitHub reference material not found at %s (set HOIST_GITHUB_REFERENCE): %v", dir, err)
	}
	return dir
}
