package command

import (
	"fmt"
	"net/url"
	"strings"
)

// Outcome is the state of a command that a reply reports.
type Outcome int

const (
	// Accepted: parsed, authorized and queued.
	Accepted Outcome = iota + 1
	// Refused: not authorized, or not runnable as written.
	Refused
	// Failed: ran and did not succeed.
	Failed
	// Succeeded: ran and did what it said.
	Succeeded
)

func (o Outcome) String() string {
	switch o {
	case Accepted:
		return "accepted"
	case Refused:
		return "refused"
	case Failed:
		return "failed"
	case Succeeded:
		return "succeeded"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Reaction contents as the GitHub reactions API names them.
const (
	ReactionEyes     = "eyes"
	ReactionRocket   = "rocket"
	ReactionConfused = "confused"
)

// Reaction is the reaction hoist puts on the command's comment for o: 👀 when
// it takes a command, 🚀 when it succeeded, 😕 when it was refused or failed.
func (o Outcome) Reaction() string {
	switch o {
	case Accepted:
		return ReactionEyes
	case Succeeded:
		return ReactionRocket
	default:
		return ReactionConfused
	}
}

// Link is a link shown under a reply, such as the check run or the deployment.
type Link struct {
	Text string
	URL  string
}

// Reply is a reply to a command comment.
type Reply struct {
	Outcome Outcome
	Command Command
	// Actor is the login of who wrote the command.
	Actor string
	// Detail is hoist's own Markdown: the reason of a refusal (Decision.Reason),
	// the error of a failure, or what a success did. It is not escaped.
	Detail string
	// Links are listed under the reply; links that are not http(s) are dropped.
	Links []Link
}

// Markdown renders the reply as a GitHub comment.
func (r Reply) Markdown() string {
	cmd := code(r.Command.String())
	who := ""
	if r.Actor != "" {
		who = "@" + r.Actor + " "
	}
	var b strings.Builder
	switch r.Outcome {
	case Accepted:
		fmt.Fprintf(&b, "👀 %son it: %s.", who, cmd)
	case Refused:
		fmt.Fprintf(&b, "😕 %sI did not run %s.", who, cmd)
	case Failed:
		fmt.Fprintf(&b, "😕 %s%s failed.", who, cmd)
	case Succeeded:
		fmt.Fprintf(&b, "🚀 %s%s is done.", who, cmd)
	default:
		fmt.Fprintf(&b, "%s%s", who, cmd)
	}
	if d := strings.TrimSpace(r.Detail); d != "" {
		b.WriteString("\n\n" + d)
	}
	var links []string
	for _, l := range r.Links {
		if s := markdownLink(l); s != "" {
			links = append(links, s)
		}
	}
	if len(links) > 0 {
		b.WriteString("\n\n" + strings.Join(links, " · "))
	}
	b.WriteString("\n")
	return b.String()
}

// markdownLink renders l, or "" when its URL is not an absolute http(s) URL.
func markdownLink(l Link) string {
	u, err := url.Parse(l.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	text := strings.NewReplacer(`\`, `\\`, "[", `\[`, "]", `\]`, "\n", " ").Replace(l.Text)
	if text == "" {
		text = u.Host
	}
	// url.URL.String escapes spaces; parentheses are escaped so the link target ends where it should.
	target := strings.NewReplacer("(", "%28", ")", "%29").Replace(u.String())
	return "[" + text + "](" + target + ")"
}
