package command

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

var testEnvs = []string{"dev", "staging", "production"}

func shortOpts() Options { return Options{Environments: testEnvs, ShortForm: true} }

// strip drops the position fields so that tests compare meaning.
func strip(cmds []Command) []Command {
	out := make([]Command, len(cmds))
	for i, c := range cmds {
		c.Line, c.Raw = 0, ""
		out[i] = c
	}
	return out
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		line string
		want Command
	}{
		{"/promote staging", Command{Verb: Promote, Env: "staging"}},
		{"/promote production 3F9C2E1", Command{Verb: Promote, Env: "production", SHA: "3f9c2e1"}},
		{"/promote production 0123456789abcdef0123456789abcdef01234567", Command{Verb: Promote, Env: "production", SHA: "0123456789abcdef0123456789abcdef01234567"}},
		{"/Promote staging", Command{Verb: Promote, Env: "staging"}},
		{"/rollback production", Command{Verb: Rollback, Env: "production", Previous: true}},
		{"/rollback production previous", Command{Verb: Rollback, Env: "production", Previous: true}},
		{"/rollback production abcdef0", Command{Verb: Rollback, Env: "production", SHA: "abcdef0"}},
		{"/hold production", Command{Verb: Hold, Env: "production"}},
		{"/hold production for 2h", Command{Verb: Hold, Env: "production", Duration: 2 * time.Hour}},
		{"/hold production for 3d", Command{Verb: Hold, Env: "production", Duration: 72 * time.Hour}},
		{"/hold production for 1d12h30m", Command{Verb: Hold, Env: "production", Duration: 36*time.Hour + 30*time.Minute}},
		{"/hold production for 90m  release   freeze", Command{Verb: Hold, Env: "production", Duration: 90 * time.Minute, Reason: "release freeze"}},
		{"/hold staging waiting for QA", Command{Verb: Hold, Env: "staging", Reason: "waiting for QA"}},
		{"/unhold production", Command{Verb: Unhold, Env: "production"}},
		{"/deploy staging", Command{Verb: Deploy, Env: "staging"}},
		{"/smoke", Command{Verb: Smoke}},
		{"/smoke staging", Command{Verb: Smoke, Env: "staging"}},
		{"/smoke deadbeef", Command{Verb: Smoke, SHA: "deadbeef"}},
		{"/purge production /index.html /products/ /index.html", Command{Verb: Purge, Env: "production", Paths: []string{"/index.html", "/products/"}}},
		{"/purge staging --all", Command{Verb: Purge, Env: "staging", All: true}},
		{"/purge staging /img/*", Command{Verb: Purge, Env: "staging", Paths: []string{"/img/*"}}},
		{"/preview", Command{Verb: Preview}},
		{"/preview production", Command{Verb: Preview, Env: "production"}},
		{"/preview 1234567", Command{Verb: Preview, SHA: "1234567"}},
		{"/status", Command{Verb: Status}},
		{"/upgrade retry", Command{Verb: Upgrade}},
		{"/upgrade retry acme-2", Command{Verb: Upgrade, Instance: "acme-2"}},
		{"/hoist upgrade RETRY acme", Command{Verb: Upgrade, Instance: "acme"}},
		{"/help", Command{Verb: Help}},
		{"/help promote", Command{Verb: Help, HelpTopic: Promote}},
		{"/help /Purge", Command{Verb: Help, HelpTopic: Purge}},
		{"/hoist", Command{Verb: Help}},
		{"/hoist help hold", Command{Verb: Help, HelpTopic: Hold}},
		{"/hoist promote staging", Command{Verb: Promote, Env: "staging"}},
		{"/HOIST Deploy dev", Command{Verb: Deploy, Env: "dev"}},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			cmds, errs := Parse(tt.line, shortOpts())
			if len(errs) != 0 {
				t.Fatalf("errors: %v", errs[0])
			}
			if len(cmds) != 1 {
				t.Fatalf("got %d commands, want 1", len(cmds))
			}
			if cmds[0].Line != 1 || cmds[0].Raw != strings.TrimSpace(tt.line) {
				t.Errorf("position = %d %q", cmds[0].Line, cmds[0].Raw)
			}
			if got := strip(cmds)[0]; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		line     string
		kind     ErrorKind
		verb     Verb
		contains string   // in Message
		sugg     []string // expected suggestions (exact), nil to skip
	}{
		{"/promote", ErrBadArgument, Promote, "which environment", nil},
		{"/promote prodution", ErrBadArgument, Promote, "no environment `prodution`", []string{"/promote production"}},
		{"/promote Production", ErrBadArgument, Promote, "no environment", []string{"/promote production"}},
		{"/promote prod", ErrBadArgument, Promote, "no environment", []string{"/promote production"}},
		{"/promote staging 123", ErrBadArgument, Promote, "not a commit id", nil},
		{"/promote staging xyz1234", ErrBadArgument, Promote, "not a commit id", nil},
		{"/promote staging 0123456789abcdef0123456789abcdef012345678", ErrBadArgument, Promote, "not a commit id", nil},
		{"/promote staging abcdef0 now", ErrBadArgument, Promote, "unexpected argument `now`", nil},
		{"/rollback production yesterday", ErrBadArgument, Rollback, "say a commit id or `previous`", nil},
		{"/rollback", ErrBadArgument, Rollback, "which environment", nil},
		{"/hold production for", ErrBadArgument, Hold, "must be followed by a duration", nil},
		{"/hold production for ever", ErrBadArgument, Hold, "not a duration", nil},
		{"/hold production for -2h", ErrBadArgument, Hold, "not a duration", nil},
		{"/hold production for 30s", ErrBadArgument, Hold, "1 minute to 365 days", nil},
		{"/hold production for 400d", ErrBadArgument, Hold, "not a duration", nil},
		{"/hold production for 366d", ErrBadArgument, Hold, "1 minute to 365 days", nil},
		{"/hold production 2h", ErrBadArgument, Hold, "write `for 2h`", []string{"/hold production for 2h"}},
		{"/hold production for 2h " + strings.Repeat("x", 301), ErrBadArgument, Hold, "reason is 301 characters", nil},
		{"/hold stagin", ErrBadArgument, Hold, "no environment", []string{"/hold staging"}},
		{"/unhold", ErrBadArgument, Unhold, "which environment", nil},
		{"/unhold dev now", ErrBadArgument, Unhold, "unexpected argument", nil},
		{"/deploy devv", ErrBadArgument, Deploy, "no environment", []string{"/deploy dev"}},
		{"/deploy", ErrBadArgument, Deploy, "which environment", nil},
		{"/deploy dev again", ErrBadArgument, Deploy, "unexpected argument", nil},
		{"/smoke nowhere", ErrBadArgument, Smoke, "neither an environment", nil},
		{"/smoke stagign", ErrBadArgument, Smoke, "neither an environment", []string{"/smoke staging"}},
		{"/smoke dev extra", ErrBadArgument, Smoke, "unexpected argument", nil},
		{"/purge production", ErrBadArgument, Purge, "which paths", nil},
		{"/purge production index.html", ErrBadArgument, Purge, "must start with `/`", nil},
		{"/purge production /a/../etc/passwd", ErrBadArgument, Purge, "must not contain `..`", nil},
		{"/purge production /a\\b", ErrBadArgument, Purge, "backslash", nil},
		{"/purge production /a\u00a0b", ErrBadArgument, Purge, "must start with `/`", nil}, // NBSP splits the word
		{"/purge production /a\u200bb", ErrBadArgument, Purge, "invisible", nil},
		{"/purge production /a\x7fb", ErrBadArgument, Purge, `"/a\x7fb"` + "` must not contain spaces, control", nil},
		{"/purge production --all /index.html", ErrBadArgument, Purge, "not both", nil},
		{"/preview staging 1234567", ErrBadArgument, Preview, "unexpected argument", nil},
		{"/status now", ErrBadArgument, Status, "unexpected argument", nil},
		{"/upgrade", ErrBadArgument, Upgrade, "what should be upgraded", nil},
		{"/upgrade retyr", ErrBadArgument, Upgrade, "knows `retry`", []string{"/upgrade retry"}},
		{"/upgrade retry Acme_Corp", ErrBadArgument, Upgrade, "not an instance name", nil},
		{"/upgrade retry -acme", ErrBadArgument, Upgrade, "not an instance name", nil},
		{"/upgrade retry acme now", ErrBadArgument, Upgrade, "unexpected argument", nil},
		{"/help promot", ErrBadArgument, Help, "no command `/promot`", []string{"/help promote"}},
		{"/promot staging", ErrUnknownVerb, "", "`promot` is not a hoist command", []string{"/promote staging"}},
		{"/rollbak production", ErrUnknownVerb, "", "not a hoist command", []string{"/rollback production"}},
		{"/preveiw", ErrUnknownVerb, "", "not a hoist command", []string{"/preview"}},
		{"/hoist promot staging", ErrUnknownVerb, "", "not a hoist command", []string{"/hoist promote staging"}},
		{"/hoist assign", ErrUnknownVerb, "", "`assign` is not a hoist command", []string{}},
		{"/hoist prom staging", ErrUnknownVerb, "", "not a hoist command", []string{"/hoist promote staging"}},
		{"/hoist promote prodution", ErrBadArgument, Promote, "no environment", []string{"/hoist promote production"}},
		{"/promote " + strings.Repeat("a", 1100), ErrTooLong, Promote, "hoist reads at most 1024", nil},
	}
	for _, tt := range tests {
		name := tt.line
		if len(name) > 60 {
			name = name[:60]
		}
		t.Run(name, func(t *testing.T) {
			cmds, errs := Parse("Thanks!\n"+tt.line+"\n", shortOpts())
			if len(cmds) != 0 {
				t.Fatalf("unexpected commands %+v", cmds)
			}
			if len(errs) != 1 {
				t.Fatalf("got %d errors, want 1", len(errs))
			}
			e := errs[0]
			if e.Kind != tt.kind || e.Verb != tt.verb || e.Line != 2 {
				t.Errorf("kind/verb/line = %v %q %d, want %v %q 2", e.Kind, e.Verb, e.Line, tt.kind, tt.verb)
			}
			if !strings.Contains(e.Message, tt.contains) {
				t.Errorf("message %q does not contain %q", e.Message, tt.contains)
			}
			if tt.sugg != nil && !reflect.DeepEqual(append([]string{}, e.Suggestions...), tt.sugg) {
				t.Errorf("suggestions = %q, want %q", e.Suggestions, tt.sugg)
			}
			if e.Usage == "" {
				t.Errorf("no usage")
			}
			if e.Kind == ErrBadArgument && !strings.HasPrefix(e.Usage, "/"+string(e.Verb)) {
				t.Errorf("usage %q is not the verb's", e.Usage)
			}
			md := e.Markdown()
			if !strings.Contains(md, "(line 2)") || !strings.Contains(md, "Usage") && !strings.Contains(md, "Commands available here") {
				t.Errorf("markdown lacks position or usage:\n%s", md)
			}
			if len(e.Suggestions) > 0 && !strings.Contains(md, "Did you mean") {
				t.Errorf("markdown lacks suggestions:\n%s", md)
			}
		})
	}
}

