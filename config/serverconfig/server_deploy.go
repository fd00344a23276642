package serverconfig

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/hoist-dev/hoist/internal/deploy"
	"github.com/hoist-dev/hoist/internal/purge"
)

// Targets are the server's named deploy targets (`targets:`), a map from
// name to entry:
//
//	targets:
//	  site-bucket: { type: s3, bucket: example-site, region: eu-west-1 }
//	  www:         { type: local, dir: /var/lib/hoist/www }
//
// A repository's `deploy: { target: site-bucket }` names one. The target
// DefaultTarget (a folder under the data dir) exists unless the file
// defines an entry of that name itself.
type Targets map[string]Target

// Target is one entry of `targets:`: where and how to write, who may use it
// and under which folder each repository's editions go.
type Target struct {
	deploy.TargetConfig `yaml:",inline"`
	// Repos are the owners and repositories that may deploy here: "acme"
	// (every repository of acme), "acme/site", "acme/site-*", or "*" for
	// any installation. Required: an entry without it is a start-up error.
	Repos []string `yaml:"repos,omitempty" json:"repos,omitempty"`
	// Prefix is the folder template of a repository's editions, with
	// {owner} and {repo}; the repository's own prefix (default "<env>/")
	// goes under it. Default DefaultPrefixTemplate.
	Prefix *string `yaml:"prefix,omitempty" json:"prefix,omitempty"`
}

// MarshalYAML prints the entry with the secret key redacted (the embedded
// TargetConfig's method would drop Repos and Prefix).
func (t Target) MarshalYAML() (any, error) {
	type plain deploy.TargetConfig // without its MarshalYAML
	p := plain(t.TargetConfig)
	if p.SecretAccessKey != "" {
		p.SecretAccessKey = "[redacted]"
	}
	return struct {
		plain  `yaml:",inline"`
		Repos  []string `yaml:"repos,omitempty"`
		Prefix *string  `yaml:"prefix,omitempty"`
	}{p, t.Repos, t.Prefix}, nil
}

// GoString keeps %#v from printing the secret key.
func (t Target) GoString() string {
	return fmt.Sprintf("serverconfig.Target{%s, repos %v, prefix %q}", t.TargetConfig, t.Repos, t.prefixTemplate())
}

// DefaultTarget is the name of the embedded default target.
const DefaultTarget = "local"

// targetName is the shape of target and CDN names (as the repository
// configuration accepts them).
var targetName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// envRef is a secret given as ${NAME}: read from the environment at start,
// so credentials can stay out of the file.
var envRef = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)

