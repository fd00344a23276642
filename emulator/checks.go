package emulator

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// suiteFor finds or creates an app's check suite on a commit. Callers hold s.mu.
func (s *Server) suiteFor(r *Repo, appID int64, sha, branch string) *CheckSuite {
	for _, cs := range r.CheckSuites {
		if cs.AppID == appID && cs.HeadSHA == sha {
			if branch != "" {
				cs.HeadBranch = branch
			}
			return cs
		}
	}
	now := s.now()
	cs := &CheckSuite{ID: s.nextID(), AppID: appID, HeadSHA: sha, HeadBranch: branch, CreatedAt: now, UpdatedAt: now}
	r.CheckSuites[cs.ID] = cs
	return cs
}

func (s *Server) suiteRuns(r *Repo, suiteID int64) []*CheckRun {
	var out []*CheckRun
	for _, cr := range r.CheckRuns {
		if cr.SuiteID == suiteID {
			out = append(out, cr)
		}
	}
	sortByID(out, func(x *CheckRun) int64 { return x.ID })
	return out
}

// suiteState aggregates the runs: queued with none, completed when all
// are, with the worst conclusion.
func (s *Server) suiteState(r *Repo, cs *CheckSuite) (status string, conclusion any) {
	runs := s.suiteRuns(r, cs.ID)
	if len(runs) == 0 {
		return "queued", nil
	}
	rank := map[string]int{"success": 1, "skipped": 1, "neutral": 2, "stale": 3, "cancelled": 4, "timed_out": 5, "action_required": 6, "failure": 7, "startup_failure": 7}
	worst := ""
	for _, cr := range runs {
		if cr.Status != "completed" {
			return "in_progress", nil
		}
		if rank[cr.Conclusion] > rank[worst] {
			worst = cr.Conclusion
		}
	}
	return "completed", worst
}

// pullRefsFor is the minimal pull request list check runs and suites carry.
func (s *Server) pullRefsFor(r *Repo, sha string) []obj {
	out := []obj{}
	short := obj{"id": r.ID, "url": s.repoURL(r), "name": r.Name}
	for _, is := range sortedIssues(r) {
		if is.Pull == nil || is.State != "open" || is.Pull.HeadSHA != sha {
			continue
		}
		out = append(out, obj{
			"id": is.Pull.PullID, "number": is.Number, "url": s.repoURL(r) + "/pulls/" + fmt.Sprint(is.Number),
			"head": obj{"ref": is.Pull.Head, "sha": is.Pull.HeadSHA, "repo": short},
			"base": obj{"ref": is.Pull.Base, "sha": s.branchSHA(r, is.Pull.Base), "repo": short},
		})
	}
	return out
}

// suiteJSON is a check-suite. Callers hold s.mu.
func (s *Server) suiteJSON(r *Repo, cs *CheckSuite, withRepo bool) obj {
	status, conclusion := s.suiteState(r, cs)
	var head any
	g := s.gitFor(r)
	if cm, err := g.commit(cs.HeadSHA); err == nil {
		head = obj{
			"id": cm.SHA, "tree_id": cm.Tree, "message": cm.Message, "timestamp": ts(cm.Committer.When),
			"author":    obj{"name": cm.Author.Name, "email": cm.Author.Email},
			"committer": obj{"name": cm.Committer.Name, "email": cm.Committer.Email},
		}
	}
	var app any
	if a := s.appByID(cs.AppID); a != nil {
		app = s.appJSON(a)
	}
	u := s.repoURL(r) + "/check-suites/" + fmt.Sprint(cs.ID)
	o := obj{
		"id": cs.ID, "node_id": nodeID("CheckSuite", cs.ID), "head_branch": nullable(cs.HeadBranch), "head_sha": cs.HeadSHA,
		"status": status, "conclusion": conclusion, "url": u, "before": nullable(cs.Before), "after": nullable(cs.After),
		"pull_requests": s.pullRefsFor(r, cs.HeadSHA), "app": app, "created_at": ts(cs.CreatedAt), "updated_at": ts(cs.UpdatedAt),
		"head_commit": head, "latest_check_runs_count": len(s.suiteRuns(r, cs.ID)), "check_runs_url": u + "/check-runs",
		"rerequestable": true, "runs_rerequestable": true,
	}
	if withRepo {
		o["repository"] = s.repoJSON(r)
	}
	return o
}

