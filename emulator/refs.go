package emulator

import (
	"net/http"
	"sort"
	"strings"
)

func (c *call) git() gitRepo { return c.s.gitFor(c.repo) }

// lock takes the repository's ref lock; callers defer the returned unlock.
func (c *call) lock() func() {
	l := c.s.repoLock(c.repo.FullName())
	l.Lock()
	return l.Unlock
}

func getRepo(c *call) {
	c.s.mu.Lock()
	body := c.s.repoJSON(c.repo)
	lvl := c.s.userLevel(c.actor.login(), c.repo)
	c.s.mu.Unlock()
	if c.actor.user != nil && c.actor.inst == nil {
		body["permissions"] = map[string]bool{
			"admin": lvl >= levelAdmin, "maintain": lvl >= levelMaintain, "push": lvl >= levelWrite,
			"triage": lvl >= levelTriage, "pull": lvl >= levelRead,
		}
	}
	c.json(http.StatusOK, body)
}

func (c *call) refObj(ref, sha string) obj {
	typ := c.git().objectType(sha)
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.s.refJSON(c.repo, ref, sha, typ)
}

func getRef(c *call) {
	ref := "refs/" + c.param("ref")
	refs, err := c.git().refs()
	if err != nil {
		c.fail(http.StatusInternalServerError, err.Error(), nil)
		return
	}
	if len(refs) == 0 {
		c.fail(http.StatusConflict, "Git Repository is empty.", nil)
		return
	}
	sha, ok := refs[ref]
	if !ok {
		c.notFound()
		return
	}
	c.json(http.StatusOK, c.refObj(ref, sha))
}

func matchingRefs(c *call) {
	prefix := "refs/" + c.param("ref")
	refs, err := c.git().refs()
	if err != nil {
		c.fail(http.StatusInternalServerError, err.Error(), nil)
		return
	}
	if len(refs) == 0 {
		c.fail(http.StatusConflict, "Git Repository is empty.", nil)
		return
	}
	var names []string
	for ref := range refs {
		if strings.HasPrefix(ref, prefix) {
			names = append(names, ref)
		}
	}
	sort.Strings(names)
	out := []obj{}
	for _, n := range names {
		out = append(out, c.refObj(n, refs[n]))
	}
	paginate(c, out)
}

func validRefName(g gitRepo, ref string) bool {
	if !strings.HasPrefix(ref, "refs/") || strings.Count(ref, "/") < 2 {
		return false
	}
	_, err := g.out("check-ref-format", ref)
	return err == nil
}

func createRef(c *call) {
	var in struct {
		Ref string `json:"ref"`
		SHA string `json:"sha"`
	}
	if !c.decode(&in) {
		return
	}
	if in.Ref == "" {
		c.missing("Reference", "ref")
		return
	}
	if in.SHA == "" {
		c.missing("Reference", "sha")
		return
	}
	g := c.git()
	if !validRefName(g, in.Ref) {
		c.invalid("Reference name is not valid: " + in.Ref + " (it must start with 'refs/' and contain at least two slashes)")
		return
	}
	if g.objectType(in.SHA) == "" {
		c.invalid("Object does not exist")
		return
	}
	defer c.lock()()
	if err := g.updateRef(in.Ref, in.SHA, zeroSHA); err != nil {
		c.invalid("Reference already exists")
		return
	}
	c.s.refsChanged(c.repo, c.actor, []refUpdate{{in.Ref, zeroSHA, in.SHA}})
	c.w.Header().Set("Location", c.s.repoURL(c.repo)+"/git/"+in.Ref)
	c.json(http.StatusCreated, c.refObj(in.Ref, in.SHA))
}

// updateRef moves a ref. Without force it must be a fast-forward; the move
// itself is git's compare-and-swap on the value read under the lock.
func updateRef(c *call) {
	var in struct {
		SHA   string `json:"sha"`
		Force bool   `json:"force"`
	}
	if !c.decode(&in) {
		return
	}
	if in.SHA == "" {
		c.missing("Reference", "sha")
		return
	}
	ref := "refs/" + c.param("ref")
	g := c.git()
	if g.objectType(in.SHA) == "" {
		c.invalid("Object does not exist")
		return
	}
	defer c.lock()()
	refs, err := g.refs()
	if err != nil {
		c.fail(http.StatusInternalServerError, err.Error(), nil)
		return
	}
	cur, ok := refs[ref]
	if !ok {
		c.invalid("Reference does not exist")
		return
	}
	if cur == in.SHA {
		c.json(http.StatusOK, c.refObj(ref, cur))
		return
	}
	if !in.Force && !g.isAncestor(cur, in.SHA) {
		c.invalid("Update is not a fast forward")
		return
	}
	if err := g.updateRef(ref, in.SHA, cur); err != nil {
		c.invalid("Reference cannot be updated")
		return
	}
	c.s.refsChanged(c.repo, c.actor, []refUpdate{{ref, cur, in.SHA}})
	c.json(http.StatusOK, c.refObj(ref, in.SHA))
}

func deleteRef(c *call) {
	ref := "refs/" + c.param("ref")
	g := c.git()
	defer c.lock()()
	refs, err := g.refs()
	if err != nil {
		c.fail(http.StatusInternalServerError, err.Error(), nil)
		return
	}
	cur, ok := refs[ref]
	if !ok {
		c.invalid("Reference does not exist")
		return
	}
	if err := g.deleteRef(ref, cur); err != nil {
		c.invalid("Reference cannot be deleted")
		return
	}
	c.s.refsChanged(c.repo, c.actor, []refUpdate{{ref, cur, zeroSHA}})
	c.noContent()
}
