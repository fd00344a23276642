package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"
)

func (s *Server) labelJSON(r *Repo, name string) obj {
	id := int64(0)
	for _, ch := range name {
		id = id*31 + int64(ch)
	}
	if id < 0 {
		id = -id
	}
	return obj{
		"id": id, "node_id": nodeID("Label", id), "url": s.repoURL(r) + "/labels/" + name, "name": name,
		"description": nil, "color": "ededed", "default": false,
	}
}

// reactOn names what reactions are on: one issue comment, one commit
// comment or one issue (exactly one field set).
type reactOn struct {
	comment, commitComment int64
	issue                  int
}

func (s *Server) reactionsFor(r *Repo, on reactOn) []*Reaction {
	var out []*Reaction
	for _, re := range r.Reactions {
		if re.Comment == on.comment && re.CommitComment == on.commitComment && re.Issue == on.issue {
			out = append(out, re)
		}
	}
	sortByID(out, func(x *Reaction) int64 { return x.ID })
	return out
}

// issueJSON is an issue (pull requests too, with pull_request links).
// Callers hold s.mu.
func (s *Server) issueJSON(r *Repo, is *Issue) obj {
	u := s.repoURL(r) + "/issues/" + fmt.Sprint(is.Number)
	comments := 0
	for _, cm := range r.Comments {
		if cm.Issue == is.Number {
			comments++
		}
	}
	labels := []obj{}
	for _, l := range is.Labels {
		labels = append(labels, s.labelJSON(r, l))
	}
	kind := "issues"
	if is.Pull != nil {
		kind = "pull"
	}
	html := s.baseURL() + "/" + r.FullName() + "/" + kind + "/" + fmt.Sprint(is.Number)
	o := obj{
		"id": is.ID, "node_id": nodeID("Issue", is.ID), "url": u, "repository_url": s.repoURL(r),
		"labels_url": u + "/labels{/name}", "comments_url": u + "/comments", "events_url": u + "/events",
		"html_url": html, "number": is.Number, "state": is.State, "title": is.Title, "body": nullable(is.Body),
		"user": s.userByLogin(is.User), "labels": labels, "assignee": nil, "assignees": []obj{}, "milestone": nil,
		"locked": false, "active_lock_reason": nil, "comments": comments, "closed_at": tsPtr(is.ClosedAt),
		"created_at": ts(is.CreatedAt), "updated_at": ts(is.UpdatedAt), "author_association": s.authorAssociation(r, is.User),
		"reactions": reactionRollup(u+"/reactions", s.reactionsFor(r, reactOn{issue: is.Number})), "state_reason": nil,
		"timeline_url": u + "/timeline", "performed_via_github_app": nil, "draft": false,
	}
	if is.Pull != nil {
		var mergedAt any
		if is.Pull.MergedAt != nil {
			mergedAt = ts(*is.Pull.MergedAt)
		}
		o["pull_request"] = obj{
			"url": s.repoURL(r) + "/pulls/" + fmt.Sprint(is.Number), "html_url": html,
			"diff_url": html + ".diff", "patch_url": html + ".patch", "merged_at": mergedAt,
		}
		o["draft"] = is.Pull.Draft
	}
	return o
}

// commentJSON is an issue-comment. Callers hold s.mu.
func (s *Server) commentJSON(r *Repo, cm *Comment) obj {
	u := s.repoURL(r) + "/issues/comments/" + fmt.Sprint(cm.ID)
	kind := "issues"
	if is := r.Issues[cm.Issue]; is != nil && is.Pull != nil {
		kind = "pull"
	}
	var app any
	if cm.AppID != 0 {
		if a := s.appByID(cm.AppID); a != nil {
			app = s.appJSON(a)
		}
	}
	return obj{
		"id": cm.ID, "node_id": nodeID("IssueComment", cm.ID), "url": u,
		"html_url":  fmt.Sprintf("%s/%s/%s/%d#issuecomment-%d", s.baseURL(), r.FullName(), kind, cm.Issue, cm.ID),
		"issue_url": s.repoURL(r) + "/issues/" + fmt.Sprint(cm.Issue), "body": cm.Body,
		"user": s.userByLogin(cm.User), "created_at": ts(cm.CreatedAt), "updated_at": ts(cm.UpdatedAt),
		"author_association": s.authorAssociation(r, cm.User), "performed_via_github_app": app,
		"reactions": reactionRollup(u+"/reactions", s.reactionsFor(r, reactOn{comment: cm.ID})),
	}
}