// checkRunJSON is a check-run. Callers hold s.mu.
func (s *Server) checkRunJSON(r *Repo, cr *CheckRun, webhook bool) obj {
	u := s.repoURL(r) + "/check-runs/" + fmt.Sprint(cr.ID)
	var app any
	if a := s.appByID(cr.AppID); a != nil {
		app = s.appJSON(a)
	}
	var conclusion any
	if cr.Conclusion != "" {
		conclusion = cr.Conclusion
	}
	suite := obj{"id": cr.SuiteID}
	if cs := r.CheckSuites[cr.SuiteID]; cs != nil && webhook {
		suite = s.suiteJSON(r, cs, false)
	}
	details := cr.DetailsURL
	if details == "" {
		details = s.baseURL() + "/" + r.FullName() + "/runs/" + fmt.Sprint(cr.ID)
	}
	images := cr.Output.Images
	_ = images
	return obj{
		"id": cr.ID, "head_sha": cr.HeadSHA, "node_id": nodeID("CheckRun", cr.ID), "external_id": externalID(cr.ExternalID, webhook),
		"url": u, "html_url": s.baseURL() + "/" + r.FullName() + "/runs/" + fmt.Sprint(cr.ID), "details_url": details,
		"status": cr.Status, "conclusion": conclusion, "started_at": tsPtr(cr.StartedAt), "completed_at": tsPtr(cr.CompletedAt),
		"output": obj{
			"title": nullable(cr.Output.Title), "summary": nullable(cr.Output.Summary), "text": nullable(cr.Output.Text),
			"annotations_count": len(cr.Annotations), "annotations_url": u + "/annotations",
		},
		"name": cr.Name, "check_suite": suite, "app": app, "pull_requests": s.pullRefsFor(r, cr.HeadSHA),
	}
}

type checkRunIn struct {
	Name        *string `json:"name"`
	HeadSHA     string  `json:"head_sha"`
	DetailsURL  *string `json:"details_url"`
	ExternalID  *string `json:"external_id"`
	Status      *string `json:"status"`
	StartedAt   *string `json:"started_at"`
	Conclusion  *string `json:"conclusion"`
	CompletedAt *string `json:"completed_at"`
	Output      *struct {
		Title       *string          `json:"title"`
		Summary     *string          `json:"summary"`
		Text        *string          `json:"text"`
		Annotations []map[string]any `json:"annotations"`
		Images      []map[string]any `json:"images"`
	} `json:"output"`
	Actions []map[string]any `json:"actions"`
}

var annotationLevels = map[string]bool{"notice": true, "warning": true, "failure": true}

var checkConclusions = map[string]bool{"action_required": true, "cancelled": true, "failure": true, "neutral": true, "success": true, "skipped": true, "stale": true, "timed_out": true}