func TestParseIgnoresWhatIsNotACommand(t *testing.T) {
	bodies := map[string]string{
		"mid-sentence":         "see /promote docs for details",
		"list item":            "- /promote production",
		"other bots":           "/assign @alice\n/lgtm\n/approve\n/retest\n/test all\n/cc @bob\n/close\n/label bug",
		"paths":                "/usr/bin/env\n/index.html",
		"quote":                "> /promote production",
		"indented quote":       "   > /promote production",
		"nested quote":         "> > /promote production",
		"lazy quote":           "> Could you ship it?\n/promote production",
		"backtick fence":       "```\n/promote production\n```",
		"tilde fence":          "~~~sh\n/promote production\n~~~",
		"long fence":           "````\n```\n/promote production\n````",
		"unclosed fence":       "```\n/promote production",
		"fence in list":        "1. run:\n   ```\n/promote production\n   ```",
		"indented code":        "text\n\n    /promote production",
		"tab code":             "\t/promote production",
		"inline code":          "`/promote production`",
		"html comment":         "<!--\n/promote production\n-->",
		"one-line comment":     "<!-- /promote production -->",
		"empty":                "",
		"only slash":           "/",
		"short form off":       "",
		"suggestion block":     "```suggestion\n/promote production\n```",
		"crlf fence":           "```\r\n/promote production\r\n```\r\n",
		"fence closes by tick": "```go\n/promote production\n~~~\n/deploy dev\n```",
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			cmds, errs := Parse(body, shortOpts())
			if len(cmds) != 0 || len(errs) != 0 {
				t.Errorf("body %q: got %+v %v", body, cmds, errs)
			}
		})
	}
}

