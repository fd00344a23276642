package main

import (
	"sort"
	"strings"
	"testing"
)

// pureCore are the packages that decide (the repository config, the
// pipeline's planning, the command grammar and its authorisation), and the
// only packages of this module they may import: their decisions are tested
// with plain values, so none of them may reach an adapter (deploy, purge,
// GitHub, the store, smoke, …) or anything that talks to a network. A new
// package of this module that is as pure may be added here.
var pureCore = map[string]bool{
	modulePath + "/config":            true,
	modulePath + "/internal/pipeline": true,
	modulePath + "/internal/command":  true,
}

// impure says why a package outside this module must stay out of the pure
// core, or "" when it may be imported.
func impure(pkg string) string {
	switch {
	case strings.HasPrefix(pkg, "github.com/aws/"):
		return "the AWS SDK"
	case pkg == "net" || pkg == "net/http" || strings.HasPrefix(pkg, "net/http/") || pkg == "crypto/tls":
		return "network code"
	case pkg == "os/exec" || pkg == "database/sql" || strings.HasPrefix(pkg, "database/sql/"):
		return "processes or databases"
	}
	return ""
}

// impureImports returns one line per package reachable from the pure core
// in the import graph (package → imports) that is an adapter of this module
// or impure, with the chain of imports that pulls it in; packages reached
// only through such a package are left out.
func impureImports(graph map[string][]string) []string {
	// Breadth-first from every package of the core at once, so each
	// package is reported once, with a shortest chain from any of them.
	via := map[string]string{}
	var queue []string
	for p := range pureCore {
		via[p] = ""
		queue = append(queue, p)
	}
	sort.Strings(queue)
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, imp := range graph[p] {
			if _, ok := via[imp]; !ok {
				via[imp] = p
				queue = append(queue, imp)
			}
		}
	}
	forbidden := func(p string) string {
		if why := impure(p); why != "" {
			return why
		}
		if strings.HasPrefix(p, modulePath+"/") && !pureCore[p] {
			return "a package of hoist outside the pure core"
		}
		return ""
	}
	var bad []string
	for p := range via {
		why := forbidden(p)
		// Only the first forbidden package of a chain: what an adapter
		// imports in turn would only repeat it.
		if why == "" || (via[p] != "" && forbidden(via[p]) != "") {
			continue
		}
		var parts []string
		for q := p; q != ""; q = via[q] {
			parts = append([]string{strings.TrimPrefix(q, modulePath+"/")}, parts...)
		}
		bad = append(bad, p+" ("+why+") is imported: "+strings.Join(parts, " → "))
	}
	sort.Strings(bad)
	return bad
}

// The pure core (config, internal/pipeline, internal/command) imports no
// adapter of hoist and no AWS SDK, so its decisions need no server, no
// GitHub and no cloud to test, and a change in an adapter cannot alter them.
func TestPureCoreImportsNoAdapter(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	var pkgs []string
	for p := range pureCore {
		pkgs = append(pkgs, p)
	}
	graph, out := goListDeps(t, pkgs...)
	for p := range pureCore {
		if _, ok := graph[p]; !ok {
			t.Fatalf("go list -deps gave no %s; output starts:\n%.500s", p, out)
		}
	}
	if _, ok := graph["gopkg.in/yaml.v3"]; !ok {
		t.Fatalf("go list -deps did not list config's own import gopkg.in/yaml.v3; output starts:\n%.500s", out)
	}
	for _, line := range impureImports(graph) {
		t.Error(line)
	}
}

// The check names the chain when the core reaches an adapter or the AWS
// SDK, and passes a graph that stays inside the core and the standard
// library.
func TestImpureImportsNamesTheChain(t *testing.T) {
	cfg, pipe, cmd := modulePath+"/config", modulePath+"/internal/pipeline", modulePath+"/internal/command"
	graph := map[string][]string{
		cfg:                             {"gopkg.in/yaml.v3", "net/url", modulePath + "/internal/deploy"},
		pipe:                            {cfg, "time"},
		cmd:                             {pipe, "net/http"},
		modulePath + "/internal/deploy": {"github.com/aws/aws-sdk-go-v2/service/s3", modulePath + "/internal/site"},
		"github.com/aws/aws-sdk-go-v2/service/s3": {"net/http"},
	}
	got := strings.Join(impureImports(graph), "\n")
	for _, want := range []string{
		modulePath + "/internal/deploy (a package of hoist outside the pure core) is imported: config → internal/deploy",
		"net/http (network code) is imported: internal/command → net/http",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("findings lack %q; got:\n%s", want, got)
		}
	}
	// What the deploy imports (the site package, the AWS SDK) would only
	// repeat it.
	if n := strings.Count(got, "\n") + 1; n != 2 {
		t.Errorf("got %d findings, want 2:\n%s", n, got)
	}
	graph[cfg] = []string{"gopkg.in/yaml.v3", "net/url", "github.com/aws/aws-sdk-go-v2/service/s3"}
	if got := strings.Join(impureImports(graph), "\n"); !strings.Contains(got, "github.com/aws/aws-sdk-go-v2/service/s3 (the AWS SDK) is imported: config → github.com/aws/aws-sdk-go-v2/service/s3") {
		t.Errorf("the AWS SDK imported by config is not reported; got:\n%s", got)
	}

	graph[cfg] = []string{"gopkg.in/yaml.v3", "net/url"}
	graph[cmd] = []string{pipe}
	if got := impureImports(graph); len(got) != 0 {
		t.Errorf("a pure graph reported: %q", got)
	}
}
