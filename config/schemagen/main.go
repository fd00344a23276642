// Command schemagen writes the JSON Schema of .github/hoist.yml, generated
// from the Go types of package config, to the file named by its argument.
// `go generate ./config` runs it; a test in package config fails when the
// committed schema is stale.
package main

import (
	"fmt"
	"os"

	"github.com/hoist-dev/hoist/config"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: schemagen OUTPUT.json")
		os.Exit(2)
	}
	if err := os.WriteFile(os.Args[1], config.RepoSchema(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "schemagen:", err)
		os.Exit(1)
	}
}
