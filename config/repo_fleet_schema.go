package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// RepoSettingsSchema is the JSON Schema of a fleet's instance settings,
// written in YAML inside hoist.yml. The file's decoder reads it node by
// node to check the subset hoist supports with line and column (a JSON
// Schema library reports JSON pointers, not places in a YAML file); the
// settings themselves are validated by santhosh-tekuri/jsonschema, which
// implements the full standard, so the subset never drifts from it.
type RepoSettingsSchema struct {
	// Doc is the schema as JSON values (map[string]any, []any, string,
	// float64, bool, nil). Empty schema: {"type": "object"}.
	Doc map[string]any

	compiled *jsonschema.Schema
	errs     []repoSchemaErr
}

type repoSchemaErr struct{ at, msg string }

var repoSettingsSchemaType = reflect.TypeOf(RepoSettingsSchema{})

// The keywords of the subset, with the JSON type their value must have.
var repoSettingsKeywords = map[string]string{
	"type": "string", "properties": "object", "required": "array", "default": "any",
	"enum": "array", "pattern": "string", "items": "schema", "minimum": "number",
	"maximum": "number", "minLength": "integer", "maxLength": "integer",
	"additionalProperties": "boolean", "title": "string", "description": "string",
}

var repoSettingsTypes = []string{"string", "number", "integer", "boolean", "object", "array"}

// settingsSchema decodes the schema node n at path into v.
func (d *repoDecoder) settingsSchema(n *yaml.Node, v reflect.Value, path string) {
	s := RepoSettingsSchema{}
	doc, ok := d.settingsNode(n, path, &s)
	if m, isObj := doc.(map[string]any); ok && isObj {
		if t, _ := m["type"].(string); t != "" && t != "object" {
			s.errs = append(s.errs, repoSchemaErr{path + ".type", "the settings schema's top level must be of type object (the settings file is a JSON object)"})
		}
		m["type"] = "object"
		s.Doc = m
		if len(s.errs) == 0 {
			if err := s.compile(); err != nil {
				s.errs = append(s.errs, repoSchemaErr{path, err.Error()})
			} else {
				s.checkDefaults(path, m, "")
			}
		}
	}
	v.Set(reflect.ValueOf(s))
}

