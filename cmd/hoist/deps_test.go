package main

import (
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

const modulePath = "github.com/hoist-dev/hoist"

// testingImporters are the packages outside this module allowed to bring the
// testing package into the binary, each with the reason it cannot be
// avoided. An entry that no longer imports testing fails the test, so the
// list only shrinks.
// (None today: go.mod replaces golang-lru v0.6.0, whose testing.go came
// with go-githubapp's client cache, by v0.5.4.)
var testingImporters = map[string]string{}

// testKit says why a package must stay out of the hoist binary, or "" when
// it may be linked.
func testKit(pkg string) string {
	switch {
	case pkg == "testing" || strings.HasPrefix(pkg, "testing/"):
		return "Go's test framework"
	case pkg == "net/http/httptest":
		return "test HTTP servers"
	case pkg == "github.com/getkin/kin-openapi" || strings.HasPrefix(pkg, "github.com/getkin/kin-openapi/"):
		return "the OpenAPI checker the emulator's tests use"
	case strings.HasPrefix(pkg, modulePath+"/"):
		if why, ok := moduleTestKits[strings.TrimPrefix(pkg, modulePath+"/")]; ok {
			return why
		}
		// A package named like a test kit (…test, testenv) is one, even
		// when it is newer than the list below.
		if base := path.Base(pkg); strings.Contains(base, "test") || base == "e2e" {
			return "a test kit of this module"
		}
	}
	return ""
}

// moduleTestKits are this module's packages that exist only for tests, by
// path below the module, with what each is.
var moduleTestKits = map[string]string{
	"emulator/emulatortest": "the emulator's test harness and OpenAPI checker",
	"internal/hoisttest":    "the testing.TB wrappers of the shared test world",
	"internal/sitetest":     "hoist in process on a site repository, for tests",
	"internal/testenv":      "the real tools tests start",
	"internal/servetest":    "hoist started in process for tests",
	"internal/e2e":          "the end-to-end tests",
}

// linkedTestKits returns one line per test kit reachable from root in the
// import graph (package → imports), with the chain of imports that pulls
// it in, and one line per stale testingImporters entry.
func linkedTestKits(root string, graph map[string][]string) []string {
	// Breadth-first from root, so each chain reported is a shortest one.
	via := map[string]string{root: ""}
	queue := []string{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, imp := range graph[p] {
			if _, seen := via[imp]; !seen {
				via[imp] = p
				queue = append(queue, imp)
			}
		}
	}
	chain := func(p string) string {
		var parts []string
		for ; p != ""; p = via[p] {
			parts = append([]string{strings.TrimPrefix(p, modulePath+"/")}, parts...)
		}
		return strings.Join(parts, " → ")
	}
	var bad []string
	for p := range via {
		why := testKit(p)
		if why == "" {
			continue
		}
		var importers []string
		allowed := p == "testing"
		for q := range via {
			for _, imp := range graph[q] {
				if imp == p {
					importers = append(importers, q)
					if _, ok := testingImporters[q]; !ok {
						allowed = false
					}
				}
			}
		}
		if allowed {
			continue
		}
		sort.Strings(importers)
		bad = append(bad, p+" ("+why+") is linked: "+chain(p)+"; imported by "+strings.Join(importers, ", "))
	}
	for q, reason := range testingImporters {
		found := false
		for _, imp := range graph[q] {
			found = found || imp == "testing"
		}
		if !found {
			bad = append(bad, "stale exception: "+q+" ("+reason+") no longer brings testing in; remove it from testingImporters")
		}
	}
	sort.Strings(bad)
	return bad
}

// The hoist binary runs the emulator and the demo, but no test kit: not the
// testing package, not kin-openapi or the emulator's spec checker, not this
// module's test harnesses. They are large, unreviewed for production use,
// and kin-openapi alone carried three advisories.
func TestBinaryLinksNoTestKit(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	graph, out := goListDeps(t, ".")
	root := modulePath + "/cmd/hoist"
	if _, ok := graph[root]; !ok || len(graph) < 100 {
		t.Fatalf("go list -deps gave %d packages and no %s; output starts:\n%.500s", len(graph), root, out)
	}
	for _, line := range linkedTestKits(root, graph) {
		t.Error(line)
	}
}

// The check names the chain when one of this module's packages pulls a test
// kit in (as the demo did through testenv), while the one allowed third-party
// importer of testing passes.
func TestLinkedTestKitsNamesTheChain(t *testing.T) {
	saved := testingImporters
	testingImporters = map[string]string{"github.com/hashicorp/golang-lru": "an example exception"}
	t.Cleanup(func() { testingImporters = saved })
	root := modulePath + "/cmd/hoist"
	graph := map[string][]string{
		root:                                         {modulePath + "/internal/demo", "github.com/palantir/go-githubapp/githubapp"},
		modulePath + "/internal/demo":                {modulePath + "/internal/testenv", modulePath + "/emulator", modulePath + "/internal/hoisttest"},
		modulePath + "/internal/testenv":             {"testing", "net/http/httptest"},
		modulePath + "/emulator":                     {modulePath + "/emulator/emulatortest"},
		modulePath + "/emulator/emulatortest":        {"github.com/getkin/kin-openapi/openapi3"},
		modulePath + "/internal/hoisttest":           {modulePath + "/internal/world"},
		"github.com/palantir/go-githubapp/githubapp": {"github.com/hashicorp/golang-lru"},
		"github.com/hashicorp/golang-lru":            {"testing"},
	}
	got := strings.Join(linkedTestKits(root, graph), "\n")
	// The emulator and the shared world ship in the binary (hoist emulator,
	// hoist demo); only their test kits are findings.
	if strings.Contains(got, "internal/world") || strings.Contains(got, modulePath+"/emulator (") {
		t.Errorf("the shared world or the emulator reported as a test kit; got:\n%s", got)
	}
	for _, want := range []string{
		"testing (Go's test framework) is linked: cmd/hoist → internal/demo → internal/testenv → testing; imported by github.com/hashicorp/golang-lru, " + modulePath + "/internal/testenv",
		"net/http/httptest (test HTTP servers) is linked",
		modulePath + "/internal/testenv (the real tools tests start) is linked: cmd/hoist → internal/demo → internal/testenv",
		"github.com/getkin/kin-openapi/openapi3 (the OpenAPI checker the emulator's tests use) is linked: cmd/hoist → internal/demo → emulator → emulator/emulatortest → github.com/getkin/kin-openapi/openapi3",
		modulePath + "/emulator/emulatortest (the emulator's test harness and OpenAPI checker) is linked: cmd/hoist → internal/demo → emulator → emulator/emulatortest",
		modulePath + "/internal/hoisttest (the testing.TB wrappers of the shared test world) is linked: cmd/hoist → internal/demo → internal/hoisttest",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("findings lack %q; got:\n%s", want, got)
		}
	}

	// Only the allowed importer of testing left: nothing to report.
	delete(graph, modulePath+"/internal/demo")
	graph[root] = []string{"github.com/palantir/go-githubapp/githubapp"}
	if got := linkedTestKits(root, graph); len(got) != 0 {
		t.Errorf("allowed importer reported: %q", got)
	}
	// The allowed importer dropping testing makes its exception stale.
	graph["github.com/hashicorp/golang-lru"] = nil
	if got := linkedTestKits(root, graph); len(got) != 1 || !strings.Contains(got[0], "stale exception: github.com/hashicorp/golang-lru") {
		t.Errorf("stale exception not reported: %q", got)
	}
}