// validate checks GitHub's documented limits; it returns a 422's errors.
func (in *checkRunIn) validate() []fieldError {
	var errs []fieldError
	bad := func(field, msg string) {
		errs = append(errs, fieldError{Resource: "CheckRun", Field: field, Code: "invalid", Message: msg})
	}
	if in.Status != nil && *in.Status != "queued" && *in.Status != "in_progress" && *in.Status != "completed" {
		bad("status", "status must be queued, in_progress or completed")
	}
	if in.Conclusion != nil && *in.Conclusion != "" && !checkConclusions[*in.Conclusion] {
		bad("conclusion", "conclusion is not one of GitHub's")
	}
	if in.Status != nil && *in.Status == "completed" && (in.Conclusion == nil || *in.Conclusion == "") {
		errs = append(errs, fieldError{Resource: "CheckRun", Field: "conclusion", Code: "missing_field", Message: "conclusion is required when status is completed"})
	}
	for _, f := range []*string{in.StartedAt, in.CompletedAt} {
		if f != nil {
			if _, err := time.Parse(time.RFC3339, *f); err != nil {
				bad("started_at", "timestamps must be ISO 8601 (YYYY-MM-DDTHH:MM:SSZ)")
			}
		}
	}
	if o := in.Output; o != nil {
		if o.Summary != nil && len(*o.Summary) > 65535 {
			bad("output.summary", "summary is too long (maximum is 65535 bytes)")
		}
		if o.Text != nil && len(*o.Text) > 65535 {
			bad("output.text", "text is too long (maximum is 65535 bytes)")
		}
		if len(o.Annotations) > 50 {
			bad("output.annotations", "at most 50 annotations per request")
		}
		for i, a := range o.Annotations {
			// GitHub's enum is notice, warning, failure; "error" (a
			// common guess) is refused with 422.
			if lvl, _ := a["annotation_level"].(string); !annotationLevels[lvl] {
				bad(fmt.Sprintf("output.annotations[%d].annotation_level", i), fmt.Sprintf("annotation_level %q is not one of notice, warning, failure", lvl))
			}
		}
		if (o.Title == nil || o.Summary == nil) && (o.Title != nil || o.Summary != nil || o.Text != nil) {
			errs = append(errs, fieldError{Resource: "CheckRun", Field: "output", Code: "missing_field", Message: "output needs title and summary"})
		}
	}
	if len(in.Actions) > 3 {
		bad("actions", "at most 3 actions")
	}
	for i, a := range in.Actions {
		for field, max := range map[string]int{"label": 20, "description": 40, "identifier": 20} {
			v, _ := a[field].(string)
			if v == "" {
				errs = append(errs, fieldError{Resource: "CheckRun", Field: fmt.Sprintf("actions[%d].%s", i, field), Code: "missing_field"})
			} else if len([]rune(v)) > max {
				bad(fmt.Sprintf("actions[%d].%s", i, field), fmt.Sprintf("%s is too long (maximum is %d characters)", field, max))
			}
		}
	}
	return errs
}

func parseTime(s *string) *time.Time {
	if s == nil {
		return nil
	}
	t, err := time.Parse(time.RFC3339, *s)
	if err != nil {
		return nil
	}
	t = t.UTC()
	return &t
}

// apply sets the given fields on a run, keeping GitHub's rules: a
// conclusion completes the run. Callers hold s.mu.
func (in *checkRunIn) apply(cr *CheckRun, now time.Time) {
	if in.Name != nil {
		cr.Name = *in.Name
	}
	if in.DetailsURL != nil {
		cr.DetailsURL = *in.DetailsURL
	}
	if in.ExternalID != nil {
		cr.ExternalID = *in.ExternalID
	}
	if in.Status != nil {
		cr.Status = *in.Status
	}
	if t := parseTime(in.StartedAt); t != nil {
		cr.StartedAt = t
	}
	if in.Conclusion != nil && *in.Conclusion != "" {
		cr.Conclusion = *in.Conclusion
		cr.Status = "completed"
	}
	if t := parseTime(in.CompletedAt); t != nil {
		cr.CompletedAt = t
	}
	if cr.Status == "" {
		cr.Status = "queued"
	}
	if cr.Status != "queued" && cr.StartedAt == nil {
		cr.StartedAt = &now
	}
	if cr.Status == "completed" && cr.CompletedAt == nil {
		cr.CompletedAt = &now
	}
	if o := in.Output; o != nil {
		if o.Title != nil {
			cr.Output.Title = *o.Title
		}
		if o.Summary != nil {
			cr.Output.Summary = *o.Summary
		}
		if o.Text != nil {
			cr.Output.Text = *o.Text
		}
		cr.Annotations = append(cr.Annotations, o.Annotations...)
		if o.Images != nil {
			cr.Output.Images = o.Images
		}
	}
	if in.Actions != nil {
		cr.Actions = in.Actions
	}
}

