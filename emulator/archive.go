package emulator

import (
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"time"
)

// Archives work as on GitHub: the API answers 302 to a download address
// (GitHub's codeload host, here /codeload/ on the emulator) that carries a
// short-lived token, so the download needs no Authorization header.

func tarball(c *call) { c.archiveRedirect("tar.gz") }
func zipball(c *call) { c.archiveRedirect("zip") }

func (c *call) archiveRedirect(format string) {
	ref := c.param("ref")
	sha, ok := c.git().resolve(ref)
	if !ok {
		c.notFound()
		return
	}
	u := fmt.Sprintf("%s/codeload/%s/%s/%s", c.s.baseURL(), c.repo.FullName(), format, sha)
	if c.actor.user != nil {
		tok := newToken("dl_")
		c.s.mu.Lock()
		t := &Token{Login: c.actor.login(), ExpiresAt: c.s.now().Add(5 * time.Minute), Download: true}
		if c.actor.inst != nil {
			t = &Token{InstallationID: c.actor.inst.ID, Repos: []string{c.repo.FullName()}, ExpiresAt: t.ExpiresAt, Download: true}
		}
		c.s.st.Tokens[tok] = t
		c.s.mu.Unlock()
		u += "?token=" + tok
	}
	c.commonHeaders()
	c.w.Header().Set("Location", u)
	c.status = http.StatusFound
	c.w.WriteHeader(http.StatusFound)
}

// serveCodeload streams `git archive` of a commit:
// /codeload/{owner}/{repo}/{tar.gz|zip}/{sha}?token=...
func (s *Server) serveCodeload(w http.ResponseWriter, r *http.Request) {
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/codeload/"), "/", 4)
	if len(parts) != 4 || (parts[2] != "tar.gz" && parts[2] != "zip") {
		http.NotFound(w, r)
		return
	}
	tok := r.URL.Query().Get("token")
	if tok == "" {
		tok = credentials(r)
	}
	a, err := s.identifyFor(tok, true)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	s.mu.Lock()
	repo := s.repo(parts[0], parts[1])
	s.mu.Unlock()
	if repo == nil || s.access(a, repo, "contents", levelRead) < levelRead {
		http.NotFound(w, r)
		return
	}
	g := s.gitFor(repo)
	sha, ok := g.resolve(parts[3])
	if !ok || !strings.HasPrefix(sha, parts[3]) {
		http.NotFound(w, r)
		return
	}
	prefix := fmt.Sprintf("%s-%s-%s/", repo.Owner, repo.Name, sha[:7])
	name := strings.TrimSuffix(prefix, "/") + "." + parts[2]
	cmd := exec.Command("git", "archive", "--format="+parts[2], "--prefix="+prefix, sha)
	cmd.Env = append(cmd.Environ(), "GIT_DIR="+g.dir)
	if parts[2] == "tar.gz" {
		w.Header().Set("Content-Type", "application/x-gzip")
	} else {
		w.Header().Set("Content-Type", "application/zip")
	}
	w.Header().Set("Content-Disposition", "attachment; filename="+name)
	cmd.Stdout = w
	if err := cmd.Run(); err != nil {
		s.log.Error().Err(err).Str("repo", repo.FullName()).Str("sha", sha).Msg("git archive")
	}
}
