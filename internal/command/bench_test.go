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

// BenchmarkParseLargeComment parses a 64 KiB comment (GitHub's limit is
// 65,536 characters) made of command-like lines, the worst case.
func BenchmarkParseLargeComment(b *testing.B) {
	body := strings.Repeat("/promot prodution for the win\n", 65536/30)
	opts := shortOpts()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		Parse(body, opts)
	}
}