func createCheckRun(c *call) {
	if c.actor.inst == nil {
		c.fail(http.StatusForbidden, "You must authenticate via a GitHub App.", nil)
		return
	}
	var in checkRunIn
	if !c.decode(&in) {
		return
	}
	if in.Name == nil || *in.Name == "" {
		c.missing("CheckRun", "name")
		return
	}
	if in.HeadSHA == "" {
		c.missing("CheckRun", "head_sha")
		return
	}
	if errs := in.validate(); len(errs) > 0 {
		c.invalid("Validation Failed", errs...)
		return
	}
	sha, ok := c.git().resolve(in.HeadSHA)
	if !ok || !strings.HasPrefix(sha, strings.ToLower(in.HeadSHA)) {
		c.invalid("No commit found for SHA: " + in.HeadSHA)
		return
	}
	c.s.mu.Lock()
	now := c.s.now()
	suite := c.s.suiteFor(c.repo, c.actor.app.ID, sha, "")
	cr := &CheckRun{ID: c.s.nextID(), SuiteID: suite.ID, AppID: c.actor.app.ID, HeadSHA: sha}
	in.apply(cr, now)
	if cr.StartedAt == nil {
		// GitHub starts the clock at creation when started_at is absent.
		t := now
		cr.StartedAt = &t
	}
	c.repo.CheckRuns[cr.ID] = cr
	suite.UpdatedAt = now
	body := c.s.checkRunJSON(c.repo, cr, false)
	c.emitCheckRun(cr, "created")
	if cr.Status == "completed" {
		c.emitCheckRun(cr, "completed")
		c.suiteMaybeCompleted(suite)
	}
	c.s.mu.Unlock()
	c.s.saveLogged()
	c.json(http.StatusCreated, body)
}

// emitCheckRun sends check_run; callers hold s.mu.
func (c *call) emitCheckRun(cr *CheckRun, action string) {
	c.s.emit(c.repo, 0, "check_run", action, obj{
		"check_run": c.s.checkRunJSON(c.repo, cr, true), "repository": c.s.repoJSON(c.repo), "sender": c.s.userJSON(c.actor.user),
	})
}

func (c *call) suiteMaybeCompleted(cs *CheckSuite) {
	if st, _ := c.s.suiteState(c.repo, cs); st == "completed" {
		c.s.emit(c.repo, cs.AppID, "check_suite", "completed", obj{
			"check_suite": c.s.suiteJSON(c.repo, cs, false), "repository": c.s.repoJSON(c.repo), "sender": c.s.userJSON(c.actor.user),
		})
	}
}

func (c *call) checkRun() (*CheckRun, bool) {
	id, ok := c.intParam("check_run_id")
	if !ok {
		return nil, false
	}
	c.s.mu.Lock()
	cr := c.repo.CheckRuns[id]
	c.s.mu.Unlock()
	if cr == nil {
		c.notFound()
		return nil, false
	}
	return cr, true
}

func getCheckRun(c *call) {
	cr, ok := c.checkRun()
	if !ok {
		return
	}
	c.s.mu.Lock()
	body := c.s.checkRunJSON(c.repo, cr, false)
	c.s.mu.Unlock()
	c.json(http.StatusOK, body)
}

func updateCheckRun(c *call) {
	cr, ok := c.checkRun()
	if !ok {
		return
	}
	if c.actor.inst == nil || c.actor.app.ID != cr.AppID {
		c.fail(http.StatusForbidden, "Invalid app_id `0` - check run can only be modified by the GitHub App that created it.", nil)
		return
	}
	var in checkRunIn
	if !c.decode(&in) {
		return
	}
	if errs := in.validate(); len(errs) > 0 {
		c.invalid("Validation Failed", errs...)
		return
	}
	c.s.mu.Lock()
	wasCompleted := cr.Status == "completed"
	in.apply(cr, c.s.now())
	body := c.s.checkRunJSON(c.repo, cr, false)
	if cr.Status == "completed" && !wasCompleted {
		c.emitCheckRun(cr, "completed")
		if cs := c.repo.CheckSuites[cr.SuiteID]; cs != nil {
			cs.UpdatedAt = c.s.now()
			c.suiteMaybeCompleted(cs)
		}
	}
	c.s.mu.Unlock()
	c.s.saveLogged()
	c.json(http.StatusOK, body)
}

