package config

import (
	"strings"
	"testing"
)

func TestCacheGlob(t *testing.T) {
	cases := []struct {
		glob    string
		match   []string
		nomatch []string
	}{
		{"/health.html", []string{"/health.html"}, []string{"/health.htm", "/a/health.html", "/health.html.bak", "/healthXhtml"}},
		{"/assets/**", []string{"/assets/a.js", "/assets/x/y/z.css"}, []string{"/assets", "/assetsx/a.js", "/a/assets/b.js"}},
		{"/**/*.html", []string{"/index.html", "/a/b/c.html"}, []string{"/a/b.htm", "/a.html/x"}},
		{"/docs/*.pdf", []string{"/docs/a.pdf"}, []string{"/docs/a/b.pdf", "/docs/.pdfx"}},
		{"/v?/index.html", []string{"/v1/index.html"}, []string{"/v10/index.html", "/v/index.html", "/v//index.html"}},
		{"/a+b (1).txt", []string{"/a+b (1).txt"}, []string{"/aab (1).txt", "/a+b 1.txt"}},
		{"/**", []string{"/x", "/a/b/c"}, nil},
	}
	for _, c := range cases {
		re, err := CacheGlob(c.glob)
		if err != nil {
			t.Errorf("%s: %v", c.glob, err)
			continue
		}
		for _, p := range c.match {
			if !re.MatchString(p) {
				t.Errorf("%s does not match %s (%s)", c.glob, p, re)
			}
		}
		for _, p := range c.nomatch {
			if re.MatchString(p) {
				t.Errorf("%s matches %s (%s)", c.glob, p, re)
			}
		}
	}
	// Hostile patterns are refused rather than compiled into something
	// else: regexp syntax is quoted, classes and escapes refused.
	for glob, want := range map[string]string{
		"":                             "is empty",
		"health.html":                  "must start with /",
		"/a/(.*)":                      "",
		"/a/[x]":                       "only *, ** and ? are special",
		`/a\b`:                         "only *, ** and ? are special",
		"/a/{b,c}":                     "only *, ** and ? are special",
		"/a//b":                        "empty folder",
		"/a/../b":                      "not folders of a site",
		"/a**":                         "must be a whole folder",
		"/a/\n":                        "control character",
		"/" + strings.Repeat("a", 600): "longer than",
	} {
		re, err := CacheGlob(glob)
		if want == "" {
			if err != nil || re.MatchString("/a/x") || !re.MatchString("/a/(.*)") {
				t.Errorf("%q: regexp syntax is not literal: %v %v", glob, re, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", glob, err, want)
		}
	}
}

// The deploy: section loads into the configuration as written.
func TestRepoDeploySection(t *testing.T) {
	cfg, err := LoadRepoConfig("hoist.yml", []byte(`version: 1
environments: { production: {} }
deploy:
  skip_broken_links: true
  cache:
    - { path: /health.html, cache_control: no-cache }
    - { path: "/feed", content_type: "application/rss+xml" }
`))
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.Deploy
	if !d.SkipBrokenLinks || len(d.Cache) != 2 || d.Cache[0] != (RepoCacheRule{Path: "/health.html", CacheControl: "no-cache"}) ||
		d.Cache[1].ContentType != "application/rss+xml" {
		t.Fatalf("deploy = %+v", d)
	}
}
