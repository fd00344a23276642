package purge

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func keysFor(edition, p string) []string {
	return []string{"e-" + edition, "p-" + edition + "-" + strings.ReplaceAll(p, " ", "_")}
}

func changes(edition string, paths ...string) []Change {
	out := make([]Change, len(paths))
	for i, p := range paths {
		out[i] = Change{Path: p, Keys: keysFor(edition, p)}
	}
	return out
}

var (
	fastlyCfg     = CDNConfig{Name: "fastly-main", Type: Fastly, ServiceID: "SVC", APIToken: "tok"}
	cloudfrontCfg = CDNConfig{Name: "cf", Type: CloudFront, DistributionID: "E123"}
	cloudflareCfg = CDNConfig{Name: "cfl", Type: Cloudflare, ZoneID: "z1", APIToken: "tok", SiteURL: "https://www.example.com"}
	varnishCfg    = CDNConfig{Name: "v", Type: Varnish, Nodes: []string{"http://a:6081", "http://b:6081/"}}
)

func mustPlan(t *testing.T, req Request, cfg CDNConfig) Plan {
	t.Helper()
	p, err := MakePlan(req, cfg)
	if err != nil {
		t.Fatalf("MakePlan: %v", err)
	}
	if msg := uncovered(req, cfg, p); msg != "" {
		t.Fatalf("plan does not cover the change set: %s\nplan: %+v", msg, p)
	}
	return p
}

func manyPaths(dir string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s/f%04d.html", dir, i)
	}
	return out
}

func TestFastlyBatching(t *testing.T) {
	req := Request{Edition: "prod", EditionKey: "e-prod", Changes: changes("prod", manyPaths("docs", 600)...)}
	p := mustPlan(t, req, fastlyCfg)
	if len(p.Batches) != 3 || len(p.Batches[0].Items) != 256 || len(p.Batches[1].Items) != 256 || len(p.Batches[2].Items) != 88 {
		t.Fatalf("want batches of 256, 256, 88; got %d batches", len(p.Batches))
	}
	for _, b := range p.Batches {
		if slices.Contains(b.Items, "e-prod") {
			t.Fatalf("the edition key must not be purged with path keys: %v", b.Items[:3])
		}
	}
	if p.Whole || p.Soft {
		t.Fatalf("plan should be exact and hard: %+v", p)
	}

	soft := fastlyCfg
	soft.Soft = true
	if p := mustPlan(t, req, soft); !p.Soft {
		t.Fatal("soft config: plan should be soft")
	}

	// Over the batch limit: the edition key instead.
	few := fastlyCfg
	few.MaxBatches = 2
	p = mustPlan(t, req, few)
	if !p.Whole || len(p.Batches) != 1 || !slices.Equal(p.Batches[0].Items, []string{"e-prod"}) || p.Fallback == "" {
		t.Fatalf("want edition-key fallback, got %+v", p)
	}

	// A path without a key of its own falls back too.
	req2 := Request{Edition: "prod", EditionKey: "e-prod", Changes: []Change{{Path: "a.html", Keys: []string{"e-prod"}}}}
	if p := mustPlan(t, req2, fastlyCfg); !p.Whole || !strings.Contains(p.Fallback, "a.html") {
		t.Fatalf("want fallback naming a.html, got %+v", p)
	}
	req2.EditionKey = ""
	req2.Changes[0].Keys = nil
	if _, err := MakePlan(req2, fastlyCfg); err == nil || !strings.Contains(err.Error(), "a.html") {
		t.Fatalf("want an error naming a.html, got %v", err)
	}

	// --all: the edition key, or purge_all when configured.
	all := Request{Edition: "prod", EditionKey: "e-prod", All: true}
	if p := mustPlan(t, all, fastlyCfg); p.Batches[0].Action != ActionKeys || p.Batches[0].Items[0] != "e-prod" {
		t.Fatalf("--all: %+v", p)
	}
	pa := fastlyCfg
	pa.PurgeAll, pa.Soft = true, true
	if p := mustPlan(t, all, pa); p.Batches[0].Action != ActionPurgeAll || p.Soft {
		t.Fatalf("--all with purge_all: %+v", p)
	}

	// Keys that would break the header are refused with the path.
	bad := Request{Edition: "prod", Changes: []Change{{Path: "x.html", Keys: []string{"a b"}}}}
	if _, err := MakePlan(bad, fastlyCfg); err == nil || !strings.Contains(err.Error(), "x.html") {
		t.Fatalf("want an error naming x.html, got %v", err)
	}
}

