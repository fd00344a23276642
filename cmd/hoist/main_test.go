package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// Help asked for is output, not an error: `hoist help | less` shows it and
// the exit status is 0. No command or an unknown one stays a mistake.
func TestHelpGoesToStdout(t *testing.T) {
	for _, arg := range []string{"help", "-h", "--help", "-help"} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), []string{arg}, &out, &errOut); code != 0 {
			t.Errorf("hoist %s: exit %d, want 0", arg, code)
		}
		if !strings.Contains(out.String(), "usage: hoist <command>") || !strings.Contains(out.String(), "  sync ") {
			t.Errorf("hoist %s: stdout lacks the command list:\n%s", arg, out.String())
		}
		if errOut.Len() != 0 {
			t.Errorf("hoist %s: wrote to stderr: %q", arg, errOut.String())
		}
	}
	for _, args := range [][]string{nil, {"no-such-command"}} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut); code != 2 {
			t.Errorf("hoist %q: exit %d, want 2", args, code)
		}
		if out.Len() != 0 || !strings.Contains(errOut.String(), "usage: hoist") {
			t.Errorf("hoist %q: stdout %q, stderr %q; want the usage on stderr only", args, out.String(), errOut.String())
		}
	}
}
