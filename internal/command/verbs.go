// Package command is hoist's slash-command core: the comment grammar, the
// help text generated from each verb's declared metadata, the authorization
// rules and the reply texts. It is pure: plain Go over plain data, no network.
package command

// Verb names one slash-command, always lower case and without the slash.
type Verb string

// The verbs hoist understands.
const (
	Promote  Verb = "promote"
	Rollback Verb = "rollback"
	Hold     Verb = "hold"
	Unhold   Verb = "unhold"
	Deploy   Verb = "deploy"
	Smoke    Verb = "smoke"
	Purge    Verb = "purge"
	Preview  Verb = "preview"
	Upgrade  Verb = "upgrade"
	Status   Verb = "status"
	Help     Verb = "help"
)

// LongFormPrefix starts the long form of every command: `/hoist promote staging`.
// It always works, even when the short form is turned off.
const LongFormPrefix = "/hoist"

// Access says which permission rule a verb is subject to.
type Access int

const (
	// AccessRead: anyone who can read the repository.
	AccessRead Access = iota
	// AccessWrite: at least write, whatever the rules say (the private preview).
	AccessWrite
	// AccessDefault: the repository's default command permission (write unless configured).
	AccessDefault
	// AccessEnvironment: the stricter of the default and the environment's own rule,
	// including the environment's teams.
	AccessEnvironment
)

// Spec is what a verb declares about itself. Help, the documentation and the
// authorization rules are all derived from it, so they cannot drift apart.
type Spec struct {
	Verb Verb
	// Args is the argument synopsis, e.g. "<env> [<sha>]".
	Args string
	// Summary is one line for the command table.
	Summary string
	// Details is a longer explanation for `/help <verb>`.
	Details string
	// Access is the permission rule the verb is subject to.
	Access Access
	// Examples are complete command lines in short form.
	Examples []string
	// parse reads the arguments after the verb into cmd.
	parse func(p *argParser, cmd *Command) error
}

// Usage is the short-form synopsis, e.g. "/promote <env> [<sha>]".
func (s Spec) Usage() string {
	if s.Args == "" {
		return "/" + string(s.Verb)
	}
	return "/" + string(s.Verb) + " " + s.Args
}

// specs lists the verbs in the order help shows them. It is filled in init
// because the argument parsers look verbs up in it.
var specs []Spec