func TestCloudFrontPaths(t *testing.T) {
	req := Request{Edition: "prod", Changes: changes("prod", "index.html", "docs/a/index.html", "css/site.css")}
	p := mustPlan(t, req, cloudfrontCfg)
	want := []string{"/", "/css/site.css", "/docs/a/", "/docs/a/index.html", "/index.html"}
	if !slices.Equal(p.Batches[0].Items, want) {
		t.Fatalf("paths = %v, want %v", p.Batches[0].Items, want)
	}
	// With a prefix and bare directories.
	req.Prefix = "staging/"
	bare := cloudfrontCfg
	bare.BareDirectories = true
	p = mustPlan(t, req, bare)
	want = []string{"/staging", "/staging/", "/staging/css/site.css", "/staging/docs/a", "/staging/docs/a/", "/staging/docs/a/index.html", "/staging/index.html"}
	if !slices.Equal(p.Batches[0].Items, want) {
		t.Fatalf("paths = %v, want %v", p.Batches[0].Items, want)
	}
	// Unsafe characters are encoded; a literal * never becomes a wildcard.
	odd := Request{Changes: []Change{{Path: "a b/*.html"}}}
	if p := mustPlan(t, odd, cloudfrontCfg); p.Batches[0].Items[0] != "/a%20b/%2A.html" || p.Wildcards != 0 {
		t.Fatalf("escaped: %v", p.Batches[0].Items)
	}
	// --all.
	if p := mustPlan(t, Request{All: true, Prefix: "staging"}, cloudfrontCfg); !slices.Equal(p.Batches[0].Items, []string{"/staging/*"}) {
		t.Fatalf("--all: %v", p.Batches[0].Items)
	}
	if p := mustPlan(t, Request{All: true}, cloudfrontCfg); !slices.Equal(p.Batches[0].Items, []string{"/*"}) {
		t.Fatalf("--all: %v", p.Batches[0].Items)
	}
}

func TestCloudFrontCollapse(t *testing.T) {
	// 4,000 files in one directory and a few elsewhere: that directory
	// becomes /docs/api/*, the rest stays exact.
	paths := append(manyPaths("docs/api", 4000), "index.html", "about/index.html")
	req := Request{Edition: "prod", Changes: changes("prod", paths...)}
	p := mustPlan(t, req, cloudfrontCfg)
	items := p.Batches[0].Items
	if p.Wildcards != 1 || !slices.Contains(items, "/docs/api/*") {
		t.Fatalf("want /docs/api/* only, got wildcards=%d %v", p.Wildcards, items[len(items)-3:])
	}
	for _, s := range []string{"/", "/index.html", "/about/", "/about/index.html"} {
		if !slices.Contains(items, s) {
			t.Fatalf("missing exact path %s in %v", s, items)
		}
	}

	// With an inventory the planner avoids directories with much unchanged
	// content: docs/ holds 10,000 untouched pages, so /docs/api/* and
	// /docs/guide/* are chosen rather than /docs/*: no over-invalidation,
	// and two billable paths rather than 2,001 with a single wildcard.
	paths = append(manyPaths("docs/api", 2000), manyPaths("docs/guide", 2000)...)
	inv := append(slices.Clone(paths), manyPaths("docs", 10000)...)
	req = Request{Edition: "prod", Changes: changes("prod", paths...), Inventory: inv}
	p = mustPlan(t, req, cloudfrontCfg)
	got := wildcardsOf(p)
	if !slices.Equal(got, []string{"/docs/api/*", "/docs/guide/*"}) || p.ExactPaths != 0 {
		t.Fatalf("want both changed directories wildcarded, got %v and %d exact", got, p.ExactPaths)
	}
	if p.OverInvalidated != 0 || p.OverEstimated {
		t.Fatalf("over-invalidation = %d (estimated %v), want exactly 0", p.OverInvalidated, p.OverEstimated)
	}

	// Limits: 40 directories of 100 files with max 1,000 exact paths and 15
	// wildcards. Thirty dirs cannot all be wildcarded; the plan must fit.
	var big []string
	for d := 0; d < 40; d++ {
		big = append(big, manyPaths(fmt.Sprintf("d%02d", d), 100)...)
	}
	lim := cloudfrontCfg
	lim.MaxPaths = 1000
	p = mustPlan(t, Request{Changes: changes("x", big...)}, lim)
	if p.ExactPaths > 1000 || p.Wildcards > 15 {
		t.Fatalf("limits broken: %d exact, %d wildcards", p.ExactPaths, p.Wildcards)
	}
	// 40 dirs × 100: 10 dirs exact (1,000) would need 30 wildcards; so the
	// root collapses, or sub-collapses fit. Either way it fits and covers.

	// Small limits force the root wildcard.
	tiny := cloudfrontCfg
	tiny.MaxPaths, tiny.MaxWildcards = 5, 1
	p = mustPlan(t, Request{Changes: changes("x", big...)}, tiny)
	if !slices.Equal(wildcardsOf(p), []string{"/*"}) || !p.Whole {
		t.Fatalf("want /*, got %v", p.Batches[0].Items)
	}
}

