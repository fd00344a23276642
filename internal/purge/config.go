// Package purge plans and performs CDN purges after a deploy: Fastly and
// Varnish by surrogate key, CloudFront by path (collapsed to wildcards
// within its limits), Cloudflare by URL or cache tag within its rate limits.
//
// The planner (MakePlan) is pure: a Request and a CDNConfig in, an exact
// Plan out. Adapters (New) act on a plan and report a Result.
package purge

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"gopkg.in/yaml.v3"
)

// Type is the kind of CDN.
type Type string

const (
	Fastly     Type = "fastly"
	CloudFront Type = "cloudfront"
	Cloudflare Type = "cloudflare"
	Varnish    Type = "varnish"
)

// Secret is a credential. It prints, logs and marshals as "[redacted]" so a
// config dump or a log line never shows it; Reveal returns the value for the
// one place that sends it.
type Secret string

const redacted = "[redacted]"

// Reveal returns the credential itself.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return fmt.Sprintf("%q", s.String()) }

// MarshalJSON writes "[redacted]" (or "" when unset).
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalYAML writes "[redacted]" (or "" when unset).
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalText is used by encoders that prefer text (and by zerolog's
// Interface); it never yields the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// CDNConfig is one entry of the server config's `cdns:` list. Credentials
// live here and only here: a repository's .github/hoist.yml names an entry
// and may narrow it (Override).
type CDNConfig struct {
	Name string `yaml:"name" json:"name"`
	Type Type   `yaml:"type" json:"type"`
	// Repos are the owners and repositories that may purge this CDN
	// ("acme", "acme/site", "acme/*", or "*" for any installation). The
	// server config requires it; purges of a repository only ever name
	// its own keys and paths (see the flow's namespacing).
	Repos []string `yaml:"repos,omitempty" json:"repos,omitempty"`

	// Fastly.
	ServiceID string `yaml:"service_id,omitempty" json:"service_id,omitempty"`
	// APIToken is the Fastly API token (Fastly-Key) or the Cloudflare API
	// token (Authorization: Bearer).
	APIToken Secret `yaml:"api_token,omitempty" json:"api_token,omitempty"`

	// CloudFront. Without AccessKeyID the AWS default credential chain is
	// used (environment, shared config, instance role).
	DistributionID  string `yaml:"distribution_id,omitempty" json:"distribution_id,omitempty"`
	Region          string `yaml:"region,omitempty" json:"region,omitempty"`
	AccessKeyID     string `yaml:"access_key_id,omitempty" json:"access_key_id,omitempty"`
	SecretAccessKey Secret `yaml:"secret_access_key,omitempty" json:"secret_access_key,omitempty"`
	// BareDirectories also invalidates `/dir` (no slash) for a changed
	// `dir/index.html`, for origins that answer `/dir` with the page
	// itself rather than a redirect to `/dir/`.
	BareDirectories bool `yaml:"bare_directories,omitempty" json:"bare_directories,omitempty"`

	// Cloudflare.
	ZoneID string `yaml:"zone_id,omitempty" json:"zone_id,omitempty"`
	// Plan is the zone's plan (free, pro, business, enterprise); it sets
	// the rate limit and the items per request. Default free.
	Plan string `yaml:"plan,omitempty" json:"plan,omitempty"`
	// Mode is what a Cloudflare purge names: "files" (URLs, the default)
	// or "tags" (cache tags: the change set's surrogate keys).
	Mode string `yaml:"mode,omitempty" json:"mode,omitempty"`
	// SiteURL is the public origin of the site (https://www.example.com),
	// needed to turn paths into URLs for Cloudflare files and prefixes.
	SiteURL string `yaml:"site_url,omitempty" json:"site_url,omitempty"`

	// Varnish: the base URL of every node (http://10.0.0.5:6081). Each
	// node has its own cache, so every purge goes to every node.
	Nodes []string `yaml:"nodes,omitempty" json:"nodes,omitempty"`
	// Method is the HTTP method the VCL treats as a purge. Default PURGE.
	Method string `yaml:"method,omitempty" json:"method,omitempty"`

	// BaseURL overrides the provider's API endpoint (tests, proxies).
	BaseURL string `yaml:"base_url,omitempty" json:"base_url,omitempty"`
	// Soft marks content stale instead of evicting it (Fastly, Varnish).
	Soft bool `yaml:"soft,omitempty" json:"soft,omitempty"`
	// WaitForCompletion waits until a CloudFront invalidation completes.
	WaitForCompletion bool `yaml:"wait_for_completion,omitempty" json:"wait_for_completion,omitempty"`
	// PurgeAll lets Fastly's --all use purge_all (the whole service, every
	// edition) instead of the edition key.
	PurgeAll bool `yaml:"purge_all,omitempty" json:"purge_all,omitempty"`

	// Limits; zero means the provider's documented limit.
	MaxKeysPerRequest int `yaml:"max_keys_per_request,omitempty" json:"max_keys_per_request,omitempty"` // Fastly (256)
	MaxBatches        int `yaml:"max_batches,omitempty" json:"max_batches,omitempty"`                   // Fastly, Varnish: beyond, purge the edition key (20)
	MaxPaths          int `yaml:"max_paths,omitempty" json:"max_paths,omitempty"`                       // CloudFront exact paths in flight (3000)
	MaxWildcards      int `yaml:"max_wildcards,omitempty" json:"max_wildcards,omitempty"`               // CloudFront wildcard paths in flight (15)
	MaxItems          int `yaml:"max_items,omitempty" json:"max_items,omitempty"`                       // Cloudflare items per request (plan)
	MaxHeaderBytes    int `yaml:"max_header_bytes,omitempty" json:"max_header_bytes,omitempty"`         // Varnish xkey header line (8000)

	// Timeout bounds each HTTP request (default 30s).
	Timeout time.Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
}

// Documented limits of each provider.
const (
	FastlyMaxKeys          = 256   // surrogate keys per batch purge
	DefaultMaxBatches      = 20    // beyond this many batches, purge the edition key
	CloudFrontMaxPaths     = 3000  // exact paths in progress per distribution
	CloudFrontMaxWildcards = 15    // wildcard paths in progress per distribution
	CloudFrontFreePaths    = 1000  // free invalidation paths a month, then billed per path
	CloudflareMaxItems     = 100   // URLs, tags or prefixes per request (500 for Enterprise URLs)
	VarnishMaxHeaderBytes  = 8000  // an xkey header line, under Varnish's 8 KB http_req_hdr_len
	fastlyMaxHeaderBytes   = 16384 // Surrogate-Key header; the JSON body avoids it
)

func (c CDNConfig) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s", c.Name, c.Type)
	switch c.Type {
	case Fastly:
		fmt.Fprintf(&b, " service %s", c.ServiceID)
	case CloudFront:
		fmt.Fprintf(&b, " distribution %s", c.DistributionID)
	case Cloudflare:
		fmt.Fprintf(&b, " zone %s, plan %s, %s", c.ZoneID, c.plan(), c.mode())
	case Varnish:
		fmt.Fprintf(&b, " %d nodes", len(c.Nodes))
	}
	if c.Soft {
		b.WriteString(", soft")
	}
	b.WriteString(")")
	return b.String()
}

