package serverconfig

import (
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/config"
)

func TestReleaseGroupsSettings(t *testing.T) {
	env := validEnv(t)
	path := writeYAML(t, "release_groups:\n  - { name: web, members: [acme/frontend, acme/backend], environments: [production] }\n")
	cfg, err := LoadServer(path, envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	g, ok := cfg.ServerReleaseGroup("Acme/Backend", "production")
	if !ok || g.Name != "web" {
		t.Fatalf("group of acme/backend: %+v %v", g, ok)
	}
	if _, ok := cfg.ServerReleaseGroup("acme/backend", "staging"); ok {
		t.Fatal("staging is not released by the group")
	}
	for _, tc := range []struct{ body, want string }{
		{"release_groups:\n  - { name: web, members: [acme/frontend], environments: [production] }\n", ":2:18: release_groups.web.members: a release group needs at least two members"},
		{"release_groups:\n  - { name: web, members: [acme/frontend, nope], environments: [production] }\n", ":2:43: release_groups.web.members[1]: member \"nope\" must be a repository as owner/name"},
		{"release_groups:\n  - { name: web, members: [a/b, a/c] }\n", ":2:5: release_groups.web: a release group needs environments"},
		{"release_groups:\n  - { name: web, members: [a/b, a/c], environments: [p] }\n  - { name: api, members: [a/c, a/d], environments: [p] }\n",
			`:3:28: release_groups.api.members[0]: a/c p is released by the group "web" already`},
	} {
		path := writeYAML(t, tc.body)
		if _, err := LoadServer(path, envOf(env)); err == nil || !strings.Contains(err.Error(), path+tc.want) {
			t.Errorf("%q: %v, want %q", tc.body, err, path+tc.want)
		}
	}
}

// TestReleaseGroupOfAnotherAccount: a repository cannot join a group of
// the server that does not list it, nor declare a group without itself;
// each refusal points at the file's line and column.
func TestReleaseGroupOfAnotherAccount(t *testing.T) {
	env := validEnv(t)
	cfg, err := LoadServer(writeYAML(t, "release_groups:\n  - { name: web, members: [acme/frontend, acme/backend], environments: [production] }\n"), envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	load := func(group string) *config.RepoConfig {
		rc, err := config.LoadRepoConfig(config.RepoConfigPath, []byte("version: 1\nenvironments:\n  production: { branch: prod }\nrelease_group: "+group+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		return rc
	}
	for _, tc := range []struct{ repo, group, want string }{
		{"acme/frontend", "web", ""},
		{"evil/site", "web", `.github/hoist.yml:4:16: the release group "web" of the server configuration does not list evil/site`},
		{"evil/site", "other", `.github/hoist.yml:4:16: the server configuration has no release group "other"`},
		{"evil/site", "{ name: web, members: [evil/site, acme/frontend], environments: [production] }", `.github/hoist.yml:4:38: the release group "web" is declared by the server configuration`},
		{"evil/site", "{ name: mine, members: [acme/backend, acme/frontend], environments: [production] }", `.github/hoist.yml:4:39: the release group "mine" must list this repository, evil/site`},
		{"evil/site", "{ name: mine, members: [evil/site, acme/frontend], environments: [production] }", ""},
	} {
		err := cfg.CheckRepoConfig(load(tc.group), tc.repo)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s %s: %v", tc.repo, tc.group, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s %s: %v, want %q", tc.repo, tc.group, err, tc.want)
		}
	}
}