func listAnnotations(c *call) {
	cr, ok := c.checkRun()
	if !ok {
		return
	}
	c.s.mu.Lock()
	out := []obj{}
	for _, a := range cr.Annotations {
		o := obj{"path": a["path"], "start_line": a["start_line"], "end_line": a["end_line"], "start_column": a["start_column"],
			"end_column": a["end_column"], "annotation_level": a["annotation_level"], "title": a["title"], "message": a["message"],
			"raw_details": a["raw_details"], "blob_href": c.s.baseURL() + "/" + c.repo.FullName() + "/blob/" + cr.HeadSHA + "/" + fmt.Sprint(a["path"])}
		out = append(out, o)
	}
	c.s.mu.Unlock()
	paginate(c, out)
}

func rerequestCheckRun(c *call) {
	cr, ok := c.checkRun()
	if !ok {
		return
	}
	c.s.mu.Lock()
	c.s.emit(c.repo, cr.AppID, "check_run", "rerequested", obj{
		"check_run": c.s.checkRunJSON(c.repo, cr, true), "repository": c.s.repoJSON(c.repo), "sender": c.s.userJSON(c.actor.user),
	})
	c.s.mu.Unlock()
	c.json(http.StatusCreated, obj{})
}

func (c *call) runsWhere(keep func(*CheckRun) bool) {
	q := c.r.URL.Query()
	name, status := q.Get("check_name"), q.Get("status")
	appID, _ := strconv.ParseInt(q.Get("app_id"), 10, 64)
	latest := q.Get("filter") != "all"
	c.s.mu.Lock()
	var runs []*CheckRun
	for _, cr := range c.repo.CheckRuns {
		if keep(cr) && (name == "" || cr.Name == name) && (status == "" || cr.Status == status) && (appID == 0 || cr.AppID == appID) {
			runs = append(runs, cr)
		}
	}
	sortByID(runs, func(x *CheckRun) int64 { return -x.ID })
	if latest {
		seen := map[string]bool{}
		kept := runs[:0]
		for _, cr := range runs {
			// Per check suite: an app has one suite per commit, while
			// each workflow run has its own, so two workflows' jobs of
			// the same name are both listed.
			k := fmt.Sprint(cr.SuiteID, "/", cr.Name)
			if !seen[k] {
				seen[k] = true
				kept = append(kept, cr)
			}
		}
		runs = kept
	}
	out := []obj{}
	for _, cr := range pageOf(c, runs) {
		out = append(out, c.s.checkRunJSON(c.repo, cr, false))
	}
	c.s.mu.Unlock()
	c.json(http.StatusOK, obj{"total_count": len(runs), "check_runs": out})
}

func listCheckRunsForRef(c *call) {
	sha, ok := c.git().resolve(c.param("ref"))
	if !ok {
		c.invalid("No commit found for SHA: " + c.param("ref"))
		return
	}
	c.runsWhere(func(cr *CheckRun) bool { return cr.HeadSHA == sha })
}

func (c *call) checkSuite() (*CheckSuite, bool) {
	id, ok := c.intParam("check_suite_id")
	if !ok {
		return nil, false
	}
	c.s.mu.Lock()
	cs := c.repo.CheckSuites[id]
	c.s.mu.Unlock()
	if cs == nil {
		c.notFound()
		return nil, false
	}
	return cs, true
}

func listCheckRunsForSuite(c *call) {
	cs, ok := c.checkSuite()
	if !ok {
		return
	}
	c.runsWhere(func(cr *CheckRun) bool { return cr.SuiteID == cs.ID })
}

func createCheckSuite(c *call) {
	if c.actor.inst == nil {
		c.fail(http.StatusForbidden, "You must authenticate via a GitHub App.", nil)
		return
	}
	var in struct {
		HeadSHA string `json:"head_sha"`
	}
	if !c.decode(&in) {
		return
	}
	if in.HeadSHA == "" {
		c.missing("CheckSuite", "head_sha")
		return
	}
	sha, ok := c.git().resolve(in.HeadSHA)
	if !ok {
		c.invalid("No commit found for SHA: " + in.HeadSHA)
		return
	}
	c.s.mu.Lock()
	n := len(c.repo.CheckSuites)
	cs := c.s.suiteFor(c.repo, c.actor.app.ID, sha, "")
	created := len(c.repo.CheckSuites) > n
	body := c.s.suiteJSON(c.repo, cs, true)
	c.s.mu.Unlock()
	c.s.saveLogged()
	if created {
		c.json(http.StatusCreated, body)
	} else {
		c.json(http.StatusOK, body)
	}
}