func wildcardsOf(p Plan) []string {
	var out []string
	for _, s := range p.Batches[0].Items {
		if strings.HasSuffix(s, "*") {
			out = append(out, s)
		}
	}
	return out
}

func TestCloudflarePlan(t *testing.T) {
	req := Request{Edition: "prod", EditionKey: "e-prod", Changes: changes("prod", append(manyPaths("a", 150), "index.html")...)}
	p := mustPlan(t, req, cloudflareCfg)
	// 151 files + "/" = 152 URLs: 100 + 52.
	if len(p.Batches) != 2 || len(p.Batches[0].Items) != 100 || len(p.Batches[1].Items) != 52 {
		t.Fatalf("batches: %d", len(p.Batches))
	}
	if p.Batches[0].Action != ActionFiles || !strings.HasPrefix(p.Batches[0].Items[0], "https://www.example.com/a/") {
		t.Fatalf("files: %v", p.Batches[0].Items[:2])
	}
	tags := cloudflareCfg
	tags.Mode = "tags"
	p = mustPlan(t, req, tags)
	if len(p.Batches) != 2 || p.Batches[0].Action != ActionTags || len(p.Batches[0].Items) != 100 {
		t.Fatalf("tags: %+v", p.Batches)
	}
	// --all: the edition tag, a prefix, or everything.
	all := Request{EditionKey: "e-prod", All: true, Prefix: "staging/"}
	if p := mustPlan(t, all, tags); p.Batches[0].Action != ActionTags || p.Batches[0].Items[0] != "e-prod" {
		t.Fatalf("--all tags: %+v", p.Batches)
	}
	if p := mustPlan(t, all, cloudflareCfg); p.Batches[0].Action != ActionPrefixes || p.Batches[0].Items[0] != "www.example.com/staging/" {
		t.Fatalf("--all prefix: %+v", p.Batches)
	}
	all.Prefix = ""
	if p := mustPlan(t, all, cloudflareCfg); p.Batches[0].Action != ActionEverything {
		t.Fatalf("--all: %+v", p.Batches)
	}
	// Too many URL batches: purge the prefix instead.
	few := cloudflareCfg
	few.MaxBatches = 1
	req.Prefix = "staging"
	if p := mustPlan(t, req, few); !p.Whole || p.Batches[0].Action != ActionPrefixes {
		t.Fatalf("fallback: %+v", p.Batches)
	}
	// Enterprise takes 500 URLs a request.
	ent := cloudflareCfg
	ent.Plan = "enterprise"
	if p := mustPlan(t, Request{Changes: changes("x", manyPaths("a", 600)...)}, ent); len(p.Batches) != 2 || len(p.Batches[0].Items) != 500 {
		t.Fatalf("enterprise: %d batches", len(p.Batches))
	}
}

