package gh

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/go-github/v60/github"
	"github.com/rs/zerolog"
)

// Errors the core acts on. GitHub signals them with status codes and
// messages; Repo turns them into values so callers never parse HTTP.
var (
	// ErrNotFound: the ref, file or object does not exist (404).
	ErrNotFound = errors.New("not found")
	// ErrNotFastForward: GitHub refused `PATCH git/refs` with force=false
	// because the new commit does not descend from the ref's head.
	ErrNotFastForward = errors.New("update is not a fast forward")
	// ErrUnrelated: the two commits share no history (GitHub's compare
	// answers 404 "No common ancestor between …"). Asking again cannot
	// change that; only a push can.
	ErrUnrelated = errors.New("no common ancestor")
)

// maxPages bounds every paginated read (100 items a page): a list longer
// than 5,000 items is cut there and the caller is told (Truncated, or a
// log line), rather than hoist paging without end.
const maxPages = 50

// Repo is the narrow view of one repository that hoist's core needs, over a
// go-github client authenticated as the App's installation. Every method
// wraps its error with what it was doing.
type Repo struct {
	Client *github.Client
	Owner  string
	Name   string
}

// NewRepo returns a Repo for owner/name.
func NewRepo(c *github.Client, owner, name string) *Repo {
	return &Repo{Client: c, Owner: owner, Name: name}
}

// FullName is "owner/name".
func (r *Repo) FullName() string { return r.Owner + "/" + r.Name }

func status(resp *github.Response) int {
	if resp == nil || resp.Response == nil {
		return 0
	}
	return resp.StatusCode
}

// BranchHead returns the commit a branch points at, or ErrNotFound.
func (r *Repo) BranchHead(ctx context.Context, branch string) (string, error) {
	ref, resp, err := r.Client.Git.GetRef(ctx, r.Owner, r.Name, "heads/"+branch)
	if err != nil {
		if status(resp) == http.StatusNotFound {
			return "", fmt.Errorf("branch %s of %s: %w", branch, r.FullName(), ErrNotFound)
		}
		return "", fmt.Errorf("branch %s of %s: %w", branch, r.FullName(), err)
	}
	return ref.GetObject().GetSHA(), nil
}

// TagCommit resolves a tag (lightweight or annotated) to its commit.
func (r *Repo) TagCommit(ctx context.Context, tag string) (string, error) {
	c, resp, err := r.Client.Repositories.GetCommit(ctx, r.Owner, r.Name, "refs/tags/"+tag, nil)
	if err != nil {
		if status(resp) == http.StatusNotFound || status(resp) == http.StatusUnprocessableEntity {
			return "", fmt.Errorf("tag %s of %s: %w", tag, r.FullName(), ErrNotFound)
		}
		return "", fmt.Errorf("tag %s of %s: %w", tag, r.FullName(), err)
	}
	return c.GetSHA(), nil
}

// ResolveCommit returns the full id of the commit ref names (an
// abbreviated or full sha, a branch or a tag), or ErrNotFound.
func (r *Repo) ResolveCommit(ctx context.Context, ref string) (string, error) {
	c, resp, err := r.Client.Repositories.GetCommit(ctx, r.Owner, r.Name, ref, &github.ListOptions{PerPage: 1})
	if err != nil {
		if s := status(resp); s == http.StatusNotFound || s == http.StatusUnprocessableEntity {
			return "", fmt.Errorf("commit %s of %s: %w", ref, r.FullName(), ErrNotFound)
		}
		return "", fmt.Errorf("commit %s of %s: %w", ref, r.FullName(), err)
	}
	return c.GetSHA(), nil
}

// CommitTime is when sha was committed (the committer date).
func (r *Repo) CommitTime(ctx context.Context, sha string) (time.Time, error) {
	c, _, err := r.Client.Git.GetCommit(ctx, r.Owner, r.Name, sha)
	if err != nil {
		return time.Time{}, fmt.Errorf("commit %s: %w", short(sha), err)
	}
	return c.GetCommitter().GetDate().Time, nil
}

// FastForward moves branch to sha with GitHub's compare-and-swap
// (`force: false`): GitHub refuses unless sha descends from the branch's
// current head, so a commit pushed meanwhile is never lost. A missing branch
// is created. Returns ErrNotFastForward when the target has diverged.
func (r *Repo) FastForward(ctx context.Context, branch, sha string) error {
	return r.updateRef(ctx, branch, sha, false)
}

