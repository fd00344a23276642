package emulator

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v4"
)

// level is a repository role; GitHub's order is read < triage < write <
// maintain < admin.
type level int

const (
	levelNone    level = iota
	levelVisible       // an installation on the repository without the permission a route needs
	levelRead
	levelTriage
	levelWrite
	levelMaintain
	levelAdmin
)

var levelNames = []string{"none", "none", "read", "triage", "write", "maintain", "admin"}

func (l level) String() string { return levelNames[l] }

func parseLevel(s string) (level, bool) {
	switch strings.ToLower(s) {
	case "read", "pull":
		return levelRead, true
	case "triage":
		return levelTriage, true
	case "write", "push":
		return levelWrite, true
	case "maintain":
		return levelMaintain, true
	case "admin":
		return levelAdmin, true
	}
	return levelNone, false
}

// actor is who a request acts as: a user, an installation (its bot user),
// or an app (JWT).
type actor struct {
	user *User         // the acting account; the app's bot for installations
	inst *Installation // installation token
	app  *App          // JWT, or the installation's app
	// via is the app a user-to-server token was issued to (0: a personal
	// token).
	via int64
}

func (a actor) login() string {
	if a.user == nil {
		return ""
	}
	return a.user.Login
}

func sha256Sum(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}

func newToken(prefix string) string {
	b := make([]byte, 20)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// credentials extracts a token from Authorization: "token X", "Bearer X" or
// Basic auth ("x-access-token:X" or "<login>:X").
func credentials(r *http.Request) string {
	h := r.Header.Get("Authorization")
	switch {
	case h == "":
		return ""
	case strings.HasPrefix(strings.ToLower(h), "token "):
		return strings.TrimSpace(h[6:])
	case strings.HasPrefix(strings.ToLower(h), "bearer "):
		return strings.TrimSpace(h[7:])
	case strings.HasPrefix(strings.ToLower(h), "basic "):
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h[6:]))
		if err != nil {
			return ""
		}
		_, pass, _ := strings.Cut(string(raw), ":")
		return pass
	}
	return ""
}

// identify resolves a token to an actor. A token with two dots is an app
// JWT. Callers must not hold s.mu.
func (s *Server) identify(tok string) (actor, error) { return s.identifyFor(tok, false) }