func init() {
	registerServerSection("targets", func(cfg *Server) {
		if cfg.Targets == nil {
			cfg.Targets = Targets{}
		}
		if _, ok := cfg.Targets[DefaultTarget]; !ok {
			// Open to every installation: the prefix template gives each
			// repository its own folder.
			cfg.Targets[DefaultTarget] = Target{TargetConfig: deploy.TargetConfig{Type: "local", Dir: filepath.Join(cfg.DataDir, "sites")},
				Repos: []string{AnyRepository}}
		}
	}, func(cfg *Server, src serverSources) error {
		names := make([]string, 0, len(cfg.Targets))
		for name := range cfg.Targets {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			t := cfg.Targets[name]
			at := "targets." + name
			if !targetName.MatchString(name) {
				return src.errorf(at, "", "%q is not a target name (letters, digits, '.', '_', '-')", name)
			}
			var err error
			if t.AccessKeyID, err = expandSecret(src, at+".access_key_id", t.AccessKeyID); err != nil {
				return err
			}
			if t.SecretAccessKey, err = expandSecret(src, at+".secret_access_key", t.SecretAccessKey); err != nil {
				return err
			}
			if err := t.Validate(); err != nil {
				return src.errorf(at, "", "%s", strings.TrimPrefix(strings.TrimPrefix(err.Error(), "target: "), "target "))
			}
			if t.PublicURL != "" {
				if err := checkServerURL(t.PublicURL); err != nil {
					return src.errorf(at+".public_url", "", "%v", err)
				}
			}
			if t.Repos == nil && name == cfg.Smoke.ArtifactsTarget {
				// The screenshots' store is the server's own: closed to
				// repositories unless the file opens it.
				t.Repos = []string{}
			}
			if err := checkBinding(src, at, "deploy to it", t.Repos); err != nil {
				return err
			}
			if err := checkPrefixTemplate(t.prefixTemplate(), t.Repos); err != nil && len(t.Repos) > 0 {
				set := at + ".prefix"
				if t.Prefix == nil {
					set = at
				}
				return src.errorf(set, "", "prefix %v", err)
			}
			cfg.Targets[name] = t
		}
		return nil
	})
	registerServerSection("cdns", nil, func(cfg *Server, src serverSources) error {
		seen := map[string]bool{}
		for i, c := range cfg.CDNs {
			at := fmt.Sprintf("cdns[%d]", i)
			if c.Name != "" {
				at = "cdns." + c.Name
			}
			if c.Name != "" && !targetName.MatchString(c.Name) {
				return src.errorf(at, "", "%q is not a CDN name (letters, digits, '.', '_', '-')", c.Name)
			}
			if seen[c.Name] {
				return src.errorf(at, "", "the name %q is used twice", c.Name)
			}
			seen[c.Name] = true
			tok, err := expandSecret(src, at+".api_token", c.APIToken.Reveal())
			if err != nil {
				return err
			}
			c.APIToken = purge.Secret(tok)
			if c.AccessKeyID, err = expandSecret(src, at+".access_key_id", c.AccessKeyID); err != nil {
				return err
			}
			key, err := expandSecret(src, at+".secret_access_key", c.SecretAccessKey.Reveal())
			if err != nil {
				return err
			}
			c.SecretAccessKey = purge.Secret(key)
			if err := c.Validate(); err != nil {
				// One line: the entry's problems joined.
				msg := strings.ReplaceAll(err.Error(), "\n", "; ")
				return src.errorf(at, "", "%s", strings.TrimPrefix(msg, fmt.Sprintf("cdn %q: ", c.Name)))
			}
			if err := checkBinding(src, at, "purge it", c.Repos); err != nil {
				return err
			}
			if c.PurgeAll && !singleRepo(c.Repos) {
				// purge_all empties the whole service: every repository's
				// objects, not only the one that asked.
				return src.errorf(at+".purge_all", "", "purge_all is allowed only on a CDN whose repos names exactly one repository (owner/name)")
			}
			cfg.CDNs[i] = c
		}
		return nil
	})
}

// checkBinding requires `repos:` on a target or CDN entry and checks its
// patterns. There is no implicit default: on a server many accounts
// install, an entry open to all must say so with "*".
func checkBinding(src serverSources, at, verb string, repos []string) error {
	if repos == nil {
		return src.errorf(at, "", "repos is required: the owners or repositories that may %s, such as [\"acme\", \"acme/site\", \"acme/*\"], [\"*\"] for any installation, or [] for none (the server's own use)", verb)
	}
	if err := checkRepoPatterns(repos); err != nil {
		return src.errorf(at+".repos", "", "%v", err)
	}
	return nil
}

// expandSecret reads a ${NAME} value from the environment; other values are
// returned as they are. The value itself never appears in an error.
func expandSecret(src serverSources, setting, v string) (string, error) {
	m := envRef.FindStringSubmatch(v)
	if m == nil {
		return v, nil
	}
	lookup := src.lookup
	if lookup == nil {
		return "", src.errorf(setting, "", "${%s} cannot be read here", m[1])
	}
	val, ok := lookup(m[1])
	if !ok || val == "" {
		return "", src.errorf(setting, "", "refers to the environment variable %s, which is not set", m[1])
	}
	return val, nil
}

// Target returns the target called name, or an error that lists the names
// this server has.
func (cfg *Server) Target(name string) (deploy.TargetConfig, error) {
	if t, ok := cfg.Targets[name]; ok {
		return t.TargetConfig, nil
	}
	names := make([]string, 0, len(cfg.Targets))
	for n := range cfg.Targets {
		names = append(names, n)
	}
	sort.Strings(names)
	return deploy.TargetConfig{}, fmt.Errorf("no deploy target named %q in the server config (have: %s)", name, strings.Join(names, ", "))
}