func TestVarnishChunking(t *testing.T) {
	req := Request{Edition: "prod", EditionKey: "e-prod", Changes: changes("prod", manyPaths("docs", 2000)...)}
	cfg := varnishCfg
	cfg.MaxBatches = 100
	p := mustPlan(t, req, cfg)
	perNode := map[string]int{}
	for _, b := range p.Batches {
		perNode[b.Node]++
		line := len("xkey-purge: ") + len(strings.Join(b.Items, " ")) + 2
		if line > VarnishMaxHeaderBytes {
			t.Fatalf("header line of %d bytes", line)
		}
	}
	if len(perNode) != 2 || perNode["http://a:6081"] != perNode["http://b:6081"] || perNode["http://a:6081"] < 5 {
		t.Fatalf("per node: %v", perNode)
	}
	soft := cfg
	soft.Soft = true
	soft.MaxHeaderBytes = 1000
	p = mustPlan(t, req, soft)
	for _, b := range p.Batches {
		if n := len("xkey-softpurge: ") + len(strings.Join(b.Items, " ")) + 2; n > 1000 {
			t.Fatalf("soft header line of %d bytes", n)
		}
	}
	if _, err := MakePlan(Request{All: true}, varnishCfg); err == nil {
		t.Fatal("--all without an edition key must fail")
	}
}

func TestValidateAndSecrets(t *testing.T) {
	cfg := CDNConfig{Name: "x", Type: Cloudflare, APIToken: "sekrit-token"}
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "zone_id") || !strings.Contains(err.Error(), "site_url") {
		t.Fatalf("Validate: %v", err)
	}
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%v", []CDNConfig{cfg}),
		fmt.Sprintf("%+v", struct{ C CDNConfig }{cfg})} {
		if strings.Contains(s, "sekrit") {
			t.Fatalf("secret printed: %s", s)
		}
	}
	soft, hard := true, false
	f := fastlyCfg
	n, err := f.Narrow(Override{CDN: "fastly-main", Soft: &soft})
	if err != nil || !n.Soft {
		t.Fatalf("narrow to soft: %v %+v", err, n)
	}
	if _, err := n.Narrow(Override{Soft: &hard}); err == nil {
		t.Fatal("a repository must not turn a soft purge hard")
	}
	if _, err := cloudfrontCfg.Narrow(Override{Soft: &soft}); err == nil {
		t.Fatal("cloudfront has no soft purge")
	}
	if _, err := (CDNs{fastlyCfg}).Lookup("nope"); err == nil || !strings.Contains(err.Error(), "fastly-main") {
		t.Fatalf("Lookup: %v", err)
	}
}

// uncovered checks that every changed path is purged by the plan: by a key
// the path carries, by an exact or wildcard path, or by a URL.
func uncovered(req Request, cfg CDNConfig, p Plan) string {
	if len(req.Changes) > 0 && p.Empty() {
		return "empty plan"
	}
	nodes := map[string]bool{}
	for _, n := range cfg.Nodes {
		nodes[strings.TrimSuffix(n, "/")] = true
	}
	for _, c := range req.Changes {
		urls := urlPaths(req.Prefix, c.Path, cfg.BareDirectories)
		switch cfg.Type {
		case Fastly, Varnish:
			covered := map[string]bool{}
			for _, b := range p.Batches {
				if b.Action == ActionPurgeAll {
					return ""
				}
				for _, k := range b.Items {
					if slices.Contains(c.Keys, k) {
						covered[b.Node] = true
					}
				}
			}
			if cfg.Type == Varnish {
				for n := range nodes {
					if !covered[n] {
						return fmt.Sprintf("%s not purged on node %s", c.Path, n)
					}
				}
			} else if len(covered) == 0 {
				return c.Path + " has no purged key"
			}
		case CloudFront:
			for _, u := range urls {
				if !slices.ContainsFunc(p.Batches[0].Items, func(s string) bool {
					return s == u || strings.HasSuffix(s, "*") && strings.HasPrefix(u, strings.TrimSuffix(s, "*"))
				}) {
					return fmt.Sprintf("%s (%s) not invalidated", c.Path, u)
				}
			}
		case Cloudflare:
			ok := false
			for _, b := range p.Batches {
				switch b.Action {
				case ActionEverything:
					ok = true
				case ActionTags:
					ok = ok || slices.ContainsFunc(b.Items, func(k string) bool { return slices.Contains(c.Keys, k) })
				case ActionPrefixes:
					ok = ok || slices.ContainsFunc(b.Items, func(pre string) bool {
						return strings.HasPrefix(strings.TrimPrefix(cfg.SiteURL, "https://")+urls[0], pre)
					})
				case ActionFiles:
					all := true
					for _, u := range urls {
						all = all && slices.Contains(b.Items, cfg.SiteURL+u)
					}
					ok = ok || all
				}
			}
			if !ok {
				// Files may be split over batches.
				var files []string
				for _, b := range p.Batches {
					files = append(files, b.Items...)
				}
				for _, u := range urls {
					if !slices.Contains(files, cfg.SiteURL+u) {
						return fmt.Sprintf("%s (%s) not purged", c.Path, u)
					}
				}
			}
		}
	}
	return ""
}

