package command

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

const (
	// MinHoldDuration and MaxHoldDuration bound `/hold <env> for <duration>`.
	MinHoldDuration = time.Minute
	MaxHoldDuration = 365 * 24 * time.Hour
	// MaxPurgePaths bounds the paths of one `/purge`.
	MaxPurgePaths = 50
	// maxReasonRunes bounds the reason of a `/hold`.
	maxReasonRunes = 300
)

var shaPattern = regexp.MustCompile(`^[0-9a-fA-F]{7,40}$`)

// argError is a bad argument; index is the argument's position after the verb
// (or -1) so that suggestions can be rendered as corrected lines.
type argError struct {
	msg         string
	index       int
	suggestions []string
}

func (e *argError) Error() string { return e.msg }

func badArg(index int, format string, a ...any) *argError {
	return &argError{msg: fmt.Sprintf(format, a...), index: index}
}

// argParser walks the arguments after the verb.
type argParser struct {
	args []string
	pos  int
	opts Options
}

func (p *argParser) more() bool { return p.pos < len(p.args) }

func (p *argParser) peek() string { return p.args[p.pos] }

func (p *argParser) next() string {
	a := p.args[p.pos]
	p.pos++
	return a
}

// done fails when arguments are left over.
func (p *argParser) done() error {
	if !p.more() {
		return nil
	}
	return badArg(-1, "unexpected argument %s.", code(strings.Join(p.args[p.pos:], " ")))
}

// env reads a required environment name.
func (p *argParser) env() (string, error) {
	if !p.more() {
		e := badArg(p.pos, "which environment? Say one of %s.", envList(p.opts))
		e.suggestions = nil
		return "", e
	}
	i := p.pos
	name := p.next()
	if p.opts.hasEnv(name) {
		return name, nil
	}
	return "", unknownEnv(i, name, p.opts)
}

func unknownEnv(i int, name string, opts Options) *argError {
	e := badArg(i, "there is no environment %s; the environments are %s.", code(name), envList(opts))
	e.suggestions = suggest(name, opts.Environments, true)
	return e
}

func envList(opts Options) string {
	if len(opts.Environments) == 0 {
		return "(none configured)"
	}
	q := make([]string, len(opts.Environments))
	for i, e := range opts.Environments {
		q[i] = code(e)
	}
	return strings.Join(q, ", ")
}

// ParseSHA validates an abbreviated or full commit id and returns it in lower case.
func ParseSHA(s string) (string, error) {
	if !shaPattern.MatchString(s) {
		return "", fmt.Errorf("%s is not a commit id (7 to 40 hexadecimal digits)", code(s))
	}
	return strings.ToLower(s), nil
}

// ParseDuration reads a hold duration: a Go duration (time.ParseDuration)
// optionally preceded by a whole number of days, such as "90m", "2h", "3d" or
// "1d12h". It must lie between MinHoldDuration and MaxHoldDuration.
func ParseDuration(s string) (time.Duration, error) {
	bad := fmt.Errorf("%s is not a duration; write it like `30m`, `2h`, `3d` or `1d12h`", code(s))
	var total time.Duration
	rest := s
	if i := strings.IndexByte(rest, 'd'); i > 0 {
		days, err := strconv.Atoi(rest[:i])
		if err != nil || days < 0 || days > 366 || rest[0] == '+' {
			return 0, bad
		}
		total = time.Duration(days) * 24 * time.Hour
		rest = rest[i+1:]
	}
	if rest != "" {
		if rest[0] == '-' || rest[0] == '+' {
			return 0, bad
		}
		d, err := time.ParseDuration(rest)
		if err != nil || d < 0 {
			return 0, bad
		}
		total += d
	} else if total == 0 {
		return 0, bad
	}
	if total < MinHoldDuration || total > MaxHoldDuration {
		return 0, fmt.Errorf("a hold lasts from 1 minute to 365 days, not %s", code(s))
	}
	return total, nil
}

// FormatDuration renders d in the form ParseDuration reads, days first.
func FormatDuration(d time.Duration) string {
	day := 24 * time.Hour
	days := d / day
	rem := shortDuration(d % day)
	switch {
	case days == 0:
		return rem
	case d%day == 0:
		return fmt.Sprintf("%dd", days)
	default:
		return fmt.Sprintf("%dd%s", days, rem)
	}
}

