package emulator

import (
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Comments on commits: GitHub keeps them apart from issue comments, under
// /repos/{owner}/{repo}/comments, with their own reactions, and announces
// a new one with the `commit_comment` event (whose only action is
// "created": edits and deletions send nothing).

// commitCommentJSON is a commit comment. Callers hold s.mu.
func (s *Server) commitCommentJSON(r *Repo, cc *CommitComment) obj {
	u := s.repoURL(r) + "/comments/" + fmt.Sprint(cc.ID)
	var path, position, line any
	if cc.Path != "" {
		path = cc.Path
	}
	if cc.Position != nil {
		position = *cc.Position
	}
	if cc.Line != nil {
		line = *cc.Line
	}
	return obj{
		"id": cc.ID, "node_id": nodeID("CommitComment", cc.ID), "url": u,
		"html_url": fmt.Sprintf("%s/%s/commit/%s#commitcomment-%d", s.baseURL(), r.FullName(), cc.CommitID, cc.ID),
		"body":     cc.Body, "path": path, "position": position, "line": line, "commit_id": cc.CommitID,
		"user": s.userByLogin(cc.User), "created_at": ts(cc.CreatedAt), "updated_at": ts(cc.UpdatedAt),
		"author_association": s.authorAssociation(r, cc.User),
		"reactions":          reactionRollup(u+"/reactions", s.reactionsFor(r, reactOn{commitComment: cc.ID})),
	}
}

func (c *call) commitComment() (*CommitComment, bool) {
	id, ok := c.intParam("comment_id")
	if !ok {
		return nil, false
	}
	c.s.mu.Lock()
	cc := c.repo.CommitComments[id]
	c.s.mu.Unlock()
	if cc == nil {
		c.notFound()
		return nil, false
	}
	return cc, true
}

func (c *call) commitCommentsWhere(keep func(*CommitComment) bool) {
	c.s.mu.Lock()
	var list []*CommitComment
	for _, cc := range c.repo.CommitComments {
		if keep(cc) {
			list = append(list, cc)
		}
	}
	sortByID(list, func(x *CommitComment) int64 { return x.ID })
	out := []obj{}
	for _, cc := range list {
		out = append(out, c.s.commitCommentJSON(c.repo, cc))
	}
	c.s.mu.Unlock()
	paginate(c, out)
}

// listCommitComments lists the comments of one commit, oldest first. As on
// GitHub, an unknown commit has none.
func listCommitComments(c *call) {
	sha, ok := c.git().resolve(c.param("commit_sha"))
	if !ok {
		c.json(http.StatusOK, []obj{})
		return
	}
	c.commitCommentsWhere(func(cc *CommitComment) bool { return cc.CommitID == sha })
}

func listRepoCommitComments(c *call) {
	c.commitCommentsWhere(func(*CommitComment) bool { return true })
}

func getCommitComment(c *call) {
	cc, ok := c.commitComment()
	if !ok {
		return
	}
	c.s.mu.Lock()
	body := c.s.commitCommentJSON(c.repo, cc)
	c.s.mu.Unlock()
	c.json(http.StatusOK, body)
}

// createCommitComment comments on a commit (anyone who can read the
// repository may, as on GitHub) and sends `commit_comment` created.
func createCommitComment(c *call) {
	var in struct {
		Body     *string `json:"body"`
		Path     string  `json:"path"`
		Position *int    `json:"position"`
		Line     *int    `json:"line"`
	}
	if !c.decode(&in) {
		return
	}
	if in.Body == nil || strings.TrimSpace(*in.Body) == "" {
		c.invalid("Validation Failed", fieldError{Resource: "CommitComment", Field: "body", Code: "missing_field"})
		return
	}
	if utf8.RuneCountInString(*in.Body) > 65536 {
		c.invalid("Validation Failed", fieldError{Resource: "CommitComment", Field: "body", Code: "custom", Message: "body is too long (maximum is 65536 characters)"})
		return
	}
	g := c.git()
	sha, ok := g.resolve(c.param("commit_sha"))
	if !ok {
		c.invalid("Validation Failed", fieldError{Resource: "CommitComment", Field: "commit_id", Code: "invalid"})
		return
	}
	if in.Path != "" {
		if _, err := g.out("cat-file", "-e", sha+":"+in.Path); err != nil {
			c.invalid("Validation Failed", fieldError{Resource: "CommitComment", Field: "path", Code: "invalid"})
			return
		}
	}
	c.s.mu.Lock()
	now := c.s.now()
	cc := &CommitComment{ID: c.s.nextID(), CommitID: sha, User: c.actor.login(), Body: *in.Body, Path: in.Path,
		Position: in.Position, Line: in.Line, CreatedAt: now, UpdatedAt: now}
	c.repo.CommitComments[cc.ID] = cc
	body := c.s.commitCommentJSON(c.repo, cc)
	c.s.emit(c.repo, 0, "commit_comment", "created", obj{"comment": body, "repository": c.s.repoJSON(c.repo), "sender": c.s.userJSON(c.actor.user)})
	c.s.mu.Unlock()
	c.s.saveLogged()
	c.w.Header().Set("Location", body["url"].(string))
	c.json(http.StatusCreated, body)
}

// mayEditCommitComment: the author, or anyone with write access.
func (c *call) mayEditCommitComment(cc *CommitComment) bool {
	if strings.EqualFold(cc.User, c.actor.login()) || c.s.access(c.actor, c.repo, "contents", levelWrite) >= levelWrite {
		return true
	}
	c.fail(http.StatusForbidden, "You must be the author or have write access to edit this comment.", nil)
	return false
}

func updateCommitComment(c *call) {
	cc, ok := c.commitComment()
	if !ok || !c.mayEditCommitComment(cc) {
		return
	}
	var in struct {
		Body *string `json:"body"`
	}
	if !c.decode(&in) {
		return
	}
	if in.Body == nil {
		c.invalid("Validation Failed", fieldError{Resource: "CommitComment", Field: "body", Code: "missing_field"})
		return
	}
	c.s.mu.Lock()
	cc.Body = *in.Body
	cc.UpdatedAt = c.s.now()
	body := c.s.commitCommentJSON(c.repo, cc)
	c.s.mu.Unlock()
	c.s.saveLogged()
	c.json(http.StatusOK, body)
}

func deleteCommitComment(c *call) {
	cc, ok := c.commitComment()
	if !ok || !c.mayEditCommitComment(cc) {
		return
	}
	c.s.mu.Lock()
	delete(c.repo.CommitComments, cc.ID)
	for id, re := range c.repo.Reactions {
		if re.CommitComment == cc.ID {
			delete(c.repo.Reactions, id)
		}
	}
	c.s.mu.Unlock()
	c.s.saveLogged()
	c.noContent()
}

func listCommitCommentReactions(c *call) {
	if cc, ok := c.commitComment(); ok {
		c.listReactions(reactOn{commitComment: cc.ID})
	}
}

func createCommitCommentReaction(c *call) {
	if cc, ok := c.commitComment(); ok {
		c.createReaction(reactOn{commitComment: cc.ID})
	}
}

func deleteCommitCommentReaction(c *call) {
	if cc, ok := c.commitComment(); ok {
		c.deleteReaction(reactOn{commitComment: cc.ID})
	}
}
