package fleet_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

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

// TestDashboardLaunch: alice (admin) sees the fleet page with a form made
// from the schema and launches through it; bob (read) sees the page but
// no form, and his post is refused; carol (no access) sees nothing; a
// cross-site post is refused.
func TestDashboardLaunch(t *testing.T) {
	w := startFleetWith(t, true)
	ctx := context.Background()
	w.GH.CreateUser("bob")
	if _, _, err := w.Alice.Repositories.AddCollaborator(ctx, "acme", "site", "bob", &github.RepositoryAddCollaboratorOptions{Permission: "pull"}); err != nil {
		t.Fatal(err)
	}
	w.GH.CreateUser("carol")
	page := w.URL + "/fleets/acme/site"
	get := func(c *http.Client) (int, string) {
		res, err := c.Get(page)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	post := func(c *http.Client, form url.Values, origin string) (int, string) {
		req, _ := http.NewRequest("POST", page, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	alice, bob, carol := w.GH.SignedInClient("alice"), w.GH.SignedInClient("bob"), w.GH.SignedInClient("carol")
	code, body := get(alice)
	if code != 200 || !strings.Contains(body, `name="s.colour"`) || !strings.Contains(body, `pattern="^#[0-9a-f]{6}$"`) ||
		!strings.Contains(body, `type="checkbox" name="s.features.chat"`) || !strings.Contains(body, "No instances yet") {
		t.Fatalf("alice's fleet page: %d\n%s", code, body)
	}
	if code, body := get(bob); code != 200 || strings.Contains(body, `id="launch"`) || !strings.Contains(body, "needs maintain permission") {
		t.Fatalf("bob's fleet page: %d\n%s", code, body)
	}
	if code, body := get(carol); code != 404 || strings.Contains(body, "acme/site") {
		t.Fatalf("carol's fleet page: %d\n%s", code, body)
	}
	form := url.Values{"name": {"shop"}, "plan": {"paid"}, "s.colour": {"#abcdef"}, "s.features.chat": {"on"}}
	if code, _ := post(bob, form, w.URL); code != 403 {
		t.Fatalf("bob's launch: %d, want 403", code)
	}
	if code, _ := post(alice, form, "https://evil.example"); code != 403 {
		t.Fatalf("cross-site launch: %d, want 403", code)
	}
	if code, body := post(alice, url.Values{"name": {"shop"}, "s.colour": {"blue"}}, w.URL); code != 422 || !strings.Contains(body, "/colour") {
		t.Fatalf("alice's launch with bad settings: %d\n%s", code, body)
	}
	if list, _ := w.Caps.Fleet.Store().List(ctx, "acme/site"); len(list) != 0 {
		t.Fatalf("refused launches stored %v", list)
	}
	code, body = post(alice, form, w.URL)
	if code != 200 || !strings.Contains(body, `data-instance="shop"`) {
		t.Fatalf("alice's launch: %d\n%s", code, body)
	}
	in, err := w.Caps.Fleet.Store().Get(ctx, "acme/site", "shop")
	if err != nil || in.CreatedBy != "alice" || in.Plan != "paid" || in.Settings["colour"] != "#abcdef" ||
		in.Settings["features"].(map[string]any)["chat"] != true || in.Settings["contact"] != "help@example.com" {
		t.Fatalf("launched from the form: %+v %v", in, err)
	}
	w.waitState("shop", "live", 60*time.Second)
}
