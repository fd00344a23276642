package deploy

import (
	"fmt"
	"strings"
	"time"
)

// summaryPaths is how many paths of each kind the summary lists; the rest
// are counted. It keeps the check run far below GitHub's 65,535 bytes.
const summaryPaths = 50

// Markdown renders the result for the summary of a `hoist/deploy` check run.
func (r *Result) Markdown() string {
	var b strings.Builder
	if n := len(r.SkippedLinks); n > 0 {
		// First, so that no truncation of a long change list hides it.
		fmt.Fprintf(&b, "**Skipped %d broken symbolic link(s)** (deploy.skip_broken_links):\n\n", n)
		for i, l := range r.SkippedLinks {
			if i == 20 {
				fmt.Fprintf(&b, "- and %d more\n", n-i)
				break
			}
			fmt.Fprintf(&b, "- `%s` → `%s` %s\n", mdCode(l.Path), mdCode(l.Link), l.Reason)
		}
		b.WriteString("\n")
	}
	where := r.Target
	if r.Prefix != "" {
		where += "/" + strings.TrimSuffix(r.Prefix, "/")
	}
	commit := short(r.Commit)
	switch {
	case r.SameTree:
		fmt.Fprintf(&b, "**%s** already serves this tree (`%s`): nothing written, nothing to purge.\n", r.Edition, short(r.Tree))
		return b.String()
	case !r.Changed():
		fmt.Fprintf(&b, "**%s** already serves the same files as `%s`: nothing written, nothing to purge.\n", r.Edition, commit)
		return b.String()
	}
	verb := "Deployed"
	if r.DryRun {
		verb = "Would deploy"
	}
	fmt.Fprintf(&b, "%s `%s` to **%s** (`%s`)", verb, commit, r.Edition, where)
	if r.PreviousCommit != "" {
		fmt.Fprintf(&b, ", previously `%s`", short(r.PreviousCommit))
	}
	b.WriteString(".\n\n")
	if r.NoManifest {
		b.WriteString("No manifest was found at the prefix: existing objects were compared by content.\n\n")
	}
	b.WriteString("| added | modified | deleted | unchanged | uploaded | copied | bytes | requests | time |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(&b, "| %d | %d | %d | %d | %d | %d | %s | %d | %s |\n\n",
		len(r.Changes.Added), len(r.Changes.Modified), len(r.Changes.Deleted), r.Unchanged,
		r.Uploaded, r.Copied, humanBytes(r.Bytes), r.Requests, r.Duration.Round(time.Millisecond))
	fmt.Fprintf(&b, "Edition surrogate key: `%s`\n", r.EditionKey)
	for _, group := range []struct {
		title string
		list  []Change
	}{{"Added", r.Changes.Added}, {"Modified", r.Changes.Modified}, {"Deleted", r.Changes.Deleted}} {
		if len(group.list) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n<details><summary>%s (%d)</summary>\n\n", group.title, len(group.list))
		for i, c := range group.list {
			if i == summaryPaths {
				fmt.Fprintf(&b, "- … and %d more\n", len(group.list)-summaryPaths)
				break
			}
			fmt.Fprintf(&b, "- `%s`\n", strings.ReplaceAll(c.Path, "`", "'"))
		}
		b.WriteString("\n</details>\n")
	}
	return b.String()
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// mdCode keeps a name inside a Markdown code span: backticks and line
// breaks cannot end it early.
func mdCode(s string) string {
	return strings.NewReplacer("`", "'", "\n", " ", "\r", " ").Replace(s)
}
