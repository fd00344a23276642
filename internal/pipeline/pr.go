package pipeline

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// MaxPullRequestBody is GitHub's limit on a pull request body, in characters.
const MaxPullRequestBody = 65536

// markerFormat is the hidden comment by which hoist finds its own
// promotion pull request among the open ones.
const markerFormat = "<!-- hoist:promotion env=%s source=%s -->"

var markerRE = regexp.MustCompile(`<!-- hoist:promotion env=([A-Za-z0-9._-]+) source=([^ ]+) -->`)

// PromotionMarker returns the hidden marker of the promotion pull request
// into env from source.
func PromotionMarker(env, source string) string {
	return fmt.Sprintf(markerFormat, env, source)
}

// ParsePromotionMarker finds the marker in a pull request body. Untrusted
// text in a body hoist wrote is escaped, so only hoist's own marker can be
// found; the caller still checks that the pull request is hoist's.
func ParsePromotionMarker(body string) (env, source string, ok bool) {
	m := markerRE.FindStringSubmatch(body)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

// PullRequestTitle is the title of the promotion pull request, such as
// "Promote dev → staging". The source is the source environment's name
// when it is one, else the branch.
func (p *Pipeline) PullRequestTitle(t Target) string {
	return fmt.Sprintf("Promote %s → %s", p.sourceName(t), t.Env)
}

func (p *Pipeline) sourceName(t Target) string {
	if t.Route == RoutePromote {
		if env, ok := p.EnvOfBranch(t.Source); ok {
			return env.Name
		}
	}
	return t.Source
}

// RenderPullRequest writes the title and markdown body of the promotion
// pull request for a decision: the state in one line, the commits it
// brings (short SHA, subject, author), a table of the gates, the holds and
// how to promote. Commit subjects, authors and hold reasons are untrusted:
// they are escaped so that they cannot format the page, mention people or
// forge the marker. The body stays within GitHub's limit by listing fewer
// commits.
func (p *Pipeline) RenderPullRequest(d Decision, f Facts) (title, body string) {
	title = p.PullRequestTitle(d.Target)
	limit := 250
	for {
		body = p.renderBody(d, f, limit)
		if utf8.RuneCountInString(body) <= MaxPullRequestBody {
			return title, body
		}
		if limit == 0 {
			// Every untrusted field is cut already; this is a last guard.
			const note = "\n\n… (cut to GitHub's size limit)\n"
			return title, string([]rune(body)[:MaxPullRequestBody-utf8.RuneCountInString(note)]) + note
		}
		limit /= 2
	}
}

func (p *Pipeline) renderBody(d Decision, f Facts, maxCommits int) string {
	var b strings.Builder
	t := d.Target
	env, _ := p.Env(t.Env)
	b.WriteString(PromotionMarker(t.Env, t.Source))
	b.WriteString("\n")
	fmt.Fprintf(&b, "%s\n\n", stateLine(d, env))

	n := len(f.Commits)
	switch n {
	case 0:
		b.WriteString("No commits to promote.\n")
	default:
		s := "s"
		if n == 1 {
			s = ""
		}
		fmt.Fprintf(&b, "### %d commit%s from %s\n\n", n, s, escapeText(t.Source))
		b.WriteString("| Commit | Subject | Author |\n| --- | --- | --- |\n")
		for i, c := range f.Commits {
			if i == maxCommits {
				fmt.Fprintf(&b, "| … | and %d more | |\n", n-maxCommits)
				break
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", hexOnly(short(c.SHA)), escapeText(truncateRunes(c.Subject, 120)), escapeText(truncateRunes(c.Author, 60)))
		}
	}

	if len(d.Gates) > 0 {
		b.WriteString("\n### Gates\n\n| Gate | State | Detail |\n| --- | --- | --- |\n")
		for _, g := range d.Gates {
			name := escapeText(gateLabel(g))
			if g.URL != "" && safeURL(g.URL) {
				name = fmt.Sprintf("[%s](%s)", name, g.URL)
			}
			fmt.Fprintf(&b, "| %s | %s | %s |\n", name, stateWords[g.State], escapeText(truncateRunes(g.Detail, 300)))
		}
	} else if d.Outcome != OutcomeUpToDate {
		b.WriteString("\nThis environment has no gates: every commit goes through.\n")
	}

	if len(d.Holds) > 0 {
		b.WriteString("\n### Holds\n\n")
		for _, h := range d.Holds {
			fmt.Fprintf(&b, "- 🛑 held by %s since %s", escapeText(truncateRunes(orSomeone(h.By), 60)), formatTime(h.Since))
			if h.Until != nil {
				fmt.Fprintf(&b, " until %s", formatTime(*h.Until))
			}
			if h.Reason != "" {
				fmt.Fprintf(&b, ": %s", escapeText(truncateRunes(h.Reason, 500)))
			}
			b.WriteString("\n")
		}
	}
	if len(d.Blocking) > 0 {
		fmt.Fprintf(&b, "\n### %s has commits that %s lacks\n\n", escapeText(env.Branch), escapeText(t.Source))
		for i, c := range d.Blocking {
			if i == 20 {
				fmt.Fprintf(&b, "- and %d more\n", len(d.Blocking)-20)
				break
			}
			fmt.Fprintf(&b, "- `%s` %s (%s)\n", hexOnly(short(c.SHA)), escapeText(truncateRunes(c.Subject, 120)), escapeText(truncateRunes(c.Author, 60)))
		}
		fmt.Fprintf(&b, "\nMerge `%s` into `%s` (or revert those commits on `%s`); hoist never force-pushes.\n", env.Branch, t.Source, env.Branch)
	}

	fmt.Fprintf(&b, "\n---\nComment `%s` to promote (needs **%s** permission", p.PromoteCommand(t.Env), env.Permission)
	if len(env.Teams) > 0 {
		b.WriteString(" and membership of " + escapeText(strings.Join(env.Teams, " or ")))
	}
	b.WriteString("); the gates apply to every promotion. Edits to this description are overwritten.\n")
	return b.String()
}

var stateWords = map[GateState]string{
	GatePassed:  "✅ passed",
	GatePending: "⏳ pending",
	GateFailed:  "❌ failed",
}

func stateLine(d Decision, env Environment) string {
	sha := "`" + hexOnly(short(d.SHA)) + "`"
	switch d.Outcome {
	case OutcomePromote:
		return fmt.Sprintf("🚀 **Promoting** %s to %s.", sha, escapeText(env.Name))
	case OutcomeReady:
		if d.BudgetPullRequest() && len(d.Reasons) > 0 {
			return fmt.Sprintf("✋ **Ready for a person**: every gate passes for %s, but %s", sha, escapeText(lowerFirst(d.Reasons[0])))
		}
		return fmt.Sprintf("✅ **Ready**: every gate passes for %s; a person promotes %s.", sha, escapeText(env.Name))
	case OutcomeWait:
		s := fmt.Sprintf("⏳ **Waiting** for %d gate(s) on %s.", len(d.Pending), sha)
		if !d.WaitUntil.IsZero() {
			s += " Next check at " + formatTime(d.WaitUntil) + "."
		}
		return s
	case OutcomeRefuse:
		var reasons []string
		for _, r := range d.Reasons {
			reasons = append(reasons, escapeText(r))
		}
		return fmt.Sprintf("❌ **Not promotable**: %s", strings.Join(reasons, " "))
	case OutcomeUpToDate:
		return fmt.Sprintf("✔️ **Up to date**: %s already contains %s.", escapeText(env.Branch), sha)
	}
	return ""
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "an unknown time"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// markdownPunct are ASCII characters that can start or end markdown
// syntax; a backslash before ASCII punctuation is always literal.
const markdownPunct = "\\`*_{}[]()#+-.!|~:"

// escapeText renders untrusted text as literal inline markdown on one line.
// It is written here rather than shared with the check run renderer because
// a pull request body also needs mentions neutralised (a commit subject
// "@org/everyone" must not notify anyone) and the core imports no adapter
// code.
func escapeText(s string) string {
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
		case r == '@':
			// A zero-width space after @ keeps the text and drops the mention.
			b.WriteString("@\u200b")
		case r == '\n' || r == '\r' || r == '\t' || r == '\u2028' || r == '\u2029':
			b.WriteByte(' ')
		case unicode.IsControl(r):
		case r < utf8.RuneSelf && strings.ContainsRune(markdownPunct, r):
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return strings.TrimSpace(b.String())
}

// hexOnly keeps a SHA's hex digits, so that it is safe inside a code span.
func hexOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if (r >= '0' && r <= '9') || (r >= 'a' && r <= 'f') || (r >= 'A' && r <= 'F') {
			return r
		}
		return -1
	}, s)
}

// safeURL accepts only plain https links for gate results.
func safeURL(u string) bool {
	return strings.HasPrefix(u, "https://") && !strings.ContainsAny(u, " ()<>\"'\n\r\t[]")
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// lowerFirst lowers the first letter of a sentence that continues another.
func lowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return s
	}
	return string(unicode.ToLower(r)) + s[n:]
}
