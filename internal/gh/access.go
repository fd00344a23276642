package gh

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-github/v60/github"
)

// ErrNoAccess: GitHub refused the installation (403), which lacks a
// permission for what was asked.
var ErrNoAccess = errors.New("not accessible to the app")

// Permission is the user's permission on the repository: admin, maintain,
// write, triage, read or none.
func (r *Repo) Permission(ctx context.Context, user string) (string, error) {
	p, resp, err := r.Client.Repositories.GetPermissionLevel(ctx, r.Owner, r.Name, user)
	if err != nil {
		if status(resp) == http.StatusNotFound {
			return "none", nil
		}
		return "", fmt.Errorf("permission of %s on %s: %w", user, r.FullName(), err)
	}
	return permissionOf(p.GetUser().GetRoleName(), p.GetPermission()), nil
}

// permissionOf reads a collaborator permission answer. role_name carries
// maintain and triage, which the legacy permission field folds into write
// and read; but a custom role's role_name is its own name, which says
// nothing of its rights, so it counts by its base role as the permission
// field gives it.
func permissionOf(role, legacy string) string {
	switch role {
	case "admin", "maintain", "write", "triage", "read":
		return role
	}
	switch legacy {
	case "admin", "write", "read":
		return legacy
	}
	return "none"
}

// InTeam reports whether user is an active member of team, written "slug"
// (a team of the repository's owner) or "org/slug". A team that does not
// exist has no members; one the installation may not read is ErrNoAccess.
func (r *Repo) InTeam(ctx context.Context, team, user string) (bool, error) {
	org, slug := r.Owner, strings.TrimPrefix(strings.TrimSpace(team), "@")
	if i := strings.IndexByte(slug, '/'); i >= 0 {
		org, slug = slug[:i], slug[i+1:]
	}
	m, resp, err := r.Client.Teams.GetTeamMembershipBySlug(ctx, org, slug, user)
	if err != nil {
		if isRateLimit(err) {
			// A rate limit's 403 says nothing of the membership: the
			// caller must retry later, not read "not a member" or "no
			// permission".
			return false, fmt.Errorf("membership of %s in %s/%s: %w", user, org, slug, err)
		}
		switch status(resp) {
		case http.StatusNotFound:
			return false, nil
		case http.StatusForbidden:
			return false, fmt.Errorf("membership of %s in %s/%s: %w", user, org, slug, ErrNoAccess)
		}
		return false, fmt.Errorf("membership of %s in %s/%s: %w", user, org, slug, err)
	}
	return m.GetState() == "active", nil
}

// isRateLimit reports whether err is a rate limit rather than an answer:
// hoist's own RateLimitedError, or go-github's errors for a primary limit
// (which go-github also returns without sending, with a made-up 403) and
// for a secondary one.
func isRateLimit(err error) bool {
	var own *RateLimitedError
	var primary *github.RateLimitError
	var secondary *github.AbuseRateLimitError
	return errors.As(err, &own) || errors.As(err, &primary) || errors.As(err, &secondary)
}
