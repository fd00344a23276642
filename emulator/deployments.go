package emulator

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"unicode/utf8"
)

// deploymentJSON is a deployment. Callers hold s.mu.
func (s *Server) deploymentJSON(r *Repo, d *Deployment) obj {
	u := s.repoURL(r) + "/deployments/" + fmt.Sprint(d.ID)
	payload := d.Payload
	if payload == nil {
		payload = obj{}
	}
	var app any
	if a := s.appByID(d.AppID); a != nil {
		app = s.appJSON(a)
	}
	return obj{
		"url": u, "id": d.ID, "node_id": nodeID("Deployment", d.ID), "sha": d.SHA, "ref": d.Ref, "task": d.Task,
		"payload": payload, "original_environment": d.Environment, "environment": d.Environment,
		"description": nullable(d.Description), "creator": s.userByLogin(d.Creator),
		"created_at": ts(d.CreatedAt), "updated_at": ts(d.UpdatedAt), "statuses_url": u + "/statuses",
		"repository_url": s.repoURL(r), "transient_environment": d.Transient, "production_environment": d.Production,
		"performed_via_github_app": app,
	}
}

// deployStateJSON is a deployment-status. Callers hold s.mu.
func (s *Server) deployStateJSON(r *Repo, ds *DeployState) obj {
	du := s.repoURL(r) + "/deployments/" + fmt.Sprint(ds.Deployment)
	return obj{
		"url": du + "/statuses/" + fmt.Sprint(ds.ID), "id": ds.ID, "node_id": nodeID("DeploymentStatus", ds.ID),
		"state": ds.State, "creator": s.userByLogin(ds.Creator), "description": ds.Description,
		"environment": ds.Environment, "target_url": ds.TargetURL, "log_url": ds.LogURL,
		"environment_url": ds.EnvironmentURL, "created_at": ts(ds.CreatedAt), "updated_at": ts(ds.CreatedAt),
		"deployment_url": du, "repository_url": s.repoURL(r), "performed_via_github_app": nil,
	}
}

func (s *Server) deployStates(r *Repo, depID int64) []*DeployState {
	var out []*DeployState
	for _, ds := range r.DepStatuses {
		if ds.Deployment == depID {
			out = append(out, ds)
		}
	}
	sortByID(out, func(x *DeployState) int64 { return -x.ID })
	return out
}

func listDeployments(c *call) {
	q := c.r.URL.Query()
	c.s.mu.Lock()
	var list []*Deployment
	for _, d := range c.repo.Deployments {
		if (q.Get("sha") == "" || d.SHA == q.Get("sha")) && (q.Get("ref") == "" || d.Ref == q.Get("ref")) &&
			(q.Get("task") == "" || d.Task == q.Get("task")) && (q.Get("environment") == "" || d.Environment == q.Get("environment")) {
			list = append(list, d)
		}
	}
	sortByID(list, func(x *Deployment) int64 { return -x.ID })
	out := []obj{}
	for _, d := range list {
		out = append(out, c.s.deploymentJSON(c.repo, d))
	}
	c.s.mu.Unlock()
	paginate(c, out)
}