// identifyFor also accepts archive download tokens when download is set.
func (s *Server) identifyFor(tok string, download bool) (actor, error) {
	if tok == "" {
		return actor{}, nil
	}
	if strings.Count(tok, ".") == 2 {
		app, err := s.verifyJWT(tok)
		if err != nil {
			return actor{}, err
		}
		return actor{app: app}, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.st.Tokens[tok]
	if !ok {
		return actor{}, fmt.Errorf("Bad credentials")
	}
	if t.Download && !download || !t.ExpiresAt.IsZero() && s.now().After(t.ExpiresAt) {
		return actor{}, fmt.Errorf("Bad credentials")
	}
	if t.InstallationID != 0 {
		in := s.st.Installations[t.InstallationID]
		if in == nil {
			return actor{}, fmt.Errorf("Bad credentials")
		}
		app := s.appByID(in.AppID)
		if len(t.Repos) > 0 {
			narrowed := *in
			narrowed.Repos = t.Repos
			in = &narrowed
		}
		if t.Permissions != nil {
			narrowed := *app
			narrowed.Permissions = t.Permissions
			app = &narrowed
		}
		return actor{user: s.user(app.BotLogin), inst: in, app: app}, nil
	}
	u := s.user(t.Login)
	if u == nil {
		return actor{}, fmt.Errorf("Bad credentials")
	}
	return actor{user: u, via: t.AppID}, nil
}

// verifyJWT checks an app JWT as GitHub does: RS256 signed by the app's
// registered key, iss the app id (a number or a string; ghinstallation
// sends a string, GitHub's docs a number), exp in the future and no more
// than ten minutes ahead.
func (s *Server) verifyJWT(tok string) (*App, error) {
	claims := jwt.MapClaims{}
	var app *App
	_, err := jwt.ParseWithClaims(tok, claims, func(t *jwt.Token) (any, error) {
		if t.Method.Alg() != "RS256" {
			return nil, fmt.Errorf("algorithm must be RS256, got %s", t.Method.Alg())
		}
		var iss string
		switch v := claims["iss"].(type) {
		case string:
			iss = v
		case float64:
			iss = strconv.FormatInt(int64(v), 10)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if id, err := strconv.ParseInt(iss, 10, 64); err == nil {
			app = s.appByID(id)
		}
		if app == nil {
			for _, a := range s.st.Apps {
				if a.Slug == iss {
					app = a
				}
			}
		}
		if app == nil {
			return nil, fmt.Errorf("Integration not found")
		}
		key, err := jwt.ParseRSAPublicKeyFromPEM([]byte(app.PublicKeyPEM))
		if err != nil {
			return nil, fmt.Errorf("app key: %w", err)
		}
		return key, nil
	}, jwt.WithoutClaimsValidation())
	if err != nil {
		return nil, fmt.Errorf("A JSON web token could not be decoded")
	}
	exp, ok := claims["exp"].(float64)
	now := s.opts.Now()
	if !ok || now.Unix() >= int64(exp) {
		return nil, fmt.Errorf("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires")
	}
	if time.Unix(int64(exp), 0).Sub(now) > 10*time.Minute+30*time.Second {
		return nil, fmt.Errorf("'Expiration time' claim ('exp') is too far in the future")
	}
	return app, nil
}

// authorize authenticates the request and checks the route's access rule,
// answering 401/403/404 itself when the caller may not proceed.
func (c *call) authorize() bool {
	a, err := c.s.identify(credentials(c.r))
	if err != nil {
		c.fail(http.StatusUnauthorized, err.Error(), nil)
		return false
	}
	c.actor = a
	switch c.route.auth {
	case authAny:
		return true
	case authApp:
		if a.app == nil || a.inst != nil {
			c.fail(http.StatusUnauthorized, "A JSON web token could not be decoded", nil)
			return false
		}
		return true
	case authInstallation:
		if a.inst == nil {
			c.fail(http.StatusForbidden, "You must authenticate with an installation access token in order to list repositories for an installation.", nil)
			return false
		}
		return true
	}
	// Repository route.
	owner, name := c.param("owner"), c.param("repo")
	c.s.mu.Lock()
	repo := c.s.repo(owner, name)
	c.s.mu.Unlock()
	if a.app != nil && a.inst == nil {
		// An app JWT may only look up the repository's installation.
		if c.route.specPath == "/repos/{owner}/{repo}/installation" {
			c.repo = repo
			if repo == nil {
				c.notFound()
				return false
			}
			return true
		}
		c.fail(http.StatusForbidden, "Resource not accessible by integration", nil)
		return false
	}
	if repo == nil {
		c.notFound()
		return false
	}
	c.repo = repo
	have := c.s.access(a, repo, c.route.scope, c.route.need)
	if have == levelNone {
		if a.user == nil && !repo.Private {
			if c.route.need <= levelRead {
				return true
			}
			c.fail(http.StatusUnauthorized, "Requires authentication", nil)
			return false
		}
		if a.user == nil {
			c.fail(http.StatusUnauthorized, "Requires authentication", nil)
			return false
		}
		c.notFound()
		return false
	}
	// An installation changes things only with the scope's write permission.
	if a.inst != nil && c.r.Method != http.MethodGet && have < levelWrite {
		c.fail(http.StatusForbidden, "Resource not accessible by integration", nil)
		return false
	}
	if have < c.route.need {
		if a.inst != nil {
			c.fail(http.StatusForbidden, "Resource not accessible by integration", nil)
		} else {
			c.fail(http.StatusForbidden, "Must have "+c.route.need.String()+" rights to Repository.", nil)
		}
		return false
	}
	return true
}

// access is the role an actor has on a repository: a user's collaborator
// role (owner: admin; public repositories: read for everyone), an
// installation's app permission for the route's scope.
func (s *Server) access(a actor, repo *Repo, scope string, need level) level {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.inst != nil {
		installed := false
		for _, r := range a.inst.Repos {
			if strings.EqualFold(r, repo.FullName()) {
				installed = true
			}
		}
		if !installed {
			if !repo.Private {
				return levelRead
			}
			return levelNone
		}
		perm := a.app.Permissions[scope]
		if scope == "" || scope == "metadata" {
			perm = "read"
		}
		switch perm {
		case "write", "admin":
			// App permissions have no maintain or admin levels: write on
			// the route's permission (administration for collaborators)
			// is all a route can ask of an installation.
			return levelAdmin
		case "read":
			// Installed: the repository is visible, the scope read-only.
			return levelRead
		default:
			return levelVisible
		}
	}
	if a.user == nil {
		return levelNone
	}
	if a.via != 0 && !s.installedFor(a.via, repo) {
		// A user-to-server token reaches only the app's installations.
		if !repo.Private {
			return levelRead
		}
		return levelNone
	}
	return s.userLevel(a.user.Login, repo)
}

// installedFor reports whether the app is installed on repo; callers hold
// s.mu.
func (s *Server) installedFor(appID int64, repo *Repo) bool {
	for _, in := range s.st.Installations {
		if in.AppID == appID && contains(in.Repos, repo.FullName()) {
			return true
		}
	}
	return false
}

// userLevel is a user's role on a repository; callers hold s.mu.
// roleLevel is the level of a role of repo: one of GitHub's, or a custom
// role of the owning organization by its base role. Callers hold s.mu.
func (s *Server) roleLevel(repo *Repo, role string) (level, bool) {
	if l, ok := parseLevel(role); ok {
		return l, true
	}
	if base, ok := s.st.CustomRoles[strings.ToLower(repo.Owner+"/"+role)]; ok {
		return parseLevel(base)
	}
	return levelNone, false
}

// roleName is what role_name says of login on repo: a custom role by its
// own name. Callers hold s.mu.
func (s *Server) roleName(repo *Repo, login string, l level) string {
	if role, ok := repo.Collaborators[strings.ToLower(login)]; ok && !strings.EqualFold(login, repo.Owner) {
		if _, builtin := parseLevel(role); !builtin {
			if _, custom := s.st.CustomRoles[strings.ToLower(repo.Owner+"/"+role)]; custom {
				return role
			}
		}
	}
	return l.String()
}

func (s *Server) userLevel(login string, repo *Repo) level {
	if strings.EqualFold(login, repo.Owner) {
		return levelAdmin
	}
	if role, ok := repo.Collaborators[strings.ToLower(login)]; ok {
		l, _ := s.roleLevel(repo, role)
		return l
	}
	if !repo.Private {
		return levelRead
	}
	return levelNone
}
