package checks

import (
	"strings"
)

// DefaultMaxCell caps a table cell, in runes of the raw text, so that one
// long error message cannot take the room of a hundred rows.
const DefaultMaxCell = 300

// Table builds a GitHub-flavoured markdown table within a byte budget. Rows
// are added in order until the next one would not fit; from then on rows
// are only counted, and the table ends with a line saying how many were
// left out and linking to the full report. That line is counted in the
// budget from the start, so String never exceeds it.
//
// Cells are untrusted text, escaped with Escape; use AddRawRow for cells
// already rendered as markdown (CodeCell, links built from trusted parts).
type Table struct {
	// MaxCell caps each cell's raw text, in runes, before escaping (cut
	// with "…"); 0 means DefaultMaxCell, negative means no cap.
	MaxCell int

	budget     int
	detailsURL string
	b          strings.Builder
	columns    int
	rows       int
	omitted    int
	reserve    int
	full       bool
}

// NewTable starts a table of the given columns that will render in at most
// budget bytes, including the omission line pointing at detailsURL (which
// may be empty). If even the header does not fit, the table stays empty and
// every row is counted as omitted.
func NewTable(budget int, detailsURL string, columns ...string) *Table {
	t := &Table{budget: budget, detailsURL: detailsURL, columns: len(columns)}
	// The omission line, with room for any row count a table can have.
	t.reserve = len(omissionLine(1<<40, detailsURL))
	if t.reserve > budget/2 {
		t.detailsURL = ""
		t.reserve = len(omissionLine(1<<40, ""))
	}
	var head strings.Builder
	cells := make([]string, len(columns))
	for i, c := range columns {
		cells[i] = Escape(c)
	}
	writeRow(&head, cells)
	head.WriteString("|")
	for range columns {
		head.WriteString(" --- |")
	}
	head.WriteString("\n")
	if head.Len()+t.reserve > budget {
		t.full = true
		return t
	}
	t.b.WriteString(head.String())
	return t
}

// omissionLine follows a table whose last rows did not fit. The blank line
// before it ends the table: a text line right after a row would become a row.
func omissionLine(omitted int, detailsURL string) string {
	var b strings.Builder
	b.WriteString("\n… ")
	b.WriteString(thousands(omitted))
	if omitted == 1 {
		b.WriteString(" more row not shown")
	} else {
		b.WriteString(" more rows not shown")
	}
	if detailsURL != "" {
		b.WriteString("; [full report](")
		b.WriteString(linkDestination(detailsURL))
		b.WriteString(")")
	}
	b.WriteString("\n")
	return b.String()
}

var lineBreaks = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")

func writeRow(b *strings.Builder, cells []string) {
	b.WriteString("|")
	for _, c := range cells {
		b.WriteString(" ")
		if c == "" {
			c = " " // keeps "|  |" from reading as a delimiter
		}
		b.WriteString(c)
		b.WriteString(" |")
	}
	b.WriteString("\n")
}

// AddRow escapes untrusted cells and adds them as a row. It reports whether
// the row fitted; once one does not, no later row is added either, so the
// table always shows a prefix of the rows in order.
func (t *Table) AddRow(cells ...string) bool {
	if t.full {
		t.omitted++
		return false
	}
	limit := t.MaxCell
	if limit == 0 {
		limit = DefaultMaxCell
	}
	esc := make([]string, len(cells))
	for i, c := range cells {
		if limit > 0 {
			c = cutRunes(c, limit)
		}
		esc[i] = Escape(c)
	}
	return t.AddRawRow(esc...)
}

// AddRawRow adds cells that are already markdown, as they are. Missing
// cells are left empty and surplus cells are dropped, so the row always has
// the table's columns. A line break in a raw cell is replaced by a space.
func (t *Table) AddRawRow(cells ...string) bool {
	if t.full {
		t.omitted++
		return false
	}
	row := make([]string, t.columns)
	for i := range row {
		if i < len(cells) {
			row[i] = lineBreaks.Replace(cells[i])
		}
	}
	var b strings.Builder
	writeRow(&b, row)
	if t.b.Len()+b.Len()+t.reserve > t.budget {
		t.full = true
		t.omitted++
		return false
	}
	t.b.WriteString(b.String())
	t.rows++
	return true
}

// Rows is the number of rows shown.
func (t *Table) Rows() int { return t.rows }

// Omitted is the number of rows that did not fit.
func (t *Table) Omitted() int { return t.omitted }

// String renders the table, followed by the omission line when rows were
// left out. It is at most the budget given to NewTable (or empty when even
// the header did not fit and nothing was omitted).
func (t *Table) String() string {
	s := t.b.String()
	if t.omitted > 0 {
		line := omissionLine(t.omitted, t.detailsURL)
		if len(s)+len(line) <= t.budget {
			s += line
		}
	}
	return s
}