func (c *call) issue() (*Issue, bool) {
	n, ok := c.intParam("issue_number")
	if !ok {
		return nil, false
	}
	c.s.mu.Lock()
	is := c.repo.Issues[int(n)]
	c.s.mu.Unlock()
	if is == nil {
		c.notFound()
		return nil, false
	}
	return is, true
}

func (c *call) comment() (*Comment, bool) {
	id, ok := c.intParam("comment_id")
	if !ok {
		return nil, false
	}
	c.s.mu.Lock()
	cm := c.repo.Comments[id]
	c.s.mu.Unlock()
	if cm == nil {
		c.notFound()
		return nil, false
	}
	return cm, true
}

func getIssue(c *call) {
	is, ok := c.issue()
	if !ok {
		return
	}
	c.s.mu.Lock()
	body := c.s.issueJSON(c.repo, is)
	c.s.mu.Unlock()
	c.json(http.StatusOK, body)
}

func (c *call) commentsWhere(keep func(*Comment) bool) {
	c.s.mu.Lock()
	var list []*Comment
	for _, cm := range c.repo.Comments {
		if keep(cm) {
			list = append(list, cm)
		}
	}
	sortByID(list, func(x *Comment) int64 { return x.ID })
	out := []obj{}
	for _, cm := range list {
		out = append(out, c.s.commentJSON(c.repo, cm))
	}
	c.s.mu.Unlock()
	paginate(c, out)
}

func listComments(c *call) {
	is, ok := c.issue()
	if !ok {
		return
	}
	c.commentsWhere(func(cm *Comment) bool { return cm.Issue == is.Number })
}

func listRepoComments(c *call) { c.commentsWhere(func(*Comment) bool { return true }) }

func getComment(c *call) {
	cm, ok := c.comment()
	if !ok {
		return
	}
	c.s.mu.Lock()
	body := c.s.commentJSON(c.repo, cm)
	c.s.mu.Unlock()
	c.json(http.StatusOK, body)
}

func (c *call) appID() int64 {
	if c.actor.inst != nil {
		return c.actor.app.ID
	}
	return 0
}

// emitComment sends issue_comment; callers hold s.mu.
func (c *call) emitComment(action string, cm *Comment, extra obj) {
	is := c.repo.Issues[cm.Issue]
	p := obj{
		"issue": c.s.issueJSON(c.repo, is), "comment": c.s.commentJSON(c.repo, cm),
		"repository": c.s.repoJSON(c.repo), "sender": c.s.userJSON(c.actor.user),
	}
	for k, v := range extra {
		p[k] = v
	}
	c.s.emit(c.repo, 0, "issue_comment", action, p)
}

func createComment(c *call) {
	is, ok := c.issue()
	if !ok {
		return
	}
	var in struct {
		Body *string `json:"body"`
	}
	if !c.decode(&in) {
		return
	}
	if in.Body == nil || strings.TrimSpace(*in.Body) == "" {
		c.invalid("Validation Failed", fieldError{Resource: "IssueComment", Field: "body", Code: "missing_field"})
		return
	}
	if len(*in.Body) > 65536 {
		c.invalid("Validation Failed", fieldError{Resource: "IssueComment", Field: "body", Code: "custom", Message: "body is too long (maximum is 65536 characters)"})
		return
	}
	c.s.mu.Lock()
	now := c.s.now()
	cm := &Comment{ID: c.s.nextID(), Issue: is.Number, User: c.actor.login(), Body: *in.Body, AppID: c.appID(), CreatedAt: now, UpdatedAt: now}
	c.repo.Comments[cm.ID] = cm
	body := c.s.commentJSON(c.repo, cm)
	c.emitComment("created", cm, nil)
	c.s.mu.Unlock()
	c.s.saveLogged()
	c.w.Header().Set("Location", body["url"].(string))
	c.json(http.StatusCreated, body)
}

