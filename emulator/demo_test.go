package emulator_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/emulator/emulatortest"
	"github.com/hoist-dev/hoist/internal/testenv"
)

// TestDemoScript runs scripts/emulator-demo.sh (curl, git and openssl
// only) against a freshly built hoist binary.
func TestDemoScript(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the hoist binary")
	}
	for _, tool := range []string{"bash", "curl", "openssl", "git", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	root := testenv.RepoRoot()
	bin := filepath.Join(t.TempDir(), "hoist")
	build := exec.Command("go", "build", "-o", bin, "./cmd/hoist")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/hoist: %v\n%s", err, out)
	}
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "emulator-demo.sh"))
	cmd.Env = append(os.Environ(), "HOIST="+bin, "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir(), "EMULATOR_URL=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo script failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "OK: emulator demo passed") || !strings.Contains(string(out), "verified") {
		t.Errorf("demo output:\n%s", out)
	}
}

// TestDocsListEveryRoute keeps docs/emulator.md's operation table in step
// with the route table.
func TestDocsListEveryRoute(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "docs", "emulator.md"))
	if err != nil {
		t.Fatal(err)
	}
	gh := emulatortest.Start(t)
	for _, r := range gh.Routes() {
		if !strings.Contains(string(doc), "`"+r.Method+" "+r.Path+"`") {
			t.Errorf("docs/emulator.md does not list %s %s", r.Method, r.Path)
		}
	}
}
