package checks

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

const detailsURL = "https://hoist.example/runs/7/report"

func checkTruncated(t *testing.T, out string, limit int) {
	t.Helper()
	if len(out) > limit {
		t.Fatalf("%d bytes, over the limit %d", len(out), limit)
	}
	if !utf8.ValidString(out) {
		t.Fatalf("not valid UTF-8: %q", out)
	}
}

func TestTruncateFits(t *testing.T) {
	s := "## All good\n\n| a | b |\n| --- | --- |\n| 1 | 2 |\n"
	if got := Truncate(s, len(s), detailsURL); got != s {
		t.Errorf("text that fits changed: %q", got)
	}
	if got := Truncate("bad \xff", 100, ""); got != "bad \uFFFD" {
		t.Errorf("invalid UTF-8 kept: %q", got)
	}
	// Replacing invalid UTF-8 grows the text (1 byte → 3): it is measured after.
	bad := strings.Repeat("\xff", 40)
	checkTruncated(t, Truncate(bad, 60, ""), 60)
}

func TestTruncateProse(t *testing.T) {
	s := strings.Repeat("Prüfung fehlgeschlagen 🛒 ", 5000) // multi-byte runes throughout
	out := Truncate(s, MaxSummaryBytes, detailsURL)
	checkTruncated(t, out, MaxSummaryBytes)
	kept, notice, ok := strings.Cut(out, "\n\n… ")
	if !ok {
		t.Fatalf("no notice at the end: %q", out[len(out)-200:])
	}
	omitted := len(s) - len(kept)
	want := fmt.Sprintf("%s more bytes truncated; [full report](%s)\n", thousands(omitted), detailsURL)
	if notice != want {
		t.Errorf("notice %q, want %q", notice, want)
	}
	if !strings.HasPrefix(s, kept) {
		t.Error("kept text is not a prefix of the input")
	}
	if MaxSummaryBytes-len(out) > 10 {
		t.Errorf("%d bytes wasted", MaxSummaryBytes-len(out))
	}
}

func TestTruncateTableRows(t *testing.T) {
	var b strings.Builder
	b.WriteString("## Pages\n\n| Page | Status |\n| --- | --- |\n")
	const total = 3000
	for i := range total {
		fmt.Fprintf(&b, "| /ça/%d/ | %s |\n", i, strings.Repeat("✗", i%7+1))
	}
	b.WriteString("\nDone.\n")
	s := b.String()
	for _, limit := range []int{200, 1000, 4097, 30000, MaxTextBytes} {
		out := Truncate(s, limit, detailsURL)
		checkTruncated(t, out, limit)
		body, notice, ok := strings.Cut(out, "\n\n… ")
		if !ok {
			t.Fatalf("limit %d: no notice", limit)
		}
		shown := 0
		for _, line := range strings.Split(strings.TrimSuffix(body, "\n"), "\n")[2:] {
			if !strings.HasPrefix(line, "|") {
				t.Fatalf("limit %d: unexpected line %q", limit, line)
			}
			if n := len(cells(line)); n != 2 || !strings.HasSuffix(line, " |") {
				t.Fatalf("limit %d: row cut in half: %q", limit, line)
			}
			if !isDelimiterRow(line) && line != "| Page | Status |" {
				shown++
			}
		}
		want := fmt.Sprintf("%s more rows (", thousands(total-shown))
		if !strings.HasPrefix(notice, want) {
			t.Errorf("limit %d: %d rows shown, notice %q, want prefix %q", limit, shown, notice, want)
		}
	}
}

func TestTruncateKeepsHeaderWithDelimiter(t *testing.T) {
	s := "intro\n| Page | Status |\n| --- | --- |\n" + strings.Repeat("| /x/ | 500 |\n", 100)
	sawCut := false
	for limit := 20; limit < 150; limit++ {
		out := Truncate(s, limit, "")
		checkTruncated(t, out, limit)
		header := strings.Contains(out, "| Page | Status |\n")
		if header && !strings.Contains(out, "| Page | Status |\n| --- | --- |\n") {
			t.Fatalf("limit %d: header kept without its delimiter row: %q", limit, out)
		}
		if !header && strings.HasPrefix(out, "intro\n\n… 100 more rows") {
			sawCut = true
		}
	}
	if !sawCut {
		t.Error("no limit cut between intro and table")
	}
}