// mayEditComment: the author, or anyone with write access.
func (c *call) mayEditComment(cm *Comment) bool {
	if strings.EqualFold(cm.User, c.actor.login()) {
		return true
	}
	if c.s.access(c.actor, c.repo, "issues", levelWrite) >= levelWrite {
		return true
	}
	c.fail(http.StatusForbidden, "You must be the author or have write access to edit this comment.", nil)
	return false
}

func updateComment(c *call) {
	cm, ok := c.comment()
	if !ok || !c.mayEditComment(cm) {
		return
	}
	var in struct {
		Body *string `json:"body"`
	}
	if !c.decode(&in) {
		return
	}
	if in.Body == nil {
		c.invalid("Validation Failed", fieldError{Resource: "IssueComment", Field: "body", Code: "missing_field"})
		return
	}
	c.s.mu.Lock()
	old := cm.Body
	cm.Body = *in.Body
	cm.UpdatedAt = c.s.now()
	body := c.s.commentJSON(c.repo, cm)
	c.emitComment("edited", cm, obj{"changes": obj{"body": obj{"from": old}}})
	c.s.mu.Unlock()
	c.s.saveLogged()
	c.json(http.StatusOK, body)
}

func deleteComment(c *call) {
	cm, ok := c.comment()
	if !ok || !c.mayEditComment(cm) {
		return
	}
	c.s.mu.Lock()
	c.emitComment("deleted", cm, nil)
	delete(c.repo.Comments, cm.ID)
	for id, re := range c.repo.Reactions {
		if re.Comment == cm.ID {
			delete(c.repo.Reactions, id)
		}
	}
	c.s.mu.Unlock()
	c.s.saveLogged()
	c.noContent()
}

func addLabels(c *call) {
	is, ok := c.issue()
	if !ok {
		return
	}
	// GitHub accepts {"labels": [...]}, a bare array, or [{"name": ...}].
	var names []string
	var wrapped struct {
		Labels json.RawMessage `json:"labels"`
	}
	raw := json.RawMessage(c.body)
	if json.Unmarshal(c.body, &wrapped) == nil && wrapped.Labels != nil {
		raw = wrapped.Labels
	}
	if err := json.Unmarshal(raw, &names); err != nil {
		var objs []struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(raw, &objs); err != nil {
			c.invalid("Invalid request.\n\nlabels must be an array of names.", fieldError{Resource: "Label", Field: "labels", Code: "invalid"})
			return
		}
		for _, o := range objs {
			names = append(names, o.Name)
		}
	}
	c.s.mu.Lock()
	for _, n := range names {
		if n != "" && !contains(is.Labels, n) {
			is.Labels = append(is.Labels, n)
		}
	}
	out := []obj{}
	for _, l := range is.Labels {
		out = append(out, c.s.labelJSON(c.repo, l))
	}
	c.s.mu.Unlock()
	c.s.saveLogged()
	c.json(http.StatusOK, out)
}

var reactionContents = map[string]bool{"+1": true, "-1": true, "laugh": true, "confused": true, "heart": true, "hooray": true, "rocket": true, "eyes": true}

func (s *Server) reactionJSON(re *Reaction) obj {
	return obj{"id": re.ID, "node_id": nodeID("Reaction", re.ID), "user": s.userByLogin(re.User), "content": re.Content, "created_at": ts(re.CreatedAt)}
}

func (c *call) listReactions(on reactOn) {
	content := c.r.URL.Query().Get("content")
	c.s.mu.Lock()
	out := []obj{}
	for _, re := range c.s.reactionsFor(c.repo, on) {
		if content == "" || re.Content == content {
			out = append(out, c.s.reactionJSON(re))
		}
	}
	c.s.mu.Unlock()
	paginate(c, out)
}

