package emulator_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/emulator/emulatortest"
)

// postManifest posts a manifest form as a browser would and returns the
// response without following its redirect.
func postManifest(t *testing.T, client *http.Client, base, path, state string, manifest map[string]any) *http.Response {
	t.Helper()
	b, _ := json.Marshal(manifest)
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.PostForm(base+path+"?state="+url.QueryEscape(state), url.Values{"manifest": {string(b)}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func testManifest(name string) map[string]any {
	return map[string]any{
		"name": name, "url": "https://example.com/hoist",
		"hook_attributes": map[string]any{"url": "https://hoist.example.com/api/github/hook"},
		"redirect_url":    "https://setup.example.com/done?x=1",
		"callback_urls":   []string{"https://hoist.example.com/login/callback"},
		"public":          false,
		"default_permissions": map[string]string{
			"contents": "write", "checks": "write", "metadata": "read",
		},
		"default_events": []string{"push", "check_run"},
	}
}

// codeFrom checks a manifest redirect and returns its code.
func codeFrom(t *testing.T, resp *http.Response, state string) string {
	t.Helper()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("manifest post: status %d, want 302", resp.StatusCode)
	}
	to, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	q := to.Query()
	if to.Host != "setup.example.com" || to.Path != "/done" || q.Get("x") != "1" || q.Get("state") != state || q.Get("code") == "" {
		t.Fatalf("redirect to %s, want the manifest's redirect_url with code and state %q", to, state)
	}
	return q.Get("code")
}

// The manifest flow registers the App the manifest describes, owned by the
// signed-in person, and its code yields credentials once: the response is
// checked against GitHub's description, and the key it hands out signs JWTs
// the emulator accepts.
func TestManifestFlow(t *testing.T) {
	e := newEnv(t)
	resp := postManifest(t, e.gh.SignedInClient("alice"), e.gh.URL(), "/settings/apps/new", "st-1", testManifest("Hoist Test"))
	code := codeFrom(t, resp, "st-1")

	got := e.json("", "POST", "/app-manifests/"+code+"/conversions", nil, http.StatusCreated).(map[string]any)
	for _, k := range []string{"pem", "webhook_secret", "client_id", "client_secret"} {
		if s, _ := got[k].(string); s == "" {
			t.Errorf("conversion has no %s", k)
		}
	}
	if got["slug"] != "hoist-test" || got["name"] != "Hoist Test" || get(got, "owner", "login") != "alice" {
		t.Errorf("conversion: slug %v name %v owner %v", got["slug"], got["name"], get(got, "owner", "login"))
	}
	if get(got, "permissions", "contents") != "write" || len(got["events"].([]any)) != 2 {
		t.Errorf("permissions %v events %v", got["permissions"], got["events"])
	}
	id := int64(got["id"].(float64))
	app := &emulatortest.TestApp{ID: id, PrivateKeyPEM: []byte(got["pem"].(string))}
	me := e.json(app.JWT(), "GET", "/app", nil, http.StatusOK).(map[string]any)
	if int64(me["id"].(float64)) != id {
		t.Errorf("GET /app with the new key: id %v, want %d", me["id"], id)
	}
	clientID, clientSecret, err := e.gh.AppCredentials(id)
	if err != nil || clientID != got["client_id"] || clientSecret != got["client_secret"] {
		t.Errorf("OAuth credentials %q/%q, conversion said %v/%v (%v)", clientID, clientSecret, got["client_id"], got["client_secret"], err)
	}

	// A code is usable once.
	if status, _, _ := e.do("", "POST", "/app-manifests/"+code+"/conversions", nil); status != http.StatusNotFound {
		t.Errorf("code used twice: status %d, want 404", status)
	}
	if status, _, _ := e.do("", "POST", "/app-manifests/no-such-code/conversions", nil); status != http.StatusNotFound {
		t.Errorf("unknown code: status %d, want 404", status)
	}
}

// With an organization in the path the organization owns the App; a
// manifest GitHub would refuse registers nothing.
func TestManifestOrganizationAndRefusals(t *testing.T) {
	e := newEnv(t) // acme exists as an organization
	code := codeFrom(t, postManifest(t, http.DefaultClient, e.gh.URL(), "/organizations/acme/settings/apps/new", "s", testManifest("acme hoist")), "s")
	got := e.json("", "POST", "/app-manifests/"+code+"/conversions", nil, http.StatusCreated).(map[string]any)
	if get(got, "owner", "login") != "acme" {
		t.Errorf("owner %v, want acme", get(got, "owner", "login"))
	}
	if resp := postManifest(t, http.DefaultClient, e.gh.URL(), "/organizations/nobody/settings/apps/new", "s", testManifest("x")); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown organization: status %d, want 404", resp.StatusCode)
	}
	for name, edit := range map[string]func(m map[string]any){
		"no name":           func(m map[string]any) { m["name"] = "" },
		"no redirect_url":   func(m map[string]any) { delete(m, "redirect_url") },
		"relative hook url": func(m map[string]any) { m["hook_attributes"] = map[string]any{"url": "/hook"} },
		"installation event": func(m map[string]any) {
			m["default_events"] = []string{"installation"}
		},
		"bad permission": func(m map[string]any) { m["default_permissions"] = map[string]string{"contents": "all"} },
		"taken name":     func(m map[string]any) { m["name"] = "acme hoist" },
	} {
		m := testManifest("refused " + strings.ReplaceAll(name, " ", "-"))
		edit(m)
		if resp := postManifest(t, http.DefaultClient, e.gh.URL(), "/settings/apps/new", "s", m); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("%s: status %d, want 422", name, resp.StatusCode)
		}
	}
}

// A code not exchanged within an hour expires.
func TestManifestCodeExpires(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	gh := emulatortest.Start(t, emulator.Options{Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	code := codeFrom(t, postManifest(t, http.DefaultClient, gh.URL(), "/settings/apps/new", "s", testManifest("late")), "s")
	mu.Lock()
	now = now.Add(time.Hour + time.Second)
	mu.Unlock()
	resp, err := http.Post(gh.URL()+"/app-manifests/"+code+"/conversions", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("code exchanged after an hour: status %d, want 404", resp.StatusCode)
	}
}
