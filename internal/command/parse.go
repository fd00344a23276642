package command

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// DefaultMaxCommands bounds the commands read from one comment when
// Options.MaxCommands is zero.
const DefaultMaxCommands = 10

// MaxBodyBytes bounds the comments Parse reads: GitHub's limit of 65,536
// characters, at up to four bytes each.
const MaxBodyBytes = 4 * 65536

// maxLineBytes bounds one command line; longer lines are refused, not read.
const maxLineBytes = 1024

// Options tell the parser what exists where the comment was written.
type Options struct {
	// Environments are the names of the repository's environments; env
	// arguments must be one of them (case-sensitive).
	Environments []string
	// ShortForm enables `/promote …` besides `/hoist promote …`. Turn it off
	// when another bot owns those words.
	ShortForm bool
	// Available lists the verbs that are wired up. Nil means every verb;
	// otherwise a verb is available when its entry is true. `help` is always
	// available.
	Available map[Verb]bool
	// MaxCommands bounds the commands read from one comment (DefaultMaxCommands when zero).
	MaxCommands int
	// Rules, when given, let help say exactly who may use each command.
	Rules Rules
}

// IsAvailable reports whether v is wired up under these options.
func (o Options) IsAvailable(v Verb) bool {
	if v == Help {
		return true
	}
	if _, ok := Lookup(v); !ok {
		return false
	}
	return o.Available == nil || o.Available[v]
}

func (o Options) maxCommands() int {
	if o.MaxCommands <= 0 {
		return DefaultMaxCommands
	}
	return o.MaxCommands
}

func (o Options) hasEnv(name string) bool {
	for _, e := range o.Environments {
		if e == name {
			return true
		}
	}
	return false
}

// Command is one parsed slash-command. Fields that a verb does not take stay zero.
type Command struct {
	Verb Verb
	// Env is the environment argument, one of Options.Environments.
	Env string
	// SHA is a lower-case abbreviated or full commit id (7–40 hex digits).
	SHA string
	// Previous is set by `/rollback <env>` and `/rollback <env> previous`.
	Previous bool
	// Duration is the length of a `/hold … for <duration>`; zero means until `/unhold`.
	Duration time.Duration
	// Reason is the free text of a `/hold`, words joined by single spaces.
	Reason string
	// Paths are the paths of a `/purge`, in order, without duplicates.
	Paths []string
	// All is `/purge <env> --all`.
	All bool
	// Instance is the instance of `/upgrade retry <instance>`; empty retries
	// every failed one.
	Instance string
	// HelpTopic is the verb of `/help <verb>`.
	HelpTopic Verb
	// Line is the 1-based line of the comment the command was on.
	Line int
	// Raw is that line, trimmed.
	Raw string
}

// String renders the command as its canonical short-form line.
func (c Command) String() string {
	parts := []string{"/" + string(c.Verb)}
	switch c.Verb {
	case Promote:
		parts = append(parts, c.Env)
		if c.SHA != "" {
			parts = append(parts, c.SHA)
		}
	case Rollback:
		parts = append(parts, c.Env)
		if c.SHA != "" {
			parts = append(parts, c.SHA)
		} else {
			parts = append(parts, "previous")
		}
	case Hold:
		parts = append(parts, c.Env)
		if c.Duration > 0 {
			parts = append(parts, "for", FormatDuration(c.Duration))
		}
		if c.Reason != "" {
			parts = append(parts, c.Reason)
		}
	case Unhold, Deploy:
		parts = append(parts, c.Env)
	case Smoke, Preview:
		if c.Env != "" {
			parts = append(parts, c.Env)
		} else if c.SHA != "" {
			parts = append(parts, c.SHA)
		}
	case Purge:
		parts = append(parts, c.Env)
		if c.All {
			parts = append(parts, "--all")
		} else {
			parts = append(parts, c.Paths...)
		}
	case Upgrade:
		parts = append(parts, "retry")
		if c.Instance != "" {
			parts = append(parts, c.Instance)
		}
	case Help:
		if c.HelpTopic != "" {
			parts = append(parts, string(c.HelpTopic))
		}
	}
	return strings.Join(parts, " ")
}

// LongForm renders the command as its canonical `/hoist <verb> …` line.
func (c Command) LongForm() string {
	return LongFormPrefix + " " + strings.TrimPrefix(c.String(), "/")
}

// ErrorKind classifies a ParseError.
type ErrorKind int

const (
	// ErrUnknownVerb: `/hoist <word>` with no such verb, or a short-form word
	// one typo away from a verb.
	ErrUnknownVerb ErrorKind = iota + 1
	// ErrBadArgument: a known verb with a missing, unknown or malformed argument.
	ErrBadArgument
	// ErrUnavailable: a known verb that is not wired up on this installation.
	ErrUnavailable
	// ErrTooMany: the comment holds more commands than Options.MaxCommands.
	ErrTooMany
	// ErrTooLong: the command line is longer than hoist reads.
	ErrTooLong
)

