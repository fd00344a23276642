package checks

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// cells splits a GitHub table row into its cells the way GitHub does: on
// every pipe not preceded by a backslash, code spans included.
func cells(row string) []string {
	row = strings.TrimSpace(row)
	row = strings.TrimPrefix(row, "|")
	var out []string
	var cur strings.Builder
	for i := 0; i < len(row); i++ {
		switch {
		case row[i] == '\\' && i+1 < len(row):
			cur.WriteByte(row[i])
			cur.WriteByte(row[i+1])
			i++
		case row[i] == '|':
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(row[i])
		}
	}
	if rest := strings.TrimSpace(cur.String()); rest != "" {
		out = append(out, rest)
	}
	return out
}

// unescape undoes Escape for checking that no text is lost.
func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && strings.IndexByte(markdownPunct, s[i+1]) >= 0 {
			i++
		}
		b.WriteByte(s[i])
	}
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(b.String())
}

func TestEscape(t *testing.T) {
	cases := []struct{ in, want string }{
		{"Shop", "Shop"},
		{"a | b", `a \| b`},
		{"line one\nline two\r\nthree", "line one line two  three"},
		{"<script>alert(1)</script>", `&lt;script&gt;alert\(1\)&lt;/script&gt;`},
		{"<img src=x onerror=alert(1)>", `&lt;img src=x onerror=alert\(1\)&gt;`},
		{"`rm -rf /`", "\\`rm \\-rf /\\`"},
		{"**bold** _it_ ~~s~~", `\*\*bold\*\* \_it\_ \~\~s\~\~`},
		{"[click](javascript:alert(1))", `\[click\]\(javascript\:alert\(1\)\)`},
		{"# not a heading", `\# not a heading`},
		{"AT&T &amp;", "AT&amp;T &amp;amp;"},
		{`back\slash`, `back\\slash`},
		{"bell\x07 and nul\x00", "bell and nul"},
		{"bad \xff utf8", "bad \uFFFD utf8"},
		{"  padded\t", "padded"},
		{"Ünïcödé 商品 🛒", "Ünïcödé 商品 🛒"},
	}
	for _, c := range cases {
		if got := Escape(c.in); got != c.want {
			t.Errorf("Escape(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestCodeCell(t *testing.T) {
	cases := []struct{ in, want string }{
		{"public/index.html", "`public/index.html`"},
		{"a|b", "`a\\|b`"},
		{"it`s", "``it`s``"},
		{"`quoted`", "`` `quoted` ``"},
		{"two\nlines", "`two lines`"},
		{"```fence", "```` ```fence ````"},
		{" lead", "`  lead `"},
		{"", ""},
	}
	for _, c := range cases {
		if got := CodeCell(c.in); got != c.want {
			t.Errorf("CodeCell(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestTable(t *testing.T) {
	tb := NewTable(10_000, "https://hoist.example/runs/7", "Page", "Problem")
	nasty := []string{
		"a | b | c",
		"two\nlines",
		"<b>html</b>",
		"`code` and ``more``",
		"| leading pipe",
		`trailing backslash\`,
		"",
	}
	for _, s := range nasty {
		if !tb.AddRow(s, "err: "+s) {
			t.Fatalf("row %q did not fit", s)
		}
	}
	tb.AddRawRow(CodeCell("src/a|b.html"), "raw **markdown**", "surplus cell")
	tb.AddRawRow("only one")
	if tb.Rows() != len(nasty)+2 || tb.Omitted() != 0 {
		t.Errorf("rows %d omitted %d", tb.Rows(), tb.Omitted())
	}
	out := tb.String()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if lines[0] != "| Page | Problem |" || lines[1] != "| --- | --- |" {
		t.Errorf("header:\n%s", out)
	}
	if len(lines) != 2+len(nasty)+2 {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), 4+len(nasty), out)
	}
	for i, line := range lines {
		if got := cells(line); len(got) != 2 {
			t.Errorf("line %d %q has %d cells %q, want 2", i, line, len(got), got)
		}
	}
	for i, s := range nasty {
		c := cells(lines[2+i])
		want := strings.TrimSpace(strings.NewReplacer("\n", " ").Replace(s))
		if got := unescape(c[0]); got != want && !(want == "" && got == "") {
			t.Errorf("cell %q reads back as %q", s, got)
		}
	}
	if strings.Contains(out, "<b>") {
		t.Errorf("HTML passed through:\n%s", out)
	}
	if strings.Contains(out, "not shown") {
		t.Errorf("omission line without omissions:\n%s", out)
	}
}

func TestTableCellCap(t *testing.T) {
	tb := NewTable(10_000, "", "Error")
	tb.AddRow(strings.Repeat("x", 1000))
	tb.MaxCell = -1
	tb.AddRow(strings.Repeat("y", 1000))
	lines := strings.Split(tb.String(), "\n")
	if got := len(cells(lines[2])[0]); got != DefaultMaxCell-1+len("…") {
		t.Errorf("capped cell is %d bytes", got)
	}
	if got := len(cells(lines[3])[0]); got != 1000 {
		t.Errorf("uncapped cell is %d bytes", got)
	}
}

func TestTableBudget(t *testing.T) {
	const url = "https://hoist.example/runs/42"
	for _, budget := range []int{0, 10, 40, 60, 100, 250, 1000, 4096} {
		tb := NewTable(budget, url, "Page", "Status")
		for i := range 200 {
			tb.AddRow(fmt.Sprintf("/products/%d/", i), "HTTP 500")
		}
		out := tb.String()
		if len(out) > budget {
			t.Errorf("budget %d: %d bytes", budget, len(out))
		}
		if tb.Rows()+tb.Omitted() != 200 {
			t.Errorf("budget %d: %d shown + %d omitted != 200", budget, tb.Rows(), tb.Omitted())
		}
		if tb.Omitted() > 0 && budget >= 100 {
			want := fmt.Sprintf("… %d more rows not shown", tb.Omitted())
			if !strings.Contains(out, want) {
				t.Errorf("budget %d: no %q in\n%s", budget, want, out)
			}
			if budget >= 250 && !strings.Contains(out, "[full report]("+url+")") {
				t.Errorf("budget %d: no link in\n%s", budget, out)
			}
			if !strings.Contains(out, "|\n\n…") {
				t.Errorf("budget %d: omission line not separated from the table by a blank line:\n%s", budget, out)
			}
		}
		// Shown rows are a prefix, in order.
		for i := range tb.Rows() {
			if !strings.Contains(out, fmt.Sprintf("/products/%d/", i)) {
				t.Errorf("budget %d: row %d missing", budget, i)
			}
		}
	}
	// Once a row does not fit, a smaller later one is not squeezed in.
	tb := NewTable(200, "", "Page")
	tb.AddRow(strings.Repeat("a", 60))
	tb.AddRow(strings.Repeat("b", 150))
	if tb.AddRow("c") {
		t.Error("a later row was added after one was omitted")
	}
	if tb.Rows() != 1 || tb.Omitted() != 2 {
		t.Errorf("rows %d omitted %d", tb.Rows(), tb.Omitted())
	}
}

// A smoke run over 5,000 pages with long titles, URLs and messages still
// fits in one check run summary, and says how much is missing.
func TestSmokeReportOf5000PagesFits(t *testing.T) {
	const url = "https://hoist.example/runs/9001/report"
	intro := "## Smoke test: 5,000 pages, 5,000 failed\n\nCandidate `pre-staging` at 0123456789abcdef.\n\n"
	tb := NewTable(MaxSummaryBytes-len(intro), url, "Page", "Viewport", "Title", "Problem")
	for i := range 5000 {
		tb.AddRawRow(
			CodeCell(fmt.Sprintf("/catégorie/produits|spéciaux/%05d/index.html", i)),
			"mobile",
			Escape(fmt.Sprintf("Produit n°%d — <Édition> | limitée 🛒", i)),
			Escape(strings.Repeat("TypeError: cannot read properties of undefined (reading 'price') ", 3)),
		)
	}
	summary := intro + tb.String()
	if len(summary) > MaxSummaryBytes {
		t.Fatalf("summary is %d bytes, over %d", len(summary), MaxSummaryBytes)
	}
	if !utf8.ValidString(summary) {
		t.Fatal("summary is not valid UTF-8")
	}
	if tb.Rows() < 100 || tb.Rows()+tb.Omitted() != 5000 {
		t.Errorf("%d rows shown, %d omitted", tb.Rows(), tb.Omitted())
	}
	want := fmt.Sprintf("… %s more rows not shown; [full report](%s)", thousands(tb.Omitted()), url)
	if !strings.Contains(summary, want) {
		t.Errorf("missing %q", want)
	}
	// The budget is used: less than one row's worth is left.
	if MaxSummaryBytes-len(summary) > 400 {
		t.Errorf("%d bytes of budget unused", MaxSummaryBytes-len(summary))
	}
	// Going through Fit leaves it untouched: it already fits.
	if got := (Output{Title: "Smoke", Summary: summary}).Fit(url).Summary; got != summary {
		t.Error("Fit changed a summary that fits")
	}
	t.Logf("%d rows shown, %d omitted, %d bytes", tb.Rows(), tb.Omitted(), len(summary))
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 65535: "65,535", 1234567: "1,234,567"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
