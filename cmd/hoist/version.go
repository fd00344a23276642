package main

import (
	"context"
	"fmt"
	"runtime"

	"github.com/hoist-dev/hoist/internal/version"
)

func init() {
	register(subcommand{name: "version", summary: "print the version", run: func(context.Context, []string) int {
		fmt.Printf("hoist %s (%s)\n", version.Version, runtime.Version())
		return 0
	}})
}
