package serverconfig

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/hoist-dev/hoist/config"
)

// ReleaseGroup is a set of repositories released together: a promotion
// into one of its environments moves every member's environment, or none.
// Declared here, the operator decides who is in it; a repository may also
// declare a group in its own configuration, in force only when every
// member declares it alike (see GroupOf).
//
//	release_groups:
//	  - { name: web, members: [acme/frontend, acme/backend], environments: [production] }
type ReleaseGroup struct {
	Name         string   `yaml:"name"`
	Members      []string `yaml:"members"`
	Environments []string `yaml:"environments"`
}

// Has reports whether the repository fullName is a member (names compare
// without case, as GitHub's do).
func (g ReleaseGroup) Has(fullName string) bool {
	for _, m := range g.Members {
		if strings.EqualFold(m, fullName) {
			return true
		}
	}
	return false
}

// Releases reports whether env is one of the group's environments.
func (g ReleaseGroup) Releases(env string) bool {
	for _, e := range g.Environments {
		if e == env {
			return true
		}
	}
	return false
}

// Same reports whether two declarations name the same group: the same
// name, members and environments, in any order.
func (g ReleaseGroup) Same(o ReleaseGroup) bool {
	if g.Name != o.Name || len(g.Members) != len(o.Members) || len(g.Environments) != len(o.Environments) {
		return false
	}
	for _, m := range o.Members {
		if !g.Has(m) {
			return false
		}
	}
	for _, e := range o.Environments {
		if !g.Releases(e) {
			return false
		}
	}
	return true
}

// ReleaseGroupNamed returns the server's group called name.
func (cfg *Server) ReleaseGroupNamed(name string) (ReleaseGroup, bool) {
	for _, g := range cfg.ReleaseGroups {
		if g.Name == name {
			return g, true
		}
	}
	return ReleaseGroup{}, false
}

// ServerReleaseGroup returns the server's group that releases env of the
// repository fullName, if any.
func (cfg *Server) ServerReleaseGroup(fullName, env string) (ReleaseGroup, bool) {
	for _, g := range cfg.ReleaseGroups {
		if g.Has(fullName) && g.Releases(env) {
			return g, true
		}
	}
	return ReleaseGroup{}, false
}

// DeclaredReleaseGroup is the group a repository's configuration
// declares with its members (not one of the server's).
func DeclaredReleaseGroup(rc *config.RepoConfig) (ReleaseGroup, bool) {
	g := rc.ReleaseGroup
	if !g.Declared() {
		return ReleaseGroup{}, false
	}
	return ReleaseGroup{Name: g.Name, Members: g.Members, Environments: g.Environments}, true
}

var (
	groupName    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	groupRepo    = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$`)
	groupEnvName = groupName
)

func init() {
	registerServerSection("release_groups", nil, func(cfg *Server, src serverSources) error {
		var errs []error
		// A repository's environment is released by one group at most:
		// two would each decide for it.
		owner := map[string]string{}
		seen := map[string]bool{}
		for i, g := range cfg.ReleaseGroups {
			at := "release_groups." + g.Name
			if !groupName.MatchString(g.Name) {
				errs = append(errs, src.errorf(fmt.Sprintf("release_groups[%d].name", i), "", "%q must be one word of letters, digits, '.', '_' or '-'", g.Name))
				continue
			}
			if seen[g.Name] {
				errs = append(errs, src.errorfAt(at, "the group %q is declared twice", g.Name))
				continue
			}
			seen[g.Name] = true
			if len(g.Members) < 2 {
				errs = append(errs, src.errorfAt(at+".members", "a release group needs at least two members"))
			}
			if len(g.Environments) == 0 {
				errs = append(errs, src.errorfAt(at, "a release group needs environments: the environments its members release together"))
			}
			for j, m := range g.Members {
				if !groupRepo.MatchString(m) {
					errs = append(errs, src.errorfAt(fmt.Sprintf("%s.members[%d]", at, j), "member %q must be a repository as owner/name", m))
				}
				for _, e := range g.Environments {
					key := strings.ToLower(m) + " " + e
					if other, dup := owner[key]; dup && other != g.Name {
						errs = append(errs, src.errorfAt(fmt.Sprintf("%s.members[%d]", at, j), "%s %s is released by the group %q already", m, e, other))
					} else if dup {
						errs = append(errs, src.errorfAt(fmt.Sprintf("%s.members[%d]", at, j), "member %q is listed twice", m))
					}
					owner[key] = g.Name
				}
			}
			for j, e := range g.Environments {
				if !groupEnvName.MatchString(e) {
					errs = append(errs, src.errorfAt(fmt.Sprintf("%s.environments[%d]", at, j), "environment %q is not an environment's name", e))
				}
			}
		}
		return errors.Join(errs...)
	})
}

// checkReleaseGroup checks a repository's release_group against the
// server's groups: a name alone must name a group of the server that lists
// the repository; a declared group must list the repository itself and
// must not take the name of one of the server's (whose members the
// operator decides).
func (cfg *Server) checkReleaseGroup(rc *config.RepoConfig, fullName string, errorf func(at, format string, args ...any)) {
	g := rc.ReleaseGroup
	if g.Name == "" || fullName == "" {
		return
	}
	sg, known := cfg.ReleaseGroupNamed(g.Name)
	switch {
	case g.Declared() && known:
		errorf("release_group.members", "the release group %q is declared by the server configuration, which lists its members; write only its name", g.Name)
	case g.Declared():
		declared, _ := DeclaredReleaseGroup(rc)
		if !declared.Has(fullName) {
			errorf("release_group.members", "the release group %q must list this repository, %s, among its members", g.Name, fullName)
		}
	case !known:
		errorf("release_group", "the server configuration has no release group %q; declare it here with its members and environments, or ask the operator", g.Name)
	case !sg.Has(fullName):
		errorf("release_group", "the release group %q of the server configuration does not list %s; only the operator can add a repository to it", g.Name, fullName)
	}
}
