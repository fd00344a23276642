package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/golang-jwt/jwt/v4"
)

// The admin API covers only what GitHub itself has no API for: creating
// accounts, apps, repositories and installations, clicking a check run's
// button, reading recorded workflow dispatches, finishing the jobs of workflow
// runs and setting faults. It has
// no authentication: the emulator listens on loopback for tests and demos.

var loginRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$`)
var repoNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)

func adminJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func adminError(w http.ResponseWriter, status int, format string, args ...any) {
	adminJSON(w, status, map[string]string{"message": fmt.Sprintf(format, args...)})
}

func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, "/_emulator")
	decode := func(v any) bool {
		if err := json.NewDecoder(r.Body).Decode(v); err != nil {
			adminError(w, http.StatusBadRequest, "request body is not valid JSON: %v", err)
			return false
		}
		return true
	}
	switch {
	case r.Method == http.MethodPost && p == "/users":
		var in struct {
			Login string `json:"login"`
		}
		if !decode(&in) {
			return
		}
		u, tok, err := s.CreateUser(in.Login)
		if err != nil {
			adminError(w, http.StatusUnprocessableEntity, "%v", err)
			return
		}
		adminJSON(w, http.StatusCreated, map[string]any{"login": u.Login, "id": u.ID, "token": tok})
	case r.Method == http.MethodPost && p == "/apps":
		var in AppSpec
		if !decode(&in) {
			return
		}
		app, err := s.CreateApp(in)
		if err != nil {
			adminError(w, http.StatusUnprocessableEntity, "%v", err)
			return
		}
		adminJSON(w, http.StatusCreated, map[string]any{"id": app.ID, "slug": app.Slug, "client_id": app.ClientID, "client_secret": app.ClientSecret})
	case r.Method == http.MethodPut && strings.HasPrefix(p, "/apps/") && strings.HasSuffix(p, "/callback-urls"):
		id, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(p, "/apps/"), "/callback-urls"), 10, 64)
		if err != nil {
			adminError(w, http.StatusNotFound, "no app %q", p)
			return
		}
		var in struct {
			URLs []string `json:"callback_urls"`
		}
		if !decode(&in) {
			return
		}
		if err := s.SetCallbackURLs(id, in.URLs...); err != nil {
			adminError(w, http.StatusUnprocessableEntity, "%v", err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPost && p == "/repos":
		var in RepoSpec
		if !decode(&in) {
			return
		}
		repo, err := s.CreateRepo(in)
		if err != nil {
			adminError(w, http.StatusUnprocessableEntity, "%v", err)
			return
		}
		s.mu.Lock()
		body := s.repoJSON(repo)
		s.mu.Unlock()
		adminJSON(w, http.StatusCreated, body)
	case r.Method == http.MethodPost && p == "/installations":
		var in struct {
			AppID        int64    `json:"app_id"`
			Repositories []string `json:"repositories"`
		}
		if !decode(&in) {
			return
		}
		id, err := s.Install(in.AppID, in.Repositories...)
		if err != nil {
			adminError(w, http.StatusUnprocessableEntity, "%v", err)
			return
		}
		adminJSON(w, http.StatusCreated, map[string]any{"id": id})
	case r.Method == http.MethodPost && strings.HasPrefix(p, "/check-runs/") && strings.HasSuffix(p, "/request-action"):
		id, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(p, "/check-runs/"), "/request-action"), 10, 64)
		if err != nil {
			adminError(w, http.StatusNotFound, "no check run %q", p)
			return
		}
		var in struct {
			Identifier string `json:"identifier"`
			User       string `json:"user"`
		}
		if !decode(&in) {
			return
		}
		if err := s.RequestAction(id, in.Identifier, in.User); err != nil {
			adminError(w, http.StatusUnprocessableEntity, "%v", err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPut && strings.HasPrefix(p, "/teams/") && strings.Count(p, "/") == 3:
		org, slug, _ := strings.Cut(strings.TrimPrefix(p, "/teams/"), "/")
		var in struct {
			Members []string `json:"members"`
		}
		if !decode(&in) {
			return
		}
		if err := s.SetTeam(org, slug, in.Members...); err != nil {
			adminError(w, http.StatusUnprocessableEntity, "%v", err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodGet && p == "/workflow-dispatches":
		adminJSON(w, http.StatusOK, s.WorkflowDispatches())
	case r.Method == http.MethodPost && p == "/workflow-jobs":
		// Finishes a job of a workflow run (every unfinished job when job
		// is empty): the emulator runs no workflows.
		var in struct {
			Repo       string `json:"repo"`
			RunID      int64  `json:"run_id"`
			Job        string `json:"job"`
			Conclusion string `json:"conclusion"`
		}
		if !decode(&in) {
			return
		}
		var err error
		if in.Job == "" {
			err = s.CompleteWorkflowRun(in.Repo, in.RunID, in.Conclusion)
		} else {
			err = s.CompleteWorkflowJob(in.Repo, in.RunID, in.Job, in.Conclusion)
		}
		if err != nil {
			adminError(w, http.StatusUnprocessableEntity, "%v", err)
			return
		}
		adminJSON(w, http.StatusOK, s.WorkflowJobs(in.Repo, in.RunID))
	case r.Method == http.MethodGet && p == "/requests":
		adminJSON(w, http.StatusOK, s.RequestStats())
	case r.Method == http.MethodPut && p == "/faults":
		var f Faults
		if !decode(&f) {
			return
		}
		if err := validateFaults(f); err != nil {
			adminError(w, http.StatusUnprocessableEntity, "%v", err)
			return
		}
		s.SetFaults(f)
		adminJSON(w, http.StatusOK, f)
	default:
		adminError(w, http.StatusNotFound, "no admin route %s %s", r.Method, r.URL.Path)
	}
}

func validateFaults(f Faults) error {
	rate := func(name string, v float64) error {
		if v < 0 || v > 1 {
			return fmt.Errorf("%s must be between 0 and 1, got %v", name, v)
		}
		return nil
	}
	if err := rate("webhook_drop_rate", f.WebhookDropRate); err != nil {
		return err
	}
	if err := rate("webhook_duplicate_rate", f.WebhookDuplicateRate); err != nil {
		return err
	}
	for i, rf := range f.Routes {
		if err := rate(fmt.Sprintf("routes[%d].error_rate", i), rf.ErrorRate); err != nil {
			return err
		}
		if err := rate(fmt.Sprintf("routes[%d].secondary_rate_limit_rate", i), rf.SecondaryRateLimitRate); err != nil {
			return err
		}
		if err := rate(fmt.Sprintf("routes[%d].secondary_rate_limit_no_retry_after_rate", i), rf.SecondaryRateLimitNoRetryRate); err != nil {
			return err
		}
		if rf.ErrorStatus != 0 && (rf.ErrorStatus < 500 || rf.ErrorStatus > 599) {
			return fmt.Errorf("routes[%d].error_status must be a 5xx status, got %d", i, rf.ErrorStatus)
		}
		if rf.LatencyMS < 0 {
			return fmt.Errorf("routes[%d].latency_ms must not be negative", i)
		}
	}
	return nil
}

// CreateUser adds a user account and returns it with a personal token.
func (s *Server) CreateUser(login string) (*User, string, error) {
	if !loginRE.MatchString(login) {
		return nil, "", fmt.Errorf("login %q is not a valid GitHub login (letters, digits and hyphens, at most 39)", login)
	}
	s.mu.Lock()
	if s.user(login) != nil && s.user(login).Type != "Organization" {
		s.mu.Unlock()
		return nil, "", fmt.Errorf("user %q already exists", login)
	}
	u := s.user(login)
	if u == nil {
		u = &User{ID: s.nextID(), Login: login, CreatedAt: s.now()}
		s.st.Users[strings.ToLower(login)] = u
	}
	u.Type = "User"
	tok := newToken("ghp_")
	s.st.Tokens[tok] = &Token{Login: login}
	s.mu.Unlock()
	s.saveLogged()
	return u, tok, nil
}

// AppSpec describes an app to register.
type AppSpec struct {
	Slug          string            `json:"slug"`
	Name          string            `json:"name,omitempty"`
	Owner         string            `json:"owner,omitempty"`
	PublicKeyPEM  string            `json:"public_key_pem"`
	WebhookURL    string            `json:"webhook_url"`
	WebhookSecret string            `json:"webhook_secret"`
	Permissions   map[string]string `json:"permissions,omitempty"`
	Events        []string          `json:"events,omitempty"`
	// CallbackURLs are where the sign-in web flow may send browsers back.
	CallbackURLs []string `json:"callback_urls,omitempty"`
}

// DefaultAppPermissions are granted when an AppSpec names none.
var DefaultAppPermissions = map[string]string{
	"metadata": "read", "contents": "write", "pull_requests": "write", "issues": "write",
	"checks": "write", "statuses": "write", "deployments": "write", "actions": "write",
	"members": "read",
}

// CreateApp registers a GitHub App and its bot account "<slug>[bot]".
func (s *Server) CreateApp(in AppSpec) (*App, error) {
	if !loginRE.MatchString(in.Slug) {
		return nil, fmt.Errorf("slug %q is not valid (letters, digits and hyphens)", in.Slug)
	}
	if _, err := jwt.ParseRSAPublicKeyFromPEM([]byte(in.PublicKeyPEM)); err != nil {
		return nil, fmt.Errorf("public_key_pem is not an RSA public key in PEM: %v", err)
	}
	perms := in.Permissions
	if perms == nil {
		perms = DefaultAppPermissions
	}
	for k, v := range perms {
		if v != "read" && v != "write" && v != "admin" {
			return nil, fmt.Errorf("permission %s: %q is not read, write or admin", k, v)
		}
	}
	s.mu.Lock()
	for _, a := range s.st.Apps {
		if strings.EqualFold(a.Slug, in.Slug) {
			s.mu.Unlock()
			return nil, fmt.Errorf("app %q already exists", in.Slug)
		}
	}
	name := in.Name
	if name == "" {
		name = in.Slug
	}
	app := &App{
		ID: s.nextID(), Slug: in.Slug, Name: name, Owner: in.Owner, PublicKeyPEM: in.PublicKeyPEM,
		WebhookURL: in.WebhookURL, WebhookSecret: in.WebhookSecret, Permissions: perms, Events: in.Events,
		BotLogin: in.Slug + "[bot]", CreatedAt: s.now(),
		ClientID: "Iv1." + newToken("")[:16], ClientSecret: newToken(""), CallbackURLs: in.CallbackURLs,
	}
	if app.Owner == "" || s.user(app.Owner) == nil {
		app.Owner = ""
	}
	s.st.Apps[app.ID] = app
	bot := &User{ID: s.nextID(), Login: app.BotLogin, Type: "Bot", CreatedAt: s.now()}
	s.st.Users[strings.ToLower(bot.Login)] = bot
	if app.Owner == "" {
		app.Owner = bot.Login
	}
	s.mu.Unlock()
	s.saveLogged()
	return app, nil
}

// RepoSpec describes a repository to create. The owner account is created
// as an organization when no such user exists; the user of OwnerToken
// becomes an admin.
type RepoSpec struct {
	Owner         string `json:"owner"`
	Name          string `json:"name"`
	DefaultBranch string `json:"default_branch,omitempty"`
	OwnerToken    string `json:"owner_token,omitempty"`
	Private       *bool  `json:"private,omitempty"`
	Description   string `json:"description,omitempty"`
}

// CreateRepo creates a repository backed by a new bare git repository.
func (s *Server) CreateRepo(in RepoSpec) (*Repo, error) {
	if !loginRE.MatchString(in.Owner) {
		return nil, fmt.Errorf("owner %q is not a valid login", in.Owner)
	}
	if !repoNameRE.MatchString(in.Name) || strings.HasSuffix(in.Name, ".git") {
		return nil, fmt.Errorf("repository name %q is not valid", in.Name)
	}
	if in.DefaultBranch == "" {
		in.DefaultBranch = "main"
	}
	admin := ""
	if in.OwnerToken != "" {
		a, err := s.identify(in.OwnerToken)
		if err != nil || a.user == nil || a.inst != nil {
			return nil, fmt.Errorf("owner_token is not a user's token")
		}
		admin = a.user.Login
	}
	s.mu.Lock()
	if s.repo(in.Owner, in.Name) != nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("repository %s/%s already exists", in.Owner, in.Name)
	}
	owner := s.user(in.Owner)
	if owner == nil {
		owner = &User{ID: s.nextID(), Login: in.Owner, Type: "Organization", CreatedAt: s.now()}
		s.st.Users[strings.ToLower(in.Owner)] = owner
	}
	private := true
	if in.Private != nil {
		private = *in.Private
	}
	now := s.now()
	repo := &Repo{
		ID: s.nextID(), Owner: owner.Login, Name: in.Name, DefaultBranch: in.DefaultBranch,
		Private: private, Description: in.Description, CreatedAt: now, UpdatedAt: now, PushedAt: now,
	}
	repo.init()
	if admin != "" && !strings.EqualFold(admin, owner.Login) {
		repo.Collaborators[strings.ToLower(admin)] = "admin"
	}
	s.mu.Unlock()
	if err := initBare(s.repoDir(repo.Owner, repo.Name), repo.DefaultBranch); err != nil {
		return nil, fmt.Errorf("create %s: %w", repo.FullName(), err)
	}
	s.mu.Lock()
	s.st.Repos[strings.ToLower(repo.FullName())] = repo
	s.mu.Unlock()
	s.saveLogged()
	return repo, nil
}

// Install installs an app on repositories (all of one account) and returns
// the installation id.
func (s *Server) Install(appID int64, repos ...string) (int64, error) {
	s.mu.Lock()
	defer func() { s.mu.Unlock(); s.saveLogged() }()
	app := s.appByID(appID)
	if app == nil {
		return 0, fmt.Errorf("no app with id %d", appID)
	}
	if len(repos) == 0 {
		return 0, fmt.Errorf("repositories: name at least one owner/name")
	}
	var account string
	var names []string
	for _, full := range repos {
		o, n, ok := strings.Cut(full, "/")
		r := s.repo(o, n)
		if !ok || r == nil {
			return 0, fmt.Errorf("repositories: no repository %q", full)
		}
		if account != "" && !strings.EqualFold(account, r.Owner) {
			return 0, fmt.Errorf("repositories: an installation belongs to one account; %q is not %s's", full, account)
		}
		account = r.Owner
		names = append(names, r.FullName())
	}
	for _, in := range s.st.Installations {
		if in.AppID == appID && strings.EqualFold(in.Account, account) {
			var added []string
			for _, n := range names {
				if !contains(in.Repos, n) {
					in.Repos = append(in.Repos, n)
					added = append(added, n)
				}
			}
			if len(added) > 0 {
				s.queueDelivery(app, in.ID, nil, "installation_repositories", "added", obj{
					"action": "added", "installation": s.installationJSON(in), "repository_selection": "selected",
					"repositories_added": s.repoRefs(added), "repositories_removed": []obj{}, "requester": nil,
					"sender": s.userByLogin(account),
				}, false)
			}
			return in.ID, nil
		}
	}
	in := &Installation{ID: s.nextID(), AppID: appID, Account: account, Repos: names, CreatedAt: s.now()}
	s.st.Installations[in.ID] = in
	s.queueDelivery(app, in.ID, nil, "installation", "created", obj{
		"action": "created", "installation": s.installationJSON(in), "repositories": s.repoRefs(names),
		"requester": nil, "sender": s.userByLogin(account),
	}, false)
	return in.ID, nil
}

// repoRefs is the short repository list installation events carry.
// Callers hold s.mu.
func (s *Server) repoRefs(names []string) []obj {
	out := []obj{}
	for _, n := range names {
		if r := s.st.Repos[strings.ToLower(n)]; r != nil {
			out = append(out, obj{"id": r.ID, "node_id": nodeID("Repository", r.ID), "name": r.Name, "full_name": r.FullName(), "private": r.Private})
		}
	}
	return out
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if strings.EqualFold(v, x) {
			return true
		}
	}
	return false
}

// WorkflowDispatches returns the recorded workflow dispatches, oldest first.
func (s *Server) WorkflowDispatches() []WorkflowDispatch {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]WorkflowDispatch, 0, len(s.st.WorkflowDispatches))
	for _, d := range s.st.WorkflowDispatches {
		out = append(out, *d)
	}
	return out
}

// SetFaults replaces the fault-injection settings.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	s.setFaults(f)
	s.mu.Unlock()
	s.saveLogged()
}

// SetPrivate makes a repository private or public, as its owner can on
// GitHub; a public repository is readable, and open to comments, by anyone.
func (s *Server) SetPrivate(fullName string, private bool) error {
	s.mu.Lock()
	r := s.st.Repos[strings.ToLower(fullName)]
	if r == nil {
		s.mu.Unlock()
		return fmt.Errorf("no repository %q", fullName)
	}
	r.Private = private
	r.UpdatedAt = s.now()
	s.mu.Unlock()
	s.saveLogged()
	return nil
}
