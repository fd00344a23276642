package checks

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkTruncate cuts a 1 MB report of table rows to one summary.
func BenchmarkTruncate(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("| Page | Problem |\n| --- | --- |\n")
	for i := 0; sb.Len() < 1<<20; i++ {
		fmt.Fprintf(&sb, "| /produits/%d/ | console error: TypeError — prix indéfini |\n", i)
	}
	s := sb.String()
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if out := Truncate(s, MaxSummaryBytes, "https://hoist.example/r/1"); len(out) > MaxSummaryBytes {
			b.Fatal(len(out))
		}
	}
}

// BenchmarkTable5000 builds the summary table of a 5,000-page smoke run.
func BenchmarkTable5000(b *testing.B) {
	rows := make([][2]string, 5000)
	for i := range rows {
		rows[i] = [2]string{fmt.Sprintf("/catégorie/%05d/index.html", i), "TypeError: cannot read properties of undefined (reading 'price') | <b>"}
	}
	for b.Loop() {
		tb := NewTable(MaxSummaryBytes, "https://hoist.example/r/1", "Page", "Problem")
		for _, r := range rows {
			tb.AddRawRow(CodeCell(r[0]), Escape(r[1]))
		}
		_ = tb.String()
	}
}