// shortDuration is time.Duration's String without zero trailing units, as
// people write it: 2h, 1h30m, 90s rather than 2h0m0s, 1h30m0s, 1m30s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// ValidatePurgePath checks one `/purge` path: it starts with "/", has no ".."
// and no spaces or control characters.
func ValidatePurgePath(p string) error {
	switch {
	case !strings.HasPrefix(p, "/"):
		return fmt.Errorf("the path %s must start with `/`", code(p))
	case strings.Contains(p, ".."):
		return fmt.Errorf("the path %s must not contain `..`", code(p))
	case strings.Contains(p, `\`):
		return fmt.Errorf("the path %s must not contain a backslash", code(p))
	case len(p) > 1024:
		return fmt.Errorf("the path %s is longer than 1024 bytes", code(truncateUTF8(p, 40)+"…"))
	}
	for _, r := range p {
		// IsPrint is false for control, format (zero-width, bidi) and all
		// spaces but U+0020, which is itself refused.
		if !unicode.IsPrint(r) || r == ' ' || r == utf8.RuneError {
			return fmt.Errorf("the path %s must not contain spaces, control or invisible characters", code(strconv.QuoteToASCII(p)))
		}
	}
	return nil
}

func parsePromote(p *argParser, c *Command) error {
	env, err := p.env()
	if err != nil {
		return err
	}
	c.Env = env
	if p.more() {
		sha, err := ParseSHA(p.peek())
		if err != nil {
			return badArg(p.pos, "%s.", err)
		}
		p.next()
		c.SHA = sha
	}
	return p.done()
}

func parseRollback(p *argParser, c *Command) error {
	env, err := p.env()
	if err != nil {
		return err
	}
	c.Env = env
	c.Previous = true
	if p.more() {
		a := p.peek()
		if strings.EqualFold(a, "previous") {
			p.next()
		} else {
			sha, err := ParseSHA(a)
			if err != nil {
				return badArg(p.pos, "%s; say a commit id or `previous`.", err)
			}
			p.next()
			c.SHA, c.Previous = sha, false
		}
	}
	return p.done()
}

func parseHold(p *argParser, c *Command) error {
	env, err := p.env()
	if err != nil {
		return err
	}
	c.Env = env
	if p.more() && strings.EqualFold(p.peek(), "for") {
		p.next()
		if !p.more() {
			return badArg(p.pos, "`for` must be followed by a duration such as `2h` or `3d`.")
		}
		i := p.pos
		d, err := ParseDuration(p.next())
		if err != nil {
			return badArg(i, "%s.", err)
		}
		c.Duration = d
	} else if p.more() {
		// `/hold production 2h` most likely meant `for 2h`: refuse rather than
		// hold forever with a reason of "2h".
		if _, err := ParseDuration(p.peek()); err == nil {
			e := badArg(p.pos, "write `for %s` to hold for a time; a reason cannot start with a duration.", p.peek())
			e.suggestions = []string{"for " + p.peek()}
			return e
		}
	}
	if p.more() {
		reason := strings.Join(p.args[p.pos:], " ")
		p.pos = len(p.args)
		for _, r := range reason {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
				return badArg(-1, "the reason must not contain control or invisible characters.")
			}
		}
		if n := len([]rune(reason)); n > maxReasonRunes {
			return badArg(-1, "the reason is %d characters long; keep it under %d.", n, maxReasonRunes)
		}
		c.Reason = reason
	}
	return p.done()
}

func parseEnvOnly(p *argParser, c *Command) error {
	env, err := p.env()
	if err != nil {
		return err
	}
	c.Env = env
	return p.done()
}

func parseEnvOrSHA(p *argParser, c *Command) error {
	if !p.more() {
		return nil
	}
	i := p.pos
	a := p.next()
	switch {
	case p.opts.hasEnv(a):
		c.Env = a
	case shaPattern.MatchString(a):
		c.SHA = strings.ToLower(a)
	default:
		e := unknownEnv(i, a, p.opts)
		e.msg = fmt.Sprintf("%s is neither an environment (%s) nor a commit id (7 to 40 hexadecimal digits).", code(a), envList(p.opts))
		return e
	}
	return p.done()
}

func parsePurge(p *argParser, c *Command) error {
	env, err := p.env()
	if err != nil {
		return err
	}
	c.Env = env
	if !p.more() {
		return badArg(p.pos, "say which paths to purge, or `--all` for everything.")
	}
	seen := map[string]bool{}
	for p.more() {
		i := p.pos
		a := p.next()
		if a == "--all" {
			c.All = true
			continue
		}
		if err := ValidatePurgePath(a); err != nil {
			return badArg(i, "%s.", err)
		}
		if !seen[a] {
			seen[a] = true
			c.Paths = append(c.Paths, a)
		}
	}
	if c.All && len(c.Paths) > 0 {
		return badArg(-1, "give either paths or `--all`, not both.")
	}
	if len(c.Paths) > MaxPurgePaths {
		return badArg(-1, "at most %d paths can be purged by one command; use `--all` or several comments.", MaxPurgePaths)
	}
	return nil
}

// instanceName is a fleet instance's name: a DNS label, as its hostnames
// need.
var instanceName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

func parseUpgrade(p *argParser, c *Command) error {
	if !p.more() {
		return badArg(0, "what should be upgraded? Say %s or %s.", code("/upgrade retry"), code("/upgrade retry <instance>"))
	}
	i := p.pos
	if a := p.next(); !strings.EqualFold(a, "retry") {
		e := badArg(i, "%s is not something %s does; it knows %s.", code(a), code("/upgrade"), code("retry"))
		e.suggestions = suggest(a, []string{"retry"}, true)
		return e
	}
	if p.more() {
		i := p.pos
		name := p.next()
		if !instanceName.MatchString(name) {
			return badArg(i, "%s is not an instance name (lower-case letters, digits and hyphens, at most 63).", code(name))
		}
		c.Instance = name
	}
	return p.done()
}

func parseNoArgs(p *argParser, c *Command) error {
	return p.done()
}

func parseHelp(p *argParser, c *Command) error {
	if !p.more() {
		return nil
	}
	i := p.pos
	a := strings.ToLower(strings.TrimPrefix(p.next(), "/"))
	if a == "hoist" {
		// `/hoist help hoist` and `/help hoist` mean the overview.
		return p.done()
	}
	if _, ok := Lookup(Verb(a)); !ok {
		e := badArg(i, "there is no command %s.", code("/"+a))
		e.suggestions = suggest(a, verbNames(), true)
		return e
	}
	c.HelpTopic = Verb(a)
	return p.done()
}
