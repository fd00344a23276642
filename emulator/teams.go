package emulator

import (
	"fmt"
	"net/http"
	"strings"
)

// Team is a team of an organization, kept only for membership checks:
// who belongs to it.
type Team struct {
	ID      int64    `json:"id"`
	Org     string   `json:"org"`
	Slug    string   `json:"slug"`
	Members []string `json:"members"`
}

func teamKey(org, slug string) string { return strings.ToLower(org + "/" + slug) }

// SetTeam creates team org/slug, or replaces its members. The organization
// and every member must exist.
func (s *Server) SetTeam(org, slug string, members ...string) error {
	if !loginRE.MatchString(slug) {
		return fmt.Errorf("team slug %q is not valid (letters, digits and hyphens)", slug)
	}
	s.mu.Lock()
	defer func() {
		s.mu.Unlock()
		s.saveLogged()
	}()
	if u := s.user(org); u == nil || u.Type != "Organization" {
		return fmt.Errorf("no organization %q", org)
	}
	for _, m := range members {
		if u := s.user(m); u == nil || u.Type != "User" {
			return fmt.Errorf("no user %q", m)
		}
	}
	if s.st.Teams == nil {
		s.st.Teams = map[string]*Team{}
	}
	t := s.st.Teams[teamKey(org, slug)]
	if t == nil {
		t = &Team{ID: s.nextID(), Org: s.user(org).Login, Slug: strings.ToLower(slug)}
		s.st.Teams[teamKey(org, slug)] = t
	}
	t.Members = append([]string(nil), members...)
	return nil
}

// SetCustomRole creates (or changes) the custom repository role name of
// organization org, extending base (read, triage, write or maintain), as an
// organization owner does in its settings.
func (s *Server) SetCustomRole(org, name, base string) error {
	if l, ok := parseLevel(base); !ok || l >= levelAdmin {
		return fmt.Errorf("custom role %q: base role %q must be read, triage, write or maintain", name, base)
	}
	if _, builtin := parseLevel(name); builtin || !loginRE.MatchString(name) {
		return fmt.Errorf("custom role name %q is not valid", name)
	}
	s.mu.Lock()
	defer func() {
		s.mu.Unlock()
		s.saveLogged()
	}()
	if u := s.user(org); u == nil || u.Type != "Organization" {
		return fmt.Errorf("no organization %q", org)
	}
	if s.st.CustomRoles == nil {
		s.st.CustomRoles = map[string]string{}
	}
	s.st.CustomRoles[strings.ToLower(org+"/"+name)] = strings.ToLower(base)
	return nil
}

// getTeamMembership answers whether a user belongs to a team. An
// installation needs the members permission and may only read the teams of
// the account it is installed on; a user must be signed in.
func getTeamMembership(c *call) {
	org, slug, login := c.param("org"), c.param("team_slug"), c.param("username")
	switch {
	case c.actor.inst != nil:
		if !strings.EqualFold(c.actor.inst.Account, org) || c.actor.app.Permissions["members"] == "" {
			c.fail(http.StatusForbidden, "Resource not accessible by integration", nil)
			return
		}
	case c.actor.user == nil:
		c.fail(http.StatusUnauthorized, "Requires authentication", nil)
		return
	}
	c.s.mu.Lock()
	t := c.s.st.Teams[teamKey(org, slug)]
	member := false
	if t != nil {
		for _, m := range t.Members {
			if strings.EqualFold(m, login) {
				member = true
			}
		}
	}
	var orgID int64
	if u := c.s.user(org); u != nil {
		orgID = u.ID
	}
	c.s.mu.Unlock()
	if !member {
		c.notFound()
		return
	}
	c.json(http.StatusOK, obj{
		"url":   fmt.Sprintf("%s/organizations/%d/team/%d/memberships/%s", c.s.api(), orgID, t.ID, login),
		"role":  "member",
		"state": "active",
	})
}
