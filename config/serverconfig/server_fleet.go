package serverconfig

import (
	"crypto/subtle"
	"fmt"
	"strings"
)

// Fleet is the server's side of fleets (docs/fleet.md): who may call the
// fleet API and the optional DNS provider for instance hostnames.
type Fleet struct {
	// Tokens are bearer tokens of /api/fleets, each for some repositories.
	Tokens []FleetToken `yaml:"tokens"`
	// DNS creates a record for each stage's hostname when set.
	DNS FleetDNS `yaml:"dns"`
}

// FleetToken is one caller of the fleet API.
type FleetToken struct {
	// Name is who calls, recorded as the actor of what it does.
	Name  string `yaml:"name"`
	Token string `yaml:"token"`
	// Repos are owner/name or owner/* patterns the token may act on.
	Repos []string `yaml:"repos"`
}

// FleetDNS is Cloudflare's DNS API for instance hostnames.
type FleetDNS struct {
	// APIURL is Cloudflare's API (default https://api.cloudflare.com/client/v4).
	APIURL string `yaml:"api_url"`
	// Token is an API token with DNS edit permission on the zone.
	Token  string `yaml:"token"`
	ZoneID string `yaml:"zone_id"`
	// Target is what every hostname points at (a CNAME), such as the CDN's
	// hostname.
	Target  string `yaml:"target"`
	Proxied bool   `yaml:"proxied"`
}

// Enabled reports whether DNS records are created.
func (d FleetDNS) Enabled() bool { return d.Token != "" && d.ZoneID != "" && d.Target != "" }

// FleetCaller returns the name of the token's owner when token may act on
// the repository fullName; ok is false otherwise. Tokens are compared in
// constant time.
func (f Fleet) FleetCaller(token, fullName string) (name string, known, allowed bool) {
	for _, t := range f.Tokens {
		if t.Token == "" || subtle.ConstantTimeCompare([]byte(t.Token), []byte(token)) != 1 {
			continue
		}
		for _, r := range t.Repos {
			owner, repo, _ := strings.Cut(r, "/")
			o, n, _ := strings.Cut(fullName, "/")
			if strings.EqualFold(owner, o) && (repo == "*" || strings.EqualFold(repo, n)) {
				return t.Name, true, true
			}
		}
		return t.Name, true, false
	}
	return "", false, false
}

func init() {
	registerServerSection("fleet", func(cfg *Server) {
		if cfg.Fleet.DNS.APIURL == "" {
			cfg.Fleet.DNS.APIURL = "https://api.cloudflare.com/client/v4"
		}
	}, func(cfg *Server, src serverSources) error {
		if err := cfg.Fleet.validate(); err != nil {
			return src.errorf("fleet", "", "%v", err)
		}
		return nil
	})
}

// validate checks the fleet section.
func (f Fleet) validate() error {
	for i, t := range f.Tokens {
		if t.Name == "" || len(t.Token) < 16 {
			return fmt.Errorf("fleet.tokens[%d] needs a name and a token of at least 16 characters", i)
		}
		for _, r := range t.Repos {
			if o, n, ok := strings.Cut(r, "/"); !ok || o == "" || n == "" {
				return fmt.Errorf("fleet.tokens[%d].repos: %q is not owner/name or owner/*", i, r)
			}
		}
	}
	d := f.DNS
	if (d.Token != "" || d.ZoneID != "" || d.Target != "") && !d.Enabled() {
		return fmt.Errorf("fleet.dns needs token, zone_id and target together")
	}
	return nil
}
