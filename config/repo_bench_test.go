package config

import (
	"os"
	"testing"
)

// BenchmarkLoadRepoConfig loads the documented example: parse, validate,
// defaults. hoist loads the file once per commit of the default branch.
func BenchmarkLoadRepoConfig(b *testing.B) {
	data, err := os.ReadFile("../.github/hoist.yml")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := LoadRepoConfig(".github/hoist.yml", data); err != nil {
			b.Fatal(err)
		}
	}
}
