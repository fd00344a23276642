package command

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated section of docs/commands.md")

const (
	docsPath    = "../../docs/commands.md"
	beginMarker = "<!-- BEGIN GENERATED: go test ./internal/command -run TestDocsUpToDate -update -->"
	endMarker   = "<!-- END GENERATED -->"
)

// docsOptions are the options the reference in docs/commands.md is generated with.
func docsOptions() Options { return Options{ShortForm: true} }

// TestDocsUpToDate fails when the generated command reference in
// docs/commands.md differs from what the verbs declare; -update rewrites it.
func TestDocsUpToDate(t *testing.T) {
	data, err := os.ReadFile(filepath.FromSlash(docsPath))
	if err != nil {
		t.Fatalf("read the command reference: %v", err)
	}
	doc := string(data)
	begin := strings.Index(doc, beginMarker)
	end := strings.Index(doc, endMarker)
	if begin < 0 || end < begin {
		t.Fatalf("%s lacks the markers %q … %q", docsPath, beginMarker, endMarker)
	}
	want := "\n" + ReferenceMarkdown(docsOptions()) + "\n"
	got := doc[begin+len(beginMarker) : end]
	if got == want {
		return
	}
	if !*update {
		t.Fatalf("the generated section of %s is stale; run: go test ./internal/command -run TestDocsUpToDate -update", docsPath)
	}
	doc = doc[:begin+len(beginMarker)] + want + doc[end:]
	if err := os.WriteFile(filepath.FromSlash(docsPath), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestHelpMarkdown(t *testing.T) {
	opts := Options{
		Environments: testEnvs,
		ShortForm:    true,
		Available:    map[Verb]bool{Promote: true, Rollback: true, Hold: true, Unhold: true, Deploy: true, Status: true},
		Rules:        Rules{PerEnv: map[string]EnvRule{"production": {Permission: PermissionMaintain, Teams: []string{"acme/release"}}}},
	}
	md := HelpMarkdown(opts)
	for _, want := range []string{
		"| `/promote <env> [<sha>]` |",
		"| `/rollback <env> [<sha>\\|previous]` |",
		"Not available on this installation yet: `/smoke`, `/purge`, `/preview`, `/upgrade`.",
		"Environments: `dev`, `staging`, `production`.",
		"| `production` | **maintain** permission and membership of the team `acme/release` (admins always) |",
		"| `/help [<verb>]` |",
		"`/hoist <verb> …`",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("help lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "| `/smoke") {
		t.Errorf("help offers an unavailable verb:\n%s", md)
	}

	opts.ShortForm = false
	md = HelpMarkdown(opts)
	if !strings.Contains(md, "| `/hoist promote <env> [<sha>]` |") || strings.Contains(md, "| `/promote") {
		t.Errorf("help with the short form off:\n%s", md)
	}
}

func TestVerbHelp(t *testing.T) {
	opts := Options{ShortForm: true, Available: map[Verb]bool{Promote: true}}
	for _, s := range Specs() {
		md, err := VerbHelp(s.Verb, opts)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(md, "#### `"+s.Usage()+"`") || !strings.Contains(md, s.Details) || !strings.Contains(md, "**Who can use it:**") {
			t.Errorf("%s help:\n%s", s.Verb, md)
		}
		for _, ex := range s.Examples {
			if !strings.Contains(md, "- `"+ex+"`") {
				t.Errorf("%s help lacks example %q", s.Verb, ex)
			}
			// Every example is a valid command.
			if _, errs := Parse(ex, Options{Environments: testEnvs, ShortForm: true}); len(errs) != 0 {
				t.Errorf("example %q does not parse: %v", ex, errs[0])
			}
		}
		if unavailable := strings.Contains(md, "not available on this installation"); unavailable == opts.IsAvailable(s.Verb) {
			t.Errorf("%s: availability note = %v", s.Verb, unavailable)
		}
	}
	if _, err := VerbHelp("promot", opts); err == nil || !strings.Contains(err.Error(), "did you mean `/promote`") {
		t.Errorf("VerbHelp(promot) error = %v", err)
	}
	md, _ := VerbHelp(Hold, Options{})
	if !strings.Contains(md, "- `/hoist hold production for 2h release freeze`") || strings.Contains(md, "Long form") {
		t.Errorf("long-form help:\n%s", md)
	}
}