func (c *call) createReaction(on reactOn) {
	var in struct {
		Content string `json:"content"`
	}
	if !c.decode(&in) {
		return
	}
	if !reactionContents[in.Content] {
		c.invalid("Validation Failed", fieldError{Resource: "Reaction", Field: "content", Code: "invalid"})
		return
	}
	c.s.mu.Lock()
	for _, re := range c.s.reactionsFor(c.repo, on) {
		if re.Content == in.Content && strings.EqualFold(re.User, c.actor.login()) {
			body := c.s.reactionJSON(re)
			c.s.mu.Unlock()
			c.json(http.StatusOK, body)
			return
		}
	}
	re := &Reaction{ID: c.s.nextID(), Comment: on.comment, CommitComment: on.commitComment, Issue: on.issue, User: c.actor.login(), Content: in.Content, CreatedAt: c.s.now()}
	c.repo.Reactions[re.ID] = re
	body := c.s.reactionJSON(re)
	c.s.mu.Unlock()
	c.s.saveLogged()
	c.json(http.StatusCreated, body)
}

func (c *call) deleteReaction(on reactOn) {
	id, ok := c.intParam("reaction_id")
	if !ok {
		return
	}
	c.s.mu.Lock()
	re := c.repo.Reactions[id]
	if re == nil || re.Comment != on.comment || re.CommitComment != on.commitComment || re.Issue != on.issue {
		c.s.mu.Unlock()
		c.notFound()
		return
	}
	if !strings.EqualFold(re.User, c.actor.login()) {
		c.s.mu.Unlock()
		c.fail(http.StatusForbidden, "You can only delete your own reactions.", nil)
		return
	}
	delete(c.repo.Reactions, id)
	c.s.mu.Unlock()
	c.s.saveLogged()
	c.noContent()
}

func listCommentReactions(c *call) {
	if cm, ok := c.comment(); ok {
		c.listReactions(reactOn{comment: cm.ID})
	}
}
func createCommentReaction(c *call) {
	if cm, ok := c.comment(); ok {
		c.createReaction(reactOn{comment: cm.ID})
	}
}
func deleteCommentReaction(c *call) {
	if cm, ok := c.comment(); ok {
		c.deleteReaction(reactOn{comment: cm.ID})
	}
}
func listIssueReactions(c *call) {
	if is, ok := c.issue(); ok {
		c.listReactions(reactOn{issue: is.Number})
	}
}
func createIssueReaction(c *call) {
	if is, ok := c.issue(); ok {
		c.createReaction(reactOn{issue: is.Number})
	}
}
func deleteIssueReaction(c *call) {
	if is, ok := c.issue(); ok {
		c.deleteReaction(reactOn{issue: is.Number})
	}
}

// createIssue opens an issue (anyone who can read the repository may, as on
// GitHub) and sends the `issues` opened event.
func createIssue(c *call) {
	var in struct {
		Title *string `json:"title"`
		Body  string  `json:"body"`
	}
	if !c.decode(&in) {
		return
	}
	if in.Title == nil || strings.TrimSpace(*in.Title) == "" {
		c.invalid("Validation Failed", fieldError{Resource: "Issue", Field: "title", Code: "missing_field"})
		return
	}
	c.s.mu.Lock()
	now := c.s.now()
	c.repo.NextNumber++
	is := &Issue{ID: c.s.nextID(), Number: c.repo.NextNumber, Title: *in.Title, Body: in.Body, User: c.actor.login(),
		State: "open", CreatedAt: now, UpdatedAt: now}
	c.repo.Issues[is.Number] = is
	body := c.s.issueJSON(c.repo, is)
	c.s.emit(c.repo, 0, "issues", "opened", obj{"issue": body, "repository": c.s.repoJSON(c.repo), "sender": c.s.userJSON(c.actor.user)})
	c.s.mu.Unlock()
	c.s.saveLogged()
	c.w.Header().Set("Location", body["url"].(string))
	c.json(http.StatusCreated, body)
}