func TestParseFindsCommandsAroundMarkdown(t *testing.T) {
	body := strings.Join([]string{
		"> /promote production", // 1 quoted
		"",                      // 2
		"Looks good. Shipping:", // 3
		"  /promote staging  ",  // 4 command, indented < 4
		"```",                   // 5
		"/deploy production",    // 6 code
		"```",                   // 7
		"/hold production for 1h waiting on design", // 8 command
		"<!-- /purge production --all -->",          // 9 comment
		"/unhold dev\r",                             // 10 command (CRLF)
		"/assign @alice",                            // 11 other bot
	}, "\n")
	cmds, errs := Parse(body, shortOpts())
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	var got []string
	for _, c := range cmds {
		got = append(got, c.String()+"@"+string(rune('0'+c.Line/10))+string(rune('0'+c.Line%10)))
	}
	want := []string{"/promote staging@04", "/hold production for 1h waiting on design@08", "/unhold dev@10"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if cmds[0].Raw != "/promote staging" {
		t.Errorf("raw = %q", cmds[0].Raw)
	}
}

func TestShortFormDisabled(t *testing.T) {
	opts := Options{Environments: testEnvs, ShortForm: false}
	cmds, errs := Parse("/promote staging\n/promot staging\n/hoist promote staging\n/hoist rollbak dev", opts)
	if len(cmds) != 1 || cmds[0].Verb != Promote || cmds[0].Line != 3 {
		t.Fatalf("commands = %+v", cmds)
	}
	if len(errs) != 1 || errs[0].Line != 4 || errs[0].Kind != ErrUnknownVerb {
		t.Fatalf("errors = %v", errs)
	}
	if !reflect.DeepEqual(errs[0].Suggestions, []string{"/hoist rollback dev"}) {
		t.Errorf("suggestions = %q", errs[0].Suggestions)
	}
	if !strings.Contains(errs[0].Usage, "`/hoist promote <env> [<sha>]`") {
		t.Errorf("usage is not in long form:\n%s", errs[0].Usage)
	}
	_, errs = Parse("/hoist promote prodution", opts)
	if len(errs) != 1 || errs[0].Usage != "/hoist promote <env> [<sha>]" {
		t.Errorf("usage = %+v", errs)
	}
}

func TestUnavailableVerbs(t *testing.T) {
	opts := shortOpts()
	opts.Available = map[Verb]bool{Promote: true, Status: true}
	cmds, errs := Parse("/smoke\n/hoist preview\n/promote dev\n/help\n/help smoke\n/deploy dev", opts)
	if len(cmds) != 3 || cmds[0].Verb != Promote || cmds[1].Verb != Help || cmds[2].HelpTopic != Smoke {
		t.Fatalf("commands = %+v", cmds)
	}
	if len(errs) != 3 {
		t.Fatalf("errors = %v", errs)
	}
	for _, e := range errs {
		if e.Kind != ErrUnavailable || !strings.Contains(e.Message, "not available on this installation") {
			t.Errorf("error = %+v", e)
		}
		if strings.Contains(e.Usage, "/smoke") || !strings.Contains(e.Usage, "/promote") {
			t.Errorf("usage offers unavailable verbs or lacks available ones:\n%s", e.Usage)
		}
	}
	// A typo is not corrected to an unavailable verb.
	_, errs = Parse("/smoek", opts)
	if len(errs) != 1 || len(errs[0].Suggestions) != 0 {
		t.Errorf("errors = %+v", errs)
	}
}

func TestMaxCommands(t *testing.T) {
	var lines []string
	for i := 0; i < 14; i++ {
		lines = append(lines, "/status", "/assign @x")
	}
	cmds, errs := Parse(strings.Join(lines, "\n"), shortOpts())
	if len(cmds) != DefaultMaxCommands {
		t.Fatalf("got %d commands", len(cmds))
	}
	if len(errs) != 1 || errs[0].Kind != ErrTooMany || errs[0].Line != 21 {
		t.Fatalf("errors = %+v", errs)
	}
	opts := shortOpts()
	opts.MaxCommands = 2
	cmds, errs = Parse("/promot dev\n/status\n/status", opts)
	if len(cmds) != 1 || len(errs) != 2 || errs[1].Kind != ErrTooMany {
		t.Fatalf("errors count toward the limit: %+v %+v", cmds, errs)
	}
}

func TestDuration(t *testing.T) {
	for _, d := range []time.Duration{time.Minute, 90 * time.Minute, 24 * time.Hour, 36 * time.Hour, 365 * 24 * time.Hour, 25*time.Hour + 500*time.Millisecond} {
		got, err := ParseDuration(FormatDuration(d))
		if err != nil || got != d {
			t.Errorf("%v → %q → %v, %v", d, FormatDuration(d), got, err)
		}
	}
	for _, s := range []string{"", "d", "1", "1dd", "+1d", "-1d", "1d-1h", "1x", "0d", "1.5d", "1d+1h"} {
		if _, err := ParseDuration(s); err == nil {
			t.Errorf("ParseDuration(%q) accepted", s)
		}
	}
}

func TestDistanceAndSuggest(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		d    int
	}{{"promote", "promote", 0}, {"promot", "promote", 1}, {"prmoote", "promote", 1}, {"", "abc", 3}, {"kitten", "sitting", 3}, {"ca", "abc", 3}} {
		if got := distance(tt.a, tt.b); got != tt.d {
			t.Errorf("distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.d)
		}
	}
	words := []string{"", "a", "ab", "ba", "promote", "prmoote", "rollbak", "xyzzy", "hold", "unhold", "höld", "preveiw"}
	for _, a := range words {
		for _, b := range words {
			full := distance(a, b)
			for limit := 0; limit <= 3; limit++ {
				if got := distanceAtMost(a, b, limit); (full <= limit && got != full) || (full > limit && got <= limit) {
					t.Errorf("distanceAtMost(%q, %q, %d) = %d, distance %d", a, b, limit, got, full)
				}
			}
		}
	}
	if got := suggest("prod", testEnvs, true); !reflect.DeepEqual(got, []string{"production"}) {
		t.Errorf("suggest prod = %q", got)
	}
	if got := suggest("stag", testEnvs, true); !reflect.DeepEqual(got, []string{"staging"}) {
		t.Errorf("suggest stag = %q", got)
	}
	if got := suggest("qa", testEnvs, true); len(got) != 0 {
		t.Errorf("suggest qa = %q", got)
	}
	for _, w := range []string{"assign", "lgtm", "approve", "retest", "test", "cc", "close", "label", "kind", "meow", "retitle", "lint", "ok-to-test"} {
		if isNearVerb(w) {
			t.Errorf("/%s would be taken as a typo of a hoist verb", w)
		}
	}
}

func TestCode(t *testing.T) {
	for in, want := range map[string]string{
		"a":      "`a`",
		"a`b":    "``a`b``",
		"`a":     "`` `a ``",
		"a``b`":  "``` a``b` ```",
		"x\ny":   "`x y`",
		"@alice": "`@alice`",
	} {
		if got := code(in); got != want {
			t.Errorf("code(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFormatDurationAsPeopleWriteIt(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Minute: "1m", 90 * time.Minute: "1h30m", 2 * time.Hour: "2h", 36 * time.Hour: "1d12h",
		3 * 24 * time.Hour: "3d", time.Hour + 5*time.Second: "1h0m5s", 24*time.Hour + 30*time.Minute: "1d30m",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
