package command

import (
	"fmt"
	"strings"
	"testing"
)

var allPermissions = []Permission{PermissionNone, PermissionRead, PermissionTriage, PermissionWrite, PermissionMaintain, PermissionAdmin}

// commandFor builds a valid command of v on env, as Parse would.
func commandFor(t *testing.T, v Verb, env string) Command {
	t.Helper()
	line := "/" + string(v)
	switch v {
	case Promote, Rollback, Hold, Unhold, Deploy, Smoke, Preview:
		line += " " + env
	case Purge:
		line += " " + env + " --all"
	case Upgrade:
		line += " retry"
	}
	cmds, errs := Parse(line, shortOpts())
	if len(errs) != 0 || len(cmds) != 1 {
		t.Fatalf("parse %q: %v", line, errs)
	}
	return cmds[0]
}

// TestAuthorizeMatrix checks every permission against every verb on an
// environment without a rule (dev) and one with a maintain rule (production),
// under a default of write.
func TestAuthorizeMatrix(t *testing.T) {
	rules := Rules{PerEnv: map[string]EnvRule{"production": {Permission: PermissionMaintain}}}
	needed := map[Verb]map[string]Permission{
		Promote:  {"dev": PermissionWrite, "production": PermissionMaintain},
		Rollback: {"dev": PermissionWrite, "production": PermissionMaintain},
		Hold:     {"dev": PermissionWrite, "production": PermissionMaintain},
		Unhold:   {"dev": PermissionWrite, "production": PermissionMaintain},
		Deploy:   {"dev": PermissionWrite, "production": PermissionMaintain},
		Purge:    {"dev": PermissionWrite, "production": PermissionMaintain},
		Smoke:    {"dev": PermissionWrite, "production": PermissionWrite},
		Preview:  {"dev": PermissionWrite, "production": PermissionWrite},
		// /upgrade names no environment: the repository's default rule.
		Upgrade: {"dev": PermissionWrite, "production": PermissionWrite},
		Status:  {"dev": PermissionRead, "production": PermissionRead},
		Help:    {"dev": PermissionRead, "production": PermissionRead},
	}
	if len(needed) != len(Specs()) {
		t.Fatalf("matrix covers %d verbs, there are %d", len(needed), len(Specs()))
	}
	for v, byEnv := range needed {
		for env, need := range byEnv {
			cmd := commandFor(t, v, env)
			for _, have := range allPermissions {
				t.Run(fmt.Sprintf("%s/%s/%s", v, env, have), func(t *testing.T) {
					d := Authorize(cmd, Actor{Login: "alice", Permission: have}, rules)
					if d.Needed != need {
						t.Errorf("needed = %s, want %s", d.Needed, need)
					}
					if want := have >= need; d.Allowed != want {
						t.Errorf("allowed = %v, want %v (%s)", d.Allowed, want, d.Reason)
					}
					if !d.Allowed && (!strings.Contains(d.Reason, "**"+need.String()+"**") || !strings.Contains(d.Reason, "@alice")) {
						t.Errorf("reason does not say what is needed: %q", d.Reason)
					}
				})
			}
		}
	}
}

func TestAuthorizeDefaultPermission(t *testing.T) {
	rules := Rules{DefaultPermission: PermissionMaintain, PerEnv: map[string]EnvRule{"dev": {Permission: PermissionTriage}}}
	// An environment rule can only raise the bar, never lower it below the default.
	if d := Authorize(commandFor(t, Promote, "dev"), Actor{Login: "a", Permission: PermissionWrite}, rules); d.Allowed || d.Needed != PermissionMaintain {
		t.Errorf("decision = %+v", d)
	}
	if d := Authorize(commandFor(t, Smoke, "dev"), Actor{Login: "a", Permission: PermissionWrite}, rules); d.Allowed || d.Needed != PermissionMaintain {
		t.Errorf("smoke under a maintain default: %+v", d)
	}
	// The preview needs write whatever the default: it opens the private site.
	if d := Authorize(commandFor(t, Preview, ""), Actor{Login: "a", Permission: PermissionWrite}, rules); !d.Allowed || d.Needed != PermissionWrite {
		t.Errorf("preview: %+v", d)
	}
}

