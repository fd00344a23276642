package emulator

import (
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

func repositoryDispatch(c *call) {
	var in struct {
		EventType     string         `json:"event_type"`
		ClientPayload map[string]any `json:"client_payload"`
	}
	if !c.decode(&in) {
		return
	}
	if in.EventType == "" {
		c.missing("RepositoryDispatch", "event_type")
		return
	}
	if utf8.RuneCountInString(in.EventType) > 100 {
		c.invalid("Validation Failed", fieldError{Resource: "RepositoryDispatch", Field: "event_type", Code: "custom", Message: "event_type is too long (maximum is 100 characters)"})
		return
	}
	if len(in.ClientPayload) > 10 {
		c.invalid("Validation Failed", fieldError{Resource: "RepositoryDispatch", Field: "client_payload", Code: "custom", Message: "client_payload has more than 10 top-level properties"})
		return
	}
	if in.ClientPayload == nil {
		in.ClientPayload = map[string]any{}
	}
	c.s.mu.Lock()
	c.s.emit(c.repo, 0, "repository_dispatch", in.EventType, obj{
		"branch": c.repo.DefaultBranch, "client_payload": in.ClientPayload,
		"repository": c.s.repoJSON(c.repo), "sender": c.s.userJSON(c.actor.user),
	})
	c.s.mu.Unlock()
	c.noContent()
}

// workflowDispatch records the request (GET /_emulator/workflow-dispatches
// shows what was asked) and starts a workflow run whose jobs wait for a
// test to finish them (actions.go).
func workflowDispatch(c *call) {
	var in struct {
		Ref    string         `json:"ref"`
		Inputs map[string]any `json:"inputs"`
	}
	if !c.decode(&in) {
		return
	}
	if in.Ref == "" {
		c.missing("WorkflowDispatch", "ref")
		return
	}
	g := c.git()
	sha, ok := g.resolve(in.Ref)
	if !ok {
		c.invalid("No ref found for: " + in.Ref)
		return
	}
	if len(in.Inputs) > 25 {
		c.invalid("Validation Failed", fieldError{Resource: "WorkflowDispatch", Field: "inputs", Code: "custom", Message: "at most 25 inputs"})
		return
	}
	// GitHub reads the workflow file at the ref: it must exist and have a
	// workflow_dispatch trigger, and the inputs must be the declared ones.
	// The emulator knows workflows only by file name (no numeric ids).
	wf, found := readWorkflow(g, sha, c.param("workflow_id"))
	if !found {
		c.notFound()
		return
	}
	if msg := wf.checkInputs(in.Inputs); msg != "" {
		c.invalid(msg)
		return
	}
	c.s.mu.Lock()
	run := c.s.startWorkflowRun(c.repo, c.actor.user, c.param("workflow_id"), wf, sha, in.Ref)
	c.s.st.WorkflowDispatches = append(c.s.st.WorkflowDispatches, &WorkflowDispatch{
		Repo: c.repo.FullName(), Workflow: c.param("workflow_id"), Ref: in.Ref, Inputs: in.Inputs, Actor: c.actor.login(), At: c.s.now(),
		RunID: run.ID,
	})
	c.s.mu.Unlock()
	c.s.saveLogged()
	c.noContent()
}

// dispatchWorkflow is what a workflow file says about workflow_dispatch.
type dispatchWorkflow struct {
	dispatchable bool
	inputs       map[string]bool // name → required without a default
	name         string          // the workflow's name:, if any
	jobs         []workflowJob
}

// readWorkflow reads .github/workflows/<name> at commit sha. found is false
// when there is no such file; a file that is not YAML is found but not
// dispatchable.
func readWorkflow(g gitRepo, sha, name string) (dispatchWorkflow, bool) {
	if name == "" || strings.ContainsAny(name, "/\\") || (path.Ext(name) != ".yml" && path.Ext(name) != ".yaml") {
		return dispatchWorkflow{}, false
	}
	es, err := g.lsTree(sha, false, ".github/workflows/"+name)
	if err != nil || len(es) != 1 || es[0].Type != "blob" {
		return dispatchWorkflow{}, false
	}
	data, err := g.blob(es[0].SHA)
	if err != nil {
		return dispatchWorkflow{}, false
	}
	var doc struct {
		Name string    `yaml:"name"`
		On   yaml.Node `yaml:"on"`
		Jobs yaml.Node `yaml:"jobs"`
	}
	if yaml.Unmarshal(data, &doc) != nil {
		return dispatchWorkflow{}, true
	}
	wf := dispatchWorkflow{inputs: map[string]bool{}, name: doc.Name, jobs: workflowJobs(doc.Jobs)}
	on := doc.On
	switch on.Kind {
	case yaml.ScalarNode:
		wf.dispatchable = on.Value == "workflow_dispatch"
	case yaml.SequenceNode:
		for _, n := range on.Content {
			wf.dispatchable = wf.dispatchable || n.Value == "workflow_dispatch"
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(on.Content); i += 2 {
			if on.Content[i].Value != "workflow_dispatch" {
				continue
			}
			wf.dispatchable = true
			var trig struct {
				Inputs map[string]struct {
					Required bool `yaml:"required"`
					Default  any  `yaml:"default"`
				} `yaml:"inputs"`
			}
			if on.Content[i+1].Decode(&trig) == nil {
				for name, in := range trig.Inputs {
					wf.inputs[name] = in.Required && in.Default == nil
				}
			}
		}
	}
	return wf, true
}

// checkInputs answers GitHub's 422 message for a dispatch the workflow
// does not accept, or "".
func (wf dispatchWorkflow) checkInputs(given map[string]any) string {
	if !wf.dispatchable {
		return "Workflow does not have 'workflow_dispatch' trigger"
	}
	var unexpected []string
	for name := range given {
		if _, ok := wf.inputs[name]; !ok {
			unexpected = append(unexpected, name)
		}
	}
	if len(unexpected) > 0 {
		sort.Strings(unexpected)
		list, _ := json.Marshal(unexpected)
		return "Unexpected inputs provided: " + string(list)
	}
	var names []string
	for name := range wf.inputs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, ok := given[name]; wf.inputs[name] && !ok {
			return fmt.Sprintf("Required input '%s' not provided", name)
		}
	}
	return ""
}
