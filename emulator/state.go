package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const stateFile = "state.json"

// state is everything the emulator knows besides git objects and refs. It is
// plain data so that it can be saved as one JSON snapshot.
type state struct {
	NextID        int64                   `json:"next_id"`
	Users         map[string]*User        `json:"users"` // by lower-case login
	Apps          map[int64]*App          `json:"apps"`
	Installations map[int64]*Installation `json:"installations"`
	Tokens        map[string]*Token       `json:"tokens"`
	Repos         map[string]*Repo        `json:"repos"` // by lower-case full name
	Deliveries    []*Delivery             `json:"deliveries"`
	// HookLog is the Apps' webhook delivery log: one entry per attempt,
	// oldest first, kept for HookLogRetention.
	HookLog            []*Attempt          `json:"hook_log,omitempty"`
	WorkflowDispatches []*WorkflowDispatch `json:"workflow_dispatches"`
	Faults             Faults              `json:"faults"`
	Teams              map[string]*Team    `json:"teams,omitempty"` // by lower-case "org/slug"
	// CustomRoles are organizations' custom repository roles: by
	// lower-case "org/name", the base role they extend.
	CustomRoles map[string]string          `json:"custom_roles,omitempty"`
	Extra       map[string]json.RawMessage `json:"extra,omitempty"`
}

// User is a GitHub account: a person (User), an organization
// (Organization) or an app's bot (Bot, login "<slug>[bot]").
type User struct {
	ID        int64     `json:"id"`
	Login     string    `json:"login"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"created_at"`
}

// App is a registered GitHub App.
type App struct {
	ID            int64             `json:"id"`
	Slug          string            `json:"slug"`
	Name          string            `json:"name"`
	Owner         string            `json:"owner"`
	PublicKeyPEM  string            `json:"public_key_pem"`
	WebhookURL    string            `json:"webhook_url"`
	WebhookSecret string            `json:"webhook_secret"`
	Permissions   map[string]string `json:"permissions"`
	Events        []string          `json:"events"`
	BotLogin      string            `json:"bot_login"`
	CreatedAt     time.Time         `json:"created_at"`
	// ClientID and ClientSecret are the app's OAuth credentials; people
	// sign in to it at CallbackURLs (the web flow, oauth.go).
	ClientID     string   `json:"client_id,omitempty"`
	ClientSecret string   `json:"client_secret,omitempty"`
	CallbackURLs []string `json:"callback_urls,omitempty"`
}

// Installation puts an app on some repositories of one account.
type Installation struct {
	ID        int64     `json:"id"`
	AppID     int64     `json:"app_id"`
	Account   string    `json:"account"`
	Repos     []string  `json:"repos"` // full names
	CreatedAt time.Time `json:"created_at"`
}

// Token authenticates a user (personal token) or an installation.
type Token struct {
	Login          string    `json:"login,omitempty"`
	InstallationID int64     `json:"installation_id,omitempty"`
	ExpiresAt      time.Time `json:"expires_at,omitempty"`
	// Repos and Permissions narrow an installation token when it was
	// created with "repositories" or "permissions".
	Repos       []string          `json:"repos,omitempty"`
	Permissions map[string]string `json:"permissions,omitempty"`
	// Download tokens only fetch archives through /codeload/.
	Download bool `json:"download,omitempty"`
	// AppID marks a user-to-server token: the user acting through that
	// app, limited to the repositories of its installations.
	AppID int64 `json:"app_id,omitempty"`
}

// Repo is one repository's metadata and everything GitHub keeps beside git.
type Repo struct {
	ID            int64             `json:"id"`
	Owner         string            `json:"owner"`
	Name          string            `json:"name"`
	DefaultBranch string            `json:"default_branch"`
	Private       bool              `json:"private"`
	Description   string            `json:"description"`
	Collaborators map[string]string `json:"collaborators"` // lower login -> role
	CreatedAt     time.Time         `json:"created_at"`
	UpdatedAt     time.Time         `json:"updated_at"`
	PushedAt      time.Time         `json:"pushed_at"`

	NextNumber int                `json:"next_number"`
	Issues     map[int]*Issue     `json:"issues"`
	Comments   map[int64]*Comment `json:"comments"`
	// CommitComments are comments on commits (GitHub keeps them apart
	// from issue comments, with their own URLs and reactions).
	CommitComments map[int64]*CommitComment `json:"commit_comments,omitempty"`
	Reactions      map[int64]*Reaction      `json:"reactions"`
	Reviews        map[int64]*Review        `json:"reviews"`
	CheckSuites    map[int64]*CheckSuite    `json:"check_suites"`
	CheckRuns      map[int64]*CheckRun      `json:"check_runs"`
	Statuses       []*Status                `json:"statuses"`
	Deployments    map[int64]*Deployment    `json:"deployments"`
	DepStatuses    map[int64]*DeployState   `json:"deployment_statuses"`
	// WorkflowRuns are the runs of dispatched workflows; Workflows the
	// workflow files that ran, by path.
	WorkflowRuns map[int64]*WorkflowRun `json:"workflow_runs,omitempty"`
	Workflows    map[string]*Workflow   `json:"workflows,omitempty"`
}

