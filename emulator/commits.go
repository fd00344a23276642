package emulator

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// actorPerson is the git identity of the acting account; its email maps
// back to the account (GitHub's noreply form).
func (s *Server) actorPerson(a actor) person {
	login := a.login()
	var id int64
	if a.user != nil {
		id = a.user.ID
	}
	return person{Name: login, Email: fmt.Sprintf("%d+%s@users.noreply.github.com", id, login), When: s.now()}
}

func parseGitPerson(in *struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Date  string `json:"date"`
}, def person) person {
	if in == nil || in.Name == "" {
		return def
	}
	p := person{Name: in.Name, Email: in.Email, When: def.When}
	if t, err := time.Parse(time.RFC3339, in.Date); err == nil {
		p.When = t
	}
	return p
}

type identIn = struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Date  string `json:"date"`
}

func getGitCommit(c *call) {
	cm, err := c.git().commit(c.param("commit_sha"))
	if err != nil {
		c.notFound()
		return
	}
	c.s.mu.Lock()
	body := c.s.gitCommitJSON(c.repo, cm)
	c.s.mu.Unlock()
	c.json(http.StatusOK, body)
}

func createGitCommit(c *call) {
	var in struct {
		Message   string   `json:"message"`
		Tree      string   `json:"tree"`
		Parents   []string `json:"parents"`
		Author    *identIn `json:"author"`
		Committer *identIn `json:"committer"`
	}
	if !c.decode(&in) {
		return
	}
	if in.Tree == "" {
		c.missing("Commit", "tree")
		return
	}
	if in.Message == "" {
		c.missing("Commit", "message")
		return
	}
	g := c.git()
	if g.objectType(in.Tree) != "tree" {
		c.invalid("Tree SHA does not exist")
		return
	}
	for _, p := range in.Parents {
		if g.objectType(p) != "commit" {
			c.invalid("Parent SHA does not exist or is not a commit object")
			return
		}
	}
	def := c.s.actorPerson(c.actor)
	author := parseGitPerson(in.Author, def)
	committer := parseGitPerson(in.Committer, author)
	sha, err := g.commitTree(in.Tree, in.Parents, in.Message, author, committer)
	if err != nil {
		c.fail(http.StatusInternalServerError, err.Error(), nil)
		return
	}
	cm, err := g.commit(sha)
	if err != nil {
		c.fail(http.StatusInternalServerError, err.Error(), nil)
		return
	}
	c.s.mu.Lock()
	body := c.s.gitCommitJSON(c.repo, cm)
	c.s.mu.Unlock()
	c.w.Header().Set("Location", body["url"].(string))
	c.json(http.StatusCreated, body)
}

func (c *call) treeJSON(sha string, recursive bool) (obj, bool) {
	g := c.git()
	tree, err := g.out("rev-parse", "--verify", "--quiet", "--end-of-options", sha+"^{tree}")
	if err != nil || tree == "" {
		return nil, false
	}
	es, err := g.lsTree(tree, recursive)
	if err != nil {
		return nil, false
	}
	u := c.s.repoURL(c.repo)
	entries := []obj{}
	for _, e := range es {
		o := obj{"path": e.Path, "mode": e.Mode, "type": e.Type, "sha": e.SHA}
		switch e.Type {
		case "blob":
			o["size"] = e.Size
			o["url"] = u + "/git/blobs/" + e.SHA
		case "tree":
			o["url"] = u + "/git/trees/" + e.SHA
		}
		entries = append(entries, o)
	}
	return obj{"sha": tree, "url": u + "/git/trees/" + tree, "tree": entries, "truncated": false}, true
}

func getTree(c *call) {
	rec := c.r.URL.Query().Get("recursive")
	body, ok := c.treeJSON(c.param("tree_sha"), rec != "" && rec != "0" && rec != "false")
	if !ok {
		c.notFound()
		return
	}
	c.json(http.StatusOK, body)
}

