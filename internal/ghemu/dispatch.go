package ghemu

import "unicode/utf8"

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

// workflowDispatch records the request; the emulator runs no workflows.
// GET /_emulator/workflow-dispatches shows what was asked.
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
	if _, ok := c.git().resolve(in.Ref); !ok {
		c.invalid("No ref found for: " + in.Ref)
		return
	}
	if len(in.Inputs) > 25 {
		c.invalid("Validation Failed", fieldError{Resource: "WorkflowDispatch", Field: "inputs", Code: "custom", Message: "at most 25 inputs"})
		return
	}
	c.s.mu.Lock()
	c.s.st.WorkflowDispatches = append(c.s.st.WorkflowDispatches, &WorkflowDispatch{
		Repo: c.repo.FullName(), Workflow: c.param("workflow_id"), Ref: in.Ref, Inputs: in.Inputs, Actor: c.actor.login(), At: c.s.now(),
	})
	c.s.mu.Unlock()
	c.s.saveLogged()
	c.noContent()
}
