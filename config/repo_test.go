package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files of config/testdata")

// TestRepoConfigErrorsGolden loads each broken file of testdata/errors and
// compares every message, with its file:line:col, to the .golden file
// beside it.
func TestRepoConfigErrorsGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.yml")
	if err != nil || len(files) < 10 {
		t.Fatalf("want at least 10 broken files in testdata/errors, got %d (%v)", len(files), err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			name := filepath.ToSlash(file)
			cfg, err := LoadRepoConfig(name, data)
			if err == nil {
				t.Fatalf("LoadRepoConfig accepted %s:\n%s", file, cfg.Summary())
			}
			if cfg != nil {
				t.Errorf("a config came back with errors")
			}
			var list RepoConfigErrors
			if !errors.As(err, &list) {
				t.Fatalf("error is %T, want RepoConfigErrors", err)
			}
			for _, e := range list {
				if e.File != name || e.Line < 1 || e.Column < 1 {
					t.Errorf("error without a place: %#v", e)
				}
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(file, ".yml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./config -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("errors of %s:\n got:\n%s\nwant:\n%s", file, got, want)
			}
		})
	}
}

func load(t *testing.T, doc string) *RepoConfig {
	t.Helper()
	cfg, err := LoadRepoConfig("hoist.yml", []byte(doc))
	if err != nil {
		t.Fatalf("LoadRepoConfig:\n%v", err)
	}
	return cfg
}

func TestRepoConfigDefaults(t *testing.T) {
	cfg := load(t, `
version: 1
environments:
  dev: {}
  staging: { promote_from: dev, deploy: { target: bucket } }
  qa:
candidates: [ { from: pre-staging, to: staging } ]
`)
	if qa, ok := cfg.Environments.Get("qa"); !ok || qa.Branch != "qa" || qa.Permission != "write" {
		t.Errorf("an environment written without settings gets the defaults: %+v", qa)
	}
	if cfg.File != "hoist.yml" || cfg.Version != 1 {
		t.Errorf("file/version = %q/%d", cfg.File, cfg.Version)
	}
	if cfg.Site.Root != "." {
		t.Errorf("site.root default = %q, want .", cfg.Site.Root)
	}
	dev, _ := cfg.Environments.Get("dev")
	staging, _ := cfg.Environments.Get("staging")
	if dev.Branch != "dev" || staging.Branch != "staging" {
		t.Errorf("branch defaults to the name: got %q, %q", dev.Branch, staging.Branch)
	}
	if dev.Permission != "write" || staging.Permission != "write" {
		t.Errorf("permission default = %q, %q; want write", dev.Permission, staging.Permission)
	}
	if dev.Auto || staging.Auto {
		t.Errorf("auto must default to false")
	}
	if staging.Deploy.Prefix != "staging/" {
		t.Errorf("deploy.prefix default = %q, want staging/", staging.Deploy.Prefix)
	}
	if dev.Deploy.Prefix != "" {
		t.Errorf("an environment without a target gets no prefix, got %q", dev.Deploy.Prefix)
	}
	if !cfg.Candidates[0].Automatic() || cfg.Candidates[0].Auto == nil {
		t.Errorf("candidates are automatic by default")
	}
	wantVP := []RepoViewport{{Name: "desktop", Width: 1280, Height: 800}}
	if !reflect.DeepEqual(cfg.Smoke.Viewports, wantVP) {
		t.Errorf("viewports default = %+v", cfg.Smoke.Viewports)
	}
	if !reflect.DeepEqual(cfg.Smoke.Pages, []RepoPage{{Path: "/"}}) {
		t.Errorf("pages default = %+v", cfg.Smoke.Pages)
	}
	if !reflect.DeepEqual(cfg.Smoke.FailOn, RepoFailOnKinds) {
		t.Errorf("fail_on default = %v", cfg.Smoke.FailOn)
	}
	if cfg.Smoke.Visual.Threshold != 0.1 || cfg.Smoke.Visual.MaxChangedRatio != 0 {
		t.Errorf("visual defaults = %+v", cfg.Smoke.Visual)
	}
	if cfg.Generate.Debounce != 30*time.Second {
		t.Errorf("debounce default = %v", cfg.Generate.Debounce)
	}
	if !cfg.Commands.ShortFormEnabled() || cfg.Commands.ShortForm == nil {
		t.Errorf("short form must default to on")
	}
}

