package emulator_test

import (
	"fmt"
	"testing"
)

// TestOpenAnIssueAndCommentOnAPublicRepository: an issue is not a pull
// request; on a public repository a stranger may open one and comment, on a
// private one they see nothing.
func TestOpenAnIssueAndCommentOnAPublicRepository(t *testing.T) {
	e := newEnv(t)
	is := e.json(e.alice, "POST", "/repos/acme/site/issues", map[string]string{"title": "Incident", "body": "staging is down"}, 201).(map[string]any)
	if is["title"] != "Incident" || is["state"] != "open" || is["pull_request"] != nil {
		t.Fatalf("issue %v", is)
	}
	n := int(is["number"].(float64))
	if status, _, b := e.do(e.alice, "POST", "/repos/acme/site/issues", map[string]string{"body": "no title"}); status != 422 {
		t.Fatalf("an issue without a title: %d %s", status, b)
	}
	eve := e.gh.CreateUser("eve")
	if status, _, _ := e.do(eve, "POST", "/repos/acme/site/issues", map[string]string{"title": "x"}); status != 404 {
		t.Fatalf("a stranger opened an issue on a private repository: %d", status)
	}
	if err := e.gh.Server.SetPrivate("acme/site", false); err != nil {
		t.Fatal(err)
	}
	mine := e.json(eve, "POST", "/repos/acme/site/issues", map[string]string{"title": "Please look"}, 201).(map[string]any)
	if int(mine["number"].(float64)) != n+1 {
		t.Fatalf("numbers: %v after %d", mine["number"], n)
	}
	e.json(eve, "POST", fmt.Sprintf("/repos/acme/site/issues/%d/comments", n), map[string]string{"body": "/status"}, 201)
}