func createDeployment(c *call) {
	var in struct {
		Ref                   string    `json:"ref"`
		Task                  string    `json:"task"`
		AutoMerge             *bool     `json:"auto_merge"`
		RequiredContexts      *[]string `json:"required_contexts"`
		Payload               any       `json:"payload"`
		Environment           string    `json:"environment"`
		Description           string    `json:"description"`
		TransientEnvironment  bool      `json:"transient_environment"`
		ProductionEnvironment *bool     `json:"production_environment"`
	}
	if !c.decode(&in) {
		return
	}
	if in.Ref == "" {
		c.missing("Deployment", "ref")
		return
	}
	if utf8.RuneCountInString(in.Description) > 140 {
		c.invalid("Validation Failed", fieldError{Resource: "Deployment", Field: "description", Code: "custom", Message: "description is too long (maximum is 140 characters)"})
		return
	}
	g := c.git()
	sha, ok := g.resolve(in.Ref)
	if !ok {
		c.invalid("No ref found for: " + in.Ref)
		return
	}
	if in.Task == "" {
		in.Task = "deploy"
	}
	if in.Environment == "" {
		in.Environment = "production"
	}
	if s, ok := in.Payload.(string); ok && s == "" {
		in.Payload = nil
	}
	production := in.Environment == "production"
	if in.ProductionEnvironment != nil {
		production = *in.ProductionEnvironment
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	// Required contexts: omitted means every context must be successful.
	latest := []*Status{}
	for i := len(c.repo.Statuses) - 1; i >= 0; i-- {
		if c.repo.Statuses[i].SHA == sha {
			latest = append(latest, c.repo.Statuses[i])
		}
	}
	latest = latestByContext(latest)
	var failing []string
	if in.RequiredContexts == nil {
		for _, st := range latest {
			if st.State != "success" {
				failing = append(failing, st.Context)
			}
		}
	} else {
		for _, want := range *in.RequiredContexts {
			ok := false
			for _, st := range latest {
				if st.Context == want && st.State == "success" {
					ok = true
				}
			}
			if !ok {
				failing = append(failing, want)
			}
		}
	}
	if len(failing) > 0 {
		sort.Strings(failing)
		c.fail(http.StatusConflict, "Conflict: Commit status checks failed for "+in.Ref+". ("+strings.Join(failing, ", ")+")", nil)
		return
	}
	now := c.s.now()
	d := &Deployment{
		ID: c.s.nextID(), SHA: sha, Ref: in.Ref, Task: in.Task, Environment: in.Environment, Description: in.Description,
		Payload: in.Payload, Transient: in.TransientEnvironment, Production: production, Creator: c.actor.login(),
		AppID: c.appID(), CreatedAt: now, UpdatedAt: now,
	}
	c.repo.Deployments[d.ID] = d
	body := c.s.deploymentJSON(c.repo, d)
	c.s.emit(c.repo, 0, "deployment", "created", obj{
		"deployment": body, "workflow": nil, "workflow_run": nil, "repository": c.s.repoJSON(c.repo), "sender": c.s.userJSON(c.actor.user),
	})
	go c.s.saveLogged()
	c.json(http.StatusCreated, body)
}

func (c *call) deployment() (*Deployment, bool) {
	id, ok := c.intParam("deployment_id")
	if !ok {
		return nil, false
	}
	c.s.mu.Lock()
	d := c.repo.Deployments[id]
	c.s.mu.Unlock()
	if d == nil {
		c.notFound()
		return nil, false
	}
	return d, true
}

func getDeployment(c *call) {
	d, ok := c.deployment()
	if !ok {
		return
	}
	c.s.mu.Lock()
	body := c.s.deploymentJSON(c.repo, d)
	c.s.mu.Unlock()
	c.json(http.StatusOK, body)
}

func deleteDeployment(c *call) {
	d, ok := c.deployment()
	if !ok {
		return
	}
	c.s.mu.Lock()
	states := c.s.deployStates(c.repo, d.ID)
	active := len(states) > 0 && states[0].State != "inactive"
	others := 0
	for _, o := range c.repo.Deployments {
		if o.ID != d.ID && o.Environment == d.Environment {
			others++
		}
	}
	if active && others > 0 {
		c.s.mu.Unlock()
		c.invalid("We cannot delete an active deployment unless it is the only deployment in a given environment.")
		return
	}
	delete(c.repo.Deployments, d.ID)
	for id, ds := range c.repo.DepStatuses {
		if ds.Deployment == d.ID {
			delete(c.repo.DepStatuses, id)
		}
	}
	c.s.mu.Unlock()
	c.s.saveLogged()
	c.noContent()
}

func listDeploymentStatuses(c *call) {
	d, ok := c.deployment()
	if !ok {
		return
	}
	c.s.mu.Lock()
	out := []obj{}
	for _, ds := range c.s.deployStates(c.repo, d.ID) {
		out = append(out, c.s.deployStateJSON(c.repo, ds))
	}
	c.s.mu.Unlock()
	paginate(c, out)
}

var deployStatesAllowed = map[string]bool{"error": true, "failure": true, "inactive": true, "in_progress": true, "queued": true, "pending": true, "success": true}

func createDeploymentStatus(c *call) {
	d, ok := c.deployment()
	if !ok {
		return
	}
	var in struct {
		State          string `json:"state"`
		TargetURL      string `json:"target_url"`
		LogURL         string `json:"log_url"`
		Description    string `json:"description"`
		Environment    string `json:"environment"`
		EnvironmentURL string `json:"environment_url"`
		AutoInactive   *bool  `json:"auto_inactive"`
	}
	if !c.decode(&in) {
		return
	}
	if !deployStatesAllowed[in.State] {
		c.invalid("Validation Failed", fieldError{Resource: "DeploymentStatus", Field: "state", Code: "custom", Message: "state is not included in the list"})
		return
	}
	if utf8.RuneCountInString(in.Description) > 140 {
		c.invalid("Validation Failed", fieldError{Resource: "DeploymentStatus", Field: "description", Code: "custom", Message: "description is too long (maximum is 140 characters)"})
		return
	}
	if in.LogURL == "" {
		in.LogURL = in.TargetURL
	}
	c.s.mu.Lock()
	now := c.s.now()
	if in.Environment != "" {
		d.Environment = in.Environment
	}
	ds := &DeployState{
		ID: c.s.nextID(), Deployment: d.ID, State: in.State, Description: in.Description, Environment: d.Environment,
		TargetURL: in.TargetURL, LogURL: in.LogURL, EnvironmentURL: in.EnvironmentURL, Creator: c.actor.login(), CreatedAt: now,
	}
	c.repo.DepStatuses[ds.ID] = ds
	d.UpdatedAt = now
	body := c.s.deployStateJSON(c.repo, ds)
	sender := c.s.userJSON(c.actor.user)
	emit := func(dep *Deployment, st *DeployState) {
		c.s.emit(c.repo, 0, "deployment_status", "created", obj{
			"deployment_status": c.s.deployStateJSON(c.repo, st), "deployment": c.s.deploymentJSON(c.repo, dep),
			"repository": c.s.repoJSON(c.repo), "sender": sender,
		})
	}
	emit(d, ds)
	// auto_inactive (default true): a success makes earlier deployments
	// to the same environment inactive, but only non-transient,
	// non-production ones that had a success (GitHub's documented rule);
	// production deployments stay as they are unless the client marks them.
	if in.State == "success" && (in.AutoInactive == nil || *in.AutoInactive) {
		var earlier []*Deployment
		for _, o := range c.repo.Deployments {
			if o.ID < d.ID && o.Environment == d.Environment && !o.Production && !o.Transient {
				earlier = append(earlier, o)
			}
		}
		sortByID(earlier, func(x *Deployment) int64 { return x.ID })
		for _, o := range earlier {
			states := c.s.deployStates(c.repo, o.ID)
			if len(states) == 0 || states[0].State == "inactive" || !hadSuccess(states) {
				continue
			}
			in := &DeployState{ID: c.s.nextID(), Deployment: o.ID, State: "inactive", Environment: o.Environment, Creator: c.actor.login(), CreatedAt: now}
			c.repo.DepStatuses[in.ID] = in
			o.UpdatedAt = now
			emit(o, in)
		}
	}
	c.s.mu.Unlock()
	c.s.saveLogged()
	c.json(http.StatusCreated, body)
}

func getDeploymentStatus(c *call) {
	d, ok := c.deployment()
	if !ok {
		return
	}
	id, ok := c.intParam("status_id")
	if !ok {
		return
	}
	c.s.mu.Lock()
	ds := c.repo.DepStatuses[id]
	var body obj
	if ds != nil && ds.Deployment == d.ID {
		body = c.s.deployStateJSON(c.repo, ds)
	}
	c.s.mu.Unlock()
	if body == nil {
		c.notFound()
		return
	}
	c.json(http.StatusOK, body)
}

func listEnvironments(c *call) {
	c.s.mu.Lock()
	first := map[string]*Deployment{}
	for _, d := range c.repo.Deployments {
		if f, ok := first[d.Environment]; !ok || d.ID < f.ID {
			first[d.Environment] = d
		}
	}
	var names []string
	for n := range first {
		names = append(names, n)
	}
	sort.Strings(names)
	envs := []obj{}
	for _, n := range names {
		d := first[n]
		envs = append(envs, obj{
			"id": d.ID, "node_id": nodeID("Environment", d.ID), "name": n, "url": c.s.repoURL(c.repo) + "/environments/" + n,
			"html_url":   c.s.baseURL() + "/" + c.repo.FullName() + "/deployments/activity_log?environments_filter=" + n,
			"created_at": ts(d.CreatedAt), "updated_at": ts(d.UpdatedAt), "protection_rules": []obj{}, "deployment_branch_policy": nil,
		})
	}
	c.s.mu.Unlock()
	c.json(http.StatusOK, obj{"total_count": len(envs), "environments": envs})
}

func hadSuccess(states []*DeployState) bool {
	for _, st := range states {
		if st.State == "success" {
			return true
		}
	}
	return false
}