func createTree(c *call) {
	var in struct {
		BaseTree string `json:"base_tree"`
		Tree     []struct {
			Path    string  `json:"path"`
			Mode    string  `json:"mode"`
			Type    string  `json:"type"`
			SHA     *string `json:"sha"`
			Content *string `json:"content"`
		} `json:"tree"`
	}
	if !c.decode(&in) {
		return
	}
	if in.Tree == nil {
		c.missing("Tree", "tree")
		return
	}
	g := c.git()
	if in.BaseTree != "" && g.objectType(in.BaseTree) != "tree" {
		c.invalid("Invalid tree info: base_tree " + in.BaseTree + " is not a tree")
		return
	}
	var edits []indexEdit
	for i, e := range in.Tree {
		where := fmt.Sprintf("tree.%d", i)
		if e.Path == "" || strings.HasPrefix(e.Path, "/") {
			c.invalid("Invalid tree info", fieldError{Resource: "Tree", Field: where + ".path", Code: "invalid"})
			return
		}
		switch e.Mode {
		case "100644", "100755", "040000", "160000", "120000":
		default:
			c.invalid("Invalid tree info", fieldError{Resource: "Tree", Field: where + ".mode", Code: "invalid"})
			return
		}
		switch {
		case e.Content != nil:
			sha, err := g.hashObject("blob", []byte(*e.Content))
			if err != nil {
				c.fail(http.StatusInternalServerError, err.Error(), nil)
				return
			}
			edits = append(edits, indexEdit{Path: e.Path, Mode: e.Mode, SHA: sha})
		case e.SHA == nil || *e.SHA == "":
			edits = append(edits, indexEdit{Path: e.Path})
		default:
			if e.Mode != "160000" && g.objectType(*e.SHA) == "" {
				c.invalid("Invalid tree info: object "+*e.SHA+" does not exist", fieldError{Resource: "Tree", Field: where + ".sha", Code: "invalid"})
				return
			}
			if e.Mode == "040000" {
				c.invalid("Invalid tree info: a tree entry must name a blob (subtrees are written by path)", fieldError{Resource: "Tree", Field: where + ".mode", Code: "invalid"})
				return
			}
			edits = append(edits, indexEdit{Path: e.Path, Mode: e.Mode, SHA: *e.SHA})
		}
	}
	tree, err := g.editTree(in.BaseTree, edits)
	if err != nil {
		c.invalid("Invalid tree info: " + err.Error())
		return
	}
	body, _ := c.treeJSON(tree, false)
	c.w.Header().Set("Location", body["url"].(string))
	c.json(http.StatusCreated, body)
}

// wrap64 base64-encodes with newlines every 60 characters, as GitHub does.
func wrap64(data []byte) string {
	enc := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	for len(enc) > 60 {
		b.WriteString(enc[:60])
		b.WriteByte('\n')
		enc = enc[60:]
	}
	b.WriteString(enc)
	b.WriteByte('\n')
	return b.String()
}

func getBlob(c *call) {
	sha := c.param("file_sha")
	g := c.git()
	if g.objectType(sha) != "blob" {
		c.notFound()
		return
	}
	data, err := g.blob(sha)
	if err != nil {
		c.notFound()
		return
	}
	c.json(http.StatusOK, obj{
		"sha": sha, "node_id": "B_" + sha[:16], "size": len(data), "url": c.s.repoURL(c.repo) + "/git/blobs/" + sha,
		"content": wrap64(data), "encoding": "base64",
	})
}

func createBlob(c *call) {
	var in struct {
		Content  *string `json:"content"`
		Encoding string  `json:"encoding"`
	}
	if !c.decode(&in) {
		return
	}
	if in.Content == nil {
		c.missing("Blob", "content")
		return
	}
	data := []byte(*in.Content)
	switch in.Encoding {
	case "", "utf-8":
	case "base64":
		d, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(*in.Content, "\n", ""))
		if err != nil {
			c.invalid("Invalid request.\n\ncontent is not valid Base64.", fieldError{Resource: "Blob", Field: "content", Code: "invalid"})
			return
		}
		data = d
	default:
		c.invalid("Invalid request.\n\nencoding must be utf-8 or base64.", fieldError{Resource: "Blob", Field: "encoding", Code: "invalid"})
		return
	}
	sha, err := c.git().hashObject("blob", data)
	if err != nil {
		c.fail(http.StatusInternalServerError, err.Error(), nil)
		return
	}
	u := c.s.repoURL(c.repo) + "/git/blobs/" + sha
	c.w.Header().Set("Location", u)
	c.json(http.StatusCreated, obj{"url": u, "sha": sha})
}

