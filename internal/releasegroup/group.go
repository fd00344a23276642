package releasegroup

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/pipeline"
	"github.com/hoist-dev/hoist/internal/promotion"
)

// Group is a release group in force for one environment: its members as
// owner/name, sorted, each with the installation hoist reads it through.
type Group struct {
	Name string
	// Declared says the members' configurations declare the group (not
	// the server's).
	Declared bool
	Members  []string
	Events   map[string]promotion.RepoEvent
}

// Key names the group with its members: groups of two accounts may share
// a name, never a key.
func (g Group) Key() string {
	return g.Name + " " + strings.Join(g.Members, ",")
}

// others are the members but repo, comma-separated, for messages.
func (g Group) others(repo string) string {
	var out []string
	for _, m := range g.Members {
		if !strings.EqualFold(m, repo) {
			out = append(out, m)
		}
	}
	return strings.Join(out, ", ")
}

// errNotInForce is a group the repository declares that is not in force:
// not every member declares it alike. Its message says which member does
// not, and nothing about what that member's configuration holds.
type errNotInForce struct{ msg string }

func (e errNotInForce) Error() string { return e.msg }

// resolve is the group that releases env of the repository of re with
// pipeline p: the server's group that lists it, or the group its own
// configuration declares when every member declares it alike. ok is false
// when no group releases env. A declared group that is not in force is an
// errNotInForce: the repository asked to release together, so it must not
// move alone, and nobody else's repository is touched.
func (s *Service) resolve(ctx context.Context, re promotion.RepoEvent, p *pipeline.Pipeline, env string) (Group, bool, error) {
	full := re.Owner + "/" + re.Repo
	if sg, ok := s.server.ServerReleaseGroup(full, env); ok {
		g, err := s.group(ctx, sg, false, re)
		return g, true, err
	}
	rg := p.ReleaseGroup
	if !rg.Declared() {
		return Group{}, false, nil
	}
	declared := serverconfig.ReleaseGroup{Name: rg.Name, Members: rg.Members, Environments: rg.Environments}
	if !declared.Releases(env) {
		return Group{}, false, nil
	}
	if _, taken := s.server.ReleaseGroupNamed(rg.Name); taken || !declared.Has(full) {
		// hoist/config reports this at its line and column.
		return Group{}, true, errNotInForce{fmt.Sprintf("The release group %s is not in force: its declaration in %s is refused (see the hoist/config check run).", rg.Name, full)}
	}
	g, err := s.group(ctx, declared, true, re)
	if err != nil {
		return g, true, err
	}
	// Every other member must declare the very same group: agreement is
	// what lets a group move a repository, so no account can pull
	// another's repository into a group of its own.
	for _, m := range g.Members {
		if strings.EqualFold(m, full) {
			continue
		}
		mp, _, err := s.configs.PipelineFor(ctx, g.Events[m])
		if err != nil {
			return g, true, errNotInForce{fmt.Sprintf("The release group %s is not in force: the configuration of %s could not be read.", rg.Name, m)}
		}
		if mp == nil || !mp.ReleaseGroup.Declared() {
			return g, true, errNotInForce{fmt.Sprintf("The release group %s is not in force: %s does not declare it.", rg.Name, m)}
		}
		theirs := serverconfig.ReleaseGroup{Name: mp.ReleaseGroup.Name, Members: mp.ReleaseGroup.Members, Environments: mp.ReleaseGroup.Environments}
		if !theirs.Same(declared) {
			return g, true, errNotInForce{fmt.Sprintf("The release group %s is not in force: %s declares it otherwise (every member must list the same members and environments).", rg.Name, m)}
		}
	}
	return g, true, nil
}

// group finds each member's installation.
func (s *Service) group(ctx context.Context, decl serverconfig.ReleaseGroup, declared bool, self promotion.RepoEvent) (Group, error) {
	g := Group{Name: decl.Name, Declared: declared, Events: map[string]promotion.RepoEvent{}}
	for _, m := range decl.Members {
		g.Members = append(g.Members, strings.ToLower(m))
	}
	sort.Strings(g.Members)
	selfName := strings.ToLower(self.Owner + "/" + self.Repo)
	for _, m := range g.Members {
		if m == selfName {
			g.Events[m] = self
			continue
		}
		owner, name, _ := strings.Cut(m, "/")
		inst, err := s.installation(ctx, owner, name)
		if errors.Is(err, errNotInstalled) {
			return g, errNotInForce{fmt.Sprintf("The release group %s cannot promote: hoist is not installed on %s.", g.Name, m)}
		}
		if err != nil {
			return g, err
		}
		g.Events[m] = promotion.RepoEvent{Installation: inst, Owner: owner, Repo: name, Actor: self.Actor}
	}
	return g, nil
}

var errNotInstalled = errors.New("app not installed")

// installation is the id of the App's installation on owner/name, read
// once (an installation id does not change while the App stays
// installed).
func (s *Service) installation(ctx context.Context, owner, name string) (int64, error) {
	key := strings.ToLower(owner + "/" + name)
	s.mu.Lock()
	id, ok := s.installs[key]
	s.mu.Unlock()
	if ok {
		return id, nil
	}
	app, err := s.clients.NewAppClient()
	if err != nil {
		return 0, fmt.Errorf("app client: %w", err)
	}
	inst, resp, err := app.Apps.FindRepositoryInstallation(ctx, owner, name)
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusNotFound {
			return 0, fmt.Errorf("installation of %s: %w", key, errNotInstalled)
		}
		return 0, fmt.Errorf("installation of %s: %w", key, err)
	}
	s.mu.Lock()
	s.installs[key] = inst.GetID()
	s.mu.Unlock()
	return inst.GetID(), nil
}
