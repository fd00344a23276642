package emulator

import (
	"sort"
	"strings"
)

func sortRefUpdates(ups []refUpdate) {
	sort.Slice(ups, func(i, j int) bool { return ups[i].Ref < ups[j].Ref })
}

// pushCommit is the git data behind one entry of a push payload's commits.
type pushCommit struct {
	c       *commitObj
	changes []fileChange
}

type refEvent struct {
	refUpdate
	forced  bool
	commits []pushCommit
	head    *pushCommit
}

// refsChanged sends what GitHub sends when refs move (by a push or through
// the API): push for each ref; create/delete for new or removed branches
// and tags; a check suite per installed app for each new branch head; and
// synchronize for pull requests whose head moved. The caller holds the
// repository lock (git is read here) but not s.mu.
func (s *Server) refsChanged(repo *Repo, a actor, ups []refUpdate) {
	if len(ups) == 0 {
		return
	}
	g := s.gitFor(repo)
	allBefore := map[string]string{}
	if refs, err := g.refs(); err == nil {
		for ref, sha := range refs {
			allBefore[ref] = sha
		}
		for _, u := range ups {
			if u.Before == zeroSHA {
				delete(allBefore, u.Ref)
			} else {
				allBefore[u.Ref] = u.Before
			}
		}
	}
	var evs []refEvent
	for _, u := range ups {
		ev := refEvent{refUpdate: u}
		if u.After != zeroSHA {
			var list []string
			if u.Before == zeroSHA {
				args := []string{u.After, "--not"}
				for ref, sha := range allBefore {
					if ref != u.Ref {
						args = append(args, sha)
					}
				}
				list, _ = g.revList(20, args...)
			} else {
				ev.forced = !g.isAncestor(u.Before, u.After)
				list, _ = g.revList(20, u.Before+".."+u.After)
			}
			for _, sha := range list {
				if pc := loadPushCommit(g, sha); pc != nil {
					ev.commits = append(ev.commits, *pc)
				}
			}
			if len(ev.commits) > 0 && ev.commits[len(ev.commits)-1].c.SHA == u.After {
				h := ev.commits[len(ev.commits)-1]
				ev.head = &h
			} else if sha, ok := g.resolve(u.After); ok {
				ev.head = loadPushCommit(g, sha)
			}
		}
		evs = append(evs, ev)
	}

	s.mu.Lock()
	now := s.now()
	repo.PushedAt, repo.UpdatedAt = now, now
	for _, ev := range evs {
		s.emitRefEvent(repo, a, ev)
	}
	s.mu.Unlock()
	s.saveLogged()
}

func loadPushCommit(g gitRepo, sha string) *pushCommit {
	c, err := g.commit(sha)
	if err != nil {
		return nil
	}
	parent := ""
	if len(c.Parents) > 0 {
		parent = c.Parents[0]
	}
	ch, _ := g.diff(parent, sha)
	return &pushCommit{c: c, changes: ch}
}

func shortRef(ref string) (name, typ string) {
	switch {
	case strings.HasPrefix(ref, "refs/heads/"):
		return strings.TrimPrefix(ref, "refs/heads/"), "branch"
	case strings.HasPrefix(ref, "refs/tags/"):
		return strings.TrimPrefix(ref, "refs/tags/"), "tag"
	}
	return ref, ""
}

// pushCommitJSON is an entry of a push payload's commits. Callers hold s.mu.
func (s *Server) pushCommitJSON(repo *Repo, pc pushCommit) obj {
	added, removed, modified := []string{}, []string{}, []string{}
	for _, ch := range pc.changes {
		switch ch.Status {
		case "added":
			added = append(added, ch.Path)
		case "removed":
			removed = append(removed, ch.Path)
		default:
			modified = append(modified, ch.Path)
		}
	}
	ident := func(p person) obj {
		o := obj{"name": p.Name, "email": p.Email, "date": ts(p.When)}
		if u := s.userForEmail(p.Email); u != nil {
			o["username"] = u["login"]
		}
		return o
	}
	return obj{
		"id": pc.c.SHA, "tree_id": pc.c.Tree, "distinct": true, "message": pc.c.Message,
		"timestamp": ts(pc.c.Committer.When), "url": s.baseURL() + "/" + repo.FullName() + "/commit/" + pc.c.SHA,
		"author": ident(pc.c.Author), "committer": ident(pc.c.Committer),
		"added": added, "removed": removed, "modified": modified,
	}
}