func (c *call) tagJSON(sha string) (obj, bool) {
	g := c.git()
	if g.objectType(sha) != "tag" {
		return nil, false
	}
	raw, err := g.run(nil, nil, "cat-file", "tag", sha)
	if err != nil {
		return nil, false
	}
	head, msg, _ := strings.Cut(string(raw), "\n\n")
	var object, typ, name string
	var tagger person
	for _, line := range strings.Split(head, "\n") {
		k, v, _ := strings.Cut(line, " ")
		switch k {
		case "object":
			object = v
		case "type":
			typ = v
		case "tag":
			name = v
		case "tagger":
			tagger = parsePerson(v)
		}
	}
	u := c.s.repoURL(c.repo)
	kind := typ + "s"
	return obj{
		"node_id": "TAG_" + sha[:16], "tag": name, "sha": sha, "url": u + "/git/tags/" + sha, "message": msg,
		"tagger": gitPerson(tagger), "object": obj{"sha": object, "type": typ, "url": u + "/git/" + kind + "/" + object},
		"verification": unverified(),
	}, true
}

func getTag(c *call) {
	body, ok := c.tagJSON(c.param("tag_sha"))
	if !ok {
		c.notFound()
		return
	}
	c.json(http.StatusOK, body)
}

func createTag(c *call) {
	var in struct {
		Tag     string   `json:"tag"`
		Message string   `json:"message"`
		Object  string   `json:"object"`
		Type    string   `json:"type"`
		Tagger  *identIn `json:"tagger"`
	}
	if !c.decode(&in) {
		return
	}
	for _, f := range [][2]string{{"tag", in.Tag}, {"message", in.Message}, {"object", in.Object}, {"type", in.Type}} {
		if f[1] == "" {
			c.missing("Tag", f[0])
			return
		}
	}
	g := c.git()
	if g.objectType(in.Object) != in.Type {
		c.invalid("Object does not exist or is not a " + in.Type)
		return
	}
	tagger := parseGitPerson(in.Tagger, c.s.actorPerson(c.actor))
	text := fmt.Sprintf("object %s\ntype %s\ntag %s\ntagger %s <%s> %d +0000\n\n%s\n",
		in.Object, in.Type, in.Tag, tagger.Name, tagger.Email, tagger.When.Unix(), strings.TrimSuffix(in.Message, "\n"))
	out, err := g.run([]byte(text), nil, "mktag")
	if err != nil {
		c.invalid("Invalid tag: " + err.Error())
		return
	}
	body, _ := c.tagJSON(strings.TrimSpace(string(out)))
	c.json(http.StatusCreated, body)
}

// commitFull is a commit with stats and files, as GET commits/{ref} answers.
func (c *call) commitFull(cm *commitObj) obj {
	g := c.git()
	parent := ""
	if len(cm.Parents) > 0 {
		parent = cm.Parents[0]
	}
	changes, _ := g.diff(parent, cm.SHA)
	c.s.mu.Lock()
	body := c.s.commitJSON(c.repo, cm)
	c.s.mu.Unlock()
	add, del := 0, 0
	for _, ch := range changes {
		add += ch.Additions
		del += ch.Deletions
	}
	body["stats"] = obj{"additions": add, "deletions": del, "total": add + del}
	body["files"] = c.diffEntries(parent, cm.SHA, changes)
	return body
}