func TestRepoConfigExplicitValuesWin(t *testing.T) {
	cfg := load(t, `
version: 1
site: { root: public }
environments:
  staging: { branch: stage, permission: admin, auto: true, teams: [web, "acme/ops"],
             gates: { checks: [a, b], smoke: true, soak: 1h30m, approvals: 2 },
             deploy: { target: bucket, prefix: "", url: "https://staging.example.com/" } }
candidates: [ { from: pre-staging, to: staging, auto: false } ]
smoke:
  fail_on: [slow]
  visual: { threshold: 0.3, max_changed_ratio: 0.01 }
generate: { dispatch_type: content-changed, workflow: build.yml, debounce: 2s }
commands: { short_form: false }
`)
	e := cfg.Environments[0]
	want := RepoEnvironment{Name: "staging", Branch: "stage", Permission: "admin", Auto: true, Teams: []string{"web", "acme/ops"},
		Gates:  RepoGates{Checks: []RepoCheck{{Name: "a"}, {Name: "b"}}, Smoke: true, Soak: 90 * time.Minute, Approvals: 2},
		Deploy: RepoDeploy{Target: "bucket", Prefix: "staging/", URL: "https://staging.example.com/"}}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("environment =\n%+v\nwant\n%+v", e, want)
	}
	if cfg.Site.Root != "public" || cfg.Candidates[0].Automatic() || cfg.Commands.ShortFormEnabled() {
		t.Errorf("site/candidate auto/short form not taken from the file")
	}
	if cfg.Smoke.Visual.Threshold != 0.3 || cfg.Smoke.Visual.MaxChangedRatio != 0.01 || !reflect.DeepEqual(cfg.Smoke.FailOn, []string{"slow"}) {
		t.Errorf("smoke = %+v", cfg.Smoke)
	}
	if cfg.Generate.Debounce != 2*time.Second {
		t.Errorf("debounce = %v", cfg.Generate.Debounce)
	}
}

// The example in the repository is the one docs/config.md explains; it
// must stay valid.
func TestRepoConfigExampleFile(t *testing.T) {
	data, err := os.ReadFile("../.github/hoist.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadRepoConfig(".github/hoist.yml", data)
	if err != nil {
		t.Fatalf("the example does not load:\n%v", err)
	}
	if got := cfg.Chains(); !reflect.DeepEqual(got, [][]string{{"dev", "staging", "production"}}) {
		t.Errorf("chains = %v", got)
	}
	s := cfg.Summary()
	for _, want := range []string{"dev → staging → production", "production (branch main)", "promoted from staging (branch staging) when a person says /promote production",
		"candidate branch pre-staging", "tags matching web-* promote", "30m", "maintain permission", "purges fastly-main (soft), cloudfront-main",
		"Cache rules (first match wins): /health.html → Cache-Control: no-cache;", "A symbolic link that leaves the site, dangles or loops refuses the deploy"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
}

// The design's own example must load as written.
func TestRepoConfigDesignExample(t *testing.T) {
	cfg := load(t, `version: 1
site: { root: public }                 # folder of the branch that holds the built site
environments:
  dev:        { branch: dev }
  staging:    { branch: staging, promote_from: dev, auto: true,
                gates: { checks: ["ci / test"], smoke: true } }
  production: { branch: main, promote_from: staging, auto: false, permission: maintain,
                gates: { checks: ["ci / test"], smoke: true, soak: 30m },
                deploy: { target: site-bucket, prefix: production/ },
                purge: [ { cdn: fastly-main, soft: true }, { cdn: cloudfront-main } ] }
candidates:                           # generated sites: pre-<env> is smoke-tested, then fast-forwarded into <env>
  - { from: pre-staging, to: staging }
  - { from: pre-production, to: production }
tags: [ { pattern: "web-*", promote: production } ]
smoke:
  viewports: [ { name: desktop, width: 1280, height: 800 }, { name: mobile, width: 390, height: 844 } ]
  pages: [ { path: /, expect_text: "Shop" }, { path: /products/, expect_selector: ".product" } ]
  crawl: { max_pages: 50 }
  fail_on: [ http_error, console_error, failed_request ]
generate: { dispatch_type: content-changed, workflow: build-site.yml, debounce: 30s }
`)
	p, _ := cfg.Environments.Get("production")
	if p.Gates.Soak != 30*time.Minute || p.Deploy.Prefix != "production/" || len(p.Purge) != 2 || !p.Purge[0].Soft {
		t.Errorf("production = %+v", p)
	}
	if got := cfg.Position("environments.production.gates.soak"); got != (RepoPos{Line: 8, Column: 68}) {
		t.Errorf("position of soak = %+v", got)
	}
	if got := cfg.Position("tags[0].pattern"); got != (RepoPos{Line: 14, Column: 20}) {
		t.Errorf("position of tags[0].pattern = %+v", got)
	}
	if got := cfg.Position("environments.production.nothing.here"); got != (RepoPos{Line: 7, Column: 15}) {
		t.Errorf("fallback position = %+v", got)
	}
}

func TestRepoConfigAnchorsAndMerge(t *testing.T) {
	cfg := load(t, `version: 1
x-gates: &strict { checks: ["ci / test"], smoke: true, soak: 10m }
environments:
  dev: {}
  staging: { promote_from: dev, gates: *strict }
  production:
    promote_from: staging
    gates:
      <<: *strict
      soak: 30m
`)
	s, _ := cfg.Environments.Get("staging")
	p, _ := cfg.Environments.Get("production")
	if s.Gates.Soak != 10*time.Minute || !s.Gates.Smoke || len(s.Gates.Checks) != 1 {
		t.Errorf("alias not followed: %+v", s.Gates)
	}
	if p.Gates.Soak != 30*time.Minute || !p.Gates.Smoke || p.Gates.Checks[0].Name != "ci / test" {
		t.Errorf("merge key: own keys must win over merged ones: %+v", p.Gates)
	}
}

// A document of nested aliases (a "billion laughs") stops with an error
// instead of expanding.
func TestRepoConfigAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("version: 1\nx-0: &a0 { branch: dev }\n")
	for i := 1; i <= 8; i++ {
		b.WriteString("x-" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " { <<: [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("] }\n")
	}
	b.WriteString("environments: { dev: { <<: *a8 } }\n")
	_, err := LoadRepoConfig("bomb.yml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "more than 100000 values") {
		t.Fatalf("want a size error, got %v", err)
	}
}