// ForceMove points branch at sha even when that is not a fast-forward. Only
// an explicit, permission-checked and audited rollback may call it.
func (r *Repo) ForceMove(ctx context.Context, branch, sha string) error {
	return r.updateRef(ctx, branch, sha, true)
}

func (r *Repo) updateRef(ctx context.Context, branch, sha string, force bool) error {
	ref := &github.Reference{Ref: github.String("refs/heads/" + branch), Object: &github.GitObject{SHA: github.String(sha)}}
	_, resp, err := r.Client.Git.UpdateRef(ctx, r.Owner, r.Name, ref, force)
	if err == nil {
		return nil
	}
	switch status(resp) {
	case http.StatusUnprocessableEntity:
		if strings.Contains(strings.ToLower(err.Error()), "fast forward") {
			return fmt.Errorf("move %s to %s: %w", branch, short(sha), ErrNotFastForward)
		}
		if strings.Contains(strings.ToLower(err.Error()), "does not exist") {
			return r.createBranch(ctx, branch, sha)
		}
	case http.StatusNotFound:
		return r.createBranch(ctx, branch, sha)
	}
	return fmt.Errorf("move %s to %s: %w", branch, short(sha), err)
}

func (r *Repo) createBranch(ctx context.Context, branch, sha string) error {
	_, _, err := r.Client.Git.CreateRef(ctx, r.Owner, r.Name, &github.Reference{
		Ref: github.String("refs/heads/" + branch), Object: &github.GitObject{SHA: github.String(sha)},
	})
	if err != nil {
		return fmt.Errorf("create branch %s at %s: %w", branch, short(sha), err)
	}
	return nil
}

// Commit is one commit as the core sees it.
type Commit struct {
	SHA     string
	Subject string
	Author  string // GitHub login when known, else the git author name
	// At is the commit's committer date (as CommitTime reads it).
	At time.Time
}

// Comparison is base...head: how head relates to base and the commits head
// has that base lacks (oldest first).
type Comparison struct {
	Status   string // "ahead", "behind", "diverged" or "identical"
	AheadBy  int
	BehindBy int
	Commits  []Commit
	// Truncated: head has more than maxPages pages of commits; Commits
	// holds the oldest of them and AheadBy still counts them all.
	Truncated bool
}