func (c *call) diffEntries(from, to string, changes []fileChange) []obj {
	g := c.git()
	u := c.s.repoURL(c.repo)
	html := c.s.baseURL() + "/" + c.repo.FullName()
	out := []obj{}
	for _, ch := range changes {
		e := obj{
			"sha": ch.SHA, "filename": ch.Path, "status": ch.Status, "additions": ch.Additions,
			"deletions": ch.Deletions, "changes": ch.Additions + ch.Deletions,
			"blob_url": html + "/blob/" + to + "/" + ch.Path, "raw_url": html + "/raw/" + to + "/" + ch.Path,
			"contents_url": u + "/contents/" + ch.Path + "?ref=" + to,
		}
		if p := g.patch(from, to, ch.Path); p != "" {
			e["patch"] = p
		}
		out = append(out, e)
	}
	return out
}

func getCommit(c *call) {
	g := c.git()
	sha, ok := g.resolve(c.param("ref"))
	if !ok {
		if refs, _ := g.refs(); len(refs) == 0 {
			c.fail(http.StatusConflict, "Git Repository is empty.", nil)
			return
		}
		c.fail(http.StatusUnprocessableEntity, "No commit found for SHA: "+c.param("ref"), nil)
		return
	}
	if strings.Contains(c.r.Header.Get("Accept"), "vnd.github.sha") || strings.Contains(c.r.Header.Get("Accept"), "vnd.github.v3.sha") {
		// go-github's GetCommitSHA1 asks for just the sha as text.
		c.commonHeaders()
		c.w.Header().Set("Content-Type", "application/vnd.github.sha; charset=utf-8")
		c.status = http.StatusOK
		c.w.WriteHeader(http.StatusOK)
		c.w.Write([]byte(sha))
		return
	}
	cm, err := g.commit(sha)
	if err != nil {
		c.notFound()
		return
	}
	c.json(http.StatusOK, c.commitFull(cm))
}

func listCommits(c *call) {
	g := c.git()
	q := c.r.URL.Query()
	start := q.Get("sha")
	if start == "" {
		start = c.repo.DefaultBranch
	}
	refs, _ := g.refs()
	if len(refs) == 0 {
		c.fail(http.StatusConflict, "Git Repository is empty.", nil)
		return
	}
	sha, ok := g.resolve(start)
	if !ok {
		c.notFound()
		return
	}
	args := []string{"rev-list", "--max-count=3000", sha}
	if p := q.Get("path"); p != "" {
		args = append(args, "--", p)
	}
	out, err := g.out(args...)
	if err != nil {
		c.fail(http.StatusInternalServerError, err.Error(), nil)
		return
	}
	var shas []string
	if out != "" {
		shas = strings.Split(out, "\n")
	}
	page := pageOf(c, shas)
	list := []obj{}
	for _, s := range page {
		cm, err := g.commit(s)
		if err != nil {
			continue
		}
		c.s.mu.Lock()
		list = append(list, c.s.commitJSON(c.repo, cm))
		c.s.mu.Unlock()
	}
	c.json(http.StatusOK, list)
}

func commitPulls(c *call) {
	g := c.git()
	sha, ok := g.resolve(c.param("commit_sha"))
	if !ok {
		c.fail(http.StatusUnprocessableEntity, "No commit found for SHA: "+c.param("commit_sha"), nil)
		return
	}
	// Snapshot the pulls under the lock; git is asked without it.
	type pullRef struct {
		is    *Issue
		pr    Pull
		state string
	}
	var pulls []pullRef
	c.s.mu.Lock()
	for _, is := range sortedIssues(c.repo) {
		if is.Pull != nil {
			pulls = append(pulls, pullRef{is, *is.Pull, is.State})
		}
	}
	c.s.mu.Unlock()
	out := []obj{}
	for _, p := range pulls {
		is, pr := p.is, p.pr
		hit := pr.HeadSHA == sha || pr.MergeCommitSHA == sha
		if !hit && p.state == "open" && g.isAncestor(sha, pr.HeadSHA) {
			if base, ok := g.resolve("refs/heads/" + pr.Base); !ok || !g.isAncestor(sha, base) {
				hit = true
			}
		}
		if hit {
			c.s.mu.Lock()
			out = append(out, c.s.pullSimpleJSON(c.repo, is))
			c.s.mu.Unlock()
		}
	}
	paginate(c, out)
}

