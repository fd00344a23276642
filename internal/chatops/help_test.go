package chatops

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/internal/command"
	"github.com/hoist-dev/hoist/internal/smokegate"
)

var update = flag.Bool("update", false, "rewrite the generated /help section of README.md")

const (
	readmeBegin = "<!-- BEGIN GENERATED /help: go test ./internal/chatops -run TestReadmeHelpUpToDate -update -->\n"
	readmeEnd   = "<!-- END GENERATED /help -->"
)

// TestReadmeHelpUpToDate keeps README.md's copy of /help equal to what this
// server answers, including which verbs it cannot run yet.
func TestReadmeHelpUpToDate(t *testing.T) {
	const path = "../../README.md"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	i, j := strings.Index(text, readmeBegin), strings.Index(text, readmeEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md has no generated /help section (%q … %q)", readmeBegin, readmeEnd)
	}
	want := command.HelpMarkdown(command.Options{ShortForm: true, Available: allVerbs()})
	got := text[i+len(readmeBegin) : j]
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(text[:i+len(readmeBegin)]+want+text[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("README.md's /help is stale; run go test ./internal/chatops -run TestReadmeHelpUpToDate -update\nwant:\n%s", want)
}

func TestHelpTellsWhatThisServerRuns(t *testing.T) {
	// A server without a browser and without preview links: /help must
	// not offer /smoke or /preview.
	s := New(Deps{Smoke: noSmoke{}})
	help := command.HelpMarkdown(command.Options{ShortForm: true, Available: s.helpAvailable()})
	for v, runs := range map[command.Verb]bool{command.Smoke: false, command.Purge: true, command.Preview: false} {
		offered := strings.Contains(help, "| `/"+string(v)+" ")
		if offered != runs {
			t.Errorf("/help offers /%s: %v, but the server runs it: %v", v, offered, runs)
		}
	}
	for _, v := range []command.Verb{command.Promote, command.Rollback, command.Hold, command.Unhold, command.Deploy, command.Status, command.Help} {
		if !strings.Contains(help, "| `/"+string(v)) {
			t.Errorf("/help does not offer /%s", v)
		}
	}
}

// noSmoke is a smoke gate that cannot run: no browser, no preview origin.
type noSmoke struct{ Smoke }

func (noSmoke) Ready() error     { return smokegate.ErrSmokeUnavailable }
func (noSmoke) PreviewsOn() bool { return false }
