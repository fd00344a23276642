package emulator

import (
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
	"time"
)

// obj is a JSON object being built; the shapes follow GitHub's OpenAPI
// schemas (full-repository, simple-user, commit, ...).
type obj = map[string]any

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func tsPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ts(*t)
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nodeID mimics GitHub's legacy global ids: base64 of "0NN:TypeID".
func nodeID(typ string, id int64) string {
	return base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("0%d:%s%d", len(typ), typ, id)))
}

func sortByID[T any](xs []T, id func(T) int64) {
	sort.Slice(xs, func(i, j int) bool { return id(xs[i]) < id(xs[j]) })
}

// api is the base of API URLs in bodies; callers hold s.mu or not, it only
// reads s.baseURL() (set once).
func (s *Server) api() string { return s.baseURL() }

// userJSON is a simple-user. Callers hold s.mu.
func (s *Server) userJSON(u *User) obj {
	if u == nil {
		return nil
	}
	b := s.api() + "/users/" + u.Login
	return obj{
		"login": u.Login, "id": u.ID, "node_id": nodeID(u.Type, u.ID),
		"avatar_url":  s.baseURL() + "/avatars/u/" + fmt.Sprint(u.ID),
		"gravatar_id": "", "url": b, "html_url": s.baseURL() + "/" + u.Login,
		"followers_url": b + "/followers", "following_url": b + "/following{/other_user}",
		"gists_url": b + "/gists{/gist_id}", "starred_url": b + "/starred{/owner}{/repo}",
		"subscriptions_url": b + "/subscriptions", "organizations_url": b + "/orgs",
		"repos_url": b + "/repos", "events_url": b + "/events{/privacy}",
		"received_events_url": b + "/received_events", "type": u.Type, "site_admin": false,
	}
}

func (s *Server) userByLogin(login string) obj {
	if u := s.user(login); u != nil {
		return s.userJSON(u)
	}
	return nil
}

// repoJSON is a full-repository; it also satisfies minimal-repository and
// the webhook repository schemas. Callers hold s.mu.
func (s *Server) repoJSON(r *Repo) obj {
	owner := s.user(r.Owner)
	u := s.api() + "/repos/" + r.FullName()
	html := s.baseURL() + "/" + r.FullName()
	open := 0
	for _, is := range r.Issues {
		if is.State == "open" {
			open++
		}
	}
	visibility := "public"
	if r.Private {
		visibility = "private"
	}
	return obj{
		"id": r.ID, "node_id": nodeID("Repository", r.ID), "name": r.Name, "full_name": r.FullName(),
		"owner": s.userJSON(owner), "private": r.Private, "html_url": html, "description": nullable(r.Description),
		"fork": false, "url": u,
		"archive_url": u + "/{archive_format}{/ref}", "assignees_url": u + "/assignees{/user}",
		"blobs_url": u + "/git/blobs{/sha}", "branches_url": u + "/branches{/branch}",
		"collaborators_url": u + "/collaborators{/collaborator}", "comments_url": u + "/comments{/number}",
		"commits_url": u + "/commits{/sha}", "compare_url": u + "/compare/{base}...{head}",
		"contents_url": u + "/contents/{+path}", "contributors_url": u + "/contributors",
		"deployments_url": u + "/deployments", "downloads_url": u + "/downloads", "events_url": u + "/events",
		"forks_url": u + "/forks", "git_commits_url": u + "/git/commits{/sha}", "git_refs_url": u + "/git/refs{/sha}",
		"git_tags_url": u + "/git/tags{/sha}", "git_url": strings.Replace(html, "http", "git", 1) + ".git",
		"issue_comment_url": u + "/issues/comments{/number}", "issue_events_url": u + "/issues/events{/number}",
		"issues_url": u + "/issues{/number}", "keys_url": u + "/keys{/key_id}", "labels_url": u + "/labels{/name}",
		"languages_url": u + "/languages", "merges_url": u + "/merges", "milestones_url": u + "/milestones{/number}",
		"notifications_url": u + "/notifications{?since,all,participating}", "pulls_url": u + "/pulls{/number}",
		"releases_url": u + "/releases{/id}", "ssh_url": "git@emulator:" + r.FullName() + ".git",
		"stargazers_url": u + "/stargazers", "statuses_url": u + "/statuses/{sha}",
		"subscribers_url": u + "/subscribers", "subscription_url": u + "/subscription", "tags_url": u + "/tags",
		"teams_url": u + "/teams", "trees_url": u + "/git/trees{/sha}", "clone_url": html + ".git",
		"mirror_url": nil, "hooks_url": u + "/hooks", "svn_url": html, "homepage": nil, "language": nil,
		"forks_count": 0, "stargazers_count": 0, "watchers_count": 0, "size": 0,
		"default_branch": r.DefaultBranch, "open_issues_count": open, "is_template": false, "topics": []string{},
		"has_issues": true, "has_projects": false, "has_wiki": false, "has_pages": false, "has_downloads": true,
		"has_discussions": false, "archived": false, "disabled": false, "visibility": visibility,
		"pushed_at": ts(r.PushedAt), "created_at": ts(r.CreatedAt), "updated_at": ts(r.UpdatedAt),
		"allow_forking": true, "web_commit_signoff_required": false,
		"subscribers_count": 0, "network_count": 0, "license": nil, "forks": 0, "open_issues": open, "watchers": 0,
		"allow_merge_commit": true, "allow_squash_merge": true, "allow_rebase_merge": true,
		"delete_branch_on_merge": false,
	}
}

