package config

import "testing"

// TestRepoReleaseGroupForms: a name alone joins a group of the server
// configuration; a mapping declares the group with its members.
func TestRepoReleaseGroupForms(t *testing.T) {
	short, err := LoadRepoConfig(RepoConfigPath, []byte("version: 1\nenvironments:\n  production: { branch: prod }\nrelease_group: web\n"))
	if err != nil {
		t.Fatal(err)
	}
	if g := short.ReleaseGroup; g.Name != "web" || g.Declared() {
		t.Fatalf("short form: %+v", g)
	}
	long, err := LoadRepoConfig(RepoConfigPath, []byte(`version: 1
environments:
  production: { branch: prod }
release_group: { name: web, members: [acme/frontend, acme/backend], environments: [production] }
`))
	if err != nil {
		t.Fatal(err)
	}
	if g := long.ReleaseGroup; g.Name != "web" || !g.Declared() || len(g.Members) != 2 || g.Environments[0] != "production" {
		t.Fatalf("mapping: %+v", g)
	}
	if p := long.Position("release_group.members[1]"); p.Line != 4 || p.Column != 54 {
		t.Fatalf("position of the second member: %+v", p)
	}
}