// GoString keeps %#v from printing credentials.
func (c CDNConfig) GoString() string { return "purge.CDNConfig{" + c.String() + "}" }

// MarshalZerologObject logs the entry without credentials.
func (c CDNConfig) MarshalZerologObject(e *zerolog.Event) {
	e.Str("name", c.Name).Str("type", string(c.Type))
	switch c.Type {
	case Fastly:
		e.Str("service_id", c.ServiceID)
	case CloudFront:
		e.Str("distribution_id", c.DistributionID)
	case Cloudflare:
		e.Str("zone_id", c.ZoneID).Str("plan", c.plan()).Str("mode", c.mode())
	case Varnish:
		e.Strs("nodes", c.Nodes)
	}
	e.Bool("soft", c.Soft)
}

// Validate reports what is missing or wrong in the entry, naming it.
func (c CDNConfig) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.Name == "" {
		bad("needs a name")
	}
	switch c.Type {
	case Fastly:
		if c.ServiceID == "" {
			bad("type fastly needs service_id")
		}
		if c.APIToken == "" {
			bad("type fastly needs api_token")
		}
		if c.MaxKeysPerRequest > FastlyMaxKeys {
			bad("max_keys_per_request %d is over Fastly's limit of %d", c.MaxKeysPerRequest, FastlyMaxKeys)
		}
	case CloudFront:
		if c.DistributionID == "" {
			bad("type cloudfront needs distribution_id")
		}
		if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
			bad("access_key_id and secret_access_key go together")
		}
		if c.MaxPaths > CloudFrontMaxPaths {
			bad("max_paths %d is over CloudFront's limit of %d", c.MaxPaths, CloudFrontMaxPaths)
		}
		if c.MaxWildcards > CloudFrontMaxWildcards {
			bad("max_wildcards %d is over CloudFront's limit of %d", c.MaxWildcards, CloudFrontMaxWildcards)
		}
		if c.MaxWildcards < 0 || c.MaxPaths < 0 {
			bad("max_paths and max_wildcards cannot be negative")
		}
	case Cloudflare:
		if c.ZoneID == "" {
			bad("type cloudflare needs zone_id")
		}
		if c.APIToken == "" {
			bad("type cloudflare needs api_token")
		}
		if _, ok := cloudflarePlans[c.plan()]; !ok {
			bad("plan %q: must be free, pro, business or enterprise", c.Plan)
		}
		switch c.mode() {
		case "files":
			if c.SiteURL == "" {
				bad("mode files needs site_url (https://www.example.com) to build the URLs to purge")
			}
		case "tags":
		default:
			bad("mode %q: must be files or tags", c.Mode)
		}
		if c.SiteURL != "" && !strings.HasPrefix(c.SiteURL, "https://") && !strings.HasPrefix(c.SiteURL, "http://") {
			bad("site_url %q: must start with https:// or http://", c.SiteURL)
		}
		if max := cloudflarePlans[c.plan()].maxItems; c.MaxItems > max {
			bad("max_items %d is over the plan's limit of %d", c.MaxItems, max)
		}
	case Varnish:
		if len(c.Nodes) == 0 {
			bad("type varnish needs nodes (the base URL of every Varnish)")
		}
		for _, n := range c.Nodes {
			if !strings.HasPrefix(n, "http://") && !strings.HasPrefix(n, "https://") {
				bad("node %q: must be a URL such as http://10.0.0.5:6081", n)
			}
		}
		if c.MaxHeaderBytes != 0 && c.MaxHeaderBytes < 100 {
			bad("max_header_bytes %d is too small for a key", c.MaxHeaderBytes)
		}
	case "":
		bad("needs a type (fastly, cloudfront, cloudflare or varnish)")
	default:
		bad("type %q: must be fastly, cloudfront, cloudflare or varnish", c.Type)
	}
	if c.MaxBatches < 0 || c.MaxKeysPerRequest < 0 || c.MaxItems < 0 || c.MaxHeaderBytes < 0 {
		bad("limits cannot be negative")
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("cdn %q: %w", c.Name, errors.Join(errs...))
}