func TestTruncateClosesCodeFence(t *testing.T) {
	s := "Console:\n\n````text\n" + strings.Repeat("Uncaught TypeError at https://shop.test/app.js:1:2\n", 200) + "````\n\nend\n"
	out := Truncate(s, 2000, detailsURL)
	checkTruncated(t, out, 2000)
	body, _, _ := strings.Cut(out, "\n\n… ")
	if !strings.HasSuffix(body, "\n````\n") && !strings.HasSuffix(body, "\n````") {
		t.Errorf("fence left open: %q", body[len(body)-80:])
	}
	if openFence(body) != "" {
		t.Error("openFence still sees an open fence")
	}
	// A closed block is not closed again.
	s2 := "```\nshort\n```\n" + strings.Repeat("word ", 1000)
	out2 := Truncate(s2, 500, "")
	if strings.Count(out2, "```") != 2 {
		t.Errorf("closed fence changed: %q", out2)
	}
}

func TestTruncateHTMLTag(t *testing.T) {
	s := "<details><summary>Logs</summary>\n\n" + strings.Repeat("x", 30) + `<img src="https://hoist.example/a.png" alt="very long alt text here">` + strings.Repeat("y", 5000)
	for limit := 100; limit < 200; limit++ {
		out := Truncate(s, limit, "")
		body, _, _ := strings.Cut(out, "\n\n… ")
		if strings.LastIndex(body, "<") > strings.LastIndex(body, ">") {
			t.Fatalf("limit %d: half a tag kept: %q", limit, body)
		}
	}
}

func TestTruncateSmallLimits(t *testing.T) {
	s := strings.Repeat("abcdé", 100)
	for limit := 0; limit < 120; limit++ {
		out := Truncate(s, limit, detailsURL)
		checkTruncated(t, out, limit)
		if limit >= 80 && !strings.Contains(out, "more bytes truncated") {
			t.Errorf("limit %d: notice dropped: %q", limit, out)
		}
	}
	if out := Truncate(s, 10, detailsURL); out != "abcdéabc" && out != "abcdéabcd" {
		t.Errorf("tiny limit: %q", out)
	}
}

func TestTruncateLinkDestination(t *testing.T) {
	out := Truncate(strings.Repeat("z", 500), 300, "https://hoist.example/r (1)/<x>")
	if !strings.Contains(out, "[full report](https://hoist.example/r%20%281%29/%3Cx%3E)") {
		t.Errorf("link not made safe: %q", out)
	}
}

func FuzzTruncate(f *testing.F) {
	f.Add("| a | b |\n| --- | --- |\n| 1 | 2 |\n| 3 | 4 |\n", 30, detailsURL)
	f.Add("```go\nfunc main() {}\n", 20, "")
	f.Add("héllo wörld 🛒🛒🛒 <img src=x>", 17, "u")
	f.Add("\xff\xfe\xfd", 4, "")
	f.Add(strings.Repeat("| /p/ | 500 |\n", 50), 120, detailsURL)
	f.Fuzz(func(t *testing.T, s string, limit int, url string) {
		if limit < 0 {
			limit = -limit
		}
		limit %= 4 * (len(s) + 1)
		out := Truncate(s, limit, url)
		if len(out) > limit {
			t.Fatalf("Truncate(%q, %d) = %d bytes", s, limit, len(out))
		}
		if !utf8.ValidString(out) {
			t.Fatalf("Truncate(%q, %d) is not valid UTF-8: %q", s, limit, out)
		}
		valid := strings.ToValidUTF8(s, "\uFFFD")
		if len(valid) <= limit && out != valid {
			t.Fatalf("Truncate(%q, %d) changed text that fits: %q", s, limit, out)
		}
	})
}

func FuzzTable(f *testing.F) {
	f.Add("a|b", "c\nd", 200)
	f.Add("`x`", "<b>", 60)
	f.Add("\\", "|", 1000)
	f.Fuzz(func(t *testing.T, a, b string, budget int) {
		if budget < 0 {
			budget = -budget
		}
		budget %= 5000
		tb := NewTable(budget, detailsURL, "A", "B")
		for range 20 {
			tb.AddRow(a, b)
		}
		out := tb.String()
		if len(out) > budget || !utf8.ValidString(out) {
			t.Fatalf("budget %d: %d bytes, valid %v", budget, len(out), utf8.ValidString(out))
		}
		for line := range strings.Lines(out) {
			if strings.HasPrefix(line, "|") && len(cells(line)) != 2 {
				t.Fatalf("row %q has %d cells", line, len(cells(line)))
			}
		}
		if tb.Rows()+tb.Omitted() != 20 {
			t.Fatalf("%d + %d rows", tb.Rows(), tb.Omitted())
		}
	})
}
