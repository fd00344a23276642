package fleet

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/hoist-dev/hoist/config"
)

// People tells who is signed in to the dashboard (web.Auth).
type People interface {
	// Require returns the signed-in person's login or, answering the
	// request itself, sends the browser to sign in.
	Require(w http.ResponseWriter, r *http.Request) (login string, ok bool)
}

// MountDashboard adds the fleet page with its launch form, and each
// instance's page with its launch progress, settings, history and
// lifecycle forms. Reading needs read permission on the repository,
// launching and changing the fleet's permission (maintain by default),
// both as GitHub answers for the signed-in person.
func (s *Service) MountDashboard(mux *http.ServeMux, people People, publicURL string) {
	mux.HandleFunc("GET /fleets/{owner}/{repo}", func(w http.ResponseWriter, r *http.Request) {
		s.serveFleetPage(w, r, people, "", http.StatusOK)
	})
	mux.HandleFunc("POST /fleets/{owner}/{repo}", func(w http.ResponseWriter, r *http.Request) {
		s.serveFleetLaunch(w, r, people, publicURL)
	})
	mux.HandleFunc("GET /fleets/{owner}/{repo}/instances/{name}", func(w http.ResponseWriter, r *http.Request) {
		s.serveInstancePage(w, r, people)
	})
	mux.HandleFunc("POST /fleets/{owner}/{repo}/instances/{name}/{action}", func(w http.ResponseWriter, r *http.Request) {
		s.serveInstanceAction(w, r, people, publicURL)
	})
}

func permissionRank(p string) int {
	for i, q := range config.RepoPermissions {
		if q == p {
			return i
		}
	}
	return -1
}

// person checks the signed-in person's permission on the repository.
func (s *Service) person(w http.ResponseWriter, r *http.Request, people People) (*repoCtx, string, string, bool) {
	login, ok := people.Require(w, r)
	if !ok {
		return nil, "", "", false
	}
	full := r.PathValue("owner") + "/" + r.PathValue("repo")
	rc, err := s.open(r.Context(), full)
	if err != nil {
		s.failPage(w, r, err)
		return nil, "", "", false
	}
	perm, err := rc.repo.Permission(r.Context(), login)
	if err != nil {
		s.failPage(w, r, err)
		return nil, "", "", false
	}
	if permissionRank(perm) < permissionRank("read") {
		// The same answer as for a repository that does not exist.
		http.Error(w, "not found", http.StatusNotFound)
		return nil, "", "", false
	}
	return rc, login, perm, true
}

func (s *Service) failPage(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	msg := "hoist could not do that"
	if e, ok := err.(*Error); ok {
		status, msg = e.Status, e.Message
	}
	http.Error(w, msg, status)
}

func (s *Service) serveFleetPage(w http.ResponseWriter, r *http.Request, people People, notice string, status int) {
	rc, _, perm, ok := s.person(w, r, people)
	if !ok {
		return
	}
	list, err := s.store.List(r.Context(), rc.repo.FullName())
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	var views []View
	for _, in := range list {
		views = append(views, s.view(r.Context(), in, &rc.cfg.Fleet))
	}
	renderPage(w, r, status, fleetPage, map[string]any{
		"Repo": rc.repo.FullName(), "Instances": views, "Notice": notice,
		"CanLaunch": permissionRank(perm) >= permissionRank(rc.cfg.Fleet.Permission), "Permission": rc.cfg.Fleet.Permission,
		"Fields": SchemaFields(rc.cfg.Fleet.Settings.Schema.Doc),
	})
}

