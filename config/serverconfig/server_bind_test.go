package serverconfig

import (
	"errors"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/config"
)

func TestBindingErrorsNameTheSetting(t *testing.T) {
	cases := []struct{ yaml, want string }{
		// An entry must say who may use it; there is no silent default.
		{"targets:\n  b: { type: local, dir: /x }\n", ":2: targets.b: repos is required"},
		{"cdns:\n  e: { type: varnish, nodes: [http://x] }\n", ":2: cdns.e: repos is required"},
		{"cdns:\n  - { name: e, type: varnish, nodes: [http://x] }\n", ":2: cdns.e: repos is required"},
		{"targets:\n  local: { type: local, dir: /x }\n", ":2: targets.local: repos is required"},
		{"targets:\n  b:\n    type: local\n    dir: /x\n    repos: [\"*/site\"]\n", ":5: targets.b.repos: \"*/site\": the owner must be a GitHub account name"},
		{"targets:\n  b:\n    type: local\n    dir: /x\n    repos: [\"acme/..\"]\n", `targets.b.repos: "acme/..": write owner, owner/name or owner/*`},
		{"targets:\n  b:\n    type: local\n    dir: /x\n    repos: [\"acme/[\"]\n", `targets.b.repos: "acme/["`},
		// Every repository needs a folder of its own.
		{"targets:\n  b:\n    type: local\n    dir: /x\n    repos: [acme, globex]\n    prefix: \"{repo}/\"\n", ":6: targets.b.prefix: prefix \"{repo}/\" needs {owner} and {repo}"},
		{"targets:\n  b:\n    type: local\n    dir: /x\n    repos: [\"*\"]\n    prefix: \"\"\n", "targets.b.prefix: prefix \"\" needs {owner} and {repo}"},
		{"targets:\n  b:\n    type: local\n    dir: /x\n    repos: [acme]\n    prefix: \"www/\"\n", "targets.b.prefix: prefix \"www/\" needs {repo}"},
		{"targets:\n  b:\n    type: local\n    dir: /x\n    repos: [acme/site, acme/blog]\n    prefix: \"\"\n", "needs {repo}"},
		{"targets:\n  b:\n    type: local\n    dir: /x\n    repos: [acme/site-*]\n    prefix: \"\"\n", "needs {repo}"},
		{"targets:\n  b:\n    type: local\n    dir: /x\n    repos: [\"*\"]\n    prefix: \"{owner}{repo}/\"\n", "{owner} and {repo} are the only placeholders, each a whole folder name"},
		{"targets:\n  b:\n    type: local\n    dir: /x\n    repos: [\"*\"]\n    prefix: \"../{owner}/{repo}/\"\n", "is not a clean relative folder"},
		{"targets:\n  b:\n    type: local\n    dir: /x\n    repos: [\"*\"]\n    prefix: \"/{owner}/{repo}/\"\n", "must be relative"},
		{"targets:\n  b:\n    type: local\n    dir: /x\n    repos: [\"*\"]\n    prefix: \"{owner}/{branch}/\"\n", "the only placeholders"},
		// purge_all empties the whole service: only for one repository.
		{"cdns:\n  f:\n    type: fastly\n    service_id: S\n    api_token: t\n    purge_all: true\n    repos: [acme]\n", ":6: cdns.f.purge_all: purge_all is allowed only on a CDN whose repos names exactly one repository"},
	}
	for _, c := range cases {
		_, err := LoadServer(writeYAML(t, c.yaml), envOf(validEnv(t)))
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line containing %q", c.yaml, err, c.want)
		}
	}
	// What is allowed: one repository may have any folder, one owner's
	// repositories need {repo}, an explicit empty list closes the target.
	for _, ok := range []string{
		"targets:\n  b: { type: local, dir: /x, repos: [acme/site], prefix: \"\" }\n",
		"targets:\n  b: { type: local, dir: /x, repos: [acme/site], prefix: \"www/\" }\n",
		"targets:\n  b: { type: local, dir: /x, repos: [acme, acme/*], prefix: \"sites/{repo}/\" }\n",
		"targets:\n  b: { type: local, dir: /x, repos: [] }\n",
		"cdns:\n  f: { type: fastly, service_id: S, api_token: t, purge_all: true, repos: [acme/site] }\n",
	} {
		if _, err := LoadServer(writeYAML(t, ok), envOf(validEnv(t))); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

func loadBound(t *testing.T, body string) *Server {
	t.Helper()
	cfg, err := LoadServer(writeYAML(t, body), envOf(validEnv(t)))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestDeployTargetPrefixStaysInTheRepositorysFolder(t *testing.T) {
	cfg := loadBound(t, `
targets:
  acme-bucket: { type: local, dir: /srv/acme, repos: [acme], prefix: "sites/{repo}/" }
  one: { type: local, dir: /srv/one, repos: [acme/site], prefix: "" }
`)
	good := []struct{ target, repo, prefix, want string }{
		{"local", "acme/site", "production/", "acme/site/production/"},
		{"local", "Acme/Site", "production/", "acme/site/production/"}, // GitHub names are case-insensitive
		{"local", "globex/site", "production/", "globex/site/production/"},
		{"local", "acme/site", "docs/v1", "acme/site/docs/v1/"},
		{"local", "acme/site", "", "acme/site/"},
		{"acme-bucket", "acme/blog", "staging/", "sites/blog/staging/"},
		{"one", "acme/site", "production/", "production/"},
	}
	for _, g := range good {
		_, got, err := cfg.DeployTarget(g.target, g.repo, g.prefix)
		if err != nil || got != g.want {
			t.Errorf("DeployTarget(%s, %s, %q) = %q, %v; want %q", g.target, g.repo, g.prefix, got, err, g.want)
		}
	}
	hostile := []string{
		"../globex/site/production/", "..", "../", "a/../../x/", "/globex/site/", "//globex/", "a//b/",
		"./", "a/./b/", `..\globex\`, "%2e%2e/globex/", "a%2fb/", "a/\x00/", "a/\n/", "x/..",
	}
	for _, p := range hostile {
		if _, got, err := cfg.DeployTarget("local", "evil/site", p); err == nil {
			t.Errorf("prefix %q was accepted as %q", p, got)
		}
	}
	// A hostile repository name cannot make a folder either.
	for _, repo := range []string{"evil/..", "evil/.", "../x", "evil/a%2f", "evil"} {
		if _, got, err := cfg.DeployTarget("local", repo, "production/"); err == nil {
			t.Errorf("repository %q was given %q", repo, got)
		}
	}
}

func TestTargetsAndCDNsAreBoundToRepositories(t *testing.T) {
	cfg := loadBound(t, `
targets:
  acme-bucket: { type: local, dir: /srv/acme, repos: [acme] }
  sites: { type: local, dir: /srv/sites, repos: [globex/site-*, initech/www] }
  private: { type: local, dir: /srv/private, repos: [] }
cdns:
  acme-edge: { type: varnish, nodes: [http://x], repos: [acme/*] }
  shared: { type: varnish, nodes: [http://y], repos: ["*"] }
`)
	for _, c := range []struct {
		target, repo string
		ok           bool
	}{
		{"acme-bucket", "acme/site", true}, {"acme-bucket", "ACME/blog", true}, {"acme-bucket", "evil/site", false},
		{"acme-bucket", "acmecorp/site", false}, {"sites", "globex/site-eu", true}, {"sites", "globex/blog", false},
		{"sites", "initech/www", true}, {"sites", "initech/www2", false}, {"private", "acme/site", false},
		{"local", "anyone/anything", true}, {"nope", "acme/site", false},
	} {
		_, _, err := cfg.DeployTarget(c.target, c.repo, "production/")
		if (err == nil) != c.ok {
			t.Errorf("target %s for %s: err %v, want allowed %v", c.target, c.repo, err, c.ok)
		}
		if err != nil && c.target != "nope" && !strings.Contains(err.Error(), "is not open to "+c.repo) {
			t.Errorf("target %s for %s: %v does not say why", c.target, c.repo, err)
		}
	}
	for _, c := range []struct {
		cdn, repo string
		ok        bool
	}{
		{"acme-edge", "acme/site", true}, {"acme-edge", "evil/site", false}, {"shared", "evil/site", true}, {"nope", "acme/site", false},
	} {
		if err := cfg.CDNAllowed(c.cdn, c.repo); (err == nil) != c.ok {
			t.Errorf("cdn %s for %s: err %v, want allowed %v", c.cdn, c.repo, err, c.ok)
		}
	}
}

func TestCheckRepoConfigPointsAtTheValue(t *testing.T) {
	cfg := loadBound(t, `
targets:
  acme-bucket: { type: local, dir: /srv/acme, repos: [acme] }
cdns:
  acme-edge: { type: varnish, nodes: [http://x], repos: [acme] }
`)
	rc, err := config.LoadRepoConfig(config.RepoConfigPath, []byte(`version: 1
environments:
  production:
    deploy: { target: acme-bucket, prefix: ../../acme/site/production/ }
    purge: [ { cdn: acme-edge } ]
  staging:
    deploy: { target: local, prefix: "a%2f..%2f/" }
`))
	if err == nil {
		t.Fatal("a prefix with .. was accepted by the repository validation")
	}
	// The same file with clean prefixes, from another account.
	rc, err = config.LoadRepoConfig(config.RepoConfigPath, []byte(`version: 1
environments:
  production:
    deploy: { target: acme-bucket, prefix: acme/site/production/ }
    purge: [ { cdn: acme-edge } ]
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.CheckRepoConfig(rc, "acme/site"); err != nil {
		t.Fatalf("acme/site may use its owner's target: %v", err)
	}
	err = cfg.CheckRepoConfig(rc, "evil/site")
	var list config.RepoConfigErrors
	if !errors.As(err, &list) || len(list) != 2 {
		t.Fatalf("evil/site: %v, want two mistakes", err)
	}
	want := []string{
		`.github/hoist.yml:4:23: deploy target "acme-bucket" is not open to evil/site (the server config lists who may use it)`,
		`.github/hoist.yml:5:21: cdn "acme-edge" is not open to evil/site (the server config lists who may purge it)`,
	}
	for i, e := range list {
		if got := e.Error(); got != want[i] {
			t.Errorf("mistake %d = %q, want %q", i, got, want[i])
		}
	}
}

// TestCheckRepoConfigEditions: the editions' target and CDNs are checked
// as an environment's, each mistake at its value.
func TestCheckRepoConfigEditions(t *testing.T) {
	cfg := loadBound(t, `
targets:
  acme-bucket: { type: local, dir: /srv/acme, repos: [acme] }
cdns:
  acme-edge: { type: varnish, nodes: [http://x], repos: [acme] }
`)
	rc, err := config.LoadRepoConfig(config.RepoConfigPath, []byte(`version: 1
editions:
  branches: [ "feature/*" ]
  target: acme-bucket
  purge: [ { cdn: acme-edge } ]
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.CheckRepoConfig(rc, "acme/site"); err != nil {
		t.Fatalf("acme/site: %v", err)
	}
	err = cfg.CheckRepoConfig(rc, "evil/site")
	want := `.github/hoist.yml:4:11: deploy target "acme-bucket" is not open to evil/site (the server config lists who may use it)
.github/hoist.yml:5:19: cdn "acme-edge" is not open to evil/site (the server config lists who may purge it)`
	if err == nil || err.Error() != want {
		t.Fatalf("evil/site:\n%v\nwant\n%s", err, want)
	}
}
