package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// GitHub Actions, as far as a promotion bot sees it: a dispatched workflow
// becomes a workflow run with a check suite of the github-actions app, one
// check run per job (matrix jobs expanded and named as GitHub names them),
// workflow_run webhooks as it moves, and the runs listed and read through
// the REST API. Nothing is executed: jobs stay in progress until a test (or
// the admin API) finishes them.

// WorkflowRun is one run of a workflow file.
type WorkflowRun struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	Path       string `json:"path"` // .github/workflows/<file>
	WorkflowID int64  `json:"workflow_id"`
	HeadSHA    string `json:"head_sha"`
	HeadBranch string `json:"head_branch"`
	Event      string `json:"event"`
	Status     string `json:"status"`
	Conclusion string `json:"conclusion,omitempty"`
	RunNumber  int    `json:"run_number"`
	SuiteID    int64  `json:"suite_id"`
	Actor      string `json:"actor"`
	// Jobs are the check run ids of the run's jobs, in creation order.
	Jobs      []int64   `json:"jobs"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	StartedAt time.Time `json:"run_started_at"`
}

// Workflow is a workflow file GitHub has seen run, with the numeric id
// GitHub gives it.
type Workflow struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Path      string    `json:"path"`
	CreatedAt time.Time `json:"created_at"`
}

// actionsAppSlug is the app GitHub Actions reports check runs as.
const actionsAppSlug = "github-actions"

// actionsApp returns the built-in GitHub Actions app, creating it the
// first time a workflow runs. It has no key and no installation: nobody
// authenticates as it, and it receives no webhooks. Callers hold s.mu.
func (s *Server) actionsApp() *App {
	for _, a := range s.st.Apps {
		if a.Slug == actionsAppSlug {
			return a
		}
	}
	a := &App{ID: s.nextID(), Slug: actionsAppSlug, Name: "GitHub Actions", BotLogin: actionsAppSlug + "[bot]", CreatedAt: s.now(),
		Permissions: map[string]string{"actions": "write", "checks": "write", "contents": "write", "metadata": "read", "statuses": "write"}}
	a.Owner = a.BotLogin
	s.st.Apps[a.ID] = a
	if s.user(a.BotLogin) == nil {
		s.st.Users[strings.ToLower(a.BotLogin)] = &User{ID: s.nextID(), Login: a.BotLogin, Type: "Bot", CreatedAt: s.now()}
	}
	return a
}

// workflowFor returns the repository's workflow of a file, numbering it the
// first time. Callers hold s.mu.
func (s *Server) workflowFor(r *Repo, path, name string) *Workflow {
	if r.Workflows == nil {
		r.Workflows = map[string]*Workflow{}
	}
	wf := r.Workflows[path]
	if wf == nil {
		wf = &Workflow{ID: s.nextID(), Path: path, CreatedAt: s.now()}
		r.Workflows[path] = wf
	}
	wf.Name = name
	return wf
}

// workflowJob is one job of a workflow file, matrix expanded.
type workflowJob struct {
	name string // its check run's name
}

// workflowJobs lists the check run names of a workflow file's jobs, in file
// order, each matrix expanded as GitHub does: one job per combination of
// the matrix's values (the first key varying slowest), exclude removing
// combinations, include extending matching ones or adding its own. A job's
// name is its name: (with ${{ matrix.<key> }} replaced) or else its id;
// when the name uses no matrix value, the combination's values follow in
// parentheses, as in "test (ubuntu-latest, 1.22)".
func workflowJobs(jobs yaml.Node) []workflowJob {
	if jobs.Kind != yaml.MappingNode {
		return nil
	}
	var out []workflowJob
	for i := 0; i+1 < len(jobs.Content); i += 2 {
		id, def := jobs.Content[i].Value, jobs.Content[i+1]
		var job struct {
			Name     string `yaml:"name"`
			Strategy struct {
				Matrix yaml.Node `yaml:"matrix"`
			} `yaml:"strategy"`
		}
		_ = def.Decode(&job)
		name := job.Name
		if name == "" {
			name = id
		}
		combos := expandMatrix(job.Strategy.Matrix)
		if len(combos) == 0 {
			out = append(out, workflowJob{name: name})
			continue
		}
		for _, c := range combos {
			out = append(out, workflowJob{name: matrixJobName(name, c)})
		}
	}
	return out
}

// matrixValue is one key's value in a combination.
type matrixValue struct {
	key   string
	value any
}

type combination []matrixValue

func (c combination) get(key string) (any, bool) {
	for _, kv := range c {
		if kv.key == key {
			return kv.value, true
		}
	}
	return nil, false
}

// expandMatrix returns the combinations of a strategy.matrix mapping, or
// none when there is no matrix (or it is an expression the emulator does
// not evaluate).
func expandMatrix(m yaml.Node) []combination {
	if m.Kind != yaml.MappingNode {
		return nil
	}
	combos := []combination{{}}
	var include []combination
	var exclude []map[string]any
	var order []string // the matrix's keys in file order
	for i := 0; i+1 < len(m.Content); i += 2 {
		key, val := m.Content[i].Value, m.Content[i+1]
		switch key {
		case "include":
			// Kept as nodes: the entry's key order is the order of the
			// values in a job's name.
			var entries []yaml.Node
			_ = val.Decode(&entries)
			for _, en := range entries {
				if en.Kind != yaml.MappingNode {
					continue
				}
				var c combination
				for j := 0; j+1 < len(en.Content); j += 2 {
					var v any
					_ = en.Content[j+1].Decode(&v)
					c = append(c, matrixValue{en.Content[j].Value, v})
				}
				include = append(include, c)
			}
			continue
		case "exclude":
			_ = val.Decode(&exclude)
			continue
		}
		var values []any
		if val.Decode(&values) != nil || len(values) == 0 {
			continue
		}
		order = append(order, key)
		var next []combination
		for _, c := range combos {
			for _, v := range values {
				next = append(next, append(append(combination{}, c...), matrixValue{key, v}))
			}
		}
		combos = next
	}
	if len(combos) == 1 && len(combos[0]) == 0 {
		combos = nil
	}
	kept := combos[:0]
	for _, c := range combos {
		if !slices.ContainsFunc(exclude, func(ex map[string]any) bool { return matches(c, ex) }) {
			kept = append(kept, c)
		}
	}
	combos = kept
	original := map[string]bool{}
	for _, c := range combos {
		for _, kv := range c {
			original[kv.key] = true
		}
	}
	nOriginal := len(combos)
	for _, inc := range include {
		added := false
		for i, c := range combos[:nOriginal] {
			// An include extends every original combination whose
			// original values it does not change; values an earlier
			// include added may be overwritten.
			ok := true
			for _, kv := range inc {
				if v, has := c.get(kv.key); has && original[kv.key] && !sameValue(v, kv.value) {
					ok = false
				}
			}
			if !ok {
				continue
			}
			for _, kv := range inc {
				if j := slices.IndexFunc(combos[i], func(x matrixValue) bool { return x.key == kv.key }); j >= 0 {
					combos[i][j] = kv
				} else {
					combos[i] = append(combos[i], kv)
				}
			}
			added = true
		}
		if !added {
			// A combination of its own: the matrix's keys first, in the
			// matrix's order, then the entry's others.
			var c combination
			for _, k := range order {
				if v, has := inc.get(k); has {
					c = append(c, matrixValue{k, v})
				}
			}
			for _, kv := range inc {
				if !slices.ContainsFunc(order, func(k string) bool { return k == kv.key }) {
					c = append(c, kv)
				}
			}
			combos = append(combos, c)
		}
	}
	return combos
}

func matches(c combination, partial map[string]any) bool {
	for k, want := range partial {
		if v, ok := c.get(k); !ok || !sameValue(v, want) {
			return false
		}
	}
	return true
}

func sameValue(a, b any) bool { return matrixString(a) == matrixString(b) }

// matrixString prints a matrix value as GitHub shows it in a job name.
func matrixString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	case int, int64, float64, bool:
		return fmt.Sprint(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

var matrixExpr = regexp.MustCompile(`\$\{\{\s*matrix\.([A-Za-z0-9_-]+)\s*\}\}`)

func matrixJobName(name string, c combination) string {
	if matrixExpr.MatchString(name) {
		return matrixExpr.ReplaceAllStringFunc(name, func(m string) string {
			v, _ := c.get(matrixExpr.FindStringSubmatch(m)[1])
			return matrixString(v)
		})
	}
	vals := make([]string, len(c))
	for i, kv := range c {
		vals[i] = matrixString(kv.value)
	}
	return name + " (" + strings.Join(vals, ", ") + ")"
}

// startWorkflowRun creates the run of a dispatched workflow, its check suite
// and its jobs' check runs, and sends workflow_run requested and
// in_progress and check_run created. Callers hold s.mu.
func (s *Server) startWorkflowRun(r *Repo, actor *User, file string, wf dispatchWorkflow, sha, ref string) *WorkflowRun {
	app := s.actionsApp()
	path := ".github/workflows/" + file
	name := wf.name
	if name == "" {
		// GitHub names a workflow without name: after its file's path.
		name = path
	}
	w := s.workflowFor(r, path, name)
	branch := strings.TrimPrefix(strings.TrimPrefix(ref, "refs/heads/"), "refs/tags/")
	now := s.now()
	// Each workflow run has a check suite of its own.
	suite := &CheckSuite{ID: s.nextID(), AppID: app.ID, HeadSHA: sha, HeadBranch: branch, CreatedAt: now, UpdatedAt: now}
	r.CheckSuites[suite.ID] = suite
	number := 1
	for _, o := range r.WorkflowRuns {
		if o.WorkflowID == w.ID && o.RunNumber >= number {
			number = o.RunNumber + 1
		}
	}
	run := &WorkflowRun{ID: s.nextID(), Name: name, Path: path, WorkflowID: w.ID, HeadSHA: sha, HeadBranch: branch,
		Event: "workflow_dispatch", Status: "queued", RunNumber: number, SuiteID: suite.ID, CreatedAt: now, UpdatedAt: now, StartedAt: now}
	if actor != nil {
		run.Actor = actor.Login
	}
	r.WorkflowRuns[run.ID] = run
	s.emitWorkflowRun(r, run, "requested")
	for _, j := range wf.jobs {
		t := now
		cr := &CheckRun{ID: s.nextID(), SuiteID: suite.ID, AppID: app.ID, Name: j.name, HeadSHA: sha, Status: "in_progress", StartedAt: &t,
			DetailsURL: s.baseURL() + "/" + r.FullName() + "/actions/runs/" + fmt.Sprint(run.ID)}
		r.CheckRuns[cr.ID] = cr
		run.Jobs = append(run.Jobs, cr.ID)
		s.emitRunEvent(r, actor, cr, "created")
	}
	run.Status = "in_progress"
	s.emitWorkflowRun(r, run, "in_progress")
	if len(run.Jobs) == 0 {
		s.finishWorkflowRun(r, run)
	}
	return run
}

// emitRunEvent sends check_run for a job; callers hold s.mu.
func (s *Server) emitRunEvent(r *Repo, sender *User, cr *CheckRun, action string) {
	s.emit(r, 0, "check_run", action, obj{
		"check_run": s.checkRunJSON(r, cr, true), "repository": s.repoJSON(r), "sender": s.userJSON(sender),
	})
}

func (s *Server) emitWorkflowRun(r *Repo, run *WorkflowRun, action string) {
	w := r.Workflows[run.Path]
	html := s.baseURL() + "/" + r.FullName() + "/actions/workflows/" + strings.TrimPrefix(run.Path, ".github/workflows/")
	s.emit(r, 0, "workflow_run", action, obj{
		"workflow_run": s.workflowRunJSON(r, run),
		"workflow": obj{
			"id": w.ID, "node_id": nodeID("Workflow", w.ID), "name": w.Name, "path": w.Path, "state": "active",
			"created_at": ts(w.CreatedAt), "updated_at": ts(w.CreatedAt), "url": s.repoURL(r) + "/actions/workflows/" + fmt.Sprint(w.ID),
			"html_url": html, "badge_url": html + "/badge.svg",
		},
		"repository": s.repoJSON(r), "sender": s.userJSON(s.user(run.Actor)),
	})
}

// workflowRunJSON is a workflow-run. Callers hold s.mu.
func (s *Server) workflowRunJSON(r *Repo, run *WorkflowRun) obj {
	u := s.repoURL(r) + "/actions/runs/" + fmt.Sprint(run.ID)
	var head any
	if cm, err := s.gitFor(r).commit(run.HeadSHA); err == nil {
		head = obj{
			"id": cm.SHA, "tree_id": cm.Tree, "message": cm.Message, "timestamp": ts(cm.Committer.When),
			"author":    obj{"name": cm.Author.Name, "email": cm.Author.Email},
			"committer": obj{"name": cm.Committer.Name, "email": cm.Committer.Email},
		}
	}
	title := run.Name
	if cm, err := s.gitFor(r).commit(run.HeadSHA); err == nil && run.Event != "workflow_dispatch" {
		title, _, _ = strings.Cut(cm.Message, "\n")
	}
	actor := s.userJSON(s.user(run.Actor))
	return obj{
		"id": run.ID, "name": run.Name, "node_id": nodeID("WorkflowRun", run.ID), "check_suite_id": run.SuiteID,
		"check_suite_node_id": nodeID("CheckSuite", run.SuiteID), "head_branch": nullable(run.HeadBranch), "head_sha": run.HeadSHA,
		"path": run.Path, "run_number": run.RunNumber, "run_attempt": 1, "referenced_workflows": []any{}, "event": run.Event,
		"status": run.Status, "conclusion": nullable(run.Conclusion), "workflow_id": run.WorkflowID, "url": u,
		"html_url": s.baseURL() + "/" + r.FullName() + "/actions/runs/" + fmt.Sprint(run.ID), "pull_requests": s.pullRefsFor(r, run.HeadSHA),
		"created_at": ts(run.CreatedAt), "updated_at": ts(run.UpdatedAt), "actor": actor, "triggering_actor": actor,
		"run_started_at": ts(run.StartedAt), "jobs_url": u + "/jobs", "logs_url": u + "/logs",
		"check_suite_url": s.repoURL(r) + "/check-suites/" + fmt.Sprint(run.SuiteID), "artifacts_url": u + "/artifacts",
		"cancel_url": u + "/cancel", "rerun_url": u + "/rerun", "previous_attempt_url": nil,
		"workflow_url": s.repoURL(r) + "/actions/workflows/" + fmt.Sprint(run.WorkflowID),
		"head_commit":  head, "repository": s.repoJSON(r), "head_repository": s.repoJSON(r), "head_repository_id": r.ID,
		"display_title": title,
	}
}

// finishWorkflowRun completes a run whose jobs all completed, with the
// worst of their conclusions (as for a check suite). Callers hold s.mu.
func (s *Server) finishWorkflowRun(r *Repo, run *WorkflowRun) {
	_, worst := s.suiteState(r, r.CheckSuites[run.SuiteID])
	run.Conclusion, _ = worst.(string)
	if run.Conclusion == "" {
		run.Conclusion = "success"
	}
	run.Status, run.UpdatedAt = "completed", s.now()
	s.emitWorkflowRun(r, run, "completed")
	if cs := r.CheckSuites[run.SuiteID]; cs != nil {
		cs.UpdatedAt = s.now()
		s.emit(r, cs.AppID, "check_suite", "completed", obj{
			"check_suite": s.suiteJSON(r, cs, false), "repository": s.repoJSON(r), "sender": s.userJSON(s.user(run.Actor)),
		})
	}
}

var jobConclusions = map[string]bool{"success": true, "failure": true, "neutral": true, "cancelled": true, "skipped": true, "timed_out": true, "action_required": true}

// CompleteWorkflowJob finishes one job of a workflow run (by its check run
// name) with a conclusion; the run completes when its last job does, with
// the worst conclusion of its jobs.
func (s *Server) CompleteWorkflowJob(repo string, runID int64, job, conclusion string) error {
	if !jobConclusions[conclusion] {
		return fmt.Errorf("conclusion %q is not one of success, failure, neutral, cancelled, skipped, timed_out, action_required", conclusion)
	}
	s.mu.Lock()
	r := s.st.Repos[strings.ToLower(repo)]
	if r == nil || r.WorkflowRuns[runID] == nil {
		s.mu.Unlock()
		return fmt.Errorf("no workflow run %d in %s", runID, repo)
	}
	run := r.WorkflowRuns[runID]
	done := false
	for _, id := range run.Jobs {
		cr := r.CheckRuns[id]
		if cr == nil || cr.Name != job || cr.Status == "completed" {
			continue
		}
		now := s.now()
		cr.Status, cr.Conclusion, cr.CompletedAt = "completed", conclusion, &now
		s.emitRunEvent(r, s.user(run.Actor), cr, "completed")
		done = true
	}
	if !done {
		s.mu.Unlock()
		return fmt.Errorf("workflow run %d has no unfinished job %q", runID, job)
	}
	run.UpdatedAt = s.now()
	if st, _ := s.suiteState(r, r.CheckSuites[run.SuiteID]); st == "completed" && run.Status != "completed" {
		s.finishWorkflowRun(r, run)
	}
	s.mu.Unlock()
	s.saveLogged()
	return nil
}

// CompleteWorkflowRun finishes every unfinished job of a run with a
// conclusion.
func (s *Server) CompleteWorkflowRun(repo string, runID int64, conclusion string) error {
	for _, job := range s.WorkflowJobs(repo, runID) {
		if job.Status == "completed" {
			continue
		}
		if err := s.CompleteWorkflowJob(repo, runID, job.Name, conclusion); err != nil {
			return err
		}
	}
	return nil
}

// WorkflowJob is one job of a workflow run, as its check run.
type WorkflowJob struct {
	CheckRunID int64  `json:"check_run_id"`
	Name       string `json:"name"`
	Status     string `json:"status"`
	Conclusion string `json:"conclusion,omitempty"`
}

// WorkflowJobs lists a run's jobs in creation order.
func (s *Server) WorkflowJobs(repo string, runID int64) []WorkflowJob {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.st.Repos[strings.ToLower(repo)]
	if r == nil || r.WorkflowRuns[runID] == nil {
		return nil
	}
	var out []WorkflowJob
	for _, id := range r.WorkflowRuns[runID].Jobs {
		if cr := r.CheckRuns[id]; cr != nil {
			out = append(out, WorkflowJob{CheckRunID: cr.ID, Name: cr.Name, Status: cr.Status, Conclusion: cr.Conclusion})
		}
	}
	return out
}

// WorkflowRunIDs lists a repository's workflow run ids, oldest first.
func (s *Server) WorkflowRunIDs(repo string) []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.st.Repos[strings.ToLower(repo)]
	if r == nil {
		return nil
	}
	var ids []int64
	for id := range r.WorkflowRuns {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// runConclusionFilter: GitHub's status parameter takes a status or a
// conclusion; these are the conclusions.
var runConclusionFilter = map[string]bool{"action_required": true, "cancelled": true, "failure": true, "neutral": true, "skipped": true,
	"stale": true, "success": true, "timed_out": true, "startup_failure": true}

// listWorkflowRuns answers GET /repos/{owner}/{repo}/actions/runs, newest
// first, filtered by actor, branch, event, status (a status or a
// conclusion), head_sha and check_suite_id.
func listWorkflowRuns(c *call) {
	q := c.r.URL.Query()
	suiteID, _ := strconv.ParseInt(q.Get("check_suite_id"), 10, 64)
	status := q.Get("status")
	c.s.mu.Lock()
	var runs []*WorkflowRun
	for _, run := range c.repo.WorkflowRuns {
		switch {
		case q.Get("actor") != "" && !strings.EqualFold(run.Actor, q.Get("actor")),
			q.Get("branch") != "" && run.HeadBranch != q.Get("branch"),
			q.Get("event") != "" && run.Event != q.Get("event"),
			q.Get("head_sha") != "" && run.HeadSHA != q.Get("head_sha"),
			suiteID != 0 && run.SuiteID != suiteID,
			status != "" && runConclusionFilter[status] && run.Conclusion != status,
			status != "" && !runConclusionFilter[status] && run.Status != status:
			continue
		}
		runs = append(runs, run)
	}
	sortByID(runs, func(x *WorkflowRun) int64 { return -x.ID })
	out := []obj{}
	for _, run := range pageOf(c, runs) {
		o := c.s.workflowRunJSON(c.repo, run)
		if q.Get("exclude_pull_requests") == "true" {
			o["pull_requests"] = []obj{}
		}
		out = append(out, o)
	}
	c.s.mu.Unlock()
	c.json(http.StatusOK, obj{"total_count": len(runs), "workflow_runs": out})
}

func getWorkflowRun(c *call) {
	id, ok := c.intParam("run_id")
	if !ok {
		return
	}
	c.s.mu.Lock()
	run := c.repo.WorkflowRuns[id]
	var body obj
	if run != nil {
		body = c.s.workflowRunJSON(c.repo, run)
	}
	c.s.mu.Unlock()
	if run == nil {
		c.notFound()
		return
	}
	c.json(http.StatusOK, body)
}