// settingsNode converts one schema (a mapping of keywords) to JSON values,
// checking each keyword; ok is false when n is not a mapping.
func (d *repoDecoder) settingsNode(n *yaml.Node, path string, s *RepoSettingsSchema) (any, bool) {
	n = resolve(n)
	d.record(path, n)
	ps, ok := d.mapping(n, path, path)
	if !ok {
		return nil, false
	}
	out := map[string]any{}
	reqNode := n
	for _, p := range ps {
		key, at := p.key.Value, repoJoin(path, p.key.Value)
		val := resolve(p.value)
		d.record(at, val)
		kind, known := repoSettingsKeywords[key]
		if !known {
			keys := make([]string, 0, len(repoSettingsKeywords))
			for k := range repoSettingsKeywords {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			msg := fmt.Sprintf("%q is not a keyword hoist's settings schema supports", key)
			if sug := repoSuggest(key, keys); sug != "" {
				msg += fmt.Sprintf("; did you mean %s?", sug)
			} else {
				msg += " (supported: " + strings.Join(keys, ", ") + ")"
			}
			d.errorf(p.key, at, "%s", msg)
			continue
		}
		switch kind {
		case "schema":
			if sub, ok := d.settingsNode(val, at, s); ok {
				out[key] = sub
			}
			continue
		case "object": // properties: name → schema
			pps, ok := d.mapping(val, at, at)
			if !ok {
				continue
			}
			props := map[string]any{}
			for _, pp := range pps {
				if sub, ok := d.settingsNode(pp.value, repoJoin(at, pp.key.Value), s); ok {
					props[pp.key.Value] = sub
				}
			}
			out[key] = props
			continue
		}
		jv, err := repoJSONValue(val)
		if err != nil {
			d.errorf(val, at, "%s: %v", at, err)
			continue
		}
		if !repoJSONKind(jv, kind) {
			d.errorf(val, at, "%s must be %s", key, map[string]string{"string": "text", "array": "a list", "number": "a number", "integer": "a whole number", "boolean": "true or false"}[kind])
			continue
		}
		switch key {
		case "type":
			if !repoContains(repoSettingsTypes, jv.(string)) {
				d.errorf(val, at, "type %q is not one of %s", jv, strings.Join(repoSettingsTypes, ", "))
				continue
			}
		case "pattern":
			// The validator compiles patterns with Go's regexp (RE2).
			if _, err := regexp.Compile(jv.(string)); err != nil {
				d.errorf(val, at, "pattern %q is not a regular expression: %v", jv, err)
				continue
			}
		case "required":
			reqNode = val
			for i, r := range jv.([]any) {
				if _, ok := r.(string); !ok {
					d.errorf(val.Content[i], at, "required lists property names")
				}
			}
		case "enum":
			if len(jv.([]any)) == 0 {
				d.errorf(val, at, "enum needs at least one value")
				continue
			}
		}
		out[key] = jv
	}
	if req, ok := out["required"].([]any); ok {
		props, _ := out["properties"].(map[string]any)
		for _, r := range req {
			if name, ok := r.(string); ok {
				if _, ok := props[name]; !ok {
					d.errorf(reqNode, repoJoin(path, "required"), "required property %q is not in properties", name)
				}
			}
		}
	}
	return out, true
}

// repoJSONValue converts a YAML value to JSON values.
func repoJSONValue(n *yaml.Node) (any, error) {
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("not representable in JSON: %w", err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func repoJSONKind(v any, kind string) bool {
	switch kind {
	case "any":
		return true
	case "string":
		_, ok := v.(string)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "number":
		_, ok := v.(float64)
		return ok
	case "integer":
		f, ok := v.(float64)
		return ok && f == float64(int64(f)) && f >= 0
	case "boolean":
		_, ok := v.(bool)
		return ok
	}
	return false
}

const repoSettingsSchemaURL = "hoist-settings.schema.json"

func (s *RepoSettingsSchema) compile() error {
	sch, err := repoCompileSettings(s.Doc)
	if err != nil {
		return err
	}
	s.compiled = sch
	return nil
}

func repoCompileSettings(doc map[string]any) (*jsonschema.Schema, error) {
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("settings schema: %w", err)
	}
	// The library wants numbers as json.Number.
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("settings schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(repoSettingsSchemaURL, v); err != nil {
		return nil, fmt.Errorf("settings schema: %w", err)
	}
	sch, err := c.Compile(repoSettingsSchemaURL)
	if err != nil {
		return nil, fmt.Errorf("settings schema: %w", err)
	}
	return sch, nil
}

// checkDefaults reports each default that its own schema refuses.
func (s *RepoSettingsSchema) checkDefaults(path string, node map[string]any, _ string) {
	if def, ok := node["default"]; ok {
		sub := map[string]any{}
		for k, v := range node {
			if k != "default" {
				sub[k] = v
			}
		}
		if sch, err := repoCompileSettings(sub); err == nil {
			if err := repoValidateJSON(sch, def); err != nil {
				s.errs = append(s.errs, repoSchemaErr{repoJoin(path, "default"), "default does not match its schema: " + err.Error()})
			}
		}
	}
	if props, ok := node["properties"].(map[string]any); ok {
		for name, p := range props {
			if m, ok := p.(map[string]any); ok {
				s.checkDefaults(repoJoin(repoJoin(path, "properties"), name), m, "")
			}
		}
	}
	if items, ok := node["items"].(map[string]any); ok {
		s.checkDefaults(repoJoin(path, "items"), items, "")
	}
}

func repoValidateJSON(sch *jsonschema.Schema, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	if err := sch.Validate(doc); err != nil {
		return repoSettingsError(err)
	}
	return nil
}

// SettingsError lists every way a settings document breaks the schema,
// one "at <place>: <reason>" per line.
type SettingsError struct{ Problems []string }

func (e *SettingsError) Error() string { return strings.Join(e.Problems, "; ") }

func repoSettingsError(err error) error {
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return err
	}
	var problems []string
	var walk func(u jsonschema.OutputUnit)
	walk = func(u jsonschema.OutputUnit) {
		if u.Error != nil && len(u.Errors) == 0 {
			where := u.InstanceLocation
			if where == "" {
				where = "/"
			}
			problems = append(problems, fmt.Sprintf("at %s: %s", where, u.Error.String()))
		}
		for _, c := range u.Errors {
			walk(c)
		}
	}
	walk(*ve.BasicOutput())
	if len(problems) == 0 {
		problems = []string{ve.Error()}
	}
	return &SettingsError{Problems: problems}
}

// Resolve fills in the schema's defaults for what settings leave out
// (top-level and nested object properties) and validates the result. The
// returned document is what an instance's settings file holds. A refusal
// is a *SettingsError.
func (s *RepoSettingsSchema) Resolve(settings map[string]any) (map[string]any, error) {
	doc := s.Doc
	if doc == nil {
		doc = map[string]any{"type": "object"}
	}
	if s.compiled == nil {
		if err := s.compile(); err != nil {
			return nil, err
		}
	}
	out := repoWithDefaults(doc, settings)
	m, _ := out.(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	if err := repoValidateJSON(s.compiled, m); err != nil {
		return nil, err
	}
	return m, nil
}

// repoWithDefaults returns v with the defaults of schema filled in.
func repoWithDefaults(schema map[string]any, v any) any {
	props, _ := schema["properties"].(map[string]any)
	if v == nil {
		if t, _ := schema["type"].(string); t == "object" && len(props) > 0 {
			v = map[string]any{}
		} else {
			return nil
		}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := make(map[string]any, len(obj))
	for k, x := range obj {
		out[k] = x
	}
	for name, p := range props {
		ps, _ := p.(map[string]any)
		if ps == nil {
			continue
		}
		if cur, has := out[name]; has {
			out[name] = repoWithDefaults(ps, cur)
			continue
		}
		if def, has := ps["default"]; has {
			out[name] = def
		} else if t, _ := ps["type"].(string); t == "object" {
			if sub := repoWithDefaults(ps, nil); sub != nil {
				if m := sub.(map[string]any); len(m) > 0 {
					out[name] = sub
				}
			}
		}
	}
	return out
}
