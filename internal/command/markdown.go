package command

import (
	"fmt"
	"strings"
)

// code renders s as a GitHub inline code span that shows s literally, whatever
// backticks it holds: the fence is one backtick longer than the longest run
// inside, padded with spaces when s starts or ends with a backtick (CommonMark
// strips one space on each side). Mentions inside code spans do not notify.
func code(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || (s != "" && strings.Trim(s, " ") == "") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

// Markdown renders the error as a GitHub comment reply: what was wrong, the
// corrections hoist can think of, and the usage.
func (e *ParseError) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "😕 I could not run %s (line %d): %s\n", code(e.Raw), e.Line, e.Message)
	switch len(e.Suggestions) {
	case 0:
	case 1:
		fmt.Fprintf(&b, "\nDid you mean %s?\n", code(e.Suggestions[0]))
	default:
		q := make([]string, len(e.Suggestions))
		for i, s := range e.Suggestions {
			q[i] = code(s)
		}
		fmt.Fprintf(&b, "\nDid you mean one of %s?\n", strings.Join(q, ", "))
	}
	if e.Usage != "" {
		if strings.Contains(e.Usage, "\n") {
			fmt.Fprintf(&b, "\n%s\n", e.Usage)
		} else {
			fmt.Fprintf(&b, "\nUsage: %s\n", code(e.Usage))
		}
	}
	if e.Verb != "" && e.Kind != ErrUnavailable {
		fmt.Fprintf(&b, "\n`%s help %s` explains it in detail.\n", LongFormPrefix, e.Verb)
	} else {
		fmt.Fprintf(&b, "\n`%s help` lists what hoist can do here.\n", LongFormPrefix)
	}
	return b.String()
}
