package config

import (
	"bytes"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// RepoConfigError is one mistake in a repository configuration, with the
// place it was made.
type RepoConfigError struct {
	File   string
	Line   int
	Column int
	// Path is the key path of the value, such as
	// "environments.staging.promote_from"; empty for the whole file.
	Path    string
	Message string
}

// Error formats the mistake as compilers do: file:line:col: message.
func (e *RepoConfigError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Message)
}

// RepoConfigErrors is every mistake found in one file, ordered by place.
type RepoConfigErrors []*RepoConfigError

// Error lists the mistakes one per line.
func (es RepoConfigErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find a single RepoConfigError.
func (es RepoConfigErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

func (es RepoConfigErrors) sorted() RepoConfigErrors {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Line != es[j].Line {
			return es[i].Line < es[j].Line
		}
		return es[i].Column < es[j].Column
	})
	out := es[:0]
	for i, e := range es {
		if i > 0 && e.Line == es[i-1].Line && e.Column == es[i-1].Column && e.Message == es[i-1].Message {
			continue
		}
		out = append(out, e)
	}
	return out
}

// LoadRepoConfig parses and checks a repository configuration. filename is
// used in messages only (RepoConfigPath when empty). On success the config
// has every default applied; otherwise the error is a RepoConfigErrors
// holding every mistake found, each with file, line and column, and the
// config is nil.
func LoadRepoConfig(filename string, data []byte) (*RepoConfig, error) {
	if filename == "" {
		filename = RepoConfigPath
	}
	fail := func(line, col int, format string, args ...any) (*RepoConfig, error) {
		return nil, RepoConfigErrors{{File: filename, Line: line, Column: col, Message: fmt.Sprintf(format, args...)}}
	}
	if len(data) > repoMaxBytes {
		return fail(1, 1, "the file is %d bytes; hoist reads at most %d", len(data), repoMaxBytes)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if err.Error() == "EOF" {
			return fail(1, 1, "the file is empty; it needs at least `version: %d`", RepoConfigVersion)
		}
		line, msg := repoSyntaxError(err)
		return fail(line, repoFirstColumn(data, line), "%s", msg)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return fail(extra.Line, extra.Column, "the file holds more than one YAML document; hoist reads one")
	}
	if len(doc.Content) == 0 {
		return fail(1, 1, "the file is empty; it needs at least `version: %d`", RepoConfigVersion)
	}
	top := resolve(doc.Content[0])
	if top.Kind == yaml.ScalarNode && top.Tag == "!!null" {
		return fail(top.Line, top.Column, "the file is empty; it needs at least `version: %d`", RepoConfigVersion)
	}

	d := &repoDecoder{file: filename, pos: map[string]RepoPos{"": {Line: top.Line, Column: top.Column}}, bad: map[string]bool{}, budget: repoMaxNodes}
	cfg := &RepoConfig{File: filename}
	d.structure(top, reflect.ValueOf(cfg).Elem(), "")
	cfg.pos = d.pos
	if d.exhausted {
		return nil, d.errs.sorted()
	}
	v := &repoValidator{cfg: cfg, errs: d.errs, bad: d.bad}
	v.validate()
	if len(v.errs) > 0 {
		return nil, v.errs.sorted()
	}
	cfg.applyDefaults()
	return cfg, nil
}

var repoSyntaxLine = regexp.MustCompile(`^yaml: line ([0-9]+): (.*)$`)

// repoParserErrors are the messages of yaml.v3's parser (as opposed to its
// scanner), with the construct each one is about.
var repoParserErrors = map[string]string{
	"did not find expected <stream-start>":   "",
	"did not find expected <document start>": "",
	"found undefined tag handle":             "node",
	"did not find expected node content":     "node",
	"did not find expected '-' indicator":    "list",
	"did not find expected key":              "mapping",
	"did not find expected ',' or ']'":       "flow list [...]",
	"did not find expected ',' or '}'":       "flow mapping {...}",
	"found duplicate %YAML directive":        "",
	"found incompatible YAML document":       "",
	"found duplicate %TAG directive":         "",
}

