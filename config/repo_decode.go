package config

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Decoding walks the yaml.Node tree by reflection over the struct tags
// instead of calling yaml's own Decode, because Decode stops at the first
// problem, reports only lines, and silently ignores unknown keys (or, with
// KnownFields, rejects them without a position or a suggestion). Walking
// the nodes gives every mistake its line and column, collects all of them
// and records where each value was written for the semantic checks.

// repoMaxNodes bounds the nodes one document may expand to, aliases
// included, so that a file of nested aliases cannot make decoding explode.
const repoMaxNodes = 100_000

// repoMaxBytes bounds the size of the file.
const repoMaxBytes = 1 << 20

type repoDecoder struct {
	file string
	errs RepoConfigErrors
	pos  map[string]RepoPos
	// bad holds the paths whose values could not be read, so that the
	// semantic checks do not complain about them a second time.
	bad    map[string]bool
	budget int
	// exhausted is set once the budget ran out, to report that once.
	exhausted bool
}

var (
	repoDurationType = reflect.TypeOf(time.Duration(0))
	repoEnvsType     = reflect.TypeOf(RepoEnvironments(nil))
	repoCheckType    = reflect.TypeOf(RepoCheck{})
)

func (d *repoDecoder) errorf(n *yaml.Node, path, format string, args ...any) {
	d.bad[path] = true
	d.errs = append(d.errs, &RepoConfigError{File: d.file, Line: n.Line, Column: n.Column, Path: path, Message: fmt.Sprintf(format, args...)})
}

func (d *repoDecoder) record(path string, n *yaml.Node) {
	if path != "" {
		d.pos[path] = RepoPos{Line: n.Line, Column: n.Column}
	}
}

// spend takes one node from the budget; false means stop walking.
func (d *repoDecoder) spend(n *yaml.Node) bool {
	d.budget--
	if d.budget >= 0 {
		return true
	}
	if !d.exhausted {
		d.exhausted = true
		d.errorf(n, "", "the document expands to more than %d values (too many aliases?); hoist stops reading here", repoMaxNodes)
	}
	return false
}

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func repoKindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return strconv.Quote(n.Value)
	}
	return "an alias"
}

// repoPair is one key and value of a mapping.
type repoPair struct{ key, value *yaml.Node }

// pairs lists a mapping's keys and values, with `<<: *anchor` merge keys
// expanded as YAML 1.1 defines them: keys written in the mapping itself win
// over merged ones, earlier merged mappings over later ones.
func (d *repoDecoder) pairs(n *yaml.Node, path string) []repoPair {
	var own, merged []repoPair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			v = resolve(v)
			var sources []*yaml.Node
			switch v.Kind {
			case yaml.MappingNode:
				sources = []*yaml.Node{v}
			case yaml.SequenceNode:
				for _, s := range v.Content {
					sources = append(sources, resolve(s))
				}
			}
			for _, s := range sources {
				if s.Kind != yaml.MappingNode {
					d.errorf(k, path, "a merge key (<<) needs a mapping or a list of mappings, got %s", repoKindName(s))
					continue
				}
				if !d.spend(s) {
					return nil
				}
				merged = append(merged, d.pairs(s, path)...)
			}
			continue
		}
		own = append(own, repoPair{k, v})
	}
	if len(merged) == 0 {
		return own
	}
	seen := map[string]bool{}
	for _, p := range own {
		seen[p.key.Value] = true
	}
	out := own
	for _, p := range merged {
		if !seen[p.key.Value] {
			seen[p.key.Value] = true
			out = append(out, p)
		}
	}
	return out
}

// mapping checks that n is a mapping with scalar, unique keys and returns
// its pairs.
func (d *repoDecoder) mapping(n *yaml.Node, path, what string) ([]repoPair, bool) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "%s must be a mapping (key: value), got %s", what, repoKindName(n))
		return nil, false
	}
	ps := d.pairs(n, path)
	first := map[string]*yaml.Node{}
	out := ps[:0:0]
	for _, p := range ps {
		if p.key.Kind != yaml.ScalarNode {
			d.errorf(p.key, path, "keys must be plain words, got %s", repoKindName(p.key))
			continue
		}
		if prev, dup := first[p.key.Value]; dup {
			d.errorf(p.key, repoJoin(path, p.key.Value), "duplicate key %q (first at line %d)", p.key.Value, prev.Line)
			continue
		}
		first[p.key.Value] = p.key
		out = append(out, p)
	}
	return out, true
}

func repoJoin(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// repoFieldInfo is one field of a struct as the file names it.
type repoFieldInfo struct {
	key   string
	index int
}

func repoFields(t reflect.Type) []repoFieldInfo {
	var out []repoFieldInfo
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if key == "" || key == "-" || !f.IsExported() {
			continue
		}
		out = append(out, repoFieldInfo{key: key, index: i})
	}
	return out
}