// ParseError explains why one line of a comment was not accepted as a command.
type ParseError struct {
	Kind ErrorKind
	// Line is the 1-based line of the comment; Raw is that line, trimmed.
	Line int
	Raw  string
	// Verb is the verb the line was meant for, when known.
	Verb Verb
	// Message says what was wrong, in a sentence.
	Message string
	// Suggestions are corrected lines, best first ("did you mean").
	Suggestions []string
	// Usage is the synopsis of the verb, or of all verbs when it is unknown.
	Usage string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("line %d: %s", e.Line, e.Message)
}

// Parse reads the commands in a comment body. Each command is a line of its
// own; see docs/commands.md for the exact rules. Lines that are not meant for
// hoist are skipped silently; lines meant for hoist that cannot be accepted
// yield a ParseError. Commands and errors are in line order.
func Parse(body string, opts Options) (cmds []Command, errs []*ParseError) {
	if len(body) > MaxBodyBytes {
		return nil, []*ParseError{{
			Kind: ErrTooLong, Line: 1, Raw: shorten(strings.TrimSpace(firstLine(body))),
			Message: fmt.Sprintf("this comment is %d bytes long; hoist reads comments of at most %d bytes, so it ran nothing.", len(body), MaxBodyBytes),
		}}
	}
	seen := 0
	for _, ln := range commandLines(body) {
		cmd, perr, ok := parseLine(ln.text, ln.number, opts)
		if !ok {
			continue
		}
		if seen == opts.maxCommands() {
			errs = append(errs, &ParseError{
				Kind: ErrTooMany, Line: ln.number, Raw: shorten(ln.text),
				Message: fmt.Sprintf("only the first %d commands of a comment are read; this line and the ones after it were skipped.", opts.maxCommands()),
			})
			break
		}
		seen++
		if perr != nil {
			errs = append(errs, perr)
			continue
		}
		cmds = append(cmds, cmd)
	}
	return cmds, errs
}

// parseLine parses one candidate line (trimmed, starting with "/"). ok is
// false when the line is not meant for hoist.
func parseLine(text string, number int, opts Options) (cmd Command, perr *ParseError, ok bool) {
	fields := strings.Fields(text)
	head := strings.ToLower(fields[0])
	long := head == LongFormPrefix
	var word string
	var args []string
	switch {
	case long:
		if len(fields) == 1 {
			// A bare `/hoist` asks for help, as a bare `atlantis` does.
			return Command{Verb: Help, Line: number, Raw: text}, nil, true
		}
		word, args = strings.ToLower(fields[1]), fields[2:]
	case opts.ShortForm:
		word, args = head[1:], fields[1:]
	default:
		return Command{}, nil, false
	}

	spec, known := Lookup(Verb(word))
	if !known {
		if !long && !(isVerbLike(word) && isNearVerb(word)) {
			// Another bot's command (`/assign`, `/lgtm`) or not a command at all.
			return Command{}, nil, false
		}
		if len(text) > maxLineBytes {
			return Command{}, tooLong(number, text, "", opts), true
		}
		var sugg []string
		for _, v := range suggest(word, verbNames(), true) {
			if opts.IsAvailable(Verb(v)) {
				sugg = append(sugg, replaceVerb(text, long, v))
			}
		}
		return Command{}, &ParseError{
			Kind: ErrUnknownVerb, Line: number, Raw: text,
			Message:     fmt.Sprintf("%s is not a hoist command.", code(word)),
			Suggestions: sugg,
			Usage:       usageList(opts),
		}, true
	}
	if len(text) > maxLineBytes {
		return Command{}, tooLong(number, text, spec.Verb, opts), true
	}
	if !opts.IsAvailable(spec.Verb) {
		return Command{}, &ParseError{
			Kind: ErrUnavailable, Line: number, Raw: text, Verb: spec.Verb,
			Message: fmt.Sprintf("%s is not available on this installation yet.", code("/"+string(spec.Verb))),
			Usage:   usageList(opts),
		}, true
	}

	cmd = Command{Verb: spec.Verb, Line: number, Raw: text}
	p := &argParser{args: args, opts: opts}
	if err := spec.parse(p, &cmd); err != nil {
		e := &ParseError{
			Kind: ErrBadArgument, Line: number, Raw: text, Verb: spec.Verb,
			Message: err.Error(),
			Usage:   usageFor(spec, opts),
		}
		if ae, isArg := err.(*argError); isArg && ae.index >= 0 {
			for _, s := range ae.suggestions {
				e.Suggestions = append(e.Suggestions, replaceArg(text, long, ae.index, s))
			}
		}
		return Command{}, e, true
	}
	return cmd, nil, true
}

