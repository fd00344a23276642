package config

import (
	"errors"
	"strings"
	"testing"
)

const fleetExample = `version: 1
fleet:
  release: { branch: main }
  target: instances
  staging: { host: "stg-{name}.example.com", gates: { smoke: true } }
  production: { host: "{name}.example.com", gates: { smoke: true, checks: ["ci / test"] } }
  settings:
    schema:
      required: [colour]
      properties:
        colour: { type: string, pattern: "^#[0-9a-f]{6}$" }
        plan_label: { type: string, enum: [basic, pro], default: basic }
        contact: { type: object, properties: { email: { type: string, default: "help@example.com" } } }
`

func TestFleetTemplateDefaults(t *testing.T) {
	cfg, err := LoadRepoConfig("", []byte(fleetExample))
	if err != nil {
		t.Fatal(err)
	}
	f := cfg.Fleet
	if !f.Defined || f.Production.Branch != "{name}" || f.Staging.Branch != "dev-{name}" ||
		f.Production.Prefix != "{name}/" || f.Staging.Prefix != "dev-{name}/" || f.Settings.File != "hoist-settings.json" ||
		f.Trial.Days != 14 || f.Permission != "maintain" {
		t.Fatalf("defaults not applied: %+v", f)
	}
	if !f.Staging.Gates.Smoke || len(f.Production.Gates.Checks) != 1 {
		t.Fatalf("gates: %+v", f)
	}
	got, err := f.Settings.Schema.Resolve(map[string]any{"colour": "#00ff00"})
	if err != nil {
		t.Fatal(err)
	}
	if got["plan_label"] != "basic" || got["contact"].(map[string]any)["email"] != "help@example.com" {
		t.Fatalf("defaults of settings: %v", got)
	}
	_, err = f.Settings.Schema.Resolve(map[string]any{"colour": "green", "plan_label": "gold"})
	var se *SettingsError
	if !errors.As(err, &se) || len(se.Problems) != 2 {
		t.Fatalf("want two problems, got %v", err)
	}
	if !strings.Contains(err.Error(), "/colour") || !strings.Contains(err.Error(), "/plan_label") {
		t.Fatalf("problems do not name the places: %v", err)
	}
	if _, err := f.Settings.Schema.Resolve(map[string]any{}); err == nil || !strings.Contains(err.Error(), "colour") {
		t.Fatalf("missing required colour accepted: %v", err)
	}
	noFleet, err := LoadRepoConfig("", []byte("version: 1\n"))
	if err != nil || noFleet.Fleet.Defined {
		t.Fatalf("fleet defined without a section: %v", err)
	}
}

func TestFleetRolloutKeys(t *testing.T) {
	cfg, err := LoadRepoConfig("", []byte(fleetExample))
	if err != nil {
		t.Fatal(err)
	}
	if r := cfg.Fleet.Rollout; len(r.Canaries) != 0 || r.Wave != 10 || r.MaxFailures != "10%" || r.MaxFailuresValue != 0.1 {
		t.Fatalf("rollout defaults: %+v", r)
	}
	cfg, err = LoadRepoConfig("", []byte(fleetExample+"  rollout: { canaries: [beta, acme], wave: 25, max_failures: 0% }\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r := cfg.Fleet.Rollout; strings.Join(r.Canaries, ",") != "beta,acme" || r.Wave != 25 || r.MaxFailuresValue != 0 {
		t.Fatalf("rollout keys: %+v", r)
	}
	for _, bad := range []string{"wave: 101", "wave: -1", "max_failures: 10", "max_failures: ten%", "max_failures: 100.5%", "canaries: [dev-acme]"} {
		_, err := LoadRepoConfig("", []byte(fleetExample+"  rollout: { "+bad+" }\n"))
		if err == nil || !strings.Contains(err.Error(), ":14:") {
			t.Errorf("%s: want an error on line 14, got %v", bad, err)
		}
	}
}

func TestFleetInstanceNames(t *testing.T) {
	cfg, err := LoadRepoConfig("", []byte(fleetExample+"  reserved: [billing]\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, ok := range []string{"acme", "a", "shop-2", strings.Repeat("a", 63)} {
		if msg := cfg.Fleet.CheckInstanceName(ok); msg != "" {
			t.Errorf("%q refused: %s", ok, msg)
		}
	}
	for _, bad := range []string{"", "Acme", "-a", "a-", "1shop", "a_b", "a.b", "x--y", "www", "admin", "api", "dev-acme", "billing", strings.Repeat("a", 64)} {
		if msg := cfg.Fleet.CheckInstanceName(bad); msg == "" {
			t.Errorf("%q accepted", bad)
		}
	}
}
