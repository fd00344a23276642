package flow

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/internal/command"
)

var update = flag.Bool("update", false, "rewrite the generated /help section of README.md")

const (
	readmeBegin = "<!-- BEGIN GENERATED /help: go test ./internal/flow -run TestReadmeHelpUpToDate -update -->\n"
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
	want := command.HelpMarkdown(command.Options{ShortForm: true, Available: helpAvailable()})
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
	t.Fatalf("README.md's /help is stale; run go test ./internal/flow -run TestReadmeHelpUpToDate -update\nwant:\n%s", want)
}

func TestHelpTellsWhatThisServerRuns(t *testing.T) {
	help := command.HelpMarkdown(command.Options{ShortForm: true, Available: helpAvailable()})
	for v, wired := range map[command.Verb]bool{command.Smoke: smokeWired, command.Purge: purgeWired, command.Preview: previewWired} {
		offered := strings.Contains(help, "| `/"+string(v)+" ")
		if offered != wired {
			t.Errorf("/help offers /%s: %v, but the server runs it: %v", v, offered, wired)
		}
	}
	for _, v := range []command.Verb{command.Promote, command.Rollback, command.Hold, command.Unhold, command.Deploy, command.Status, command.Help} {
		if !strings.Contains(help, "| `/"+string(v)) {
			t.Errorf("/help does not offer /%s", v)
		}
	}
}