// repoSyntaxError takes the line out of a yaml syntax error.
func repoSyntaxError(err error) (int, string) {
	msg := err.Error()
	if m := repoSyntaxLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		problem := m[2]
		// yaml.v3 numbers the lines of parser errors from 0 and those of
		// scanner errors from 1; parser errors name the line where the
		// unfinished construct starts.
		if what, parser := repoParserErrors[problem]; parser {
			line++
			if what != "" {
				problem += " in the " + what + " that starts on this line"
			}
		}
		return line, "YAML syntax: " + problem
	}
	return 1, "YAML syntax: " + strings.TrimPrefix(msg, "yaml: ")
}

// repoFirstColumn is the column of the first non-space character of a line
// (a tab counts, since YAML forbids tabs in indentation):
// the YAML parser names only the line of a syntax error, so the message
// points at the start of that line's content.
func repoFirstColumn(data []byte, line int) int {
	lines := bytes.Split(data, []byte("\n"))
	if line < 1 || line > len(lines) {
		return 1
	}
	l := lines[line-1]
	return len(l) - len(bytes.TrimLeft(l, " ")) + 1
}

// applyDefaults fills in what the file left out. It runs after validation,
// so it may rely on names being valid.
func (c *RepoConfig) applyDefaults() {
	if c.Site.Root == "" {
		c.Site.Root = "."
	}
	for i := range c.Environments {
		e := &c.Environments[i]
		if e.Branch == "" {
			e.Branch = e.Name
		}
		if e.Permission == "" {
			e.Permission = RepoDefaultPermission
		}
		if e.Deploy.Target != "" && e.Deploy.Prefix == "" {
			e.Deploy.Prefix = e.Name + "/"
		}
	}
	if len(c.Smoke.Viewports) == 0 {
		c.Smoke.Viewports = []RepoViewport{{Name: "desktop", Width: 1280, Height: 800}}
	}
	if len(c.Smoke.Pages) == 0 {
		c.Smoke.Pages = []RepoPage{{Path: "/"}}
	}
	if len(c.Smoke.FailOn) == 0 {
		c.Smoke.FailOn = append([]string(nil), RepoFailOnKinds...)
	}
	if c.Smoke.Visual.Threshold == 0 {
		c.Smoke.Visual.Threshold = RepoDefaultVisualThreshold
	}
	if c.Generate.Debounce == 0 {
		c.Generate.Debounce = RepoDefaultDebounce
	}
	if c.Commands.ShortForm == nil {
		t := true
		c.Commands.ShortForm = &t
	}
	if c.Written("fleet") {
		c.Fleet.applyDefaults()
	}
	for i := range c.Candidates {
		if c.Candidates[i].Auto == nil {
			t := true
			c.Candidates[i].Auto = &t
		}
	}
}

// repoSuggest returns the known word closest to word when it is close
// enough to be a typo, or "".
func repoSuggest(word string, known []string) string {
	if len(word) > 64 {
		return ""
	}
	best, bestDist := "", 1<<30
	for _, k := range known {
		if strings.EqualFold(k, word) {
			return k
		}
		dist := repoEditDistance(strings.ToLower(word), k)
		if dist < bestDist {
			best, bestDist = k, dist
		}
	}
	limit := 2
	if len(word) <= 4 {
		limit = 1
	}
	if bestDist <= limit {
		return best
	}
	return ""
}

// repoEditDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and swaps of neighbours each cost one.
func repoEditDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// GitHubAnnotation formats the mistake as a GitHub Actions workflow
// command, so that a CI step running `hoist config validate -github` marks
// the line in the pull request's diff.
func (e *RepoConfigError) GitHubAnnotation() string {
	esc := strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C")
	msg := strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")
	return fmt.Sprintf("::error file=%s,line=%d,col=%d,title=hoist config::%s", esc.Replace(e.File), e.Line, e.Column, msg.Replace(e.Message))
}
