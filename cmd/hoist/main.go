// Command hoist is the one binary of the project: the GitHub App server,
// the emulator, the demo and the command-line tools share it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
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

// usage lists the commands on w: stdout when asked for (`hoist help | less`),
// stderr after a mistake.
func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: hoist <command> [arguments]\n\ncommands:")
	names := make([]string, 0, len(subcommands))
	for n := range subcommands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, subcommands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'hoist <command> -h' for the flags of a command.")
}

func main() {
	// SIGINT and SIGTERM cancel the context; each command decides how to
	// wind down (serve drains its workers, for example).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches to a command and returns the exit status. Help asked for
// (help, -h, --help) goes to stdout and exits 0; no
// command or an unknown one is a usage mistake: stderr and 2.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return 0
	}
	c, ok := subcommands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "hoist: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	return c.run(ctx, args[1:])
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
