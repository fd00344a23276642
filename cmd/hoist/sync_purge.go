package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/hoist-dev/hoist/internal/deploy"
	"github.com/hoist-dev/hoist/internal/purge"
)

func init() { syncPurger = newSyncPurger }

// multiFlag collects a repeated flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

var syncEnvRef = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)

// newSyncPurger builds the purger of `hoist sync --purge`: each spec is a
// name of the file's cdns: section or an inline TYPE:ARG.
func newSyncPurger(ctx context.Context, specs []string, file string) (deploy.Purger, error) {
	var fromFile purge.CDNs
	loaded := false
	load := func() error {
		if loaded {
			return nil
		}
		loaded = true
		if file == "" {
			return fmt.Errorf("no --cdns file (or HOIST_CONFIG) to look CDN names up in")
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		// Only cdns: is read, so a server config file serves as it is.
		var doc struct {
			CDNs purge.CDNs `yaml:"cdns"`
		}
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return fmt.Errorf("%s: %v", file, err)
		}
		fromFile = doc.CDNs
		return nil
	}
	p := &purge.DeployPurger{}
	for _, spec := range specs {
		var c purge.CDNConfig
		typ, arg, inline := strings.Cut(spec, ":")
		switch {
		case inline && typ == string(purge.Varnish):
			c = purge.CDNConfig{Name: "varnish", Type: purge.Varnish, Nodes: strings.Split(arg, ",")}
		case inline && typ == string(purge.Fastly):
			c = purge.CDNConfig{Name: "fastly", Type: purge.Fastly, ServiceID: arg, APIToken: purge.Secret(os.Getenv("FASTLY_API_TOKEN"))}
		case inline && typ == string(purge.CloudFront):
			c = purge.CDNConfig{Name: "cloudfront", Type: purge.CloudFront, DistributionID: arg}
		case inline && typ != "http" && typ != "https":
			return nil, fmt.Errorf("%q: inline CDNs are varnish:URL,…, fastly:SERVICE_ID or cloudfront:DISTRIBUTION_ID; name others in the --cdns file", spec)
		default:
			if err := load(); err != nil {
				return nil, err
			}
			var err error
			if c, err = fromFile.Lookup(spec); err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			for _, s := range []*purge.Secret{&c.APIToken, &c.SecretAccessKey} {
				if m := syncEnvRef.FindStringSubmatch(s.Reveal()); m != nil {
					*s = purge.Secret(os.Getenv(m[1]))
				}
			}
		}
		if err := c.Validate(); err != nil {
			return nil, fmt.Errorf("%s: %s", spec, strings.ReplaceAll(err.Error(), "\n", "; "))
		}
		p.CDNs = append(p.CDNs, c)
	}
	return p, nil
}
