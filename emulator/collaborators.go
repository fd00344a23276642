package emulator

import (
	"net/http"
	"sort"
	"strings"
)

// GitHub's permission field collapses roles: maintain reads as write,
// triage as read.
func legacyPermission(l level) string {
	switch {
	case l >= levelAdmin:
		return "admin"
	case l >= levelWrite:
		return "write"
	case l >= levelRead:
		return "read"
	}
	return "none"
}

// collaboratorJSON is a collaborator. Callers hold s.mu.
func (s *Server) collaboratorJSON(r *Repo, u *User, l level) obj {
	o := s.userJSON(u)
	o["permissions"] = obj{"pull": l >= levelRead, "triage": l >= levelTriage, "push": l >= levelWrite, "maintain": l >= levelMaintain, "admin": l >= levelAdmin}
	o["role_name"] = s.roleName(r, u.Login, l)
	return o
}

func listCollaborators(c *call) {
	c.s.mu.Lock()
	logins := []string{}
	if o := c.s.user(c.repo.Owner); o != nil && o.Type == "User" {
		logins = append(logins, o.Login)
	}
	for l := range c.repo.Collaborators {
		if u := c.s.user(l); u != nil {
			logins = append(logins, u.Login)
		}
	}
	sort.Strings(logins)
	out := []obj{}
	for _, l := range logins {
		out = append(out, c.s.collaboratorJSON(c.repo, c.s.user(l), c.s.userLevel(l, c.repo)))
	}
	c.s.mu.Unlock()
	paginate(c, out)
}

func (c *call) isCollaborator(login string) (*User, level) {
	u := c.s.user(login)
	if u == nil {
		return nil, levelNone
	}
	if strings.EqualFold(login, c.repo.Owner) {
		return u, levelAdmin
	}
	if role, ok := c.repo.Collaborators[strings.ToLower(login)]; ok {
		l, _ := parseLevel(role)
		return u, l
	}
	return u, levelNone
}

func checkCollaborator(c *call) {
	c.s.mu.Lock()
	_, l := c.isCollaborator(c.param("username"))
	c.s.mu.Unlock()
	if l == levelNone {
		c.notFound()
		return
	}
	c.noContent()
}

func collaboratorPermission(c *call) {
	c.s.mu.Lock()
	u := c.s.user(c.param("username"))
	if u == nil {
		c.s.mu.Unlock()
		c.notFound()
		return
	}
	l := c.s.userLevel(u.Login, c.repo)
	body := obj{"permission": legacyPermission(l), "role_name": c.s.roleName(c.repo, u.Login, l), "user": c.s.collaboratorJSON(c.repo, u, l)}
	c.s.mu.Unlock()
	c.json(http.StatusOK, body)
}

// putCollaborator adds a collaborator directly (GitHub would send an
// invitation the user accepts; the emulator skips that step) and answers
// 204, as GitHub does for an existing collaborator.
func putCollaborator(c *call) {
	var in struct {
		Permission string `json:"permission"`
	}
	if !c.decode(&in) {
		return
	}
	if in.Permission == "" {
		in.Permission = "push"
	}
	// GitHub also takes the name of one of the organization's custom
	// repository roles.
	c.s.mu.Lock()
	l, ok := c.s.roleLevel(c.repo, in.Permission)
	role := l.String()
	if _, builtin := parseLevel(in.Permission); ok && !builtin {
		role = in.Permission
	}
	if !ok {
		c.s.mu.Unlock()
		c.invalid("Validation Failed", fieldError{Resource: "Repository", Field: "permission", Code: "invalid", Message: "permission must be pull, triage, push, maintain, admin or a custom role's name"})
		return
	}
	u := c.s.user(c.param("username"))
	if u == nil {
		c.s.mu.Unlock()
		c.notFound()
		return
	}
	if strings.EqualFold(u.Login, c.repo.Owner) {
		c.s.mu.Unlock()
		c.invalid("Validation Failed", fieldError{Resource: "Repository", Code: "custom", Message: "Repository owner cannot be a collaborator"})
		return
	}
	c.repo.Collaborators[strings.ToLower(u.Login)] = role
	c.s.mu.Unlock()
	c.s.saveLogged()
	c.noContent()
}

func deleteCollaborator(c *call) {
	c.s.mu.Lock()
	delete(c.repo.Collaborators, strings.ToLower(c.param("username")))
	c.s.mu.Unlock()
	c.s.saveLogged()
	c.noContent()
}
