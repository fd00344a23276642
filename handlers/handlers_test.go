package handlers

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/testenv"
)

// Every example payload GitHub published for an event hoist handles parses,
// except the two check_run examples with non-RFC 3339 timestamps, which fail
// permanently with the parse error as the reason.
func TestHandlersParseGitHubExamples(t *testing.T) {
	dir := filepath.Join(testenv.SharedGitHubDir(t), "webhooks")
	byEvent := map[string]func(context.Context, string, string, []byte) error{}
	for _, h := range All(Deps{}) {
		for _, ev := range h.Handles() {
			byEvent[ev] = h.Handle
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.json"))
	seen := 0
	for _, f := range files {
		event := filepath.Base(filepath.Dir(f))
		handle, ok := byEvent[event]
		if !ok {
			continue
		}
		seen++
		payload, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		err = handle(context.Background(), event, "test", payload)
		bad := event == "check_run" && strings.HasPrefix(filepath.Base(f), "rerequested")
		switch {
		case bad && (err == nil || !jobs.IsPermanent(err) || !strings.Contains(err.Error(), "parse check_run payload")):
			t.Errorf("%s: want a permanent parse failure, got %v", f, err)
		case !bad && err != nil:
			t.Errorf("%s: %v", f, err)
		}
	}
	if seen < 50 {
		t.Fatalf("only %d examples found for handled events", seen)
	}
}

func TestGarbagePayloadIsPermanent(t *testing.T) {
	for _, h := range All(Deps{}) {
		ev := h.Handles()[0]
		err := h.Handle(context.Background(), ev, "x", []byte(`{"sender": 5}`))
		if err == nil || !jobs.IsPermanent(err) {
			t.Errorf("%s: mistyped payload gave %v, want a permanent failure", ev, err)
		}
	}
}

// The App subscribes in app.yml to exactly the events hoist has a handler
// for, less the installation events GitHub sends unasked (and refuses in
// a manifest).
func TestAppManifestSubscribesToEveryHandledEvent(t *testing.T) {
	raw, err := os.ReadFile("../app.yml")
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		Events []string `yaml:"default_events"`
	}
	if err := yaml.Unmarshal(raw, &manifest); err != nil {
		t.Fatal(err)
	}
	subscribed := map[string]bool{}
	for _, ev := range manifest.Events {
		subscribed[ev] = true
	}
	handled := map[string]bool{}
	for _, h := range All(Deps{}) {
		for _, ev := range h.Handles() {
			handled[ev] = true
			if !subscribed[ev] && ev != "installation" && ev != "installation_repositories" {
				t.Errorf("hoist handles %s but app.yml does not subscribe to it", ev)
			}
		}
	}
	for ev := range subscribed {
		if !handled[ev] {
			t.Errorf("app.yml subscribes to %s, which no handler receives", ev)
		}
	}
	if !subscribed["commit_comment"] || !subscribed["issue_comment"] {
		t.Errorf("app.yml events %v lack the comment events commands come in", manifest.Events)
	}
}