func init() {
	specs = []Spec{
		{
			Verb:    Promote,
			Args:    "<env> [<sha>]",
			Summary: "Promote the environment's source to `<env>` by fast-forward.",
			Details: "Fast-forwards the branch of `<env>` to the head of the environment it is promoted from " +
				"(or to `<sha>`, which must be a descendant of the current head), after the gates pass. " +
				"Never a force-push: if the branch moved meanwhile, hoist re-plans.",
			Access:   AccessEnvironment,
			Examples: []string{"/promote staging", "/promote production 3f9c2e1"},
			parse:    parsePromote,
		},
		{
			Verb:    Rollback,
			Args:    "<env> [<sha>|previous]",
			Summary: "Point `<env>` back to an earlier deployed commit.",
			Details: "Moves the branch of `<env>` back to an earlier commit of its own history and deploys it: " +
				"the previously deployed one when no argument or `previous` is given, otherwise `<sha>`, which must " +
				"be an ancestor of the branch's head. This is the one move that is not a fast-forward, so it is checked " +
				"and audited; `<env>` is also held so that automatic promotion does not undo the rollback " +
				"(`/unhold <env>` resumes it).",
			Access:   AccessEnvironment,
			Examples: []string{"/rollback production", "/rollback staging 3f9c2e1"},
			parse:    parseRollback,
		},
		{
			Verb:    Hold,
			Args:    "<env> [for <duration>] [<reason>…]",
			Summary: "Stop promotions into `<env>`.",
			Details: "Holds `<env>`: nothing is promoted into it, automatically or by `/promote`, until `/unhold` " +
				"or until the hold expires; `/rollback` and `/deploy` still work. `<duration>` is a Go duration with an optional leading number of days, such as " +
				"`30m`, `2h`, `3d` or `1d12h` (1 minute to 365 days). The reason is shown wherever the hold is.",
			Access:   AccessEnvironment,
			Examples: []string{"/hold production", "/hold production for 2h release freeze", "/hold staging for 3d"},
			parse:    parseHold,
		},
		{
			Verb:     Unhold,
			Args:     "<env>",
			Summary:  "Release a hold on `<env>`.",
			Details:  "Removes the hold on `<env>`; pending promotions are evaluated again.",
			Access:   AccessEnvironment,
			Examples: []string{"/unhold production"},
			parse:    parseEnvOnly,
		},
		{
			Verb:     Deploy,
			Args:     "<env>",
			Summary:  "Deploy the current head of `<env>` again.",
			Details:  "Re-deploys the commit the branch of `<env>` points to and purges the CDN, without moving the branch.",
			Access:   AccessEnvironment,
			Examples: []string{"/deploy staging"},
			parse:    parseEnvOnly,
		},
		{
			Verb:    Smoke,
			Args:    "[<env>|<sha>]",
			Summary: "Run the smoke tests again.",
			Details: "Smoke-tests the pull request's head commit, the head of `<env>`, or `<sha>`, in a headless " +
				"browser and reports a check run with screenshots.",
			Access:   AccessDefault,
			Examples: []string{"/smoke", "/smoke staging", "/smoke 3f9c2e1"},
			parse:    parseEnvOrSHA,
		},
		{
			Verb:    Purge,
			Args:    "<env> <path>…|--all",
			Summary: "Purge the CDN cache of `<env>`.",
			Details: "Purges the given paths (each starting with `/`, no `..`, no spaces) or, with `--all`, " +
				"everything that `<env>` serves, from every CDN configured for it.",
			Access:   AccessEnvironment,
			Examples: []string{"/purge production /index.html /products/", "/purge staging --all"},
			parse:    parsePurge,
		},
		{
			Verb:    Preview,
			Args:    "[<env>|<sha>]",
			Summary: "Open the private site under test on the preview origin (writers only).",
			Details: "The site under test is private. This replies with a link to the preview origin for the " +
				"candidate of the pull request, of `<env>`, or of `<sha>`, for debugging; the link carries no " +
				"credential: it signs you in with GitHub and opens the site only for people with write access.",
			Access:   AccessWrite,
			Examples: []string{"/preview", "/preview staging"},
			parse:    parseEnvOrSHA,
		},
		{
			Verb:    Upgrade,
			Args:    "retry [<instance>]",
			Summary: "Retry the failed instances of the release's fleet rollout.",
			Details: "On the pull request of a release (or on the release commit), starts the rollout of that release " +
				"again for every failed instance, or only for `<instance>`: its `dev-<instance>` branch first, then " +
				"`<instance>`, each fast-forwarded to the release and through its gates. A rollout stopped because too " +
				"many instances failed resumes with the waves it had not started. Who may is decided as for `/promote`, by the repository's command permission.",
			Access:   AccessDefault,
			Examples: []string{"/upgrade retry", "/upgrade retry acme"},
			parse:    parseUpgrade,
		},
		{
			Verb:     Status,
			Summary:  "Show where every environment stands.",
			Details:  "Replies with each environment's head, its last deployment, pending promotions, gates and holds.",
			Access:   AccessRead,
			Examples: []string{"/status"},
			parse:    parseNoArgs,
		},
		{
			Verb:     Help,
			Args:     "[<verb>]",
			Summary:  "Show the commands, or the details of one.",
			Details:  "Lists the commands available here, or explains `<verb>`.",
			Access:   AccessRead,
			Examples: []string{"/help", "/help promote"},
			parse:    parseHelp,
		},
	}
}

// Specs returns every verb's declaration, in help order.
func Specs() []Spec {
	out := make([]Spec, len(specs))
	copy(out, specs)
	return out
}

// Lookup returns the declaration of v.
func Lookup(v Verb) (Spec, bool) {
	for _, s := range specs {
		if s.Verb == v {
			return s, true
		}
	}
	return Spec{}, false
}

func verbNames() []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = string(s.Verb)
	}
	return out
}
