package command

import (
	"strings"
	"testing"
)

// BenchmarkParse parses a typical review comment: prose, a quote, a code
// block, another bot's command and two hoist commands.
func BenchmarkParse(b *testing.B) {
	body := strings.Repeat("Looks good to me, the screenshots match.\n", 20) +
		"> /promote production\n\n```\n/deploy production\n```\n/assign @alice\n/promote staging\n/hold production for 2h release freeze\n"
	opts := shortOpts()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if cmds, _ := Parse(body, opts); len(cmds) != 2 {
			b.Fatal(len(cmds))
		}
	}
}

// BenchmarkParseLargeComment parses the largest comment Parse reads, made of
// short slash-words that are not hoist's (other bots' commands), each of
// which is checked for being a typo of a verb: the worst case.
func BenchmarkParseLargeComment(b *testing.B) {
	body := strings.Repeat("/xyzzy\n", MaxBodyBytes/7)
	opts := shortOpts()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if cmds, errs := Parse(body, opts); len(cmds)+len(errs) != 0 {
			b.Fatal(cmds, errs)
		}
	}
}