// Override is what a repository's config may say about a CDN it names:
// `purge: [ { cdn: fastly-main, soft: true } ]`. It can only narrow the
// server's entry.
type Override struct {
	CDN               string `yaml:"cdn" json:"cdn"`
	Soft              *bool  `yaml:"soft,omitempty" json:"soft,omitempty"`
	WaitForCompletion *bool  `yaml:"wait_for_completion,omitempty" json:"wait_for_completion,omitempty"`
}

// Narrow applies a repository's override. A soft purge is narrower than a
// hard one (content stays servable while stale), so a repository may ask
// for soft but may not turn a server's soft purge hard.
func (c CDNConfig) Narrow(o Override) (CDNConfig, error) {
	if o.CDN != "" && o.CDN != c.Name {
		return c, fmt.Errorf("override for cdn %q applied to %q", o.CDN, c.Name)
	}
	if o.Soft != nil {
		if !*o.Soft && c.Soft {
			return c, fmt.Errorf("cdn %q: soft: false would widen the server's soft purge; only the server config can change it", c.Name)
		}
		if *o.Soft && c.Type != Fastly && c.Type != Varnish {
			return c, fmt.Errorf("cdn %q: soft purge is not available on %s", c.Name, c.Type)
		}
		c.Soft = *o.Soft
	}
	if o.WaitForCompletion != nil {
		c.WaitForCompletion = *o.WaitForCompletion
	}
	return c, nil
}

// CDNs is the server config's list of CDN entries.
type CDNs []CDNConfig

// Lookup returns the entry with the name, or an error listing the names
// there are.
func (l CDNs) Lookup(name string) (CDNConfig, error) {
	names := make([]string, 0, len(l))
	for _, c := range l {
		if c.Name == name {
			return c, nil
		}
		names = append(names, c.Name)
	}
	return CDNConfig{}, fmt.Errorf("no cdn named %q in the server config (have: %s)", name, strings.Join(names, ", "))
}

// Validate checks every entry and that names are unique.
func (l CDNs) Validate() error {
	var errs []error
	seen := map[string]bool{}
	for i, c := range l {
		if err := c.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("cdns[%d]: %w", i, err))
		}
		if seen[c.Name] {
			errs = append(errs, fmt.Errorf("cdns[%d]: name %q is used twice", i, c.Name))
		}
		seen[c.Name] = true
	}
	return errors.Join(errs...)
}

func (c CDNConfig) plan() string {
	if c.Plan == "" {
		return "free"
	}
	return strings.ToLower(c.Plan)
}

func (c CDNConfig) mode() string {
	if c.Mode == "" {
		return "files"
	}
	return strings.ToLower(c.Mode)
}

func (c CDNConfig) method() string {
	if c.Method == "" {
		return "PURGE"
	}
	return c.Method
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// UnmarshalYAML reads `cdns:` either as a list of entries with names or as
// a map from name to entry (as `targets:` is written).
func (l *CDNs) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		var m map[string]CDNConfig
		if err := n.Decode(&m); err != nil {
			return err
		}
		names := make([]string, 0, len(m))
		for name := range m {
			names = append(names, name)
		}
		slices.Sort(names)
		out := make(CDNs, 0, len(m))
		for _, name := range names {
			c := m[name]
			if c.Name != "" && c.Name != name {
				return fmt.Errorf("line %d: cdns entry %q has name %q", n.Line, name, c.Name)
			}
			c.Name = name
			out = append(out, c)
		}
		*l = out
		return nil
	}
	var list []CDNConfig
	if err := n.Decode(&list); err != nil {
		return err
	}
	*l = list
	return nil
}