func compareCommits(c *call) {
	basehead := c.param("basehead")
	base, head, ok := strings.Cut(basehead, "...")
	if !ok {
		base, head, ok = strings.Cut(basehead, "..")
	}
	if !ok {
		c.notFound()
		return
	}
	strip := func(s string) string {
		if _, after, ok := strings.Cut(s, ":"); ok {
			return after
		}
		return s
	}
	base, head = strip(base), strip(head)
	g := c.git()
	bsha, ok1 := g.resolve(base)
	hsha, ok2 := g.resolve(head)
	if !ok1 || !ok2 {
		c.notFound()
		return
	}
	mb, ok := g.mergeBase(bsha, hsha)
	if !ok {
		// GitHub answers two histories without a merge base with a 404
		// naming the refs as given, not a bare Not Found.
		c.fail(http.StatusNotFound, "No common ancestor between "+base+" and "+head+".", nil)
		return
	}
	ahead, _ := g.revList(0, mb+".."+hsha)
	behind, _ := g.revList(0, mb+".."+bsha)
	status := "identical"
	switch {
	case len(ahead) > 0 && len(behind) > 0:
		status = "diverged"
	case len(ahead) > 0:
		status = "ahead"
	case len(behind) > 0:
		status = "behind"
	}
	bc, _ := g.commit(bsha)
	mc, _ := g.commit(mb)
	commits := []obj{}
	// Without page or per_page GitHub lists at most 250 commits, the last
	// being the newest of the comparison; with either it pages the commits
	// oldest first (Link headers) and shows the files on page 1 only.
	q := c.r.URL.Query()
	paged := q.Has("page") || q.Has("per_page")
	shown := ahead
	if paged {
		shown = pageOf(c, ahead)
	} else if len(shown) > 250 {
		shown = shown[len(shown)-250:]
	}
	c.s.mu.Lock()
	for _, s := range shown {
		if cm, err := g.commit(s); err == nil {
			commits = append(commits, c.s.commitJSON(c.repo, cm))
		}
	}
	baseJSON, mbJSON := c.s.commitJSON(c.repo, bc), c.s.commitJSON(c.repo, mc)
	c.s.mu.Unlock()
	var changes []fileChange
	if page, _ := strconv.Atoi(q.Get("page")); page <= 1 {
		changes, _ = g.diff(mb, hsha)
		if len(changes) > 300 {
			changes = changes[:300]
		}
	}
	html := c.s.baseURL() + "/" + c.repo.FullName() + "/compare/" + basehead
	c.json(http.StatusOK, obj{
		"url": c.s.repoURL(c.repo) + "/compare/" + basehead, "html_url": html,
		"permalink_url": c.s.baseURL() + "/" + c.repo.FullName() + "/compare/" + bsha[:7] + "..." + hsha[:7],
		"diff_url":      html + ".diff", "patch_url": html + ".patch",
		"base_commit": baseJSON, "merge_base_commit": mbJSON, "status": status,
		"ahead_by": len(ahead), "behind_by": len(behind), "total_commits": len(ahead),
		"commits": commits, "files": c.diffEntries(mb, hsha, changes),
	})
}

