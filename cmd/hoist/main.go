// Command hoist is the one binary of the project: the GitHub App server,
// the emulator, the demo and the command-line tools share it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// subcommand is one verb of the hoist binary. Each lives in its own file
// and registers itself from init, so adding one touches no shared list.
type subcommand struct {
	name    string
	summary string
	// run receives the arguments after the verb and returns the exit status.
	run func(ctx context.Context, args []string) int
}

var subcommands = map[string]subcommand{}

func register(c subcommand) {
	if _, dup := subcommands[c.name]; dup {
		panic("hoist: subcommand registered twice: " + c.name)
	}
	subcommands[c.name] = c
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: hoist <command> [arguments]\n\ncommands:")
	names := make([]string, 0, len(subcommands))
	for n := range subcommands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", n, subcommands[n].summary)
	}
	fmt.Fprintln(os.Stderr, "\nRun 'hoist <command> -h' for the flags of a command.")
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		if len(os.Args) < 2 {
			os.Exit(2)
		}
		return
	}
	c, ok := subcommands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "hoist: unknown command %q\n\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	// SIGINT and SIGTERM cancel the context; each command decides how to
	// wind down (serve drains its workers, for example).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := c.run(ctx, os.Args[2:])
	stop()
	os.Exit(code)
}

// parseInterspersed parses fl's flags wherever they stand among the
// positional arguments (`hoist config validate FILE -server S`), which the
// flag package alone stops at the first positional one. It returns the
// positional arguments, or ok false with the exit code: 0 after -h, 2 after
// a bad flag (the flag package has printed why).
func parseInterspersed(fl *flag.FlagSet, args []string) (positional []string, code int, ok bool) {
	for {
		if err := fl.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, 0, false
			}
			return nil, 2, false
		}
		if fl.NArg() == 0 {
			return positional, 0, true
		}
		positional = append(positional, fl.Arg(0))
		args = fl.Args()[1:]
	}
}