// emitRefEvent sends the webhooks for one ref change. Callers hold s.mu.
func (s *Server) emitRefEvent(repo *Repo, a actor, ev refEvent) {
	name, typ := shortRef(ev.Ref)
	sender := s.userJSON(a.user)
	created, deleted := ev.Before == zeroSHA, ev.After == zeroSHA
	if typ != "" && created {
		s.emit(repo, 0, "create", "", obj{
			"ref": name, "ref_type": typ, "master_branch": repo.DefaultBranch, "description": nullable(repo.Description),
			"pusher_type": "user", "repository": s.repoJSON(repo), "sender": sender,
		})
	}
	if typ != "" && deleted {
		s.emit(repo, 0, "delete", "", obj{
			"ref": name, "ref_type": typ, "pusher_type": "user", "repository": s.repoJSON(repo), "sender": sender,
		})
	}
	commits := []obj{}
	for _, pc := range ev.commits {
		commits = append(commits, s.pushCommitJSON(repo, pc))
	}
	var head any
	if ev.head != nil && !deleted {
		head = s.pushCommitJSON(repo, *ev.head)
	}
	compare := s.baseURL() + "/" + repo.FullName() + "/compare/" + ev.Before[:12] + "..." + ev.After[:12]
	if created {
		compare = s.baseURL() + "/" + repo.FullName() + "/commit/" + ev.After[:12]
	}
	s.emit(repo, 0, "push", "", obj{
		"ref": ev.Ref, "before": ev.Before, "after": ev.After,
		"created": created, "deleted": deleted, "forced": ev.forced,
		"base_ref": nil, "compare": compare, "commits": commits, "head_commit": head,
		"repository": s.pushRepoJSON(repo),
		"pusher":     obj{"name": a.login(), "email": a.login() + "@users.noreply.emulator"},
		"sender":     sender,
	})
	if typ != "branch" || deleted {
		return
	}
	// One check suite per installed app for the new head, as GitHub
	// creates them when a push lands.
	for _, in := range s.installationsFor(repo.FullName()) {
		suite := s.suiteFor(repo, in.AppID, ev.After, name)
		suite.Before, suite.After = ev.Before, ev.After
		s.emit(repo, in.AppID, "check_suite", "requested", obj{
			"check_suite": s.suiteJSON(repo, suite, true), "repository": s.repoJSON(repo), "sender": sender,
		})
	}
	// Open pull requests whose head branch moved are synchronized.
	for _, is := range sortedIssues(repo) {
		if is.Pull == nil || is.State != "open" || is.Pull.Head != name {
			continue
		}
		before := is.Pull.HeadSHA
		is.Pull.HeadSHA = ev.After
		is.UpdatedAt = s.now()
		s.emit(repo, 0, "pull_request", "synchronize", obj{
			"number": is.Number, "before": before, "after": ev.After,
			"pull_request": s.pullJSON(repo, is), "repository": s.repoJSON(repo), "sender": sender,
		})
	}
}

// pushRepoJSON is the repository of a push payload, which GitHub sends in
// an older form: timestamps as Unix seconds and owner with name and email.
func (s *Server) pushRepoJSON(repo *Repo) obj {
	r := s.repoJSON(repo)
	r["created_at"] = repo.CreatedAt.Unix()
	r["pushed_at"] = repo.PushedAt.Unix()
	r["stargazers"] = 0
	r["master_branch"] = repo.DefaultBranch
	if o, ok := r["owner"].(obj); ok {
		o["name"] = o["login"]
		o["email"] = nil
	}
	return r
}
