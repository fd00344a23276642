package command

import (
	"fmt"
	"sort"
	"strings"
)

// usageFor is the synopsis of a verb in the form the caller accepts.
func usageFor(s Spec, opts Options) string {
	return inForm(s.Usage(), opts)
}

// inForm rewrites a short-form line into the long form when the short form is off.
func inForm(shortLine string, opts Options) string {
	if opts.ShortForm {
		return shortLine
	}
	return LongFormPrefix + " " + strings.TrimPrefix(shortLine, "/")
}

// usageList is the synopsis of every available verb, as a Markdown list.
func usageList(opts Options) string {
	var b strings.Builder
	b.WriteString("Commands available here:\n")
	for _, s := range specs {
		if opts.IsAvailable(s.Verb) {
			fmt.Fprintf(&b, "- %s\n", code(usageFor(s, opts)))
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// whoCanUse describes, in words, who may run a verb.
func whoCanUse(s Spec, rules Rules) string {
	switch s.Access {
	case AccessRead:
		return "anyone who can read the repository"
	case AccessWrite:
		return "**write** permission"
	case AccessDefault:
		return fmt.Sprintf("**%s** permission", rules.defaultPermission())
	default:
		w := fmt.Sprintf("**%s** permission", rules.defaultPermission())
		if len(rules.PerEnv) > 0 {
			return w + ", or the environment's own rule where it is stricter"
		}
		return w + " (an environment can ask for more)"
	}
}

func tableCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// HelpMarkdown is the reply to `/help`: every command with what it does and
// who can use it, in GitHub Markdown. It tells the truth about what exists:
// verbs that are not wired up are named as unavailable, not offered.
func HelpMarkdown(opts Options) string {
	var b strings.Builder
	b.WriteString("### hoist commands\n\n")
	if opts.ShortForm {
		fmt.Fprintf(&b, "Write each command on a line of its own in a comment on a pull request or an issue. "+
			"Every command also works as %s, e.g. %s.\n\n", code(LongFormPrefix+" <verb> …"), code(LongFormPrefix+" promote staging"))
	} else {
		fmt.Fprintf(&b, "Write each command on a line of its own in a comment on a pull request or an issue, starting with %s, e.g. %s.\n\n",
			code(LongFormPrefix), code(LongFormPrefix+" promote staging"))
	}
	b.WriteString("| Command | What it does | Who can use it |\n| --- | --- | --- |\n")
	var unavailable []string
	for _, s := range specs {
		if !opts.IsAvailable(s.Verb) {
			unavailable = append(unavailable, code(inForm("/"+string(s.Verb), opts)))
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", tableCell(code(usageFor(s, opts))), tableCell(s.Summary), tableCell(whoCanUse(s, opts.Rules)))
	}
	if len(unavailable) > 0 {
		fmt.Fprintf(&b, "\nNot available on this installation yet: %s.\n", strings.Join(unavailable, ", "))
	}
	if len(opts.Environments) > 0 {
		fmt.Fprintf(&b, "\nEnvironments: %s.\n", envList(opts))
	}
	if rules := envRules(opts); rules != "" {
		b.WriteString("\n" + rules)
	}
	fmt.Fprintf(&b, "\n%s explains one command in detail.\n", code(inForm("/help <verb>", opts)))
	return b.String()
}

// envRules lists the environments whose rules are stricter than the default.
func envRules(opts Options) string {
	if len(opts.Rules.PerEnv) == 0 {
		return ""
	}
	names := make([]string, 0, len(opts.Rules.PerEnv))
	for env := range opts.Rules.PerEnv {
		names = append(names, env)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("| Environment | Who can change it |\n| --- | --- |\n")
	for _, env := range names {
		req := opts.Rules.Require(Promote, env)
		who := fmt.Sprintf("**%s** permission", req.Permission)
		if len(req.Teams) > 0 {
			who += " and membership of " + teamList(req.Teams) + " (admins always)"
		}
		fmt.Fprintf(&b, "| %s | %s |\n", tableCell(code(env)), tableCell(who))
	}
	return b.String()
}

// VerbHelp is the reply to `/help <verb>`: the usage, what it does, who can
// use it, examples, and whether it is available here.
func VerbHelp(v Verb, opts Options) (string, error) {
	s, ok := Lookup(v)
	if !ok {
		msg := fmt.Sprintf("there is no command %s", code("/"+string(v)))
		if sugg := suggest(string(v), verbNames(), true); len(sugg) > 0 {
			msg += fmt.Sprintf("; did you mean %s?", code("/"+sugg[0]))
		}
		return "", fmt.Errorf("%s", msg)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "#### %s\n\n", code(usageFor(s, opts)))
	if !opts.IsAvailable(v) {
		b.WriteString("> [!NOTE]\n> This command is not available on this installation yet.\n\n")
	}
	fmt.Fprintf(&b, "%s\n\n", s.Details)
	fmt.Fprintf(&b, "**Who can use it:** %s.\n\n", whoCanUse(s, opts.Rules))
	b.WriteString("**Examples:**\n\n")
	for _, ex := range s.Examples {
		fmt.Fprintf(&b, "- %s\n", code(inForm(ex, opts)))
	}
	if opts.ShortForm {
		fmt.Fprintf(&b, "\nLong form: %s.\n", code(LongFormPrefix+" "+strings.TrimPrefix(s.Usage(), "/")))
	}
	return b.String(), nil
}

// ReferenceMarkdown is the full command reference: the overview followed by
// every verb's details. docs/commands.md holds it for the default options.
func ReferenceMarkdown(opts Options) string {
	var b strings.Builder
	b.WriteString(HelpMarkdown(opts))
	for _, s := range specs {
		text, _ := VerbHelp(s.Verb, opts)
		b.WriteString("\n" + text)
	}
	return b.String()
}
