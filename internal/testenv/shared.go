// Package testenv finds and starts the real tools that tests use
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

// githubReferenceParts are what the tests read from the reference folder.
var githubReferenceParts = []string{
	filepath.Join("openapi", "api.github.com.json.gz"),
	filepath.Join("openapi", "webhook-schema-names.txt"),
	"webhooks",
	"fixtures",
}

// SharedGitHubDir returns the folder of GitHub's published material (OpenAPI
// description, webhook examples, recorded fixtures): the repository's
// testdata/github, or HOIST_GITHUB_REFERENCE. A missing part fails the test
// when that variable is set or under CI=true, where a skip would hide that
// the emulator went unchecked; elsewhere the test skips saying why.
func SharedGitHubDir(t testing.TB) string {
	t.Helper()
	dir, explicit := os.LookupEnv("HOIST_GITHUB_REFERENCE")
	if !explicit || dir == "" {
		dir, explicit = filepath.Join(RepoRoot(), "testdata", "github"), false
	}
	for _, part := range githubReferenceParts {
		if _, err := os.Stat(filepath.Join(dir, part)); err != nil {
			msg := "GitHub reference material incomplete at %s (scripts/refresh-github-testdata restores it): %v"
			if explicit || os.Getenv("CI") == "true" {
				t.Fatalf(msg, dir, err)
			}
			t.Skipf(msg, dir, err)
		}
	}
	return dir
}
