package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// The reference material ships in the repository, so a fresh clone runs
// the spec tests instead of skipping them.
func TestSharedGitHubDirIsInTheRepository(t *testing.T) {
	t.Setenv("HOIST_GITHUB_REFERENCE", "")
	dir := SharedGitHubDir(t)
	if want := filepath.Join(RepoRoot(), "testdata", "github"); dir != want {
		t.Errorf("dir = %s, want %s", dir, want)
	}
	for _, lic := range []string{"openapi/LICENSE", "webhooks/LICENSE", "fixtures/LICENSE"} {
		if _, err := os.Stat(filepath.Join(dir, lic)); err != nil {
			t.Errorf("licence notice missing: %v", err)
		}
	}
}

// recordingTB stands in for a test to see whether SharedGitHubDir skips or
// fails; both end the calling goroutine as the real ones do.
type recordingTB struct {
	testing.TB
	outcome string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Skipf(f string, a ...any) {
	r.outcome = "skip: " + fmt.Sprintf(f, a...)
	runtime.Goexit()
}
func (r *recordingTB) Fatalf(f string, a ...any) {
	r.outcome = "fail: " + fmt.Sprintf(f, a...)
	runtime.Goexit()
}

func sharedOutcome(t *testing.T) string {
	r := &recordingTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		SharedGitHubDir(r)
		r.outcome = "found"
	}()
	<-done
	return r.outcome
}

// Missing material is a failure in CI and when a folder was named
// explicitly; only a developer's default checkout may skip.
func TestSharedGitHubDirMissingFailsInCI(t *testing.T) {
	empty := t.TempDir()
	for _, c := range []struct {
		name, ci, ref, want string
	}{
		{"explicit folder, not CI", "", empty, "fail"},
		{"explicit folder, CI", "true", empty, "fail"},
		{"incomplete folder, CI", "true", filepath.Join(RepoRoot(), "testdata", "github", "webhooks"), "fail"},
		{"repository copy, CI", "true", "", "found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("CI", c.ci)
			t.Setenv("HOIST_GITHUB_REFERENCE", c.ref)
			got := sharedOutcome(t)
			if len(got) < len(c.want) || got[:len(c.want)] != c.want {
				t.Errorf("outcome %q, want %s", got, c.want)
			}
		})
	}
}
