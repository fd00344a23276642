package fleet

import (
	"errors"
	"net/url"
	"reflect"
	"testing"

	"github.com/hoist-dev/hoist/config"
)

// TestSettingsFormPatchAndProblems: the settings form becomes a merge
// patch that sets what was filled in and removes what was emptied, and the
// schema's refusal lands on the fields it is about, nested ones included.
func TestSettingsFormPatchAndProblems(t *testing.T) {
	cfg, err := config.LoadRepoConfig("", []byte(`version: 1
fleet:
  release: { branch: main }
  target: instances
  settings:
    schema:
      required: [colour]
      properties:
        colour: { type: string, pattern: "^#[0-9a-f]{6}$" }
        contact: { type: string, default: "help@example.com" }
        tags: { type: array, items: { type: string, maxLength: 3 } }
        features:
          type: object
          required: [seats]
          properties: { chat: { type: boolean }, seats: { type: integer, minimum: 1 } }
`))
	if err != nil {
		t.Fatal(err)
	}
	schema := cfg.Fleet.Settings.Schema
	patch, problems := formPatch(schema.Doc, url.Values{"s.colour": {"#abcdef"}, "s.contact": {""}, "s.tags": {`["a"]`}, "s.features.seats": {"3"}})
	want := map[string]any{"colour": "#abcdef", "contact": nil, "tags": []any{"a"}, "features": map[string]any{"chat": false, "seats": float64(3)}}
	if len(problems) != 0 || !reflect.DeepEqual(patch, want) {
		t.Fatalf("patch %v problems %v, want %v", patch, problems, want)
	}
	current := map[string]any{"colour": "#000000", "contact": "me@example.com", "extra": "kept"}
	got, _ := mergePatch(current, patch).(map[string]any)
	if got["contact"] != nil || got["extra"] != "kept" {
		t.Fatalf("patched settings %v", got)
	}
	if _, problems := formPatch(schema.Doc, url.Values{"s.colour": {"#abcdef"}, "s.tags": {"[a"}}); len(problems["tags"]) != 1 {
		t.Fatalf("tags that are not JSON: %v", problems)
	}

	_, err = schema.Resolve(map[string]any{"colour": "red", "tags": []any{"long"}, "features": map[string]any{"chat": "yes"}})
	var se *config.SettingsError
	if !errors.As(err, &se) {
		t.Fatalf("not a settings error: %v", err)
	}
	fields := editFields(schema.Doc, nil)
	byField, rest := placeProblems(append(se.Problems, "something else"), fields)
	for _, name := range []string{"colour", "tags", "features.chat", "features.seats"} {
		if len(byField[name]) != 1 {
			t.Errorf("%s: %v (all: %v)", name, byField[name], se.Problems)
		}
	}
	if byField["features.seats"][0] != "required" || !reflect.DeepEqual(rest, []string{"something else"}) {
		t.Errorf("placed %v, rest %v", byField, rest)
	}
}
