package serverconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// loadGenerate decodes a server file's generate section the way LoadServer
// does (strict keys, lines recorded) and loads it.
func loadGenerate(t *testing.T, doc string) (*Generate, error) {
	t.Helper()
	var wrapper struct {
		Generate Generate `yaml:"generate"`
	}
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &root); err != nil {
		t.Fatal(err)
	}
	lines := map[string]int{}
	recordServerLines(root.Content[0], "", lines)
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&wrapper); err != nil {
		t.Fatal(err)
	}
	src := serverSources{file: "server.yml", lines: lines, env: map[string]bool{}}
	return &wrapper.Generate, wrapper.Generate.load(src)
}

func TestGenerateSecrets(t *testing.T) {
	file := filepath.Join(t.TempDir(), "shop.secret")
	if err := os.WriteFile(file, []byte("0123456789abcdef0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	g, err := loadGenerate(t, `
generate:
  repositories:
    Acme/Shop: { secret_file: `+file+` }
    acme/blog: { secret: "a-long-enough-secret" }
`)
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := g.GenerateSecret("acme", "shop"); !ok || s != "0123456789abcdef0123" {
		t.Errorf("acme/shop secret = %q, %v; want the file's content without its newline, names case-insensitive", s, ok)
	}
	if s, ok := g.GenerateSecret("ACME", "blog"); !ok || s != "a-long-enough-secret" {
		t.Errorf("acme/blog secret = %q, %v", s, ok)
	}
	if _, ok := g.GenerateSecret("acme", "other"); ok {
		t.Error("a repository without an entry has a secret")
	}
}

func TestGenerateSecretErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.secret")
	for _, tc := range []struct{ doc, want string }{
		{"generate:\n  repositories:\n    acme/shop: { secret: short }\n",
			"config: server.yml:3: generate.repositories.acme/shop.secret: the secret is 5 bytes; use at least 16"},
		{"generate:\n  repositories:\n    acme/shop: {}\n",
			"config: server.yml:3: generate.repositories.acme/shop: needs secret or secret_file"},
		{"generate:\n  repositories:\n    acme/shop: { secret: a-long-enough-secret, secret_file: /x }\n",
			"generate.repositories.acme/shop: set secret or secret_file, not both"},
		{"generate:\n  repositories:\n    acme/shop: { secret_file: " + missing + " }\n",
			"config: server.yml:3: generate.repositories.acme/shop.secret_file: cannot read " + missing + ": no such file or directory"},
		{"generate:\n  repositories:\n    shop: { secret: a-long-enough-secret }\n",
			`generate.repositories.shop: "shop" is not a repository name like owner/name`},
		{"generate:\n  repositories:\n    acme/shop: { secret: a-long-enough-secret }\n    ACME/shop: { secret: a-long-enough-secret }\n",
			"is listed twice"},
	} {
		_, err := loadGenerate(t, tc.doc)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %q", tc.doc, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "a-long-enough-secret") {
			t.Errorf("error echoes a secret: %v", err)
		}
	}
}

// TestGenerateSectionInServer loads the section through LoadServer once
// Server embeds it.
func TestGenerateSectionInServer(t *testing.T) {
	if generateOf(&Server{}) == nil {
		t.Skip("serverconfig.Server does not embed Generate yet: add the line  Generate `yaml:\"generate\"`  to it")
	}
	path := writeYAML(t, "generate:\n  repositories:\n    acme/shop: { secret: short }\n")
	_, err := LoadServer(path, envOf(validEnv(t)))
	if err == nil || !strings.Contains(err.Error(), ":3: generate.repositories.acme/shop.secret: the secret is 5 bytes") {
		t.Fatalf("got %v", err)
	}
	path = writeYAML(t, "generate:\n  repositories:\n    acme/shop: { secret: a-long-enough-secret }\n")
	cfg, err := LoadServer(path, envOf(validEnv(t)))
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := generateOf(cfg).GenerateSecret("acme", "shop"); !ok || s != "a-long-enough-secret" {
		t.Fatalf("secret = %q, %v", s, ok)
	}
}
