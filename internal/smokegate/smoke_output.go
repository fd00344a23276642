package smokegate

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hoist-dev/hoist/internal/checks"
	"github.com/hoist-dev/hoist/internal/smoke"
)

// smokeView is what the hoist/smoke check run output says besides the
// report: which candidate for which environment, and where things are.
type smokeView struct {
	Env, SHA string
	// ArtifactBase is hoist's public URL; screenshots are served at
	// <ArtifactBase>/artifacts/<sha256>.png.
	ArtifactBase string
	// ArtifactURL, when set, makes a screenshot's URL instead (the server
	// signs them: screenshots are readable only through signed URLs).
	ArtifactURL func(sha256 string) string
	// ReportURL is the run's report page (details_url).
	ReportURL string
	// Baseline is the environment head the screenshots were compared with.
	Baseline string
	// VisualSkipped, when set, says why the screenshots were not compared
	// with Baseline after all.
	VisualSkipped string
	// PreviewLinks says whether /preview hands out temporary links.
	PreviewLinks bool
	// Live: the pages were checked on the environment's public URL after
	// a deploy (hoist/verify), not as a candidate.
	Live bool
}

// maxSmokeImages keeps the check run readable: failing pages first, then
// changed ones, then the home page.
const maxSmokeImages = 12

// smokeOutput renders a completed smoke report as the check run's output:
// the report's title, a summary table with one row per page and viewport
// (failures first, within GitHub's byte limit, the rest counted and linked),
// and screenshots of failing and changed pages plus the home page.
func smokeOutput(rep *smoke.Report, v smokeView) checks.Output {
	var intro strings.Builder
	if v.Live {
		fmt.Fprintf(&intro, "**%s** — the live site of `%s` in **%s** at %s, through the CDN, checked in headless Chromium in %s.\n\n",
			checks.Escape(rep.Title), shortSHA(v.SHA), checks.Escape(orDash(v.Env)), checks.Escape(v.ReportURL), msWords(rep.DurationMS))
		if rep.Conclusion == smoke.Failure {
			intro.WriteString("The deployment is marked failed; an environment with `verify.auto_rollback` goes back to its last verified deployment.\n\n")
		}
		goto table
	}
	fmt.Fprintf(&intro, "**%s** — candidate `%s` for **%s**, tested in headless Chromium in %s.\n\n",
		checks.Escape(rep.Title), shortSHA(v.SHA), checks.Escape(orDash(v.Env)), msWords(rep.DurationMS))
	switch {
	case v.Baseline != "" && v.VisualSkipped != "":
		fmt.Fprintf(&intro, "Screenshots **not compared** with `%s`, the current head of %s: %s.\n\n", shortSHA(v.Baseline), checks.Escape(v.Env), checks.Escape(v.VisualSkipped))
	case v.Baseline != "":
		fmt.Fprintf(&intro, "Screenshots compared with `%s`, the current head of %s.\n\n", shortSHA(v.Baseline), checks.Escape(v.Env))
	}
	fmt.Fprintf(&intro, "[Full report](%s) with every page and screenshot.\n\n", v.ReportURL)
	if rep.Conclusion == smoke.Failure {
		// What a person can do next, since the site itself stays private.
		fmt.Fprintf(&intro, "**%s** is not promoted to this commit. Fix the cause and push again, or press **Re-run**", checks.Escape(orDash(v.Env)))
		if v.PreviewLinks {
			fmt.Fprintf(&intro, "; `/preview %s` in a pull request comment gets a temporary link to the site when the screenshots are not enough", shortSHA(v.SHA))
		}
		intro.WriteString(".\n\n")
	}

table:
	pages := append([]smoke.PageResult(nil), rep.Pages...)
	rank := func(p smoke.PageResult) int {
		switch {
		case p.Conclusion == smoke.Failure:
			return 0
		case p.Conclusion == smoke.Neutral:
			return 1
		case changed(p):
			return 2
		}
		return 3
	}
	sort.SliceStable(pages, func(i, j int) bool { return rank(pages[i]) < rank(pages[j]) })

	tb := checks.NewTable(checks.MaxSummaryBytes-intro.Len(), v.ReportURL, "Page", "Viewport", "Result", "HTTP", "Load", "Problems", "Visual")
	for _, p := range pages {
		status := "—"
		if p.Status != 0 {
			status = fmt.Sprint(p.Status)
		}
		tb.AddRawRow(checks.CodeCell(p.Path), checks.Escape(p.Viewport), resultWord(p.Conclusion), status,
			fmt.Sprintf("%d ms", p.LoadMS), checks.Escape(problems(p)), checks.Escape(visualWord(p)))
	}
	out := checks.Output{Title: rep.Title, Summary: intro.String() + tb.String()}
	if v.ArtifactURL != nil {
		out.Images = smokeImagesAt(rep, v.ArtifactURL)
	} else {
		out.Images = smokeImages(rep, v.ArtifactBase)
	}
	return out
}

