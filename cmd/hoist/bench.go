package main

import (
	"context"
	"fmt"
	"os"
)

func init() {
	register(subcommand{name: "bench", summary: "moved: the intake benchmark is go run ./bench/intake", run: runBench})
}

// runBench says where the intake benchmark went: it is a command of its own
// in the source tree, so that the server package and the shipped binary
// carry no benchmark.
func runBench(context.Context, []string) int {
	fmt.Fprintln(os.Stderr, "hoist bench intake is now a command of its own in hoist's source tree:\n"+
		"  go run ./bench/intake [-n deliveries] [-c senders] [-workers n] [-dir path] [-cpuprofile file] [-q]\n"+
		"  bench/intake/run.sh   (the same, with the Go toolchain go.mod asks for)")
	return 2
}