func (r *Repo) FullName() string { return r.Owner + "/" + r.Name }

// Issue is an issue or, with Pull set, a pull request (they share numbers).
type Issue struct {
	ID        int64      `json:"id"`
	Number    int        `json:"number"`
	Title     string     `json:"title"`
	Body      string     `json:"body"`
	User      string     `json:"user"`
	State     string     `json:"state"`
	Labels    []string   `json:"labels"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	ClosedAt  *time.Time `json:"closed_at,omitempty"`
	Pull      *Pull      `json:"pull,omitempty"`
}

// Pull is what a pull request adds to an issue.
type Pull struct {
	PullID         int64      `json:"pull_id"`
	Head           string     `json:"head"` // branch name
	Base           string     `json:"base"`
	HeadSHA        string     `json:"head_sha"` // last known head, kept after the branch is deleted
	Draft          bool       `json:"draft"`
	Merged         bool       `json:"merged"`
	MergedAt       *time.Time `json:"merged_at,omitempty"`
	MergedBy       string     `json:"merged_by,omitempty"`
	MergeCommitSHA string     `json:"merge_commit_sha,omitempty"`
}

// Comment is an issue (or pull request conversation) comment.
type Comment struct {
	ID        int64     `json:"id"`
	Issue     int       `json:"issue"`
	User      string    `json:"user"`
	Body      string    `json:"body"`
	AppID     int64     `json:"app_id,omitempty"` // set when made with an installation token
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// CommitComment is a comment on a commit, on the whole commit or (Path
// set) on a line of one of its files.
type CommitComment struct {
	ID        int64     `json:"id"`
	CommitID  string    `json:"commit_id"`
	User      string    `json:"user"`
	Body      string    `json:"body"`
	Path      string    `json:"path,omitempty"`
	Position  *int      `json:"position,omitempty"`
	Line      *int      `json:"line,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Reaction is an emoji on an issue comment (Comment set), a commit comment
// (CommitComment set) or an issue.
type Reaction struct {
	ID            int64     `json:"id"`
	Comment       int64     `json:"comment,omitempty"`
	CommitComment int64     `json:"commit_comment,omitempty"`
	Issue         int       `json:"issue,omitempty"`
	User          string    `json:"user"`
	Content       string    `json:"content"`
	CreatedAt     time.Time `json:"created_at"`
}

// Review is a pull request review.
type Review struct {
	ID          int64     `json:"id"`
	Pull        int       `json:"pull"`
	User        string    `json:"user"`
	Body        string    `json:"body"`
	State       string    `json:"state"` // APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED
	CommitID    string    `json:"commit_id"`
	SubmittedAt time.Time `json:"submitted_at"`
}

// CheckSuite groups one app's check runs on one commit.
type CheckSuite struct {
	ID         int64     `json:"id"`
	AppID      int64     `json:"app_id"`
	HeadSHA    string    `json:"head_sha"`
	HeadBranch string    `json:"head_branch"`
	Before     string    `json:"before"`
	After      string    `json:"after"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// CheckRun is one check of an app on a commit.
type CheckRun struct {
	ID          int64            `json:"id"`
	SuiteID     int64            `json:"suite_id"`
	AppID       int64            `json:"app_id"`
	Name        string           `json:"name"`
	HeadSHA     string           `json:"head_sha"`
	Status      string           `json:"status"`
	Conclusion  string           `json:"conclusion,omitempty"`
	DetailsURL  string           `json:"details_url,omitempty"`
	ExternalID  string           `json:"external_id,omitempty"`
	StartedAt   *time.Time       `json:"started_at,omitempty"`
	CompletedAt *time.Time       `json:"completed_at,omitempty"`
	Output      CheckOutput      `json:"output"`
	Annotations []map[string]any `json:"annotations,omitempty"`
	Actions     []map[string]any `json:"actions,omitempty"`
}

// CheckOutput is a check run's text.
type CheckOutput struct {
	Title   string           `json:"title,omitempty"`
	Summary string           `json:"summary,omitempty"`
	Text    string           `json:"text,omitempty"`
	Images  []map[string]any `json:"images,omitempty"`
}

// Status is a commit status.
type Status struct {
	ID          int64     `json:"id"`
	SHA         string    `json:"sha"`
	State       string    `json:"state"`
	TargetURL   string    `json:"target_url,omitempty"`
	Description string    `json:"description,omitempty"`
	Context     string    `json:"context"`
	Creator     string    `json:"creator"`
	CreatedAt   time.Time `json:"created_at"`
}

// Deployment is a request to deploy a ref to an environment.
type Deployment struct {
	ID          int64     `json:"id"`
	SHA         string    `json:"sha"`
	Ref         string    `json:"ref"`
	Task        string    `json:"task"`
	Environment string    `json:"environment"`
	Description string    `json:"description,omitempty"`
	Payload     any       `json:"payload"`
	Transient   bool      `json:"transient"`
	Production  bool      `json:"production"`
	Creator     string    `json:"creator"`
	AppID       int64     `json:"app_id,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// DeployState is a deployment status.
type DeployState struct {
	ID             int64     `json:"id"`
	Deployment     int64     `json:"deployment"`
	State          string    `json:"state"`
	Description    string    `json:"description"`
	Environment    string    `json:"environment"`
	TargetURL      string    `json:"target_url"`
	LogURL         string    `json:"log_url"`
	EnvironmentURL string    `json:"environment_url"`
	Creator        string    `json:"creator"`
	CreatedAt      time.Time `json:"created_at"`
}

// WorkflowDispatch records a POST .../actions/workflows/{id}/dispatches.
type WorkflowDispatch struct {
	Repo     string         `json:"repository"`
	Workflow string         `json:"workflow"`
	Ref      string         `json:"ref"`
	Inputs   map[string]any `json:"inputs"`
	Actor    string         `json:"actor"`
	At       time.Time      `json:"created_at"`
	// RunID is the workflow run the dispatch started.
	RunID int64 `json:"run_id,omitempty"`
}

func newState() *state {
	return &state{
		NextID:        1000,
		Users:         map[string]*User{},
		Apps:          map[int64]*App{},
		Installations: map[int64]*Installation{},
		Tokens:        map[string]*Token{},
		Repos:         map[string]*Repo{},
	}
}

func loadState(path string) (*state, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return newState(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("emulator: read state: %w", err)
	}
	st := newState()
	if err := json.Unmarshal(data, st); err != nil {
		return nil, fmt.Errorf("emulator: state file %s is not valid JSON: %w", path, err)
	}
	for _, r := range st.Repos {
		r.init()
	}
	return st, nil
}

func (r *Repo) init() {
	if r.Collaborators == nil {
		r.Collaborators = map[string]string{}
	}
	if r.Issues == nil {
		r.Issues = map[int]*Issue{}
	}
	if r.Comments == nil {
		r.Comments = map[int64]*Comment{}
	}
	if r.CommitComments == nil {
		r.CommitComments = map[int64]*CommitComment{}
	}
	if r.Reactions == nil {
		r.Reactions = map[int64]*Reaction{}
	}
	if r.Reviews == nil {
		r.Reviews = map[int64]*Review{}
	}
	if r.CheckSuites == nil {
		r.CheckSuites = map[int64]*CheckSuite{}
	}
	if r.CheckRuns == nil {
		r.CheckRuns = map[int64]*CheckRun{}
	}
	if r.Deployments == nil {
		r.Deployments = map[int64]*Deployment{}
	}
	if r.DepStatuses == nil {
		r.DepStatuses = map[int64]*DeployState{}
	}
	if r.WorkflowRuns == nil {
		r.WorkflowRuns = map[int64]*WorkflowRun{}
	}
	if r.Workflows == nil {
		r.Workflows = map[string]*Workflow{}
	}
}

// save writes the snapshot atomically (temp file and rename).
func (s *Server) save() error {
	s.mu.Lock()
	data, err := json.Marshal(s.st)
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("emulator: encode state: %w", err)
	}
	path := filepath.Join(s.opts.DataDir, stateFile)
	tmp, err := os.CreateTemp(s.opts.DataDir, ".state-*")
	if err != nil {
		return fmt.Errorf("emulator: save state: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("emulator: save state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("emulator: save state: %w", err)
	}
	return os.Rename(tmp.Name(), path)
}

// saveLogged asks for a snapshot after a mutation. A background saver
// writes at most every saveInterval, so a burst of requests costs one
// write, not one each (the snapshot holds every delivery and grows); Close
// writes the last one. A failure is logged, not fatal: the live state is
// still right.
func (s *Server) saveLogged() {
	select {
	case s.dirty <- struct{}{}:
	default:
	}
}

const saveInterval = 100 * time.Millisecond

func (s *Server) saver() {
	defer close(s.saverDone)
	for {
		select {
		case <-s.dirty:
		case <-s.stopSaver:
			return
		}
		if err := s.save(); err != nil {
			s.log.Error().Err(err).Msg("save emulator state")
		}
		select {
		case <-time.After(saveInterval):
		case <-s.stopSaver:
			return
		}
	}
}

// nextID hands out ids; callers hold s.mu.
func (s *Server) nextID() int64 {
	s.st.NextID++
	return s.st.NextID
}

// Lookups; callers hold s.mu.

func (s *Server) user(login string) *User { return s.st.Users[strings.ToLower(login)] }

func (s *Server) repo(owner, name string) *Repo {
	return s.st.Repos[strings.ToLower(owner+"/"+name)]
}

func (s *Server) appByID(id int64) *App { return s.st.Apps[id] }

// installationsFor lists the installations that include a repository.
func (s *Server) installationsFor(fullName string) []*Installation {
	var out []*Installation
	for _, in := range s.st.Installations {
		for _, r := range in.Repos {
			if strings.EqualFold(r, fullName) {
				out = append(out, in)
				break
			}
		}
	}
	sortByID(out, func(i *Installation) int64 { return i.ID })
	return out
}

func (s *Server) installationOf(appID int64, fullName string) *Installation {
	for _, in := range s.installationsFor(fullName) {
		if in.AppID == appID {
			return in
		}
	}
	return nil
}