func getCheckSuite(c *call) {
	cs, ok := c.checkSuite()
	if !ok {
		return
	}
	c.s.mu.Lock()
	body := c.s.suiteJSON(c.repo, cs, true)
	c.s.mu.Unlock()
	c.json(http.StatusOK, body)
}

func rerequestCheckSuite(c *call) {
	cs, ok := c.checkSuite()
	if !ok {
		return
	}
	c.s.mu.Lock()
	c.s.emit(c.repo, cs.AppID, "check_suite", "rerequested", obj{
		"check_suite": c.s.suiteJSON(c.repo, cs, false), "repository": c.s.repoJSON(c.repo), "sender": c.s.userJSON(c.actor.user),
	})
	c.s.mu.Unlock()
	c.json(http.StatusCreated, obj{})
}

func listSuitesForRef(c *call) {
	sha, ok := c.git().resolve(c.param("ref"))
	if !ok {
		c.invalid("No commit found for SHA: " + c.param("ref"))
		return
	}
	appID, _ := strconv.ParseInt(c.r.URL.Query().Get("app_id"), 10, 64)
	c.s.mu.Lock()
	var list []*CheckSuite
	for _, cs := range c.repo.CheckSuites {
		if cs.HeadSHA == sha && (appID == 0 || cs.AppID == appID) {
			list = append(list, cs)
		}
	}
	sortByID(list, func(x *CheckSuite) int64 { return x.ID })
	out := []obj{}
	for _, cs := range pageOf(c, list) {
		out = append(out, c.s.suiteJSON(c.repo, cs, true))
	}
	c.s.mu.Unlock()
	c.json(http.StatusOK, obj{"total_count": len(list), "check_suites": out})
}

// RequestAction sends check_run requested_action for a click by user on
// the button identifier of a completed check run, to the app that owns it.
func (s *Server) RequestAction(checkRunID int64, identifier, login string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.user(login)
	if u == nil {
		return fmt.Errorf("no user %q", login)
	}
	for _, r := range s.st.Repos {
		cr := r.CheckRuns[checkRunID]
		if cr == nil {
			continue
		}
		found := false
		for _, a := range cr.Actions {
			if a["identifier"] == identifier {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("check run %d has no action with identifier %q", checkRunID, identifier)
		}
		if s.userLevel(login, r) < levelWrite {
			return fmt.Errorf("%s cannot press buttons on %s: needs write access", login, r.FullName())
		}
		s.emit(r, cr.AppID, "check_run", "requested_action", obj{
			"check_run": s.checkRunJSON(r, cr, true), "requested_action": obj{"identifier": identifier},
			"repository": s.repoJSON(r), "sender": s.userJSON(u),
		})
		return nil
	}
	return fmt.Errorf("no check run %d", checkRunID)
}

// setSuitePreferences accepts the automatic-suite preferences and answers
// with the repository; the emulator always creates suites on push.
func setSuitePreferences(c *call) {
	var in struct {
		AutoTriggerChecks []struct {
			AppID   int64 `json:"app_id"`
			Setting bool  `json:"setting"`
		} `json:"auto_trigger_checks"`
	}
	if !c.decode(&in) {
		return
	}
	prefs := []obj{}
	for _, p := range in.AutoTriggerChecks {
		prefs = append(prefs, obj{"app_id": p.AppID, "setting": p.Setting})
	}
	c.s.mu.Lock()
	repo := c.s.repoJSON(c.repo)
	c.s.mu.Unlock()
	c.json(http.StatusOK, obj{"preferences": obj{"auto_trigger_checks": prefs}, "repository": repo})
}

// externalID is "" in webhooks (whose schema has no null) and null in REST
// answers when the run has none.
func externalID(id string, webhook bool) any {
	if webhook {
		return id
	}
	return nullable(id)
}
