package emulator

import (
	"net/http"
	"strings"
	"unicode/utf8"
)

// statusJSON is a status. Callers hold s.mu.
func (s *Server) statusJSON(r *Repo, st *Status) obj {
	creator := s.userByLogin(st.Creator)
	var avatar any
	if creator != nil {
		avatar = creator["avatar_url"]
	}
	return obj{
		"url": s.repoURL(r) + "/statuses/" + st.SHA, "avatar_url": avatar, "id": st.ID, "node_id": nodeID("StatusContext", st.ID),
		"state": st.State, "description": nullable(st.Description), "target_url": nullable(st.TargetURL), "context": st.Context,
		"created_at": ts(st.CreatedAt), "updated_at": ts(st.CreatedAt), "creator": creator,
	}
}

var statusStates = map[string]bool{"error": true, "failure": true, "pending": true, "success": true}

func createStatus(c *call) {
	var in struct {
		State       string `json:"state"`
		TargetURL   string `json:"target_url"`
		Description string `json:"description"`
		Context     string `json:"context"`
	}
	if !c.decode(&in) {
		return
	}
	if !statusStates[in.State] {
		c.invalid("Validation Failed", fieldError{Resource: "Status", Field: "state", Code: "custom", Message: "state is not included in the list"})
		return
	}
	if utf8.RuneCountInString(in.Description) > 140 {
		c.invalid("Validation Failed", fieldError{Resource: "Status", Field: "description", Code: "custom", Message: "description is too long (maximum is 140 characters)"})
		return
	}
	if in.Context == "" {
		in.Context = "default"
	}
	g := c.git()
	sha, ok := g.resolve(c.param("sha"))
	if !ok || !strings.EqualFold(sha, c.param("sha")) {
		c.invalid("No commit found for SHA: " + c.param("sha"))
		return
	}
	c.s.mu.Lock()
	st := &Status{ID: c.s.nextID(), SHA: sha, State: in.State, TargetURL: in.TargetURL, Description: in.Description, Context: in.Context, Creator: c.actor.login(), CreatedAt: c.s.now()}
	c.repo.Statuses = append(c.repo.Statuses, st)
	body := c.s.statusJSON(c.repo, st)
	cm, _ := g.commit(sha)
	branches := []obj{}
	if refs, err := g.refs(); err == nil {
		for ref, at := range refs {
			if name, ok := strings.CutPrefix(ref, "refs/heads/"); ok && at == sha {
				branches = append(branches, obj{"name": name, "commit": obj{"sha": sha, "url": c.s.repoURL(c.repo) + "/commits/" + sha}, "protected": false})
			}
		}
	}
	commit := c.s.commitJSON(c.repo, cm)
	c.s.emit(c.repo, 0, "status", "", obj{
		"id": st.ID, "sha": sha, "name": c.repo.FullName(), "target_url": nullable(st.TargetURL), "context": st.Context,
		"description": nullable(st.Description), "state": st.State, "commit": commit, "branches": branches,
		"created_at": ts(st.CreatedAt), "updated_at": ts(st.CreatedAt), "avatar_url": body["avatar_url"],
		"repository": c.s.repoJSON(c.repo), "sender": c.s.userJSON(c.actor.user),
	})
	c.s.mu.Unlock()
	c.s.saveLogged()
	c.w.Header().Set("Location", body["url"].(string))
	c.json(http.StatusCreated, body)
}

func (c *call) statusesFor(ref string) (string, []*Status, bool) {
	sha, ok := c.git().resolve(ref)
	if !ok {
		c.notFound()
		return "", nil, false
	}
	var out []*Status
	for i := len(c.repo.Statuses) - 1; i >= 0; i-- {
		if c.repo.Statuses[i].SHA == sha {
			out = append(out, c.repo.Statuses[i])
		}
	}
	return sha, out, true
}

func listStatuses(c *call) {
	c.s.mu.Lock()
	_, list, ok := c.statusesFor(c.param("ref"))
	out := []obj{}
	for _, st := range list {
		out = append(out, c.s.statusJSON(c.repo, st))
	}
	c.s.mu.Unlock()
	if ok {
		paginate(c, out)
	}
}

// combinedState is GitHub's rule: failure if any latest status failed or
// errored, pending if any is pending or there are none, else success.
func combinedState(latest []*Status) string {
	if len(latest) == 0 {
		return "pending"
	}
	state := "success"
	for _, st := range latest {
		switch st.State {
		case "error", "failure":
			return "failure"
		case "pending":
			state = "pending"
		}
	}
	return state
}

func latestByContext(list []*Status) []*Status {
	seen := map[string]bool{}
	var out []*Status
	for _, st := range list { // newest first
		if !seen[st.Context] {
			seen[st.Context] = true
			out = append(out, st)
		}
	}
	return out
}

func combinedStatus(c *call) {
	c.s.mu.Lock()
	sha, list, ok := c.statusesFor(c.param("ref"))
	if !ok {
		c.s.mu.Unlock()
		return
	}
	latest := latestByContext(list)
	sts := []obj{}
	for _, st := range latest {
		sts = append(sts, c.s.statusJSON(c.repo, st))
	}
	body := obj{
		"state": combinedState(latest), "statuses": sts, "sha": sha, "total_count": len(latest),
		"repository": c.s.repoJSON(c.repo), "commit_url": c.s.repoURL(c.repo) + "/commits/" + sha,
		"url": c.s.repoURL(c.repo) + "/commits/" + sha + "/status",
	}
	c.s.mu.Unlock()
	c.json(http.StatusOK, body)
}
