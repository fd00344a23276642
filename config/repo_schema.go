package config

//go:generate go run ./schemagen schema/hoist.schema.json

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// The JSON Schema of .github/hoist.yml is generated here by reflection over
// the same struct tags the decoder reads, so the two cannot drift apart. It
// is hand-written rather than taken from a JSON Schema library because the
// format has two shapes those libraries do not know (environments are a
// mapping kept in order as a list; durations are strings), and the whole
// generator is smaller than the adapters a library would need.

// RepoSchemaID is the schema's $id; editors that support schema stores can
// refer to it.
const RepoSchemaID = "https://github.com/hoist-dev/hoist/raw/main/config/schema/hoist.schema.json"

// repoDurationPattern matches what time.ParseDuration accepts.
const repoDurationPattern = `^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$`

// RepoSchema returns the JSON Schema (draft 2020-12) of the repository
// configuration, indented, with a final newline. The committed copy is
// config/schema/hoist.schema.json; `hoist config schema` prints it.
func RepoSchema() []byte {
	root := repoSchemaOf(reflect.TypeOf(RepoConfig{}))
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["$id"] = RepoSchemaID
	// Top-level x- keys are ignored by the loader: a place for anchors.
	root["patternProperties"] = repoSchemaNode{"^x-": repoSchemaNode{"description": "Ignored by hoist: a place for YAML anchors that other keys refer to."}}
	root["title"] = "hoist repository configuration (" + RepoConfigPath + ")"
	root["description"] = "How hoist carries this repository's site through its environments: promotion chains, gates, smoke tests, deploys and CDN purges. Secrets never live here: deploy targets and CDNs name entries of the server configuration."
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(root); err != nil {
		// The schema is built from maps of strings, numbers and booleans.
		panic(fmt.Sprintf("config: encoding the JSON Schema: %v", err))
	}
	return b.Bytes()
}

type repoSchemaNode = map[string]any

func repoSchemaOf(t reflect.Type) repoSchemaNode {
	switch {
	case t == repoDurationType:
		return repoSchemaNode{"type": "string", "pattern": repoDurationPattern}
	case t == repoCheckType:
		// A name alone, or a mapping naming the reporter too.
		return repoSchemaNode{"oneOf": []any{
			repoSchemaNode{"type": "string", "minLength": 1},
			repoSchemaStruct(t),
		}}
	case t == repoSettingsSchemaType:
		// Any JSON Schema (of the subset the loader checks).
		return repoSchemaNode{"type": "object"}
	case t == repoEnvsType:
		env := repoSchemaOf(reflect.TypeOf(RepoEnvironment{}))
		return repoSchemaNode{
			"type":                 "object",
			"additionalProperties": env,
			"propertyNames":        repoSchemaNode{"pattern": repoEnvName.String()},
		}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return repoSchemaOf(t.Elem())
	case reflect.String:
		return repoSchemaNode{"type": "string"}
	case reflect.Bool:
		return repoSchemaNode{"type": "boolean"}
	case reflect.Int:
		return repoSchemaNode{"type": "integer"}
	case reflect.Float64:
		return repoSchemaNode{"type": "number"}
	case reflect.Slice:
		return repoSchemaNode{"type": "array", "items": repoSchemaOf(t.Elem())}
	case reflect.Struct:
		return repoSchemaStruct(t)
	}
	panic("config: no JSON Schema for type " + t.String())
}

