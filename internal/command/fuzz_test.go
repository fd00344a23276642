package command

import (
	"reflect"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics and that every command it accepts
// renders to a canonical line (short and long form) that parses back to the
// same command.
//
//	go test -run=^$ -fuzz=FuzzParse -fuzztime=20s ./internal/command
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"/promote staging",
		"/promote production 3F9C2E1",
		"/rollback production",
		"/rollback dev previous",
		"/hold production for 1d12h release freeze",
		"/hold staging waiting for QA",
		"/unhold production\r\n/deploy dev",
		"/smoke deadbeef",
		"/purge production /index.html /a/ --all",
		"/purge staging /img/* /img/*",
		"/preview",
		"/status",
		"/help /Purge",
		"/hoist",
		"/HOIST rollbak dev",
		"> /promote production\n/promote dev",
		"```\n/promote production\n```\n/deploy staging",
		"<!--\n/purge dev --all\n-->\n/status",
		"    /promote production",
		"/assign @alice\n/lgtm",
		"/hold dev for 1d-1h",
		"/hold dev for 0.5h " + strings.Repeat("é", 10),
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, body string, short bool) {
		opts := Options{Environments: []string{"dev", "staging", "production", "abcdef0"}, ShortForm: short}
		cmds, errs := Parse(body, opts)
		if len(cmds) > opts.maxCommands() {
			t.Fatalf("%d commands", len(cmds))
		}
		for _, e := range errs {
			if e.Message == "" || e.Line < 1 {
				t.Fatalf("error without message or line: %+v", e)
			}
			_ = e.Markdown()
		}
		for _, c := range cmds {
			lines := []string{c.LongForm()}
			if short {
				lines = append(lines, c.String())
			}
			for _, line := range lines {
				again, errs := Parse(line, opts)
				if len(errs) != 0 || len(again) != 1 {
					t.Fatalf("canonical %q of %+v does not parse: %v", line, c, errs)
				}
				want, got := c, again[0]
				want.Line, want.Raw, got.Line, got.Raw = 0, "", 0, ""
				if !reflect.DeepEqual(want, got) {
					t.Fatalf("canonical %q parses to\n%+v, want\n%+v", line, got, want)
				}
			}
			_ = Authorize(c, Actor{Login: "a", Permission: PermissionWrite}, Rules{})
		}
	})
}