func TestAuthorizeTeams(t *testing.T) {
	rules := Rules{PerEnv: map[string]EnvRule{
		"production": {Permission: PermissionWrite, Teams: []string{"acme/release"}},
		"staging":    {Teams: []string{"@QA"}},
	}}
	tests := []struct {
		name  string
		env   string
		actor Actor
		allow bool
		says  string
	}{
		{"member", "production", Actor{Login: "a", Permission: PermissionWrite, Teams: []string{"acme/release"}}, true, ""},
		{"member by slug", "production", Actor{Login: "a", Permission: PermissionWrite, Teams: []string{"Release"}}, true, ""},
		{"non-member", "production", Actor{Login: "a", Permission: PermissionMaintain, Teams: []string{"acme/web"}}, false, "limited to members of the team `acme/release`"},
		{"other org's team", "production", Actor{Login: "a", Permission: PermissionWrite, Teams: []string{"other/release"}}, false, "acme/release"},
		{"member without permission", "production", Actor{Login: "a", Permission: PermissionTriage, Teams: []string{"acme/release"}}, false, "needs **write**"},
		{"admin outside the team", "production", Actor{Login: "a", Permission: PermissionAdmin}, true, ""},
		{"rule with only teams", "staging", Actor{Login: "a", Permission: PermissionWrite, Teams: []string{"acme/qa"}}, true, ""},
		{"rule with only teams, non-member", "staging", Actor{Login: "a", Permission: PermissionWrite}, false, "`QA`"},
		{"teams do not apply elsewhere", "dev", Actor{Login: "a", Permission: PermissionWrite}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Authorize(commandFor(t, Deploy, tt.env), tt.actor, rules)
			if d.Allowed != tt.allow || !strings.Contains(d.Reason, tt.says) {
				t.Errorf("decision = %+v", d)
			}
		})
	}
	// Read-only verbs ignore environment teams.
	if d := Authorize(commandFor(t, Status, ""), Actor{Login: "a", Permission: PermissionRead}, rules); !d.Allowed {
		t.Errorf("status: %+v", d)
	}
}

func TestAuthorizeBots(t *testing.T) {
	for _, actor := range []Actor{
		{Login: "hoist[bot]", Permission: PermissionAdmin},
		{Login: "Dependabot[BOT]", Permission: PermissionWrite},
		{Login: "ci-robot", Permission: PermissionAdmin, IsBot: true},
	} {
		for _, s := range Specs() {
			d := Authorize(commandFor(t, s.Verb, "dev"), actor, Rules{})
			if d.Allowed || !strings.Contains(d.Reason, "bot") {
				t.Errorf("%s may run %s: %+v", actor.Login, s.Verb, d)
			}
		}
	}
	if (Actor{Login: "robot"}).IsBotAccount() {
		t.Errorf("a person named robot is taken for a bot")
	}
}

func TestShouldAct(t *testing.T) {
	for _, tt := range []struct {
		action string
		bot    bool
		want   bool
	}{
		{"created", false, true},
		{"created", true, false},
		{"edited", false, false},
		{"deleted", false, false},
		{"", false, false},
		{"Created", false, false},
	} {
		if got := ShouldAct(tt.action, tt.bot); got != tt.want {
			t.Errorf("ShouldAct(%q, %v) = %v", tt.action, tt.bot, got)
		}
	}
}

func TestParsePermission(t *testing.T) {
	for in, want := range map[string]Permission{"read": PermissionRead, "pull": PermissionRead, "Triage": PermissionTriage,
		"write": PermissionWrite, "push": PermissionWrite, "maintain": PermissionMaintain, "admin": PermissionAdmin, "none": PermissionNone} {
		got, err := ParsePermission(in)
		if err != nil || got != want {
			t.Errorf("ParsePermission(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParsePermission("owner"); err == nil {
		t.Errorf("owner accepted")
	}
}

func TestReply(t *testing.T) {
	cmd := commandFor(t, Promote, "production")
	tests := []struct {
		reply    Reply
		reaction string
		want     []string
		not      []string
	}{
		{Reply{Outcome: Accepted, Command: cmd, Actor: "alice", Links: []Link{{"check run", "https://github.com/o/r/runs/1"}}},
			"eyes", []string{"👀 @alice on it: `/promote production`.", "[check run](https://github.com/o/r/runs/1)"}, nil},
		{Reply{Outcome: Refused, Command: cmd, Actor: "bob", Detail: Authorize(cmd, Actor{Login: "bob", Permission: PermissionWrite}, Rules{PerEnv: map[string]EnvRule{"production": {Permission: PermissionAdmin}}}).Reason},
			"confused", []string{"I did not run `/promote production`", "needs **admin** permission"}, nil},
		{Reply{Outcome: Failed, Command: cmd, Detail: "the branch moved", Links: []Link{{"logs", "javascript:alert(1)"}, {"a]b", "https://x.test/a(b)"}}},
			"confused", []string{"`/promote production` failed.", "the branch moved", `[a\]b](https://x.test/a%28b%29)`}, []string{"javascript"}},
		{Reply{Outcome: Succeeded, Command: cmd, Links: []Link{{"", "https://example.com/site"}}},
			"rocket", []string{"🚀 `/promote production` is done.", "[example.com](https://example.com/site)"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.reply.Outcome.String(), func(t *testing.T) {
			if got := tt.reply.Outcome.Reaction(); got != tt.reaction {
				t.Errorf("reaction = %q", got)
			}
			md := tt.reply.Markdown()
			for _, w := range tt.want {
				if !strings.Contains(md, w) {
					t.Errorf("reply lacks %q:\n%s", w, md)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(md, w) {
					t.Errorf("reply has %q:\n%s", w, md)
				}
			}
		})
	}
}