func (s *Server) repoURL(r *Repo) string { return s.api() + "/repos/" + r.FullName() }

// appJSON is an integration. Callers hold s.mu.
func (s *Server) appJSON(a *App) obj {
	events := a.Events
	if events == nil {
		events = []string{}
	}
	return obj{
		"id": a.ID, "slug": a.Slug, "node_id": nodeID("Integration", a.ID), "client_id": fmt.Sprintf("Iv1.%016x", a.ID),
		"owner": s.userByLogin(a.Owner), "name": a.Name, "description": nil,
		"external_url": s.baseURL(), "html_url": s.baseURL() + "/apps/" + a.Slug,
		"created_at": ts(a.CreatedAt), "updated_at": ts(a.CreatedAt),
		"permissions": a.Permissions, "events": events,
	}
}

// installationJSON is an installation. Callers hold s.mu.
func (s *Server) installationJSON(in *Installation) obj {
	app := s.appByID(in.AppID)
	acct := s.user(in.Account)
	targetType := "User"
	var targetID int64
	if acct != nil {
		targetType, targetID = acct.Type, acct.ID
	}
	events := app.Events
	if events == nil {
		events = []string{}
	}
	return obj{
		"id": in.ID, "account": s.userJSON(acct), "repository_selection": "selected",
		"access_tokens_url": s.api() + fmt.Sprintf("/app/installations/%d/access_tokens", in.ID),
		"repositories_url":  s.api() + "/installation/repositories",
		"html_url":          s.baseURL() + fmt.Sprintf("/settings/installations/%d", in.ID),
		"app_id":            in.AppID, "app_slug": app.Slug, "client_id": fmt.Sprintf("Iv1.%016x", app.ID),
		"target_id": targetID, "target_type": targetType,
		"permissions": app.Permissions, "events": events,
		"created_at": ts(in.CreatedAt), "updated_at": ts(in.CreatedAt),
		"single_file_name": nil, "has_multiple_single_files": false, "single_file_paths": []string{},
		"suspended_by": nil, "suspended_at": nil,
	}
}

// installationRef is the {id, node_id} webhooks carry.
func installationRef(in *Installation) obj {
	return obj{"id": in.ID, "node_id": nodeID("Installation", in.ID)}
}

func gitPerson(p person) obj {
	return obj{"name": p.Name, "email": p.Email, "date": ts(p.When)}
}

