package serverconfig

import (
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/internal/deploy"
	"github.com/hoist-dev/hoist/internal/smoke/fence"
)

// One server is installed by many accounts, so every deploy target and CDN
// of the server config says who may use it (`repos:`), and a target says
// under which folder each repository's editions go (`prefix:`, a template).
// A repository's .github/hoist.yml can only pick among what it is given.

// DefaultPrefixTemplate is the folder of a repository on a target unless
// the target says otherwise: editions go to <owner>/<repo>/<env>/.
const DefaultPrefixTemplate = "{owner}/{repo}/"

// AnyRepository in `repos:` lets every installation use the entry.
const AnyRepository = "*"

var (
	// GitHub logins: letters, digits and single hyphens.
	ownerName = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$`)
	// Repository names: letters, digits, '.', '_', '-'; a glob may add *?[].
	repoNamePat = regexp.MustCompile(`^[A-Za-z0-9._*?\[\]-]{1,100}$`)
)

// checkRepoPatterns reports the first pattern of `repos:` that is not
// "*", "owner", "owner/*", "owner/name" or "owner/glob".
func checkRepoPatterns(patterns []string) error {
	for _, p := range patterns {
		if p == AnyRepository {
			continue
		}
		owner, name, hasName := strings.Cut(p, "/")
		switch {
		case !ownerName.MatchString(owner):
			return fmt.Errorf("%q: the owner must be a GitHub account name (no wildcard; write \"*\" alone for any installation)", p)
		case !hasName:
		case !repoNamePat.MatchString(name) || name == "." || name == "..":
			return fmt.Errorf("%q: write owner, owner/name or owner/* (a glob over the name)", p)
		default:
			if _, err := path.Match(name, ""); err != nil {
				return fmt.Errorf("%q: %v", p, err)
			}
		}
	}
	return nil
}

// RepoAllowed reports whether the repository owner/name matches one of
// patterns. Names compare without case, as GitHub's do.
func RepoAllowed(patterns []string, fullName string) bool {
	owner, name, ok := strings.Cut(strings.ToLower(fullName), "/")
	if !ok || owner == "" || name == "" {
		return false
	}
	for _, p := range patterns {
		if p == AnyRepository {
			return true
		}
		po, pn, hasName := strings.Cut(strings.ToLower(p), "/")
		if po != owner {
			continue
		}
		if !hasName {
			return true
		}
		if m, err := path.Match(pn, name); err == nil && m {
			return true
		}
	}
	return false
}

// singleRepo reports whether patterns name exactly one repository.
func singleRepo(patterns []string) bool {
	if len(patterns) != 1 {
		return false
	}
	_, name, ok := strings.Cut(patterns[0], "/")
	return ok && !strings.ContainsAny(name, "*?[")
}

// singleOwner reports whether every pattern is of the same one owner.
func singleOwner(patterns []string) bool {
	owner := ""
	for _, p := range patterns {
		if p == AnyRepository {
			return false
		}
		o, _, _ := strings.Cut(strings.ToLower(p), "/")
		if owner != "" && o != owner {
			return false
		}
		owner = o
	}
	return owner != ""
}

// checkPrefixTemplate reports why tmpl cannot be the folder template of a
// target bound to repos: each repository must get a folder of its own, so
// {owner} and {repo} are needed unless one owner (then {repo}) or one
// repository (then anything) may use the target. Each placeholder is a
// whole folder name, so that "a"+"bc" and "ab"+"c" cannot meet.
func checkPrefixTemplate(tmpl string, repos []string) error {
	hasOwner, hasRepo := false, false
	if strings.HasPrefix(tmpl, "/") {
		return fmt.Errorf("%q must be relative (no leading /)", tmpl)
	}
	if t := strings.TrimSuffix(tmpl, "/"); t != "" {
		for _, seg := range strings.Split(t, "/") {
			switch seg {
			case "{owner}":
				hasOwner = true
				continue
			case "{repo}":
				hasRepo = true
				continue
			}
			if strings.ContainsAny(seg, "{}") {
				return fmt.Errorf("%q: {owner} and {repo} are the only placeholders, each a whole folder name (as in sites/{owner}/{repo}/)", tmpl)
			}
			if msg := config.CheckRelPrefix(seg); msg != "" || seg == "" {
				return fmt.Errorf("%q is not a clean relative folder", tmpl)
			}
		}
	}
	switch {
	case singleRepo(repos):
	case singleOwner(repos) && !hasRepo:
		return fmt.Errorf("%q needs {repo}: more than one repository may use this target, and each needs a folder of its own", tmpl)
	case !singleOwner(repos) && (!hasOwner || !hasRepo):
		return fmt.Errorf("%q needs {owner} and {repo}: repositories of more than one owner may use this target, and each needs a folder of its own", tmpl)
	}
	return nil
}

// expandPrefixTemplate fills in the repository (lower case, so a change of
// case on GitHub keeps the folder).
func expandPrefixTemplate(tmpl, owner, repo string) (string, error) {
	owner, repo = strings.ToLower(owner), strings.ToLower(repo)
	if !ownerName.MatchString(owner) {
		return "", fmt.Errorf("owner %q is not a GitHub account name", owner)
	}
	if repo == "" || repo == "." || repo == ".." || config.CheckRelPrefix(repo) != "" || strings.Contains(repo, "/") {
		return "", fmt.Errorf("repository name %q cannot be a folder name", repo)
	}
	out := strings.ReplaceAll(tmpl, "{owner}", owner)
	return strings.ReplaceAll(out, "{repo}", repo), nil
}

// Edition names an environment of a repository for deploys and purges:
// its surrogate keys and path keys derive from it, so two repositories
// with an environment of the same name never share a key.
func Edition(fullName, env string) string { return strings.ToLower(fullName) + "/" + env }

// RepoKey namespaces a surrogate key a repository's configuration names
// (purge: keys:), so it can only ever purge objects tagged for that
// repository.
func RepoKey(fullName, key string) string { return strings.ToLower(fullName) + "/" + key }

// DeployTarget returns the target an environment of the repository
// fullName may deploy to and the full prefix its edition goes to: the
// target's folder for the repository joined with the repository's own
// prefix. An error says why not (unknown target, not bound to the
// repository, a prefix that escapes).
func (cfg *Server) DeployTarget(name, fullName, prefix string) (deploy.TargetConfig, string, error) {
	t, ok := cfg.Targets[name]
	if !ok {
		_, err := cfg.Target(name)
		return deploy.TargetConfig{}, "", err
	}
	if !RepoAllowed(t.Repos, fullName) {
		return deploy.TargetConfig{}, "", fmt.Errorf("deploy target %q is not open to %s (the server config lists who may use it)", name, fullName)
	}
	owner, repo, _ := strings.Cut(fullName, "/")
	base, err := expandPrefixTemplate(t.prefixTemplate(), owner, repo)
	if err != nil {
		return deploy.TargetConfig{}, "", fmt.Errorf("deploy target %q: %w", name, err)
	}
	full, err := deploy.JoinPrefix(base, prefix)
	if err != nil {
		return deploy.TargetConfig{}, "", fmt.Errorf("deploy target %q: %w", name, err)
	}
	return t.TargetConfig, full, nil
}

// RepoPrefix is the folder of the repository on the target (the expanded
// template), or an error when the target is unknown or not open to it.
func (cfg *Server) RepoPrefix(name, fullName string) (string, error) {
	_, p, err := cfg.DeployTarget(name, fullName, "")
	return p, err
}

func (t Target) prefixTemplate() string {
	if t.Prefix == nil {
		return DefaultPrefixTemplate
	}
	return *t.Prefix
}

// CDNAllowed reports whether the CDN entry name exists and may be purged
// by the repository fullName; the error says why not.
func (cfg *Server) CDNAllowed(name, fullName string) error {
	c, err := cfg.CDNs.Lookup(name)
	if err != nil {
		return err
	}
	if !RepoAllowed(c.Repos, fullName) {
		return fmt.Errorf("cdn %q is not open to %s (the server config lists who may purge it)", name, fullName)
	}
	return nil
}

// CheckRepoConfig checks what a repository's configuration names against
// this server: every deploy target and CDN it names that this server has
// must be open to the repository fullName, and every prefix must stay in
// the repository's folder. Each mistake names the file, line and column of
// the value. A name this server does not have is left to the deploy, which
// fails saying so (the operator may be about to add it).
func (cfg *Server) CheckRepoConfig(rc *config.RepoConfig, fullName string) error {
	return cfg.checkRepoConfig(rc, fullName, false)
}

// CheckRepoConfigNames also reports names this server does not have, and
// without fullName checks only the names: `hoist config validate -server`.
func (cfg *Server) CheckRepoConfigNames(rc *config.RepoConfig, fullName string) error {
	return cfg.checkRepoConfig(rc, fullName, true)
}

func (cfg *Server) checkRepoConfig(rc *config.RepoConfig, fullName string, names bool) error {
	var errs config.RepoConfigErrors
	errorf := func(at, format string, args ...any) {
		errs = append(errs, rc.ErrorAt(at, format, args...))
	}
	target := func(at, name, prefix string) {
		if name == "" {
			return
		}
		t, known := cfg.Targets[name]
		switch {
		case !known && names:
			_, err := cfg.Target(name)
			errorf(at+".target", "%v", err)
		case !known || fullName == "":
		case !RepoAllowed(t.Repos, fullName):
			_, _, err := cfg.DeployTarget(name, fullName, prefix)
			errorf(at+".target", "%v", err)
		default:
			if _, _, err := cfg.DeployTarget(name, fullName, prefix); err != nil {
				where := at + ".prefix"
				if !rc.Written(where) {
					where = at + ".target"
				}
				errorf(where, "%v", err)
			}
		}
	}
	purges := func(at string, ps []config.RepoPurge) {
		for i, p := range ps {
			if p.CDN == "" {
				continue
			}
			_, err := cfg.CDNs.Lookup(p.CDN)
			switch {
			case err != nil && names:
			case err != nil || fullName == "":
				continue
			default:
				err = cfg.CDNAllowed(p.CDN, fullName)
			}
			if err != nil {
				errorf(fmt.Sprintf("%s.purge[%d].cdn", at, i), "%v", err)
			}
		}
	}
	cfg.checkReleaseGroup(rc, fullName, errorf)
	if names {
		cfg.checkVerifyURLs(rc, errorf)
	}
	for _, e := range rc.Environments {
		at := "environments." + e.Name
		target(at+".deploy", e.Deploy.Target, e.Deploy.Prefix)
		purges(at, e.Purge)
	}
	// Editions are checked as one environment would be; each edition's
	// folder is checked again when it is placed.
	target("editions", rc.Editions.Target, "")
	purges("editions", rc.Editions.Purge)
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// checkVerifyURLs reports a verify URL whose host is an address the
// smoke-test browser does not reach (loopback, private, link-local,
// metadata, ...) and smoke.verify_private_hosts does not allow: such a
// check is refused when it would run. A host name is resolved only then.
// Only `hoist config validate -server` reports it: at run time the refusal
// is the verification's, and the rest of the file still applies.
func (cfg *Server) checkVerifyURLs(rc *config.RepoConfig, errorf func(at, format string, args ...any)) {
	var allowed []fence.Rule
	for _, h := range cfg.Smoke.VerifyPrivateHosts {
		if r, err := fence.ParsePrivateRule(h); err == nil {
			allowed = append(allowed, r)
		}
	}
	for _, e := range rc.Environments {
		if e.Verify == nil {
			continue
		}
		at, raw := "environments."+e.Name+".verify.url", e.Verify.URL
		if raw == "" {
			at, raw = "environments."+e.Name+".deploy.url", e.Deploy.URL
		}
		u, err := url.Parse(raw)
		if err != nil {
			continue
		}
		ip, err := netip.ParseAddr(u.Hostname())
		if err != nil {
			continue
		}
		why := fence.Forbidden(ip)
		if why == "" {
			continue
		}
		port, _ := strconv.Atoi(u.Port())
		if port == 0 {
			port = map[string]int{"http": 80, "https": 443}[u.Scheme]
		}
		if slices.ContainsFunc(allowed, func(r fence.Rule) bool { return r.Match(ip.Unmap().String(), port) }) {
			continue
		}
		oe := &fence.OriginError{Host: u.Hostname(), Addr: ip.Unmap(), Literal: true, Reason: why}
		errorf(at, "verify url %v; hoist does not browse private addresses unless the server allows the host (smoke.verify_private_hosts)", oe)
	}
}

// LoadServerTargets reads only what a server config file says about deploy
// targets and CDNs, and smoke.verify_private_hosts from the file (and
// checks them as LoadServer does), for checking
// repository configurations against it offline: `hoist config validate
// --server`. Secrets given as ${NAME} are not read.
func LoadServerTargets(path string) (*Server, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	cfg := &Server{}
	lines := map[string]int{}
	if err := decodeServerYAML(path, data, cfg, lines); err != nil {
		return nil, err
	}
	applyServerDefaults(cfg)
	src := serverSources{file: path, lines: lines, env: map[string]bool{},
		lookup: func(string) (string, bool) { return "unread", true }}
	for _, sec := range serverSections {
		if sec.name != "targets" && sec.name != "cdns" {
			continue
		}
		if sec.defaults != nil {
			sec.defaults(cfg)
		}
		if err := sec.validate(cfg, src); err != nil {
			return nil, err
		}
	}
	for i, h := range cfg.Smoke.VerifyPrivateHosts {
		if _, err := fence.ParsePrivateRule(h); err != nil {
			return nil, src.errorf("smoke.verify_private_hosts", "HOIST_SMOKE_VERIFY_PRIVATE_HOSTS", "entry %d: %v", i+1, err)
		}
	}
	return cfg, nil
}
