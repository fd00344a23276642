package emulator

import (
	"encoding/base64"
	"net/http"
	"path"
	"strings"
)

func (c *call) contentEntry(ref string, e treeEntry, withContent bool) obj {
	u := c.s.repoURL(c.repo)
	html := c.s.baseURL() + "/" + c.repo.FullName()
	typ := map[string]string{"blob": "file", "tree": "dir", "commit": "submodule"}[e.Type]
	if e.Mode == "120000" {
		typ = "symlink"
	}
	self := u + "/contents/" + e.Path + "?ref=" + ref
	gitURL := u + "/git/blobs/" + e.SHA
	htmlURL := html + "/blob/" + ref + "/" + e.Path
	if typ == "dir" {
		gitURL = u + "/git/trees/" + e.SHA
		htmlURL = html + "/tree/" + ref + "/" + e.Path
	}
	var download any
	if typ == "file" {
		download = c.s.baseURL() + "/" + c.repo.FullName() + "/raw/" + ref + "/" + e.Path
	}
	size := e.Size
	if size < 0 {
		size = 0
	}
	o := obj{
		"type": typ, "size": size, "name": path.Base(e.Path), "path": e.Path, "sha": e.SHA, "url": self,
		"git_url": gitURL, "html_url": htmlURL, "download_url": download,
		"_links": obj{"self": self, "git": gitURL, "html": htmlURL},
	}
	if withContent && typ == "file" {
		data, _ := c.git().blob(e.SHA)
		o["content"] = wrap64(data)
		o["encoding"] = "base64"
	}
	return o
}

// lookupPath finds a path in a commit's tree; ok is false when absent.
func (c *call) lookupPath(commit, p string) (treeEntry, bool) {
	es, err := c.git().lsTree(commit, false, p)
	if err != nil {
		return treeEntry{}, false
	}
	for _, e := range es {
		if e.Path == p {
			return e, true
		}
	}
	return treeEntry{}, false
}

func getContents(c *call) {
	ref := c.r.URL.Query().Get("ref")
	if ref == "" {
		ref = c.repo.DefaultBranch
	}
	g := c.git()
	commit, ok := g.resolve(ref)
	if !ok {
		c.fail(http.StatusNotFound, "No commit found for the ref "+ref, nil)
		return
	}
	p := strings.Trim(c.param("path"), "/")
	var e treeEntry
	if p == "" {
		e = treeEntry{Type: "tree"}
	} else if e, ok = c.lookupPath(commit, p); !ok {
		c.notFound()
		return
	}
	if e.Type == "tree" {
		treeish := commit
		if p != "" {
			treeish = commit + ":" + p
		}
		es, err := g.lsTree(treeish, false)
		if err != nil {
			c.notFound()
			return
		}
		out := []obj{}
		for _, ch := range es {
			if p != "" {
				ch.Path = p + "/" + ch.Path
			}
			out = append(out, c.contentEntry(ref, ch, false))
		}
		c.json(http.StatusOK, out)
		return
	}
	if strings.Contains(c.r.Header.Get("Accept"), "application/vnd.github.raw") {
		data, _ := g.blob(e.SHA)
		c.commonHeaders()
		c.w.Header().Set("Content-Type", "application/vnd.github.raw; charset=utf-8")
		c.status = http.StatusOK
		c.w.WriteHeader(http.StatusOK)
		c.w.Write(data)
		return
	}
	c.json(http.StatusOK, c.contentEntry(ref, e, true))
}

func getReadme(c *call) {
	ref := c.r.URL.Query().Get("ref")
	if ref == "" {
		ref = c.repo.DefaultBranch
	}
	commit, ok := c.git().resolve(ref)
	if !ok {
		c.notFound()
		return
	}
	es, _ := c.git().lsTree(commit, false)
	for _, e := range es {
		if e.Type == "blob" && strings.HasPrefix(strings.ToLower(e.Path), "readme") {
			c.json(http.StatusOK, c.contentEntry(ref, e, true))
			return
		}
	}
	c.notFound()
}