func repoSchemaStruct(t reflect.Type) repoSchemaNode {
	props := repoSchemaNode{}
	var required []string
	for _, f := range repoFields(t) {
		sf := t.Field(f.index)
		s := repoSchemaOf(sf.Type)
		if d := sf.Tag.Get("doc"); d != "" {
			s["description"] = d
		}
		if repoApplySchemaTag(s, sf.Type, sf.Tag.Get("schema")) {
			required = append(required, f.key)
		}
		props[f.key] = s
	}
	out := repoSchemaNode{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}

// repoApplySchemaTag adds the constraints of a `schema` tag, such as
// "minimum=0;maximum=20;default=0" or "items.enum=a|b", to s. It reports
// whether the tag marks the field required.
func repoApplySchemaTag(s repoSchemaNode, t reflect.Type, tag string) (required bool) {
	if tag == "" {
		return false
	}
	for _, part := range strings.Split(tag, ";") {
		key, val, _ := strings.Cut(part, "=")
		target, typ := s, t
		if rest, ok := strings.CutPrefix(key, "items."); ok {
			target, typ, key = s["items"].(repoSchemaNode), t.Elem(), rest
		}
		for typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		switch key {
		case "required":
			required = true
		case "enum":
			list := strings.Split(val, "|")
			if named, ok := repoSchemaLists[val]; ok {
				list = named
			}
			var vals []any
			for _, v := range list {
				vals = append(vals, repoSchemaValue(typ, v))
			}
			target["enum"] = vals
		case "default":
			target["default"] = repoSchemaValue(typ, val)
		case "minimum", "maximum":
			target[key] = repoSchemaValue(reflect.TypeOf(float64(0)), val)
		case "pattern", "format":
			target[key] = val
		default:
			panic("config: unknown schema tag key " + key)
		}
	}
	return required
}

// repoSchemaLists are the enums a schema tag can name with $, so that the
// schema lists exactly what the validator accepts.
var repoSchemaLists = map[string][]string{
	"$permissions": RepoPermissions,
	"$fail_on":     RepoFailOnKinds,
}

// repoSchemaValue converts a tag value to the JSON type of the field.
func repoSchemaValue(t reflect.Type, v string) any {
	if t == repoDurationType {
		return v
	}
	switch t.Kind() {
	case reflect.Int:
		n, err := strconv.Atoi(v)
		if err != nil {
			panic("config: schema tag value " + v + " is not an integer")
		}
		return n
	case reflect.Float64:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			panic("config: schema tag value " + v + " is not a number")
		}
		return f
	case reflect.Bool:
		return v == "true"
	}
	return v
}

// RepoReference returns the reference of every key of the file as a
// markdown table (key path, type, default, meaning), generated from the
// same struct tags as the schema; docs/config.md embeds it and a test keeps
// the two equal.
func RepoReference() string {
	var b strings.Builder
	b.WriteString("| Key | Type | Default | Meaning |\n| --- | --- | --- | --- |\n")
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, t reflect.Type) {
		for _, f := range repoFields(t) {
			sf := t.Field(f.index)
			key := prefix + f.key
			typ, inner := repoTypeWords(sf.Type)
			def := "—"
			for _, part := range strings.Split(sf.Tag.Get("schema"), ";") {
				if v, ok := strings.CutPrefix(part, "default="); ok {
					def = "`" + v + "`"
				}
				if part == "required" {
					def = "required"
				}
			}
			doc := strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;").Replace(sf.Tag.Get("doc"))
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", key, typ, def, doc)
			switch {
			case sf.Type == repoEnvsType:
				walk(key+".<name>.", reflect.TypeOf(RepoEnvironment{}))
			case inner != nil:
				walk(key+"[].", inner)
			case sf.Type.Kind() == reflect.Struct && sf.Type != repoDurationType && sf.Type != repoSettingsSchemaType:
				walk(key+".", sf.Type)
			}
		}
	}
	walk("", reflect.TypeOf(RepoConfig{}))
	return b.String()
}

// repoTypeWords names a field's type for people; inner is the element
// struct of a list of mappings.
func repoTypeWords(t reflect.Type) (words string, inner reflect.Type) {
	switch {
	case t == repoDurationType:
		return "duration", nil
	case t == repoEnvsType:
		return "mapping of name to environment", nil
	case t == repoSettingsSchemaType:
		return "JSON Schema (subset)", nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		return repoTypeWords(t.Elem())
	case reflect.String:
		return "string", nil
	case reflect.Bool:
		return "boolean", nil
	case reflect.Int:
		return "integer", nil
	case reflect.Float64:
		return "number", nil
	case reflect.Struct:
		return "mapping", nil
	case reflect.Slice:
		if t.Elem() == repoCheckType {
			return "list of names or mappings", t.Elem()
		}
		if t.Elem().Kind() == reflect.Struct {
			return "list of mappings", t.Elem()
		}
		w, _ := repoTypeWords(t.Elem())
		return "list of " + w + "s", nil
	}
	return t.String(), nil
}
