package checks

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Escaping is hand-written: the Go markdown libraries parse and render, none
// escapes untrusted text for GitHub-flavoured tables.

// markdownPunct are the ASCII characters that can start or end markdown
// syntax (emphasis, links, images, headings, lists, strike-through,
// autolinks). A backslash before any ASCII punctuation is always literal in
// CommonMark, so escaping them all is safe.
const markdownPunct = "\\`*_{}[]()#+-.!|~:"

// Escape renders untrusted text (a page title, an error message) as literal
// inline markdown on one line: markdown punctuation is backslash-escaped,
// HTML is turned into text (&lt; &gt; &amp;), line breaks become spaces and
// other control characters are dropped. The result is safe in a table cell:
// a pipe cannot end the cell and a line break cannot end the row.
func Escape(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.Grow(len(s) + len(s)/8)
	for _, r := range s {
		switch {
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '&':
			b.WriteString("&amp;")
		case r == '\n' || r == '\r' || r == '\t' || r == '\u2028' || r == '\u2029':
			b.WriteByte(' ')
		case unicode.IsControl(r):
			// dropped: invisible, and some break GitHub's renderer
		case r < utf8.RuneSelf && strings.ContainsRune(markdownPunct, r):
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return strings.TrimSpace(b.String())
}

// CodeCell renders untrusted text (a file path, a URL path, a selector) as a
// table cell holding an inline code span that shows it literally, on one
// line. The fence is one backtick longer than the longest run inside, and
// pipes are escaped, since GitHub splits table cells on them even inside
// code (outside a table the backslash would show).
func CodeCell(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t' || r == '\u2028' || r == '\u2029':
			return ' '
		case unicode.IsControl(r):
			return -1
		}
		return r
	}, s)
	if s == "" {
		return ""
	}
	s = strings.ReplaceAll(s, "|", `\|`)
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
	// CommonMark strips one space from each side when both are present;
	// pad when the content starts or ends with a backtick or a space.
	if s[0] == '`' || s[len(s)-1] == '`' || s[0] == ' ' || s[len(s)-1] == ' ' {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

// cutRunes shortens s to at most n runes, marking a cut with "…".
func cutRunes(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i, count := 0, 0
	for i = range s {
		if count == n-1 {
			break
		}
		count++
	}
	return s[:i] + "…"
}