// putContents commits one file to a branch, with GitHub's checks: the
// current blob sha is required to replace a file and must match.
func putContents(c *call) {
	var in struct {
		Message   string   `json:"message"`
		Content   *string  `json:"content"`
		SHA       string   `json:"sha"`
		Branch    string   `json:"branch"`
		Committer *identIn `json:"committer"`
		Author    *identIn `json:"author"`
	}
	if !c.decode(&in) {
		return
	}
	if in.Message == "" {
		c.missing("Commit", "message")
		return
	}
	if in.Content == nil {
		c.missing("Commit", "content")
		return
	}
	data, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(*in.Content, "\n", ""))
	if err != nil {
		c.invalid("content is not valid Base64", fieldError{Resource: "Commit", Field: "content", Code: "invalid"})
		return
	}
	p := strings.Trim(c.param("path"), "/")
	if p == "" {
		c.invalid("path cannot be empty")
		return
	}
	branch := in.Branch
	if branch == "" {
		branch = c.repo.DefaultBranch
	}
	ref := "refs/heads/" + branch
	g := c.git()
	defer c.lock()()
	refs, err := g.refs()
	if err != nil {
		c.fail(http.StatusInternalServerError, err.Error(), nil)
		return
	}
	parent, exists := refs[ref]
	if !exists && len(refs) > 0 {
		c.fail(http.StatusNotFound, "Branch "+branch+" not found", nil)
		return
	}
	var baseTree string
	status := http.StatusCreated
	if exists {
		cm, err := g.commit(parent)
		if err != nil {
			c.fail(http.StatusInternalServerError, err.Error(), nil)
			return
		}
		baseTree = cm.Tree
		if e, ok := c.lookupPath(parent, p); ok {
			if in.SHA == "" {
				c.invalid("Invalid request.\n\n\"sha\" wasn't supplied.")
				return
			}
			if in.SHA != e.SHA {
				c.fail(http.StatusConflict, p+" does not match "+in.SHA, nil)
				return
			}
			status = http.StatusOK
		}
	}
	blob, err := g.hashObject("blob", data)
	if err == nil {
		baseTree, err = g.editTree(baseTree, []indexEdit{{Path: p, Mode: "100644", SHA: blob}})
	}
	if err != nil {
		c.fail(http.StatusInternalServerError, err.Error(), nil)
		return
	}
	def := c.s.actorPerson(c.actor)
	committer := parseGitPerson(c.personOr(in.Committer), def)
	author := parseGitPerson(c.personOr(in.Author), committer)
	var parents []string
	old := zeroSHA
	if exists {
		parents, old = []string{parent}, parent
	}
	sha, err := g.commitTree(baseTree, parents, in.Message, author, committer)
	if err != nil {
		c.fail(http.StatusInternalServerError, err.Error(), nil)
		return
	}
	if err := g.updateRef(ref, sha, old); err != nil {
		c.fail(http.StatusConflict, "is at "+old+" but expected a different commit", nil)
		return
	}
	c.s.refsChanged(c.repo, c.actor, []refUpdate{{ref, old, sha}})
	e, _ := c.lookupPath(sha, p)
	cm, _ := g.commit(sha)
	c.s.mu.Lock()
	commit := c.s.gitCommitJSON(c.repo, cm)
	c.s.mu.Unlock()
	c.json(status, obj{"content": c.contentEntry(branch, e, false), "commit": commit})
}

func (c *call) personOr(p *identIn) *identIn { return p }

// deleteContents removes one file from a branch; its current blob sha is
// required.
func deleteContents(c *call) {
	var in struct {
		Message   string   `json:"message"`
		SHA       string   `json:"sha"`
		Branch    string   `json:"branch"`
		Committer *identIn `json:"committer"`
		Author    *identIn `json:"author"`
	}
	if !c.decode(&in) {
		return
	}
	if in.Message == "" {
		c.missing("Commit", "message")
		return
	}
	if in.SHA == "" {
		c.missing("Commit", "sha")
		return
	}
	p := strings.Trim(c.param("path"), "/")
	branch := firstNonEmpty(in.Branch, c.repo.DefaultBranch)
	ref := "refs/heads/" + branch
	g := c.git()
	defer c.lock()()
	parent, ok := g.resolve(ref)
	if !ok {
		c.fail(http.StatusNotFound, "Branch "+branch+" not found", nil)
		return
	}
	e, ok := c.lookupPath(parent, p)
	if !ok || e.Type != "blob" {
		c.notFound()
		return
	}
	if e.SHA != in.SHA {
		c.fail(http.StatusConflict, p+" does not match "+in.SHA, nil)
		return
	}
	cm, err := g.commit(parent)
	if err != nil {
		c.fail(http.StatusInternalServerError, err.Error(), nil)
		return
	}
	tree, err := g.editTree(cm.Tree, []indexEdit{{Path: p}})
	if err != nil {
		c.fail(http.StatusInternalServerError, err.Error(), nil)
		return
	}
	committer := parseGitPerson(in.Committer, c.s.actorPerson(c.actor))
	author := parseGitPerson(in.Author, committer)
	sha, err := g.commitTree(tree, []string{parent}, in.Message, author, committer)
	if err == nil {
		err = g.updateRef(ref, sha, parent)
	}
	if err != nil {
		c.fail(http.StatusConflict, "Branch "+branch+" was modified; try again", nil)
		return
	}
	c.s.refsChanged(c.repo, c.actor, []refUpdate{{ref, parent, sha}})
	nc, _ := g.commit(sha)
	c.s.mu.Lock()
	commit := c.s.gitCommitJSON(c.repo, nc)
	c.s.mu.Unlock()
	c.json(http.StatusOK, obj{"content": nil, "commit": commit})
}