// Compare returns how head relates to base, reading every page of commits
// (GitHub stops at 250 unless asked for pages). Two unrelated histories
// give ErrUnrelated.
func (r *Repo) Compare(ctx context.Context, base, head string) (Comparison, error) {
	var out Comparison
	opts := &github.ListOptions{PerPage: 100, Page: 1}
	for page := 0; ; page++ {
		if page == maxPages {
			out.Truncated = true
			zerolog.Ctx(ctx).Warn().Str("repo", r.FullName()).Str("base", base).Str("head", head).
				Int("ahead_by", out.AheadBy).Int("read", len(out.Commits)).Msg("compare: too many commits, the list is cut")
			break
		}
		cmp, resp, err := r.Client.Repositories.CompareCommits(ctx, r.Owner, r.Name, base, head, opts)
		if err != nil {
			if status(resp) == http.StatusNotFound && strings.Contains(strings.ToLower(errMessage(err)), "no common ancestor") {
				return Comparison{}, fmt.Errorf("compare %s...%s: %w", short(base), short(head), ErrUnrelated)
			}
			return Comparison{}, fmt.Errorf("compare %s...%s: %w", short(base), short(head), err)
		}
		out.Status, out.AheadBy, out.BehindBy = cmp.GetStatus(), cmp.GetAheadBy(), cmp.GetBehindBy()
		for _, c := range cmp.Commits {
			author := c.GetAuthor().GetLogin()
			if author == "" {
				author = c.GetCommit().GetAuthor().GetName()
			}
			subject, _, _ := strings.Cut(c.GetCommit().GetMessage(), "\n")
			out.Commits = append(out.Commits, Commit{SHA: c.GetSHA(), Subject: subject, Author: author, At: c.GetCommit().GetCommitter().GetDate().Time})
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return out, nil
}

// CompareStatus is Compare's Status alone ("ahead", "behind", "diverged"
// or "identical"), read with one commit a page: enough for an ancestry
// question, without paging through the commits.
func (r *Repo) CompareStatus(ctx context.Context, base, head string) (string, error) {
	cmp, resp, err := r.Client.Repositories.CompareCommits(ctx, r.Owner, r.Name, base, head, &github.ListOptions{PerPage: 1})
	if err != nil {
		if status(resp) == http.StatusNotFound && strings.Contains(strings.ToLower(errMessage(err)), "no common ancestor") {
			return "", fmt.Errorf("compare %s...%s: %w", short(base), short(head), ErrUnrelated)
		}
		return "", fmt.Errorf("compare %s...%s: %w", short(base), short(head), err)
	}
	return cmp.GetStatus(), nil
}

func errMessage(err error) string {
	var er *github.ErrorResponse
	if errors.As(err, &er) {
		return er.Message
	}
	return err.Error()
}

// CheckState is the latest result of one named check on a commit, whichever
// source reported it (a check run, a commit status or a workflow run).
type CheckState struct {
	Name       string
	Source     string // "check_run", "status" or "workflow_run"
	Status     string // queued, in_progress, completed (statuses: completed unless pending)
	Conclusion string // success, failure, neutral, skipped, cancelled, timed_out, action_required; statuses map to success/failure/pending
	ID         int64
	// AppSlug is the app that reported a check run (github-actions for a
	// workflow run); Creator the login that created a commit status.
	AppSlug string
	Creator string
	// Workflow is the name of the Actions workflow whose run a check run
	// is a job of (GitHub names the job's check run after the job alone;
	// branch protection shows "<workflow> / <job>").
	Workflow string
}

// maxStatusPages bounds the commit statuses read for one commit (GitHub
// keeps at most 1,000 per context and commit).
const maxStatusPages = 10

// Checks lists every check run, commit status and workflow run on sha,
// newest first within each source, so a caller keeps the first per name.
func (r *Repo) Checks(ctx context.Context, sha string) ([]CheckState, error) {
	var runs []*github.CheckRun
	opts := &github.ListCheckRunsOptions{Filter: github.String("latest"), ListOptions: github.ListOptions{PerPage: 100}}
	for page := 0; page < maxPages; page++ {
		res, resp, err := r.Client.Checks.ListCheckRunsForRef(ctx, r.Owner, r.Name, sha, opts)
		if err != nil {
			return nil, fmt.Errorf("check runs of %s: %w", short(sha), err)
		}
		runs = append(runs, res.CheckRuns...)
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	// The list of statuses, newest first, names each one's creator (the
	// combined status does not); a gate may require a creator.
	var statuses []*github.RepoStatus
	sopts := &github.ListOptions{PerPage: 100}
	for page := 0; page < maxStatusPages; page++ {
		list, resp, err := r.Client.Repositories.ListStatuses(ctx, r.Owner, r.Name, sha, sopts)
		if err != nil {
			return nil, fmt.Errorf("statuses of %s: %w", short(sha), err)
		}
		statuses = append(statuses, list...)
		if resp.NextPage == 0 {
			break
		}
		sopts.Page = resp.NextPage
	}
	var wruns []*github.WorkflowRun
	wopts := &github.ListWorkflowRunsOptions{HeadSHA: sha, ListOptions: github.ListOptions{PerPage: 100}}
	for page := 0; page < maxPages; page++ {
		list, resp, err := r.Client.Actions.ListRepositoryWorkflowRuns(ctx, r.Owner, r.Name, wopts)
		if err != nil {
			// Workflow runs are optional facts: a GitHub without Actions (or
			// without the permission) still has check runs and statuses.
			if s := errStatus(err); s == http.StatusNotFound || s == http.StatusForbidden {
				break
			}
			return nil, fmt.Errorf("workflow runs of %s: %w", short(sha), err)
		}
		wruns = append(wruns, list.WorkflowRuns...)
		if resp.NextPage == 0 {
			break
		}
		wopts.Page = resp.NextPage
	}
	return checkStates(runs, statuses, wruns), nil
}

// checkStates turns what GitHub lists for a commit into check states. Each
// workflow run has a check suite of its own holding its jobs' check runs:
// that names the workflow of each job, as branch protection shows it
// ("ci / test").
func checkStates(runs []*github.CheckRun, statuses []*github.RepoStatus, wruns []*github.WorkflowRun) []CheckState {
	workflowOf := map[int64]string{}
	for _, run := range wruns {
		if run.GetCheckSuiteID() != 0 {
			workflowOf[run.GetCheckSuiteID()] = run.GetName()
		}
	}
	out := make([]CheckState, 0, len(runs)+len(statuses)+len(wruns))
	for _, cr := range runs {
		out = append(out, CheckState{Name: cr.GetName(), Source: "check_run", Status: cr.GetStatus(), Conclusion: cr.GetConclusion(),
			ID: cr.GetID(), AppSlug: cr.GetApp().GetSlug(), Workflow: workflowOf[cr.GetCheckSuite().GetID()]})
	}
	for _, st := range statuses {
		cs := CheckState{Name: st.GetContext(), Source: "status", Status: "completed", ID: st.GetID(), Creator: st.GetCreator().GetLogin()}
		switch st.GetState() {
		case "success":
			cs.Conclusion = "success"
		case "pending":
			cs.Status, cs.Conclusion = "in_progress", ""
		default: // failure, error
			cs.Conclusion = "failure"
		}
		out = append(out, cs)
	}
	for _, run := range wruns {
		out = append(out, CheckState{Name: run.GetName(), Source: "workflow_run", Status: run.GetStatus(), Conclusion: run.GetConclusion(), ID: run.GetID(), AppSlug: "github-actions"})
	}
	return out
}

func errStatus(err error) int {
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	return 0
}

// CheckURLs maps the names of the check runs on sha to their web pages.
func (r *Repo) CheckURLs(ctx context.Context, sha string) (map[string]string, error) {
	opts := &github.ListCheckRunsOptions{Filter: github.String("latest"), ListOptions: github.ListOptions{PerPage: 100}}
	out := map[string]string{}
	for page := 0; page < maxPages; page++ {
		res, resp, err := r.Client.Checks.ListCheckRunsForRef(ctx, r.Owner, r.Name, sha, opts)
		if err != nil {
			return nil, fmt.Errorf("check runs of %s: %w", short(sha), err)
		}
		for _, cr := range res.CheckRuns {
			if _, ok := out[cr.GetName()]; !ok && cr.GetHTMLURL() != "" {
				out[cr.GetName()] = cr.GetHTMLURL()
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return out, nil
}

// Deployment records an environment change as a GitHub Deployment.
type Deployment struct {
	ID  int64
	SHA string
	Env string
}

// CreateDeployment creates a deployment of sha to env. auto_merge is off and
// no contexts are required because hoist has already evaluated its gates.
func (r *Repo) CreateDeployment(ctx context.Context, sha, env, description string, production bool, payload map[string]any) (Deployment, error) {
	req := &github.DeploymentRequest{
		Ref:                   github.String(sha),
		Task:                  github.String("deploy"),
		AutoMerge:             github.Bool(false),
		RequiredContexts:      &[]string{},
		Environment:           github.String(env),
		Description:           github.String(truncateRunes(description, 140)),
		ProductionEnvironment: github.Bool(production),
		Payload:               payload,
	}
	d, _, err := r.Client.Repositories.CreateDeployment(ctx, r.Owner, r.Name, req)
	if err != nil {
		return Deployment{}, fmt.Errorf("create deployment of %s to %s: %w", short(sha), env, err)
	}
	return Deployment{ID: d.GetID(), SHA: sha, Env: env}, nil
}

// SetDeploymentStatus reports a deployment's state. On success GitHub marks
// the environment's earlier deployments inactive (auto_inactive).
func (r *Repo) SetDeploymentStatus(ctx context.Context, id int64, state, envURL, logURL, description string) error {
	req := &github.DeploymentStatusRequest{
		State:        github.String(state),
		Description:  github.String(truncateRunes(description, 140)),
		AutoInactive: github.Bool(true),
	}
	if envURL != "" {
		req.EnvironmentURL = github.String(envURL)
	}
	if logURL != "" {
		req.LogURL = github.String(logURL)
	}
	if _, _, err := r.Client.Repositories.CreateDeploymentStatus(ctx, r.Owner, r.Name, id, req); err != nil {
		return fmt.Errorf("deployment %d status %s: %w", id, state, err)
	}
	return nil
}

// Deployments lists up to limit deployments of env, newest first, paging
// past GitHub's 100 a page when limit asks for more.
func (r *Repo) Deployments(ctx context.Context, env string, limit int) ([]Deployment, error) {
	opts := &github.DeploymentsListOptions{Environment: env, ListOptions: github.ListOptions{PerPage: min(max(limit, 1), 100)}}
	var out []Deployment
	for page := 0; page < maxPages && len(out) < limit; page++ {
		ds, resp, err := r.Client.Repositories.ListDeployments(ctx, r.Owner, r.Name, opts)
		if err != nil {
			return nil, fmt.Errorf("deployments of %s: %w", env, err)
		}
		for _, d := range ds {
			if len(out) < limit {
				out = append(out, Deployment{ID: d.GetID(), SHA: d.GetSHA(), Env: d.GetEnvironment()})
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return out, nil
}

// DeploymentWith returns the id of a deployment of sha to env whose
// payload has key set to value, or 0 when there is none: how a retried
// publication finds the deployment an earlier attempt created (its answer
// lost, or a later write failing) instead of creating a second one.
func (r *Repo) DeploymentWith(ctx context.Context, env, sha, key, value string) (int64, error) {
	opts := &github.DeploymentsListOptions{Environment: env, SHA: sha, ListOptions: github.ListOptions{PerPage: 100}}
	for page := 0; page < maxPages; page++ {
		ds, resp, err := r.Client.Repositories.ListDeployments(ctx, r.Owner, r.Name, opts)
		if err != nil {
			return 0, fmt.Errorf("deployments of %s to %s: %w", short(sha), env, err)
		}
		for _, d := range ds {
			var payload map[string]any
			if len(d.Payload) > 0 && json.Unmarshal(d.Payload, &payload) == nil && fmt.Sprint(payload[key]) == value {
				return d.GetID(), nil
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return 0, nil
}

// File returns a file's content at ref (up to the contents API's 1 MB), or
// ErrNotFound.
func (r *Repo) File(ctx context.Context, path, ref string) ([]byte, error) {
	f, _, resp, err := r.Client.Repositories.GetContents(ctx, r.Owner, r.Name, path, &github.RepositoryContentGetOptions{Ref: ref})
	if err != nil {
		if status(resp) == http.StatusNotFound {
			return nil, fmt.Errorf("%s at %s: %w", path, ref, ErrNotFound)
		}
		return nil, fmt.Errorf("%s at %s: %w", path, ref, err)
	}
	if f == nil {
		return nil, fmt.Errorf("%s at %s: a folder, not a file: %w", path, ref, ErrNotFound)
	}
	content, err := f.GetContent()
	if err != nil {
		return nil, fmt.Errorf("%s at %s: %w", path, ref, err)
	}
	return []byte(content), nil
}

// PullRequest is the part of a pull request the core reads.
type PullRequest struct {
	Number int
	Head   string
	Base   string
	Title  string
	Body   string
	URL    string
	Author string
	State  string // open or closed
	// HeadSHA is the head branch's commit; Merged and MergeCommitSHA say
	// whether and how it was merged.
	HeadSHA string
	// HeadRepo is the repository of the head branch (owner/name): another
	// one for a fork's pull request, whose Head names a branch of the fork,
	// not of this repository.
	HeadRepo       string
	Merged         bool
	MergeCommitSHA string
}

// OpenPull finds the open pull request from head into base, if any.
func (r *Repo) OpenPull(ctx context.Context, head, base string) (*PullRequest, error) {
	prs, _, err := r.Client.PullRequests.List(ctx, r.Owner, r.Name, &github.PullRequestListOptions{
		State: "open", Head: r.Owner + ":" + head, Base: base, ListOptions: github.ListOptions{PerPage: 10},
	})
	if err != nil {
		return nil, fmt.Errorf("find pull request %s → %s: %w", head, base, err)
	}
	for _, pr := range prs {
		// Only a branch of this repository: a fork's branch of the same
		// name is someone else's.
		if pr.GetHead().GetRef() == head && pr.GetBase().GetRef() == base && !isFork(pr, r.FullName()) {
			return toPull(pr), nil
		}
	}
	return nil, nil
}

// Pull reads one pull request.
func (r *Repo) Pull(ctx context.Context, number int) (*PullRequest, error) {
	pr, _, err := r.Client.PullRequests.Get(ctx, r.Owner, r.Name, number)
	if err != nil {
		return nil, fmt.Errorf("pull request #%d: %w", number, err)
	}
	return toPull(pr), nil
}

// isFork reports whether pr's head is a branch of another repository than
// fullName.
func isFork(pr *github.PullRequest, fullName string) bool {
	head := pr.GetHead().GetRepo().GetFullName()
	return head != "" && !strings.EqualFold(head, fullName)
}

// IsFork reports whether the pull request's head lives in another
// repository than fullName.
func (pr *PullRequest) IsFork(fullName string) bool {
	return pr.HeadRepo != "" && !strings.EqualFold(pr.HeadRepo, fullName)
}

func toPull(pr *github.PullRequest) *PullRequest {
	return &PullRequest{Number: pr.GetNumber(), Head: pr.GetHead().GetRef(), Base: pr.GetBase().GetRef(),
		Title: pr.GetTitle(), Body: pr.GetBody(), URL: pr.GetHTMLURL(), Author: pr.GetUser().GetLogin(),
		State: pr.GetState(), HeadSHA: pr.GetHead().GetSHA(), HeadRepo: pr.GetHead().GetRepo().GetFullName(), Merged: pr.GetMerged() || pr.MergedAt != nil, MergeCommitSHA: pr.GetMergeCommitSHA()}
}

// UpsertPull keeps one open pull request head → base with this title and
// body: it edits the existing one or creates it.
func (r *Repo) UpsertPull(ctx context.Context, head, base, title, body string) (*PullRequest, error) {
	existing, err := r.OpenPull(ctx, head, base)
	if err != nil {
		return nil, err
	}
	if existing != nil {
		if existing.Body == body && existing.Title == title {
			return existing, nil
		}
		pr, _, err := r.Client.PullRequests.Edit(ctx, r.Owner, r.Name, existing.Number, &github.PullRequest{Title: github.String(title), Body: github.String(body)})
		if err != nil {
			return nil, fmt.Errorf("update pull request #%d: %w", existing.Number, err)
		}
		return toPull(pr), nil
	}
	pr, _, err := r.Client.PullRequests.Create(ctx, r.Owner, r.Name, &github.NewPullRequest{
		Title: github.String(title), Head: github.String(head), Base: github.String(base), Body: github.String(body),
	})
	if err != nil {
		return nil, fmt.Errorf("open pull request %s → %s: %w", head, base, err)
	}
	return toPull(pr), nil
}

// Review is one review of a pull request.
type Review struct {
	User  string
	State string // APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED
	SHA   string
	At    time.Time
}

// Reviews lists a pull request's reviews, oldest first.
func (r *Repo) Reviews(ctx context.Context, number int) ([]Review, error) {
	var out []Review
	opts := &github.ListOptions{PerPage: 100}
	for {
		rs, resp, err := r.Client.PullRequests.ListReviews(ctx, r.Owner, r.Name, number, opts)
		if err != nil {
			return nil, fmt.Errorf("reviews of #%d: %w", number, err)
		}
		for _, rv := range rs {
			out = append(out, Review{User: rv.GetUser().GetLogin(), State: rv.GetState(), SHA: rv.GetCommitID(), At: rv.GetSubmittedAt().Time})
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// DispatchWorkflow starts a workflow_dispatch run of workflow (its file
// name) on ref with inputs.
func (r *Repo) DispatchWorkflow(ctx context.Context, workflow, ref string, inputs map[string]any) error {
	_, err := r.Client.Actions.CreateWorkflowDispatchEventByFileName(ctx, r.Owner, r.Name, workflow, github.CreateWorkflowDispatchEventRequest{Ref: ref, Inputs: inputs})
	if err != nil {
		return fmt.Errorf("dispatch workflow %s on %s: %w", workflow, ref, err)
	}
	return nil
}

// short is the 7-character abbreviation people read in logs and messages.
func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// truncateRunes cuts s to at most n characters (GitHub counts characters in
// descriptions), never inside a UTF-8 sequence.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	rs := []rune(s)
	return string(rs[:n-1]) + "…"
}
