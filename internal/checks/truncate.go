package checks

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Truncate fits markdown into limit bytes of UTF-8, as GitHub measures the
// summary and text of a check run. Text that fits is returned unchanged
// (after replacing invalid UTF-8, which JSON encoding would otherwise
// expand). Longer text is cut
//   - on a rune boundary, never inside a multi-byte character;
//   - before a table row, never inside one, and never between a table's
//     header and its delimiter row;
//   - before an HTML tag left open on the cut line;
//
// an open code fence is closed, and a last line says what was left out and
// where the rest is: "… 4,812 more rows (391,204 bytes) truncated; [full
// report](detailsURL)". That line is counted in the limit; when it cannot
// fit, the link and then the line are dropped.
func Truncate(s string, limit int, detailsURL string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= limit {
		return s
	}
	if limit <= 0 {
		return ""
	}
	// Reserve room for the notice with the largest numbers it could hold.
	// The link goes when it would take more than half the room, the notice
	// when even without the link it does not fit.
	url := detailsURL
	maxRows := countRows(s)
	worst := truncationNotice(maxRows, len(s), url)
	if len(worst) > limit/2 {
		url = ""
		worst = truncationNotice(maxRows, len(s), url)
	}
	if len(worst) > limit {
		return s[:cutPoint(s, limit)]
	}
	budget := limit - len(worst)
	for {
		cut := cutPoint(s, budget)
		kept := s[:cut]
		if fence := openFence(kept); fence != "" {
			if !strings.HasSuffix(kept, "\n") {
				kept += "\n"
			}
			kept += fence + "\n"
		}
		omitted := s[cut:]
		out := kept + truncationNotice(countRows(omitted), len(omitted), url)
		if len(out) <= limit {
			return out
		}
		// The fence closing took more than the slack: give up that much.
		budget -= len(out) - limit
	}
}

// truncationNotice is the line that ends truncated text.
func truncationNotice(rows, bytes int, detailsURL string) string {
	var b strings.Builder
	b.WriteString("\n\n… ")
	if rows > 0 {
		b.WriteString(thousands(rows))
		if rows == 1 {
			b.WriteString(" more row (")
		} else {
			b.WriteString(" more rows (")
		}
		b.WriteString(thousands(bytes))
		b.WriteString(" bytes) truncated")
	} else {
		b.WriteString(thousands(bytes))
		b.WriteString(" more bytes truncated")
	}
	if detailsURL != "" {
		b.WriteString("; [full report](")
		b.WriteString(linkDestination(detailsURL))
		b.WriteString(")")
	}
	b.WriteString("\n")
	return b.String()
}

// linkDestination makes a URL safe as a markdown link destination.
func linkDestination(u string) string {
	u = strings.ToValidUTF8(u, "")
	return strings.NewReplacer(" ", "%20", "(", "%28", ")", "%29", "<", "%3C", ">", "%3E", "\n", "", "\r", "").Replace(u)
}

// thousands formats n with comma separators: 391,204.
func thousands(n int) string {
	s := strconv.Itoa(n)
	if len(s) <= 3 {
		return s
	}
	var b strings.Builder
	pre := len(s) % 3
	if pre > 0 {
		b.WriteString(s[:pre])
	}
	for i := pre; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

// runeStart backs i up to the start of the rune it falls in.
func runeStart(s string, i int) int {
	if i >= len(s) {
		return len(s)
	}
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return i
}

// cutPoint chooses where to cut s so that at most budget bytes are kept.
func cutPoint(s string, budget int) int {
	p := runeStart(s, max(budget, 0))
	lineStart := strings.LastIndexByte(s[:p], '\n') + 1
	if p > lineStart {
		lineEnd := strings.IndexByte(s[p:], '\n')
		if lineEnd < 0 {
			lineEnd = len(s)
		} else {
			lineEnd += p
		}
		line := s[lineStart:lineEnd]
		switch {
		case isTableLine(line), isFenceLine(line) != "":
			p = lineStart
		default:
			// Do not leave half an HTML tag (<img src="…) behind.
			part := s[lineStart:p]
			if lt := strings.LastIndexByte(part, '<'); lt > strings.LastIndexByte(part, '>') {
				p = lineStart + lt
			}
		}
	}
	// A table header without its delimiter row is not a table: drop both.
	if p == lineStart && lineStart > 0 {
		next, _, _ := strings.Cut(s[p:], "\n")
		if isDelimiterRow(next) {
			p = strings.LastIndexByte(s[:lineStart-1], '\n') + 1
		}
	}
	return p
}

func isTableLine(line string) bool {
	return strings.HasPrefix(strings.TrimLeft(line, " "), "|")
}

// isDelimiterRow reports a table's second line: | --- | :---: |.
func isDelimiterRow(line string) bool {
	t := strings.TrimSpace(line)
	return strings.HasPrefix(t, "|") && strings.Contains(t, "-") && strings.Trim(t, "|-: ") == ""
}

// countRows counts table body rows (not headers or delimiter rows) in s.
func countRows(s string) int {
	lines, delimiters := 0, 0
	for line := range strings.Lines(s) {
		switch {
		case isDelimiterRow(line):
			delimiters++
		case isTableLine(line):
			lines++
		}
	}
	return max(lines-delimiters, 0) // each delimiter row follows a header
}

// isFenceLine returns the fence of a code fence line (``` or ~~~, possibly
// longer, indented at most three spaces), or "".
func isFenceLine(line string) string {
	t := strings.TrimRight(line, "\r\n")
	indent := len(t) - len(strings.TrimLeft(t, " "))
	if indent > 3 {
		return ""
	}
	t = t[indent:]
	for _, c := range []byte{'`', '~'} {
		n := 0
		for n < len(t) && t[n] == c {
			n++
		}
		if n >= 3 {
			return t[:n]
		}
	}
	return ""
}

// openFence returns the fence that would close a code block left open at
// the end of s, or "".
func openFence(s string) string {
	open := ""
	for line := range strings.Lines(s) {
		f := isFenceLine(line)
		switch {
		case f == "":
		case open == "":
			open = f
		case f[0] == open[0] && len(f) >= len(open) && strings.TrimSpace(strings.TrimLeft(line, " ")[len(f):]) == "":
			open = ""
		}
	}
	return open
}