// listIssues lists a repository's issues as GitHub does: pull requests
// included (they are issues too), open ones unless state says otherwise,
// newest first unless direction=asc; filtered by creator and labels.
func listIssues(c *call) {
	q := c.r.URL.Query()
	state := q.Get("state")
	switch state {
	case "":
		state = "open"
	case "open", "closed", "all":
	default:
		c.invalid("Validation Failed", fieldError{Resource: "Issue", Field: "state", Code: "invalid"})
		return
	}
	var labels []string
	if l := q.Get("labels"); l != "" {
		labels = strings.Split(l, ",")
	}
	creator := q.Get("creator")
	c.s.mu.Lock()
	var list []*Issue
	for _, is := range sortedIssues(c.repo) {
		if state != "all" && is.State != state || creator != "" && !strings.EqualFold(is.User, creator) {
			continue
		}
		all := true
		for _, l := range labels {
			all = all && contains(is.Labels, strings.TrimSpace(l))
		}
		if all {
			list = append(list, is)
		}
	}
	out := []obj{}
	for _, is := range list {
		out = append(out, c.s.issueJSON(c.repo, is))
	}
	c.s.mu.Unlock()
	if q.Get("direction") != "asc" {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	paginate(c, out)
}

// updateIssue edits an issue's title and body (its author or a writer may)
// and closes or reopens it (its author or anyone with triage may). GitHub
// sends `issues` edited, closed or reopened; for a pull request edited
// through this endpoint it sends the `pull_request` events instead.
func updateIssue(c *call) {
	is, ok := c.issue()
	if !ok {
		return
	}
	var in struct {
		Title       *string `json:"title"`
		Body        *string `json:"body"`
		State       *string `json:"state"`
		StateReason *string `json:"state_reason"`
	}
	if !c.decode(&in) {
		return
	}
	if in.State != nil && *in.State != "open" && *in.State != "closed" {
		c.invalid("Validation Failed", fieldError{Resource: "Issue", Field: "state", Code: "invalid"})
		return
	}
	if in.Title != nil && strings.TrimSpace(*in.Title) == "" {
		c.invalid("Validation Failed", fieldError{Resource: "Issue", Field: "title", Code: "missing_field"})
		return
	}
	if in.Body != nil && utf8.RuneCountInString(*in.Body) > 65536 {
		c.invalid("Validation Failed", fieldError{Resource: "Issue", Field: "body", Code: "custom", Message: "body is too long (maximum is 65536 characters)"})
		return
	}
	c.s.mu.Lock()
	author, merged := strings.EqualFold(is.User, c.actor.login()), is.Pull != nil && is.Pull.Merged
	c.s.mu.Unlock()
	if !author {
		need := levelTriage
		if in.Title != nil || in.Body != nil {
			need = levelWrite
		}
		if c.s.access(c.actor, c.repo, "issues", need) < need {
			c.fail(http.StatusForbidden, "You must be the author or have "+need.String()+" access to edit this issue.", nil)
			return
		}
	}
	if in.State != nil && *in.State == "open" && merged {
		c.invalid("Validation Failed", fieldError{Resource: "PullRequest", Code: "custom", Message: "Cannot reopen a merged pull request"})
		return
	}
	c.s.mu.Lock()
	changes := obj{}
	if in.Title != nil && *in.Title != is.Title {
		changes["title"] = obj{"from": is.Title}
		is.Title = *in.Title
	}
	if in.Body != nil && *in.Body != is.Body {
		changes["body"] = obj{"from": is.Body}
		is.Body = *in.Body
	}
	action := ""
	now := c.s.now()
	if in.State != nil && *in.State != is.State {
		is.State = *in.State
		if is.State == "closed" {
			is.ClosedAt, action = &now, "closed"
		} else {
			is.ClosedAt, action = nil, "reopened"
		}
	}
	is.UpdatedAt = now
	body := c.s.issueJSON(c.repo, is)
	sender := c.s.userJSON(c.actor.user)
	event, key, payload := "issues", "issue", body
	if is.Pull != nil {
		event, key, payload = "pull_request", "pull_request", c.s.pullJSON(c.repo, is)
	}
	base := func() obj {
		p := obj{key: payload, "repository": c.s.repoJSON(c.repo), "sender": sender}
		if is.Pull != nil {
			p["number"] = is.Number
		}
		return p
	}
	if len(changes) > 0 {
		p := base()
		p["changes"] = changes
		c.s.emit(c.repo, 0, event, "edited", p)
	}
	if action != "" {
		c.s.emit(c.repo, 0, event, action, base())
	}
	c.s.mu.Unlock()
	c.s.saveLogged()
	c.json(http.StatusOK, body)
}
