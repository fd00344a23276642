package config

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"gopkg.in/yaml.v3"
)

const committedSchema = "schema/hoist.schema.json"

// TestRepoSchemaFresh fails when the committed schema no longer matches the
// Go types: run `go generate ./config` and commit the result.
func TestRepoSchemaFresh(t *testing.T) {
	committed, err := os.ReadFile(committedSchema)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(committed, RepoSchema()) {
		t.Fatalf("%s is stale: run `go generate ./config` and commit it", committedSchema)
	}
}

// TestRepoSchemaDescribesEveryField: editors show the descriptions while
// typing, so every key has one.
func TestRepoSchemaDescribesEveryField(t *testing.T) {
	var root map[string]any
	if err := json.Unmarshal(RepoSchema(), &root); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, s map[string]any)
	count := 0
	walk = func(path string, s map[string]any) {
		if props, ok := s["properties"].(map[string]any); ok {
			for k, p := range props {
				ps := p.(map[string]any)
				count++
				if d, _ := ps["description"].(string); d == "" {
					t.Errorf("%s.%s has no description", path, k)
				}
				walk(path+"."+k, ps)
			}
		}
		if items, ok := s["items"].(map[string]any); ok {
			walk(path+"[]", items)
		}
		if add, ok := s["additionalProperties"].(map[string]any); ok {
			walk(path+".*", add)
		}
	}
	walk("", root)
	if count < 40 {
		t.Errorf("only %d keys in the schema", count)
	}
}

func schemaValidate(t *testing.T, schema *openapi3.Schema, doc []byte) error {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var j any
	if err := json.Unmarshal(b, &j); err != nil {
		t.Fatal(err)
	}
	// kin-openapi validates OpenAPI schemas, which have no
	// patternProperties: drop the top-level x- keys that the schema allows
	// through it.
	if m, ok := j.(map[string]any); ok {
		for k := range m {
			if strings.HasPrefix(k, "x-") {
				delete(m, k)
			}
		}
	}
	return schema.VisitJSON(j, openapi3.MultiErrors())
}

// TestRepoSchemaAgreesWithLoader validates documents with the generated
// schema (through kin-openapi's validator) and with LoadRepoConfig: what
// the loader accepts the schema accepts, and typical mistakes are caught
// by both.
func TestRepoSchemaAgreesWithLoader(t *testing.T) {
	var schema openapi3.Schema
	if err := json.Unmarshal(RepoSchema(), &schema); err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("../.github/hoist.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := schemaValidate(t, &schema, example); err != nil {
		t.Errorf("the example fails the schema: %v", err)
	}
	bad := map[string]string{
		"unknown key":      "version: 1\nenvironments: { dev: { promte_from: x } }\n",
		"permission":       "version: 1\nenvironments: { dev: { permission: owner } }\n",
		"fail_on":          "version: 1\nsmoke: { fail_on: [http_eror] }\n",
		"duration":         "version: 1\nenvironments: { dev: { gates: { soak: soon } } }\n",
		"checks not list":  "version: 1\nenvironments: { dev: { gates: { checks: ci } } }\n",
		"viewport width":   "version: 1\nsmoke: { viewports: [ { name: a, width: 10, height: 800 } ] }\n",
		"candidate no to":  "version: 1\ncandidates: [ { from: pre-x } ]\n",
		"version":          "version: 2\n",
		"top-level typo":   "version: 1\nenvironment: {}\n",
		"page path":        "version: 1\nsmoke: { pages: [ { path: about } ] }\n",
		"approvals type":   "version: 1\nenvironments: { dev: { gates: { approvals: two } } }\n",
		"visual threshold": "version: 1\nsmoke: { visual: { threshold: 2 } }\n",
		"check no name":    "version: 1\nenvironments: { dev: { gates: { checks: [ { app: github-actions } ] } } }\n",
		"check typo":       "version: 1\nenvironments: { dev: { gates: { checks: [ { name: t, ap: github-actions } ] } } }\n",
		"check app slug":   "version: 1\nenvironments: { dev: { gates: { checks: [ { name: t, app: GitHub Actions } ] } } }\n",
		"check creator":    "version: 1\nenvironments: { dev: { gates: { checks: [ { name: t, creator: \"a b\" } ] } } }\n",
		"check a list":     "version: 1\nenvironments: { dev: { gates: { checks: [ [t] ] } } }\n",
	}
	good := "version: 1\nenvironments: { dev: { gates: { checks: [ \"lint\", { name: \"ci / test\", app: github-actions }, { name: ci/jenkins, creator: \"jenkins[bot]\" } ] } } }\n"
	if err := schemaValidate(t, &schema, []byte(good)); err != nil {
		t.Errorf("the schema refuses checks with reporters: %v", err)
	}
	if _, err := LoadRepoConfig("x.yml", []byte(good)); err != nil {
		t.Errorf("the loader refuses checks with reporters: %v", err)
	}
	for name, doc := range bad {
		if err := schemaValidate(t, &schema, []byte(doc)); err == nil {
			t.Errorf("%s: the schema accepts %q", name, doc)
		}
		if _, err := LoadRepoConfig("x.yml", []byte(doc)); err == nil {
			t.Errorf("%s: the loader accepts %q", name, doc)
		}
	}
	if !strings.Contains(string(RepoSchema()), `"$schema": "https://json-schema.org/draft/2020-12/schema"`) {
		t.Error("the schema does not declare its draft")
	}
}

// TestRepoReferenceInDocs keeps the key reference of docs/config.md equal
// to the one generated from the types; -update rewrites it.
func TestRepoReferenceInDocs(t *testing.T) {
	const doc = "../docs/config.md"
	const begin, end = "<!-- reference:begin (generated by TestRepoReferenceInDocs; go test ./config -update) -->\n", "<!-- reference:end -->"
	data, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the reference markers", doc)
	}
	want := s[:i+len(begin)] + RepoReference() + s[j:]
	if *update && want != s {
		if err := os.WriteFile(doc, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		s = want
	}
	if s != want {
		t.Errorf("the reference in %s is stale: run go test ./config -update", doc)
	}
}

// TestRepoExampleInDocs: the first yaml block of docs/config.md and of the
// README is the repository's example file, so the documentation shows a
// file that loads.
func TestRepoExampleInDocs(t *testing.T) {
	example, err := os.ReadFile("../.github/hoist.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range []string{"../docs/config.md", "../README.md"} {
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		_, rest, ok := strings.Cut(string(data), "```yaml\n")
		block, _, ok2 := strings.Cut(rest, "```\n")
		if !ok || !ok2 {
			t.Fatalf("%s has no yaml block", doc)
		}
		if block != string(example) {
			t.Errorf("the first yaml block of %s differs from .github/hoist.yml", doc)
		}
		if _, err := LoadRepoConfig(doc, []byte(block)); err != nil {
			t.Error(err)
		}
	}
}
