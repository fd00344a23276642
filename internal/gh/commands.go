package gh

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-github/v60/github"
)

// ResolveCommit returns the full id of the commit ref names (an
// abbreviated or full sha, a branch or a tag), or ErrNotFound.
func (r *Repo) ResolveCommit(ctx context.Context, ref string) (string, error) {
	c, resp, err := r.Client.Repositories.GetCommit(ctx, r.Owner, r.Name, ref, &github.ListOptions{PerPage: 1})
	if err != nil {
		if s := status(resp); s == http.StatusNotFound || s == http.StatusUnprocessableEntity {
			return "", fmt.Errorf("commit %s of %s: %w", ref, r.FullName(), ErrNotFound)
		}
		return "", fmt.Errorf("commit %s of %s: %w", ref, r.FullName(), err)
	}
	return c.GetSHA(), nil
}

// ErrNoAccess: GitHub refused the installation (403), which lacks a
// permission for what was asked.
var ErrNoAccess = errors.New("not accessible to the app")

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

// IssueComment is a comment as the command replies read it back.
type IssueComment struct {
	ID     int64
	Author string
	Body   string
	URL    string
}

// FindComment returns the newest comment on issue number by author (any
// bot when empty) whose body contains marker, or nil. Hoist marks its replies so that a retried
// reply finds the one posted before a crash instead of posting another.
func (r *Repo) FindComment(ctx context.Context, number int, author, marker string) (*IssueComment, error) {
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	var found *IssueComment
	for {
		cs, resp, err := r.Client.Issues.ListComments(ctx, r.Owner, r.Name, number, opts)
		if err != nil {
			return nil, fmt.Errorf("comments of #%d: %w", number, err)
		}
		for _, c := range cs {
			login := c.GetUser().GetLogin()
			byAuthor := strings.EqualFold(login, author) || (author == "" && strings.HasSuffix(strings.ToLower(login), "[bot]"))
			if byAuthor && strings.Contains(c.GetBody(), marker) {
				found = &IssueComment{ID: c.GetID(), Author: c.GetUser().GetLogin(), Body: c.GetBody(), URL: c.GetHTMLURL()}
			}
		}
		if resp.NextPage == 0 {
			return found, nil
		}
		opts.Page = resp.NextPage
	}
}

// CheckURLs maps the names of the check runs on sha to their web pages.
func (r *Repo) CheckURLs(ctx context.Context, sha string) (map[string]string, error) {
	opts := &github.ListCheckRunsOptions{Filter: github.String("latest"), ListOptions: github.ListOptions{PerPage: 100}}
	out := map[string]string{}
	for page := 0; page < maxPages; page++ {
		res, resp, err := r.Client.Checks.ListCheckRunsForRef(ctx, r.Owner, r.Name, sha, opts)
		if err != nil {
			return nil, fmt.Errorf("check runs of %s: %w", short(sha), err)
		}
		for _, cr := range res.CheckRuns {
			if _, ok := out[cr.GetName()]; !ok && cr.GetHTMLURL() != "" {
				out[cr.GetName()] = cr.GetHTMLURL()
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return out, nil
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