// TestPlanCoversEveryChange: for random change sets and limits, every
// changed path is purged by every CDN's plan.
func TestPlanCoversEveryChange(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dirs := []string{"", "docs/", "docs/a/", "docs/a/b/", "docs/c/", "css/", "img/", "blog/2024/", "blog/2025/x/"}
	names := []string{"index.html", "a.html", "b.css", "c d.png", "e.js"}
	for i := 0; i < 300; i++ {
		seen := map[string]bool{}
		var paths []string
		for n := rng.IntN(400) + 1; len(paths) < n; {
			p := dirs[rng.IntN(len(dirs))] + fmt.Sprintf("%d-", rng.IntN(200)) + names[rng.IntN(len(names))]
			if rng.IntN(3) == 0 {
				p = dirs[rng.IntN(len(dirs))] + "index.html"
			}
			if !seen[p] {
				seen[p] = true
				paths = append(paths, p)
			}
		}
		req := Request{Edition: "prod", EditionKey: "e-prod", Changes: changes("prod", paths...)}
		if rng.IntN(2) == 0 {
			req.Prefix = "env/"
		}
		if rng.IntN(2) == 0 {
			req.Inventory = append(slices.Clone(paths), "docs/x.html", "docs/a/y.html", "blog/2024/index.html")
		}
		cf := cloudfrontCfg
		cf.MaxPaths = rng.IntN(300) + 1
		cf.MaxWildcards = rng.IntN(15) + 1
		cf.BareDirectories = rng.IntN(2) == 0
		fa := fastlyCfg
		fa.MaxKeysPerRequest = rng.IntN(256) + 1
		fa.MaxBatches = rng.IntN(10) + 1
		cl := cloudflareCfg
		cl.MaxBatches = rng.IntN(10) + 1
		if rng.IntN(2) == 0 {
			cl.Mode = "tags"
		}
		va := varnishCfg
		va.MaxHeaderBytes = rng.IntN(4000) + 200
		for _, cfg := range []CDNConfig{cf, fa, cl, va} {
			p, err := MakePlan(req, cfg)
			if err != nil {
				t.Fatalf("case %d %s: %v", i, cfg.Type, err)
			}
			if msg := uncovered(req, cfg, p); msg != "" {
				t.Fatalf("case %d %s: %s", i, cfg.Type, msg)
			}
			if cfg.Type == CloudFront && (p.ExactPaths > cf.MaxPaths || p.Wildcards > cf.MaxWildcards) {
				t.Fatalf("case %d: %d exact (max %d), %d wildcards (max %d)", i, p.ExactPaths, cf.MaxPaths, p.Wildcards, cf.MaxWildcards)
			}
		}
	}
}

func TestCDNsYAML(t *testing.T) {
	src := `
cdns:
  fastly-main: { type: fastly, service_id: SVC, api_token: "tok-1", soft: true }
  edge:
    type: varnish
    nodes: [ "http://10.0.0.5:6081", "http://10.0.0.6:6081" ]
`
	var doc struct {
		CDNs CDNs `yaml:"cdns"`
	}
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	if err := doc.CDNs.Validate(); err != nil {
		t.Fatal(err)
	}
	f, err := doc.CDNs.Lookup("fastly-main")
	if err != nil || f.APIToken.Reveal() != "tok-1" || !f.Soft {
		t.Fatalf("fastly-main: %v %v", err, f)
	}
	if v, _ := doc.CDNs.Lookup("edge"); len(v.Nodes) != 2 {
		t.Fatalf("edge: %v", v)
	}
	// Written back, the token is redacted.
	out, _ := yaml.Marshal(doc)
	if strings.Contains(string(out), "tok-1") {
		t.Fatalf("token marshalled: %s", out)
	}
	if err := yaml.Unmarshal([]byte("cdns: [ { name: a, type: fastly } ]"), &doc); err != nil {
		t.Fatal(err)
	}
	if err := doc.CDNs.Validate(); err == nil || !strings.Contains(err.Error(), "service_id") {
		t.Fatalf("want a validation error naming service_id, got %v", err)
	}
}