// go.mod asks for the Go release whose standard library has the security
// fixes; every script, CI and the README must select that same toolchain,
// or a machine with an older Go fails (GOTOOLCHAIN=local) or, worse, a
// script pins an older release than go.mod after the next bump.
func TestScriptsSelectGoModToolchain(t *testing.T) {
	root := filepath.Join("..", "..")
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+\.\d+)$`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod has no `go X.Y.Z` line naming a patch release")
	}
	want := "GOTOOLCHAIN=go" + string(m[1])
	files := []string{".ci/run", "scripts/run", "scripts/test", "scripts/vulncheck", "scripts/emulator-demo.sh", "README.md"}
	benches, _ := filepath.Glob(filepath.Join(root, "bench", "*", "run.sh"))
	if len(benches) == 0 {
		t.Fatal("no bench/*/run.sh found")
	}
	for _, b := range benches {
		rel, _ := filepath.Rel(root, b)
		files = append(files, rel)
	}
	other := regexp.MustCompile(`GOTOOLCHAIN=go[0-9.]+`)
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Error(err)
			continue
		}
		if !strings.Contains(string(data), want) {
			t.Errorf("%s does not set %s", f, want)
		}
		for _, got := range other.FindAllString(string(data), -1) {
			if got != want {
				t.Errorf("%s sets %s; go.mod says %s", f, got, want)
			}
		}
	}
	ci, err := os.ReadFile(filepath.Join(root, ".github", "workflows", "ci.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if image := "golang:" + string(m[1]) + "-"; !strings.Contains(string(ci), image) {
		t.Errorf(".github/workflows/ci.yml does not run in %s…", image)
	}
}

// goListDeps runs go list -deps on pkgs and returns each package's imports
// and the raw output (for failure messages). The environment is inherited,
// so GOTOOLCHAIN and GOFLAGS apply as they do to the go test that runs it.
func goListDeps(t *testing.T, pkgs ...string) (map[string][]string, []byte) {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go list needs the go command: %v", err)
	}
	args := append([]string{"list", "-deps", "-f", "{{.ImportPath}}\t{{join .Imports \" \"}}"}, pkgs...)
	out, err := exec.Command(goBin, args...).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list -deps: %v\n%s", err, stderr)
	}
	graph := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, "\t")
		graph[pkg] = strings.Fields(imports)
	}
	return graph, out
}