// mergeCommit merges head into the branch base with a real merge commit
// (git merge-tree), moving the branch by compare-and-swap. It returns the
// new commit, or "" with merged=false when head is already in base.
func (c *call) mergeCommit(baseBranch, head, message string) (sha string, already bool, status int, msg string) {
	g := c.git()
	ref := "refs/heads/" + baseBranch
	bsha, ok := g.resolve(ref)
	if !ok {
		return "", false, http.StatusNotFound, "Base does not exist"
	}
	hsha, ok := g.resolve(head)
	if !ok {
		return "", false, http.StatusNotFound, "Head does not exist"
	}
	if g.isAncestor(hsha, bsha) {
		return bsha, true, 0, ""
	}
	tree, conflict, err := g.mergeTree(bsha, hsha)
	if err != nil {
		return "", false, http.StatusInternalServerError, err.Error()
	}
	if conflict {
		return "", false, http.StatusConflict, "Merge conflict"
	}
	who := c.s.actorPerson(c.actor)
	sha, err = g.commitTree(tree, []string{bsha, hsha}, message, who, who)
	if err != nil {
		return "", false, http.StatusInternalServerError, err.Error()
	}
	if err := g.updateRef(ref, sha, bsha); err != nil {
		return "", false, http.StatusConflict, "Base branch was modified. Review and try the merge again."
	}
	c.s.refsChanged(c.repo, c.actor, []refUpdate{{ref, bsha, sha}})
	return sha, false, 0, ""
}

func mergeBranches(c *call) {
	var in struct {
		Base          string `json:"base"`
		Head          string `json:"head"`
		CommitMessage string `json:"commit_message"`
	}
	if !c.decode(&in) {
		return
	}
	if in.Base == "" {
		c.missing("Merge", "base")
		return
	}
	if in.Head == "" {
		c.missing("Merge", "head")
		return
	}
	msg := in.CommitMessage
	if msg == "" {
		msg = "Merge " + in.Head + " into " + in.Base
	}
	defer c.lock()()
	sha, already, status, text := c.mergeCommit(in.Base, in.Head, msg)
	switch {
	case status != 0:
		c.fail(status, text, nil)
	case already:
		c.noContent()
	default:
		cm, _ := c.git().commit(sha)
		c.json(http.StatusCreated, c.commitFull(cm))
	}
}

func (c *call) branchNames() ([]string, map[string]string) {
	refs, _ := c.git().refs()
	var names []string
	for ref := range refs {
		if n, ok := strings.CutPrefix(ref, "refs/heads/"); ok {
			names = append(names, n)
		}
	}
	sortStrings(names)
	return names, refs
}

func listBranches(c *call) {
	names, refs := c.branchNames()
	u := c.s.repoURL(c.repo)
	out := []obj{}
	for _, n := range names {
		sha := refs["refs/heads/"+n]
		out = append(out, obj{"name": n, "commit": obj{"sha": sha, "url": u + "/commits/" + sha}, "protected": false})
	}
	paginate(c, out)
}

func getBranch(c *call) {
	name := c.param("branch")
	g := c.git()
	sha, ok := g.resolve("refs/heads/" + name)
	if !ok {
		c.fail(http.StatusNotFound, "Branch not found", nil)
		return
	}
	cm, _ := g.commit(sha)
	c.s.mu.Lock()
	commit := c.s.commitJSON(c.repo, cm)
	c.s.mu.Unlock()
	u := c.s.repoURL(c.repo) + "/branches/" + name
	c.json(http.StatusOK, obj{
		"name": name, "commit": commit, "protected": false,
		"_links":         obj{"html": c.s.baseURL() + "/" + c.repo.FullName() + "/tree/" + name, "self": u},
		"protection":     obj{"enabled": false, "required_status_checks": obj{"enforcement_level": "off", "contexts": []string{}, "checks": []obj{}}},
		"protection_url": u + "/protection",
	})
}

func listTags(c *call) {
	refs, _ := c.git().refs()
	g := c.git()
	var names []string
	for ref := range refs {
		if n, ok := strings.CutPrefix(ref, "refs/tags/"); ok {
			names = append(names, n)
		}
	}
	sortStrings(names)
	u := c.s.repoURL(c.repo)
	out := []obj{}
	for i := len(names) - 1; i >= 0; i-- {
		n := names[i]
		sha, _ := g.resolve("refs/tags/" + n)
		out = append(out, obj{
			"name": n, "commit": obj{"sha": sha, "url": u + "/commits/" + sha},
			"zipball_url": u + "/zipball/refs/tags/" + n, "tarball_url": u + "/tarball/refs/tags/" + n,
			"node_id": "TAGREF_" + strconv.Itoa(i),
		})
	}
	paginate(c, out)
}