func changed(p smoke.PageResult) bool {
	return p.Visual != nil && p.Visual.Status == smoke.VisualChanged
}

func resultWord(c smoke.Conclusion) string {
	switch c {
	case smoke.Failure:
		return "❌ failure"
	case smoke.Neutral:
		return "⚠️ warning"
	}
	return "✅ ok"
}

// problems is the findings of a page on one line, the first few in full.
func problems(p smoke.PageResult) string {
	if len(p.Findings) == 0 {
		return ""
	}
	var parts []string
	for i, f := range p.Findings {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(p.Findings)-3))
			break
		}
		s := string(f.Kind) + ": " + f.Message
		if f.Resource != "" && !strings.Contains(f.Message, f.Resource) {
			s += " (" + f.Resource + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

func visualWord(p smoke.PageResult) string {
	if p.Visual == nil {
		return ""
	}
	switch p.Visual.Status {
	case smoke.VisualChanged:
		if p.Visual.Note != "" {
			return "changed: " + p.Visual.Note
		}
		return fmt.Sprintf("changed: %.2f%% of pixels", p.Visual.ChangedRatio*100)
	case smoke.VisualUnchanged, smoke.VisualIdentical:
		return "unchanged"
	case smoke.VisualNew:
		return "new"
	}
	return string(p.Visual.Status)
}

func msWords(ms int64) string {
	if ms < 1000 {
		return fmt.Sprintf("%d ms", ms)
	}
	return fmt.Sprintf("%.1f s", float64(ms)/1000)
}

// smokeImages picks the screenshots shown on the check run.
func smokeImages(rep *smoke.Report, base string) []checks.Image {
	return smokeImagesAt(rep, func(sha string) string { return base + "/artifacts/" + sha + ".png" })
}

// smokeImagesAt is smokeImages with each screenshot's URL made by at.
func smokeImagesAt(rep *smoke.Report, at func(sha256 string) string) []checks.Image {
	var out []checks.Image
	seen := map[string]bool{}
	add := func(p smoke.PageResult, sha, why string) {
		if sha == "" || seen[sha+p.Key()] || len(out) >= maxSmokeImages {
			return
		}
		seen[sha+p.Key()] = true
		out = append(out, checks.Image{Alt: "Screenshot of " + p.Path + " (" + p.Viewport + ")",
			ImageURL: at(sha), Caption: why})
	}
	shot := func(p smoke.PageResult) string {
		if p.Screenshot == nil {
			return ""
		}
		return p.Screenshot.SHA256
	}
	for _, p := range rep.Pages {
		if p.Conclusion == smoke.Failure {
			add(p, shot(p), p.Path+" ("+p.Viewport+"): "+cutRunes(problems(p), 200))
		}
	}
	for _, p := range rep.Pages {
		if changed(p) {
			add(p, shot(p), p.Path+" ("+p.Viewport+"): visual "+visualWord(p))
		}
	}
	for _, p := range rep.Pages {
		if p.Path == "/" {
			why := "home page (" + p.Viewport + "): " + string(p.Conclusion)
			if p.Conclusion == smoke.Failure {
				continue // shown above
			}
			add(p, shot(p), why)
			break
		}
	}
	return out
}

// smokeProgressOutput is the output while the run is in progress.
func smokeProgressOutput(sha, env string, done, total int, reportURL string) checks.Output {
	return checks.Output{
		Title: fmt.Sprintf("Testing pages: %d/%d", done, total),
		Summary: fmt.Sprintf("hoist is smoke-testing `%s` as a candidate for **%s** in headless Chromium: %d of %d pages done.\n\nThe [report](%s) appears when the run completes.",
			shortSHA(sha), checks.Escape(orDash(env)), done, total, reportURL),
	}
}

// smokeFailureOutput reports a run that could not happen at all.
func smokeFailureOutput(sha, env string, cause error) checks.Output {
	return checks.Output{
		Title: "Smoke test could not run",
		Summary: fmt.Sprintf("The smoke test of `%s` as a candidate for **%s** could not run:\n\n```\n%s\n```\n\nFix the cause and press **Re-run**, or push again.",
			shortSHA(sha), checks.Escape(orDash(env)), strings.ReplaceAll(cause.Error(), "```", "'''")),
	}
}

// cutRunes shortens s to at most n characters, marking a cut with "…".
func cutRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
