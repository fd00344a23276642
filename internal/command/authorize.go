package command

import (
	"fmt"
	"sort"
	"strings"
)

// Permission is a repository permission level, ordered as GitHub orders its
// roles: read < triage < write < maintain < admin.
type Permission int

const (
	PermissionNone Permission = iota
	PermissionRead
	PermissionTriage
	PermissionWrite
	PermissionMaintain
	PermissionAdmin
)

var permissionNames = [...]string{"none", "read", "triage", "write", "maintain", "admin"}

func (p Permission) String() string {
	if p < 0 || int(p) >= len(permissionNames) {
		return fmt.Sprintf("Permission(%d)", int(p))
	}
	return permissionNames[p]
}

// ParsePermission reads a permission as GitHub names it, in a role name
// (`maintain`) or in the older API words (`pull` for read, `push` for write).
func ParsePermission(s string) (Permission, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "none", "":
		return PermissionNone, nil
	case "read", "pull":
		return PermissionRead, nil
	case "triage":
		return PermissionTriage, nil
	case "write", "push":
		return PermissionWrite, nil
	case "maintain":
		return PermissionMaintain, nil
	case "admin":
		return PermissionAdmin, nil
	}
	return PermissionNone, fmt.Errorf("unknown permission %q: use read, triage, write, maintain or admin", s)
}

// Actor is who wrote the command.
type Actor struct {
	Login string
	// Permission is the actor's permission on the repository.
	Permission Permission
	// Teams are the actor's team slugs, "team" or "org/team".
	Teams []string
	// IsBot is set when GitHub says the account's type is Bot.
	IsBot bool
}

// IsBotAccount reports whether the actor is a bot, by type or by a login
// ending in "[bot]" (GitHub Apps).
func (a Actor) IsBotAccount() bool {
	return a.IsBot || strings.HasSuffix(strings.ToLower(a.Login), "[bot]")
}

// EnvRule narrows who may act on one environment.
type EnvRule struct {
	// Permission is the minimum permission; the stricter of this and the
	// default applies.
	Permission Permission
	// Teams, when set, restricts the environment to members of one of these
	// teams ("team" or "org/team"). Repository admins are always allowed: they
	// can change the rules anyway.
	Teams []string
}

// Rules are the authorization rules of a repository.
type Rules struct {
	// DefaultPermission is the minimum permission for commands that change
	// something; PermissionWrite when zero.
	DefaultPermission Permission
	// PerEnv holds the environments' own rules.
	PerEnv map[string]EnvRule
}

func (r Rules) defaultPermission() Permission {
	if r.DefaultPermission == PermissionNone {
		return PermissionWrite
	}
	return r.DefaultPermission
}

// Requirement is what a command asks of its actor.
type Requirement struct {
	Permission Permission
	// Teams, when set, lists the teams one of which the actor must belong to
	// (unless an admin).
	Teams []string
}

// Require returns what verb, acting on env (empty for none), asks of its actor.
func (r Rules) Require(verb Verb, env string) Requirement {
	spec, ok := Lookup(verb)
	if !ok {
		return Requirement{Permission: PermissionAdmin}
	}
	switch spec.Access {
	case AccessRead:
		return Requirement{Permission: PermissionRead}
	case AccessWrite:
		return Requirement{Permission: PermissionWrite}
	case AccessDefault:
		return Requirement{Permission: r.defaultPermission()}
	}
	req := Requirement{Permission: r.defaultPermission()}
	if rule, ok := r.PerEnv[env]; ok && env != "" {
		req.Permission = max(req.Permission, rule.Permission)
		req.Teams = rule.Teams
	}
	return req
}

// Decision is the outcome of Authorize.
type Decision struct {
	Allowed bool
	// Reason explains a refusal politely, saying what is needed.
	Reason string
	// Needed is the permission the command needs.
	Needed Permission
	// Teams are the teams the command is restricted to, if any.
	Teams []string
}

// Authorize decides whether actor may run cmd under rules. Bots never act:
// hoist must not answer itself or be driven by another automation.
func Authorize(cmd Command, actor Actor, rules Rules) Decision {
	req := rules.Require(cmd.Verb, cmd.Env)
	d := Decision{Needed: req.Permission, Teams: req.Teams}
	what := code(cmd.String())
	if actor.IsBotAccount() {
		d.Reason = fmt.Sprintf("%s was written by a bot account (%s); hoist only takes commands from people.", what, code(actor.Login))
		return d
	}
	if actor.Permission < req.Permission {
		d.Reason = fmt.Sprintf("Sorry @%s, %s needs **%s** permission on this repository; you have **%s**.",
			actor.Login, what, req.Permission, actor.Permission)
		if len(req.Teams) > 0 {
			d.Reason += fmt.Sprintf(" It is also limited to members of %s.", teamList(req.Teams))
		}
		return d
	}
	if len(req.Teams) > 0 && actor.Permission < PermissionAdmin && !inAnyTeam(actor.Teams, req.Teams) {
		d.Reason = fmt.Sprintf("Sorry @%s, %s is limited to members of %s (or repository admins).",
			actor.Login, what, teamList(req.Teams))
		return d
	}
	d.Allowed = true
	return d
}

func teamList(teams []string) string {
	q := make([]string, len(teams))
	for i, t := range teams {
		q[i] = code(strings.TrimPrefix(t, "@"))
	}
	sort.Strings(q)
	if len(q) == 1 {
		return "the team " + q[0]
	}
	return "one of the teams " + strings.Join(q, ", ")
}

// inAnyTeam compares team names case-insensitively; a rule that names a bare
// slug matches that slug in any organization (a repository's teams all belong
// to its own organization).
func inAnyTeam(have, want []string) bool {
	norm := func(s string) string { return strings.ToLower(strings.TrimPrefix(strings.TrimSpace(s), "@")) }
	slug := func(s string) string {
		if i := strings.LastIndexByte(s, '/'); i >= 0 {
			return s[i+1:]
		}
		return s
	}
	for _, w := range want {
		w = norm(w)
		for _, h := range have {
			h = norm(h)
			if h == w || (!strings.Contains(w, "/") && slug(h) == w) || (!strings.Contains(h, "/") && slug(w) == h) {
				return true
			}
		}
	}
	return false
}

// ShouldAct reports whether an issue_comment event may run commands: only a
// newly created comment by a person does. Edited and deleted comments never
// act, so that editing a comment cannot replay or sneak in a command.
func ShouldAct(action string, commentAuthorIsBot bool) bool {
	return action == "created" && !commentAuthorIsBot
}