// decode stores the value of n into v; path names v for messages.
func (d *repoDecoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if !d.spend(n) {
		return
	}
	n = resolve(n)
	d.record(path, n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // an empty value keeps the default
	}
	t := v.Type()
	switch {
	case t == repoDurationType:
		d.duration(n, v, path)
	case t == repoEnvsType:
		d.environments(n, v, path)
	case t == repoSettingsSchemaType:
		d.settingsSchema(n, v, path)
	case t == repoCheckType && n.Kind == yaml.ScalarNode:
		// The short form of a check: its name alone.
		v.FieldByName("Name").SetString(n.Value)
	case t == repoCheckType && n.Kind != yaml.MappingNode:
		d.errorf(n, path, "%s must be a check's name or a mapping such as { name: \"ci / test\", app: github-actions }, got %s", path, repoKindName(n))
	case t.Kind() == reflect.Pointer:
		p := reflect.New(t.Elem())
		d.decode(n, p.Elem(), path)
		v.Set(p)
	case t.Kind() == reflect.Struct:
		d.structure(n, v, path)
	case t.Kind() == reflect.Slice:
		d.list(n, v, path)
	case t.Kind() == reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.errorf(n, path, "%s must be text, got %s", path, repoKindName(n))
			return
		}
		v.SetString(n.Value)
	case t.Kind() == reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			d.errorf(n, path, "%s must be true or false, got %s", path, repoKindName(n))
			return
		}
		var b bool
		_ = n.Decode(&b)
		v.SetBool(b)
	case t.Kind() == reflect.Int:
		var i int
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&i) != nil {
			d.errorf(n, path, "%s must be a whole number, got %s", path, repoKindName(n))
			return
		}
		v.SetInt(int64(i))
	case t.Kind() == reflect.Float64:
		var f float64
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!float" && n.Tag != "!!int") || n.Decode(&f) != nil {
			d.errorf(n, path, "%s must be a number, got %s", path, repoKindName(n))
			return
		}
		v.SetFloat(f)
	default:
		// Unreachable with the types of this file; a new field type needs a case.
		d.errorf(n, path, "%s: hoist cannot read values of type %s", path, t)
	}
}

var repoBareNumber = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

func (d *repoDecoder) duration(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "%s must be a duration such as 30m or 2s, got %s", path, repoKindName(n))
		return
	}
	if n.Value == "0" {
		v.SetInt(0)
		return
	}
	if repoBareNumber.MatchString(n.Value) {
		d.errorf(n, path, "%s needs a unit: write %ss for seconds or %sm for minutes", path, n.Value, n.Value)
		return
	}
	dur, err := time.ParseDuration(n.Value)
	if err != nil {
		d.errorf(n, path, "%s must be a duration such as 30m, 2h or 1h30m (units ms, s, m, h), got %q", path, n.Value)
		return
	}
	v.SetInt(int64(dur))
}

func (d *repoDecoder) structure(n *yaml.Node, v reflect.Value, path string) {
	what := path
	if what == "" {
		what = "the file"
	}
	ps, ok := d.mapping(n, path, what)
	if !ok {
		return
	}
	fields := repoFields(v.Type())
	keys := make([]string, len(fields))
	for i, f := range fields {
		keys[i] = f.key
	}
	for _, p := range ps {
		idx := -1
		for _, f := range fields {
			if f.key == p.key.Value {
				idx = f.index
			}
		}
		if idx < 0 && path == "" && strings.HasPrefix(p.key.Value, "x-") {
			// Top-level x- keys are free for YAML anchors that other
			// places refer to, as in Compose files.
			continue
		}
		if idx < 0 {
			d.errs = append(d.errs, &RepoConfigError{File: d.file, Line: p.key.Line, Column: p.key.Column,
				Path: path, Message: repoUnknownKey(p.key.Value, path, keys)})
			continue
		}
		d.decode(p.value, v.Field(idx), repoJoin(path, p.key.Value))
	}
}

func repoUnknownKey(key, path string, known []string) string {
	where := "at the top level"
	if path != "" {
		where = "in " + path
	}
	msg := fmt.Sprintf("unknown key %q %s", key, where)
	if s := repoSuggest(key, known); s != "" {
		return msg + fmt.Sprintf("; did you mean %s?", s)
	}
	sorted := append([]string(nil), known...)
	sort.Strings(sorted)
	return msg + " (known keys: " + strings.Join(sorted, ", ") + ")"
}

func (d *repoDecoder) list(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		hint := ""
		if n.Kind == yaml.ScalarNode {
			hint = fmt.Sprintf(" (for one item write [%s])", n.Value)
			if k := v.Type().Elem(); k.Kind() == reflect.String || k == repoCheckType {
				hint = fmt.Sprintf(" (for one item write [%q])", n.Value)
			}
		}
		d.errorf(n, path, "%s must be a list, got %s%s", path, repoKindName(n), hint)
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		if d.exhausted {
			break
		}
	}
	v.Set(s)
}

func (d *repoDecoder) environments(n *yaml.Node, v reflect.Value, path string) {
	ps, ok := d.mapping(n, path, path)
	if !ok {
		return
	}
	envs := make(RepoEnvironments, 0, len(ps))
	for _, p := range ps {
		name := p.key.Value
		envPath := repoJoin(path, name)
		d.pos[envPath+".@key"] = RepoPos{Line: p.key.Line, Column: p.key.Column}
		env := RepoEnvironment{Name: name}
		d.decode(p.value, reflect.ValueOf(&env).Elem(), envPath)
		envs = append(envs, env)
		if d.exhausted {
			break
		}
	}
	v.Set(reflect.ValueOf(envs))
}

// repoLookupPos finds where path (or its nearest parent) was written.
func repoLookupPos(pos map[string]RepoPos, path string) RepoPos {
	for path != "" {
		if p, ok := pos[path]; ok {
			return p
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	if p, ok := pos[""]; ok {
		return p
	}
	return RepoPos{Line: 1, Column: 1}
}