func TestRepoConfigTooLarge(t *testing.T) {
	data := append([]byte("version: 1\n#"), make([]byte, repoMaxBytes)...)
	_, err := LoadRepoConfig("", data)
	if err == nil || !strings.HasPrefix(err.Error(), ".github/hoist.yml:1:1: the file is") {
		t.Fatalf("got %v", err)
	}
}

func TestRepoConfigEmptyFileName(t *testing.T) {
	_, err := LoadRepoConfig("", []byte("version: 1\nfoo: 1\n"))
	if err == nil || !strings.HasPrefix(err.Error(), ".github/hoist.yml:2:1: unknown key \"foo\"") {
		t.Fatalf("got %v", err)
	}
}

func TestRepoConfigMinimal(t *testing.T) {
	cfg := load(t, "version: 1\n")
	if len(cfg.Environments) != 0 || !strings.Contains(cfg.Summary(), "No environments") {
		t.Errorf("summary of an empty pipeline:\n%s", cfg.Summary())
	}
}

func TestRepoSuggest(t *testing.T) {
	known := []string{"branch", "promote_from", "auto", "permission", "teams", "gates", "deploy", "purge"}
	for word, want := range map[string]string{
		"promte_from": "promote_from", "promotefrom": "promote_from", "Branch": "branch", "gaets": "gates",
		"team": "teams", "atuo": "auto", "permissions": "permission", "colour": "", "x": "", "deploy_to": "",
	} {
		if got := repoSuggest(word, known); got != want {
			t.Errorf("repoSuggest(%q) = %q, want %q", word, got, want)
		}
	}
}

func TestChooseRepoConfig(t *testing.T) {
	good := load(t, "version: 1\n")
	newer := load(t, "version: 1\nenvironments: { dev: {} }\n")
	_, broken := LoadRepoConfig("hoist.yml", []byte("version: 1\nenvironments: { dev: { promte_from: x } }\n"))
	if broken == nil {
		t.Fatal("want an error")
	}
	cases := []struct {
		name         string
		last, parsed *RepoConfig
		err          error
		want         RepoConfigChoice
	}{
		{"new valid wins", good, newer, nil, RepoConfigChoice{Config: newer, Source: RepoConfigNew}},
		{"first valid", nil, newer, nil, RepoConfigChoice{Config: newer, Source: RepoConfigNew}},
		{"broken keeps last good", good, nil, broken, RepoConfigChoice{Config: good, Source: RepoConfigLastGood, Err: broken}},
		{"broken without last good", nil, nil, broken, RepoConfigChoice{Source: RepoConfigBroken, Err: broken}},
		{"deleted file", good, nil, nil, RepoConfigChoice{Source: RepoConfigNone}},
	}
	for _, c := range cases {
		got := ChooseRepoConfig(c.last, c.parsed, c.err)
		if got.Config != c.want.Config || got.Source != c.want.Source || fmt.Sprint(got.Err) != fmt.Sprint(c.want.Err) {
			t.Errorf("%s: got %+v (%s), want %+v", c.name, got, got.Source, c.want)
		}
	}
}

func TestRepoChains(t *testing.T) {
	cfg := load(t, `version: 1
environments:
  dev: {}
  qa: { promote_from: dev }
  staging: { promote_from: dev }
  production: { promote_from: staging }
  lonely: {}
`)
	want := [][]string{{"dev", "qa"}, {"dev", "staging", "production"}}
	if got := cfg.Chains(); !reflect.DeepEqual(got, want) {
		t.Errorf("chains = %v, want %v", got, want)
	}
}

func TestRepoConfigErrorGitHubAnnotation(t *testing.T) {
	e := &RepoConfigError{File: "a,b:c.yml", Line: 3, Column: 7, Message: "100% wrong\nreally"}
	want := "::error file=a%2Cb%3Ac.yml,line=3,col=7,title=hoist config::100%25 wrong%0Areally"
	if got := e.GitHubAnnotation(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
