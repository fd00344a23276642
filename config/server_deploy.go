package config

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
type Targets map[string]deploy.TargetConfig

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
			cfg.Targets[DefaultTarget] = deploy.TargetConfig{Type: "local", Dir: filepath.Join(cfg.DataDir, "sites")}
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
			cfg.CDNs[i] = c
		}
		return nil
	})
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
		return t, nil
	}
	names := make([]string, 0, len(cfg.Targets))
	for n := range cfg.Targets {
		names = append(names, n)
	}
	sort.Strings(names)
	return deploy.TargetConfig{}, fmt.Errorf("no deploy target named %q in the server config (have: %s)", name, strings.Join(names, ", "))
}