func (s *Service) serveFleetLaunch(w http.ResponseWriter, r *http.Request, people People, publicURL string) {
	if crossSite(r, publicURL) {
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
		return
	}
	rc, login, perm, ok := s.person(w, r, people)
	if !ok {
		return
	}
	if permissionRank(perm) < permissionRank(rc.cfg.Fleet.Permission) {
		http.Error(w, fmt.Sprintf("launching instances needs %s permission on %s", rc.cfg.Fleet.Permission, rc.repo.FullName()), http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	settings := FormSettings(rc.cfg.Fleet.Settings.Schema.Doc, r.PostForm)
	in, err := s.Launch(r.Context(), LaunchRequest{Repo: rc.repo.FullName(), Name: r.PostForm.Get("name"), Plan: Plan(r.PostForm.Get("plan")),
		Settings: settings, Actor: login})
	if err != nil {
		if e, ok := err.(*Error); ok {
			s.serveFleetPage(w, r, people, e.Message, e.Status)
			return
		}
		s.failPage(w, r, err)
		return
	}
	// The instance's page shows the launch's progress.
	http.Redirect(w, r, instancePath(rc.repo.FullName(), in.Name)+"?done=launch", http.StatusSeeOther)
}

func originOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	return p.Scheme + "://" + p.Host
}

// Field is one input of the launch form, generated from the schema.
type Field struct {
	Name, Label, Kind, Pattern, Default, Help string
	Required                                  bool
	Options                                   []string
}

// SchemaFields lists the form inputs of a settings schema: a text input
// per string (with its pattern), a select per enum, a checkbox per boolean,
// a number input per number; an object's properties become "outer.inner"
// inputs. Sorted by name.
func SchemaFields(schema map[string]any) []Field {
	var out []Field
	var walk func(prefix string, node map[string]any, required map[string]bool)
	walk = func(prefix string, node map[string]any, required map[string]bool) {
		props, _ := node["properties"].(map[string]any)
		for name, p := range props {
			ps, _ := p.(map[string]any)
			if ps == nil {
				continue
			}
			full := prefix + name
			t, _ := ps["type"].(string)
			if t == "object" {
				req := map[string]bool{}
				if list, ok := ps["required"].([]any); ok {
					for _, r := range list {
						req[fmt.Sprint(r)] = true
					}
				}
				walk(full+".", ps, req)
				continue
			}
			f := Field{Name: full, Label: full, Kind: "text", Required: required[name]}
			if title, ok := ps["title"].(string); ok {
				f.Label = title
			}
			f.Help, _ = ps["description"].(string)
			f.Pattern, _ = ps["pattern"].(string)
			if d, ok := ps["default"]; ok {
				f.Default = fmt.Sprint(d)
			}
			switch {
			case ps["enum"] != nil:
				f.Kind = "select"
				for _, o := range ps["enum"].([]any) {
					f.Options = append(f.Options, fmt.Sprint(o))
				}
			case t == "boolean":
				f.Kind = "checkbox"
			case t == "integer" || t == "number":
				f.Kind = "number"
			case t == "array":
				f.Kind = "json"
			}
			out = append(out, f)
		}
	}
	req := map[string]bool{}
	if list, ok := schema["required"].([]any); ok {
		for _, r := range list {
			req[fmt.Sprint(r)] = true
		}
	}
	walk("", schema, req)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// FormSettings reads the launch form back into a settings document, each
// value in its schema's type; empty inputs are left out, so that the
// schema's defaults and required rules apply.
func FormSettings(schema map[string]any, form url.Values) map[string]any {
	out := map[string]any{}
	for _, f := range SchemaFields(schema) {
		raw := form.Get("s." + f.Name)
		var v any
		switch f.Kind {
		case "checkbox":
			v = raw == "on" || raw == "true"
		case "number":
			if raw == "" {
				continue
			}
			n, err := strconv.ParseFloat(raw, 64)
			if err != nil {
				v = raw // the schema refuses it with its reason
			} else {
				v = n
			}
		case "json":
			if raw == "" || json.Unmarshal([]byte(raw), &v) != nil {
				continue
			}
		default:
			if raw == "" {
				continue
			}
			v = raw
		}
		parts := strings.Split(f.Name, ".")
		m := out
		for _, p := range parts[:len(parts)-1] {
			next, _ := m[p].(map[string]any)
			if next == nil {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		m[parts[len(parts)-1]] = v
	}
	return out
}

var fleetPage = template.Must(template.New("fleet").Parse(`<!doctype html>
<meta charset="utf-8"><title>Fleet of {{.Repo}} · hoist</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{padding:.3em .8em;border-bottom:1px solid #ddd;text-align:left}
.notice{background:#fee;padding:.5em 1em}.live{color:#080}.failed{color:#b00}.suspended{color:#a60}label{display:block;margin:.4em 0}</style>
<h1>Fleet of {{.Repo}}</h1>
{{if .Notice}}<p class="notice" role="alert">{{.Notice}}</p>{{end}}
<table id="instances"><tr><th>Instance</th><th>Plan</th><th>State</th><th>Version</th><th>Settings</th><th>Updated</th><th>Links</th></tr>
{{range .Instances}}<tr data-instance="{{.Name}}"><td><a href="/fleets/{{$.Repo}}/instances/{{.Name}}">{{.Name}}</a></td><td>{{.Plan}}{{if .ExpiresAt}} until {{.ExpiresAt.Format "2006-01-02"}}{{end}}</td>
<td class="{{.State}}">{{.State}}{{if .Reason}}: {{.Reason}}{{end}}</td><td>{{.Version}} {{printf "%.7s" .SHA}}</td><td>v{{.SettingsVersion}}</td>
<td>{{.UpdatedAt.Format "2006-01-02 15:04"}}</td><td>{{range $stage, $url := .URLs}}<a href="{{$url}}">{{$stage}}</a> {{end}}</td></tr>
{{else}}<tr><td colspan="7">No instances yet.</td></tr>{{end}}
</table>
{{if .CanLaunch}}
<h2>Launch an instance</h2>
<form method="post" id="launch">
<label>Name <input name="name" required pattern="[a-z]([a-z0-9-]{0,61}[a-z0-9])?" maxlength="63"></label>
<label>Plan <select name="plan"><option>trial</option><option>paid</option></select></label>
{{range .Fields}}<label>{{.Label}}{{if .Required}} *{{end}}
{{if eq .Kind "select"}}<select name="s.{{.Name}}">{{$d := .Default}}{{range .Options}}<option{{if eq . $d}} selected{{end}}>{{.}}</option>{{end}}</select>
{{else if eq .Kind "checkbox"}}<input type="checkbox" name="s.{{.Name}}"{{if eq .Default "true"}} checked{{end}}>
{{else if eq .Kind "number"}}<input type="number" step="any" name="s.{{.Name}}" value="{{.Default}}"{{if .Required}} required{{end}}>
{{else}}<input name="s.{{.Name}}" value="{{.Default}}"{{if .Pattern}} pattern="{{.Pattern}}"{{end}}{{if .Required}} required{{end}}>{{end}}
{{if .Help}}<small>{{.Help}}</small>{{end}}</label>
{{end}}
<button>Launch</button>
</form>
{{else}}<p>Launching instances needs {{.Permission}} permission.</p>{{end}}
`))