func tooLong(number int, text string, v Verb, opts Options) *ParseError {
	e := &ParseError{
		Kind: ErrTooLong, Line: number, Raw: shorten(text), Verb: v,
		Message: fmt.Sprintf("this command line is %d bytes long; hoist reads at most %d.", len(text), maxLineBytes),
	}
	if s, ok := Lookup(v); ok {
		e.Usage = usageFor(s, opts)
	}
	return e
}

func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}

// shorten keeps a line short enough to quote in a reply.
func shorten(s string) string {
	if len(s) <= 80 {
		return s
	}
	return truncateUTF8(s, 80) + "…"
}

func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// isVerbLike reports whether w could be a verb at all: lower-case letters and
// dashes. Paths (`/usr/bin`) and the like are never commands.
func isVerbLike(w string) bool {
	if w == "" {
		return false
	}
	for _, r := range w {
		if (r < 'a' || r > 'z') && r != '-' {
			return false
		}
	}
	return true
}

// replaceVerb rewrites a line with its verb replaced, for a suggestion.
func replaceVerb(text string, long bool, verb string) string {
	fields := strings.Fields(text)
	if long {
		fields[1] = verb
	} else {
		fields[0] = "/" + verb
	}
	return strings.Join(fields, " ")
}

// replaceArg rewrites a line with argument i (0-based, after the verb) replaced.
func replaceArg(text string, long bool, i int, with string) string {
	fields := strings.Fields(text)
	at := 1 + i
	if long {
		at++
	}
	if at < len(fields) {
		fields[at] = with
	} else {
		fields = append(fields, with)
	}
	return strings.Join(fields, " ")
}

// line is a line of a comment that may hold a command.
type line struct {
	number int
	text   string // trimmed
}

// commandLines returns the lines of a comment that start with "/" and are
// plain text as GitHub renders them: not in a fenced code block, an indented
// code block, a block quote (including its lazy continuation lines) or an
// HTML comment. This is a deliberately small subset of CommonMark: hoist only
// needs to know whether a line is shown as ordinary text, and erring towards
// "not a command" is the safe side, so a full Markdown parser would add a
// dependency without changing an outcome that matters.
func commandLines(body string) []line {
	body = strings.ReplaceAll(body, "\r\n", "\n")
	body = strings.ReplaceAll(body, "\r", "\n")
	var (
		out        []line
		fenceChar  byte // '`' or '~' while inside a fenced code block
		fenceLen   int
		inComment  bool // inside <!-- … -->
		afterQuote bool // the previous line belonged to a block quote
	)
	for i, raw := range strings.Split(body, "\n") {
		trimmed := strings.TrimSpace(raw)
		switch {
		case fenceChar != 0:
			if n := fenceRun(trimmed, fenceChar); n >= fenceLen && strings.TrimSpace(trimmed[n:]) == "" {
				fenceChar = 0
			}
			continue
		case inComment:
			if strings.Contains(trimmed, "-->") {
				inComment = false
			}
			continue
		case trimmed == "":
			afterQuote = false
			continue
		}
		if c := trimmed[0]; c == '`' || c == '~' {
			if n := fenceRun(trimmed, c); n >= 3 && (c == '~' || !strings.Contains(trimmed[n:], "`")) {
				// Any fence, at any indentation, opens a code block: erring towards code.
				fenceChar, fenceLen, afterQuote = c, n, false
				continue
			}
		}
		if strings.HasPrefix(trimmed, "<!--") {
			inComment = !strings.Contains(trimmed[4:], "-->")
			afterQuote = false
			continue
		}
		if trimmed[0] == '>' || afterQuote {
			// A quote, or a lazy continuation of one, which GitHub shows inside the quote.
			afterQuote = true
			continue
		}
		if indentWidth(raw) >= 4 {
			// Indented code, or text that is not at the start of a line as written.
			continue
		}
		if trimmed[0] == '/' {
			out = append(out, line{number: i + 1, text: trimmed})
		}
	}
	return out
}

// fenceRun counts the leading run of c in s.
func fenceRun(s string, c byte) int {
	n := 0
	for n < len(s) && s[n] == c {
		n++
	}
	return n
}

// indentWidth is the width of the leading white space of s, tabs to the next multiple of 4.
func indentWidth(s string) int {
	w := 0
	for _, r := range s {
		switch {
		case r == '\t':
			w += 4 - w%4
		case unicode.IsSpace(r):
			w++
		default:
			return w
		}
	}
	return w
}
