package emulator_test

import (
	"context"
	"testing"

	"github.com/google/go-github/v60/github"
)

func TestTeamMemberships(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.gh.CreateUser("carol")
	e.gh.CreateUser("dave")
	if err := e.gh.SetTeam("acme", "Release", "carol"); err != nil {
		t.Fatal(err)
	}
	if err := e.gh.SetTeam("nobody", "release"); err == nil {
		t.Error("a team of an organization that does not exist was created")
	}
	if err := e.gh.SetTeam("acme", "release", "zed"); err == nil {
		t.Error("a team with an unknown member was created")
	}
	inst := e.gh.InstallationClient(e.app, e.inst)
	m, _, err := inst.Teams.GetTeamMembershipBySlug(ctx, "acme", "release", "Carol")
	if err != nil || m.GetState() != "active" || m.GetRole() != "member" || m.GetURL() == "" {
		t.Fatalf("carol's membership %+v %v", m, err)
	}
	if _, resp, err := inst.Teams.GetTeamMembershipBySlug(ctx, "acme", "release", "dave"); err == nil || resp.StatusCode != 404 {
		t.Errorf("dave is not a member, got %v", err)
	}
	if _, resp, err := inst.Teams.GetTeamMembershipBySlug(ctx, "acme", "nope", "carol"); err == nil || resp.StatusCode != 404 {
		t.Errorf("no such team, got %v", err)
	}
	// Another account's teams, and an app without the members permission: 403.
	if _, resp, err := inst.Teams.GetTeamMembershipBySlug(ctx, "other", "release", "carol"); err == nil || resp.StatusCode != 403 {
		t.Errorf("teams of another account, got %v", err)
	}
	narrow, _, err := e.gh.Client(e.app.JWT()).Apps.CreateInstallationToken(ctx, e.inst,
		&github.InstallationTokenOptions{Permissions: &github.InstallationPermissions{Contents: github.String("read")}})
	if err != nil {
		t.Fatal(err)
	}
	if status, _, _ := e.do(narrow.GetToken(), "GET", "/orgs/acme/teams/release/memberships/carol", nil); status != 403 {
		t.Errorf("a token without the members permission: %d", status)
	}
	if status, _, _ := e.do(e.alice, "GET", "/orgs/acme/teams/release/memberships/carol", nil); status != 200 {
		t.Errorf("a signed-in user reads a membership: %d", status)
	}
	if status, _, _ := e.do("", "GET", "/orgs/acme/teams/release/memberships/carol", nil); status != 401 {
		t.Errorf("anonymous: %d", status)
	}
	// The admin API sets members too.
	if v := e.json("", "PUT", "/_emulator/teams/acme/release", map[string]any{"members": []string{"dave"}}, 204); v != nil {
		t.Errorf("admin answer %v", v)
	}
	if _, _, err := inst.Teams.GetTeamMembershipBySlug(ctx, "acme", "release", "dave"); err != nil {
		t.Errorf("dave after the admin call: %v", err)
	}
}
