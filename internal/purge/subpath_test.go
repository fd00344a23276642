package purge

import (
	"slices"
	"testing"
)

// TestSubPathEnvironments: an edition served under a sub-path of one host
// (https://docs.example.com/v/1.2/) is purged under that path on every
// planner that purges by path, never at the host's root.
func TestSubPathEnvironments(t *testing.T) {
	for _, c := range []struct{ url, fallback, want string }{
		{"https://docs.example.com/v/1.2/", "acme/site/v1/", "v/1.2/"},
		{"https://docs.example.com/v/1.2", "", "v/1.2/"},
		{"https://docs.example.com/", "acme/site/prod/", "acme/site/prod/"},
		{"https://docs.example.com", "", ""},
		{"", "acme/site/prod/", "acme/site/prod/"},
		{"https://docs.example.com/a/../../b/", "", "b/"},
		{"not a url", "x/", "x/"},
	} {
		if got := PrefixOf(c.url, c.fallback); got != c.want {
			t.Errorf("PrefixOf(%q, %q) = %q, want %q", c.url, c.fallback, got, c.want)
		}
	}

	req := Request{Edition: "acme/site/v1.2", EditionKey: "e-v12", Prefix: PrefixOf("https://docs.example.com/v/1.2/", "acme/site/v1.2/"),
		Changes: changes("acme/site/v1.2", "index.html")}
	cf := cloudflareCfg
	cf.SiteURL = "https://docs.example.com"
	p := mustPlan(t, req, cf)
	if want := []string{"https://docs.example.com/v/1.2/index.html", "https://docs.example.com/v/1.2/"}; len(p.Batches) != 1 || !slices.Equal(p.Batches[0].Items, want) {
		t.Fatalf("cloudflare: %+v, want files %v", p.Batches, want)
	}
	p = mustPlan(t, req, cloudfrontCfg)
	if want := []string{"/v/1.2/", "/v/1.2/index.html"}; len(p.Batches) != 1 || !slices.Equal(p.Batches[0].Items, want) {
		t.Fatalf("cloudfront: %+v, want paths %v", p.Batches, want)
	}
	// The whole edition is its sub-path, not the host.
	all := req
	all.All = true
	if p := mustPlan(t, all, cloudfrontCfg); !slices.Equal(p.Batches[0].Items, []string{"/v/1.2/*"}) {
		t.Fatalf("cloudfront --all: %v", p.Batches[0].Items)
	}
	if p := mustPlan(t, all, cf); p.Batches[0].Action != ActionPrefixes || !slices.Equal(p.Batches[0].Items, []string{"docs.example.com/v/1.2/"}) {
		t.Fatalf("cloudflare --all: %+v", p.Batches)
	}
	// Key-based CDNs purge the edition's keys wherever it is served.
	if p := mustPlan(t, req, varnishCfg); p.Batches[0].Action != ActionKeys {
		t.Fatalf("varnish: %+v", p.Batches)
	}
}
