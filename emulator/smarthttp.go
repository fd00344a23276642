package emulator

import (
	"net/http"
	"net/http/cgi"
	"os/exec"
	"path/filepath"
	"strings"
)

// gitSuffixes are the paths git's smart HTTP protocol uses after the
// repository, e.g. /acme/site.git/info/refs?service=git-upload-pack.
var gitSuffixes = []string{"/info/refs", "/git-upload-pack", "/git-receive-pack", "/HEAD"}

func isGitPath(p string) bool {
	for _, suf := range gitSuffixes {
		if strings.HasSuffix(p, suf) {
			rest := strings.Trim(strings.TrimSuffix(p, suf), "/")
			if strings.Count(rest, "/") == 1 && !strings.HasPrefix(rest, "repos/") {
				return true
			}
		}
	}
	return false
}

// serveGit serves clone, fetch and push through `git http-backend` (CGI),
// after authenticating the caller with a user or installation token in
// Basic auth. A push runs under the repository's lock with the refs
// snapshotted before and after, so the webhooks describe exactly what git
// changed.
func (s *Server) serveGit(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	var suffix string
	for _, suf := range gitSuffixes {
		if strings.HasSuffix(p, suf) {
			suffix = suf
			break
		}
	}
	owner, name, _ := strings.Cut(strings.Trim(strings.TrimSuffix(p, suffix), "/"), "/")
	name = strings.TrimSuffix(name, ".git")
	push := suffix == "/git-receive-pack" || r.URL.Query().Get("service") == "git-receive-pack"

	a, err := s.identify(credentials(r))
	if err != nil {
		askForCredentials(w)
		return
	}
	s.mu.Lock()
	repo := s.repo(owner, name)
	s.mu.Unlock()
	if repo == nil {
		http.Error(w, "Repository not found.", http.StatusNotFound)
		return
	}
	need := levelRead
	if push {
		need = levelWrite
	}
	have := s.access(a, repo, "contents", need)
	if have < need {
		if a.user == nil {
			askForCredentials(w)
			return
		}
		if have == levelNone {
			http.Error(w, "Repository not found.", http.StatusNotFound)
			return
		}
		http.Error(w, "Permission to "+repo.FullName()+".git denied to "+a.login()+".", http.StatusForbidden)
		return
	}
	if s.injectGitFault(w, r) {
		return
	}

	gitBin, err := exec.LookPath("git")
	if err != nil {
		http.Error(w, "git is not installed", http.StatusInternalServerError)
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/" + strings.ToLower(repo.Owner) + "/" + strings.ToLower(repo.Name) + ".git" + suffix
	r2.Body = r.Body
	h := &cgi.Handler{
		Path: gitBin,
		Args: []string{"http-backend"},
		Dir:  filepath.Join(s.opts.DataDir, "repos"),
		Env: []string{
			"GIT_PROJECT_ROOT=" + filepath.Join(s.opts.DataDir, "repos"),
			"GIT_HTTP_EXPORT_ALL=1",
			"REMOTE_USER=" + a.login(),
			"GIT_COMMITTER_NAME=" + a.login(),
			"GIT_COMMITTER_EMAIL=" + a.login() + "@users.noreply.emulator",
		},
		InheritEnv: []string{"PATH", "HOME"},
	}
	if !(push && r.Method == http.MethodPost) {
		h.ServeHTTP(w, r2)
		return
	}
	lock := s.repoLock(repo.FullName())
	lock.Lock()
	defer lock.Unlock()
	g := s.gitFor(repo)
	before, err := g.refs()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h.ServeHTTP(w, r2)
	after, err := g.refs()
	if err != nil {
		s.log.Error().Err(err).Str("repo", repo.FullName()).Msg("read refs after push")
		return
	}
	s.refsChanged(repo, a, diffRefs(before, after))
}

func askForCredentials(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="GitHub"`)
	http.Error(w, "Invalid username or token. Password authentication is not supported for Git operations.", http.StatusUnauthorized)
}

// refUpdate is one ref's change; Before or After is zeroSHA for a created
// or deleted ref.
type refUpdate struct {
	Ref, Before, After string
}

func diffRefs(before, after map[string]string) []refUpdate {
	var ups []refUpdate
	for ref, old := range before {
		if nw, ok := after[ref]; !ok {
			ups = append(ups, refUpdate{ref, old, zeroSHA})
		} else if nw != old {
			ups = append(ups, refUpdate{ref, old, nw})
		}
	}
	for ref, nw := range after {
		if _, ok := before[ref]; !ok {
			ups = append(ups, refUpdate{ref, zeroSHA, nw})
		}
	}
	sortRefUpdates(ups)
	return ups
}
