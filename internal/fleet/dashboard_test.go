package fleet_test

import (
	"net/url"
	"reflect"
	"testing"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/internal/fleet"
)

// TestLaunchFormFromSchema: the form has an input per setting, typed by
// the schema, and reads back into settings the schema accepts.
func TestLaunchFormFromSchema(t *testing.T) {
	cfg, err := config.LoadRepoConfig("", []byte(`version: 1
fleet:
  release: { branch: main }
  target: instances
  settings:
    schema:
      required: [colour]
      properties:
        colour: { type: string, pattern: "^#[0-9a-f]{6}$", title: Colour }
        tier: { type: string, enum: [basic, pro], default: basic }
        seats: { type: integer, minimum: 1, default: 5 }
        features: { type: object, properties: { chat: { type: boolean, default: false } } }
`))
	if err != nil {
		t.Fatal(err)
	}
	schema := cfg.Fleet.Settings.Schema
	fields := fleet.SchemaFields(schema.Doc)
	var kinds []string
	for _, f := range fields {
		kinds = append(kinds, f.Name+":"+f.Kind)
	}
	if want := []string{"colour:text", "features.chat:checkbox", "seats:number", "tier:select"}; !reflect.DeepEqual(kinds, want) {
		t.Fatalf("fields %v, want %v", kinds, want)
	}
	if fields[0].Label != "Colour" || !fields[0].Required || fields[0].Pattern == "" {
		t.Fatalf("colour field: %+v", fields[0])
	}
	got := fleet.FormSettings(schema.Doc, url.Values{"s.colour": {"#abcdef"}, "s.tier": {"pro"}, "s.seats": {"12"}, "s.features.chat": {"on"}})
	resolved, err := schema.Resolve(got)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"colour": "#abcdef", "tier": "pro", "seats": float64(12), "features": map[string]any{"chat": true}}
	if !reflect.DeepEqual(resolved, want) {
		t.Fatalf("settings %v, want %v", resolved, want)
	}
	if _, err := schema.Resolve(fleet.FormSettings(schema.Doc, url.Values{"s.seats": {"0"}})); err == nil {
		t.Fatal("a form without colour and with 0 seats was accepted")
	}
}