// userForEmail maps a commit email to an account (login@users.noreply…),
// as GitHub links commits to users.
func (s *Server) userForEmail(email string) obj {
	local, _, _ := strings.Cut(email, "@")
	local = strings.TrimSuffix(local, "[bot]")
	if i := strings.Index(local, "+"); i >= 0 {
		local = local[i+1:]
	}
	if u := s.user(local); u != nil && strings.Contains(email, "noreply") {
		return s.userJSON(u)
	}
	return nil
}

// commitJSON is a "commit" (the REST commits API shape). Callers hold s.mu.
func (s *Server) commitJSON(r *Repo, c *commitObj) obj {
	u := s.repoURL(r)
	parents := []obj{}
	for _, p := range c.Parents {
		parents = append(parents, obj{"sha": p, "url": u + "/commits/" + p, "html_url": s.baseURL() + "/" + r.FullName() + "/commit/" + p})
	}
	return obj{
		"sha": c.SHA, "node_id": nodeID("Commit", int64(len(c.SHA))) + c.SHA[:8],
		"url": u + "/commits/" + c.SHA, "html_url": s.baseURL() + "/" + r.FullName() + "/commit/" + c.SHA,
		"comments_url": u + "/commits/" + c.SHA + "/comments",
		"commit": obj{
			"url": u + "/git/commits/" + c.SHA, "author": gitPerson(c.Author), "committer": gitPerson(c.Committer),
			"message": c.Message, "tree": obj{"sha": c.Tree, "url": u + "/git/trees/" + c.Tree},
			"comment_count": 0, "verification": unverified(),
		},
		"author": s.userForEmail(c.Author.Email), "committer": s.userForEmail(c.Committer.Email),
		"parents": parents,
	}
}

func unverified() obj {
	return obj{"verified": false, "reason": "unsigned", "signature": nil, "payload": nil, "verified_at": nil}
}

// gitCommitJSON is a git-commit (the low-level git data shape).
func (s *Server) gitCommitJSON(r *Repo, c *commitObj) obj {
	u := s.repoURL(r)
	parents := []obj{}
	for _, p := range c.Parents {
		parents = append(parents, obj{"sha": p, "url": u + "/git/commits/" + p, "html_url": s.baseURL() + "/" + r.FullName() + "/commit/" + p})
	}
	return obj{
		"sha": c.SHA, "node_id": "C_" + c.SHA[:16], "url": u + "/git/commits/" + c.SHA,
		"html_url": s.baseURL() + "/" + r.FullName() + "/commit/" + c.SHA,
		"author":   gitPerson(c.Author), "committer": gitPerson(c.Committer), "message": c.Message,
		"tree": obj{"sha": c.Tree, "url": u + "/git/trees/" + c.Tree}, "parents": parents,
		"verification": unverified(),
	}
}

func (s *Server) refJSON(r *Repo, ref, sha, typ string) obj {
	u := s.repoURL(r)
	kind := "commits"
	if typ == "tag" {
		kind = "tags"
	}
	return obj{
		"ref": ref, "node_id": "REF_" + base64.RawURLEncoding.EncodeToString([]byte(r.FullName()+":"+ref)),
		"url":    u + "/git/" + ref,
		"object": obj{"sha": sha, "type": typ, "url": u + "/git/" + kind + "/" + sha},
	}
}

func reactionRollup(url string, rs []*Reaction) obj {
	m := obj{"url": url, "total_count": len(rs), "+1": 0, "-1": 0, "laugh": 0, "confused": 0, "heart": 0, "hooray": 0, "eyes": 0, "rocket": 0}
	for _, r := range rs {
		if n, ok := m[r.Content].(int); ok {
			m[r.Content] = n + 1
		}
	}
	return m
}

// authorAssociation is how GitHub labels a user's relation to a repository.
func (s *Server) authorAssociation(r *Repo, login string) string {
	switch {
	case strings.EqualFold(login, r.Owner):
		return "OWNER"
	case r.Collaborators[strings.ToLower(login)] != "":
		return "COLLABORATOR"
	}
	return "NONE"
}
