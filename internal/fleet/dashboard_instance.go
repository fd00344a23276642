package fleet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config"
)

// The instance page shows one instance: its launch steps (refreshed while
// the launch runs), its settings with their history, and, for people with
// the fleet's permission, the forms that change it. Every change goes
// through the same Service methods as the API, so it is checked, applied
// and audited the same way; only the actor differs (a GitHub login here,
// "token:<name>" there).

// instanceActions are the posts the instance page takes.
var instanceActions = []string{"settings", "rollback", "suspend", "resume", "upgrade", "delete"}

// doneNotices are the messages shown after a change; the page shows only
// these, never text from the request.
var doneNotices = map[string]string{
	"launch":    "Launch started. This page shows its progress.",
	"settings":  "Settings changed: the settings file of both stages was rewritten and purged.",
	"unchanged": "The settings are unchanged; nothing was written.",
	"rollback":  "Settings rolled back: this is a new version holding the old settings.",
	"suspend":   "Suspended: every page of both stages serves the maintenance page.",
	"resume":    "Resumed: the release's pages are back.",
	"upgrade":   "Upgraded to paid.",
	"delete":    "Deleted: branches and DNS records are gone; the folders, settings and history are kept for the grace period.",
}

// refreshSeconds is how often the instance page reloads while a launch
// runs. The dashboard's Content-Security-Policy allows no script at all,
// so a <meta http-equiv=refresh> does it.
const refreshSeconds = 2

// dashboardCSP is the dashboard's policy (internal/web): no scripts, inline
// styles, forms to this origin only, no framing.
const dashboardCSP = "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// renderPage writes a page whole or not at all: a template error midway
// would otherwise leave half a page with a 200.
func renderPage(w http.ResponseWriter, r *http.Request, status int, t *template.Template, data any) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		zerolog.Ctx(r.Context()).Error().Err(err).Str("path", r.URL.Path).Msg("fleet dashboard: render")
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", dashboardCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	// A page is one person's view: never kept by a shared cache.
	h.Set("Cache-Control", "private, no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// crossSite reports a form post made by another site's page. The session
// cookie is SameSite=Lax, and a browser names the page a post comes from
// (Origin, Sec-Fetch-Site): only this origin's own pages may change a
// fleet.
func crossSite(r *http.Request, publicURL string) bool {
	if o := r.Header.Get("Origin"); o != "" && publicURL != "" && strings.TrimSuffix(o, "/") != strings.TrimSuffix(originOf(publicURL), "/") {
		return true
	}
	return r.Header.Get("Sec-Fetch-Site") == "cross-site"
}

// mayChange: the person's permission reaches the fleet's.
func mayChange(perm string, rc *repoCtx) bool {
	return permissionRank(perm) >= permissionRank(rc.cfg.Fleet.Permission)
}

func instancePath(full, name string) string {
	return "/fleets/" + full + "/instances/" + url.PathEscape(name)
}

// StepView is one launch step as the instance page shows it.
type StepView struct {
	Stage, Step string
	// State is done, running, failed, pending or skipped.
	State  string
	DoneAt time.Time
	Detail string
}

// LaunchSteps lists the steps a launch of in runs, in the order it runs
// them, each with its state from the steps recorded so far. dns says the
// server creates DNS records.
func LaunchSteps(f config.RepoFleet, dns bool, in Instance, recorded []Step) []StepView {
	done := map[string]Step{}
	for _, st := range recorded {
		done[st.Name] = st
	}
	var out []StepView
	current := false
	for _, stage := range config.FleetStageNames {
		st, _ := f.Stage(stage)
		steps := []string{StepBranch, StepDeployment}
		if st.Gates.Smoke {
			steps = append(steps, StepSmoke)
		}
		steps = append(steps, StepDeploy)
		if dns && st.Host != "" {
			steps = append(steps, StepDNS)
		}
		steps = append(steps, StepLive)
		for _, step := range steps {
			v := StepView{Stage: stage, Step: step}
			if rec, ok := done[stage+"."+step]; ok {
				v.State, v.DoneAt, v.Detail = "done", rec.DoneAt, stepText(rec.Detail)
				out = append(out, v)
				continue
			}
			switch {
			case current:
				v.State = "pending"
			case in.State == StateLaunching:
				v.State, current = "running", true
			case in.State == StateFailed:
				v.State, v.Detail, current = "failed", in.Reason, true
			default:
				// Finished launches of an older template (no DNS then, say).
				v.State = "skipped"
			}
			out = append(out, v)
		}
	}
	return out
}

// stepText is a recorded step's detail in words.
func stepText(raw string) string {
	var d stepDetail
	if json.Unmarshal([]byte(raw), &d) != nil {
		return ""
	}
	switch {
	case d.Smoke != "":
		return "smoke test: " + d.Smoke
	case d.Uploaded > 0:
		return fmt.Sprintf("%d files uploaded", d.Uploaded)
	case d.Deployment != 0:
		return fmt.Sprintf("deployment %d", d.Deployment)
	case d.DNSRecord != "":
		return "DNS record " + d.DNSRecord
	}
	return ""
}

// EditField is an input of the settings form: a schema field with the
// value it shows and the problems found with it.
type EditField struct {
	Field
	Value   string
	Checked bool
	Errors  []string
}

// editFields are the settings form's inputs, filled from settings (the
// instance's current ones).
func editFields(schema, settings map[string]any) []EditField {
	var out []EditField
	for _, f := range SchemaFields(schema) {
		e := EditField{Field: f}
		if v, ok := lookupPath(settings, f.Name); ok {
			switch f.Kind {
			case "checkbox":
				e.Checked = v == true
			case "json":
				b, _ := json.Marshal(v)
				e.Value = string(b)
			default:
				e.Value = fmt.Sprint(v)
			}
		}
		out = append(out, e)
	}
	return out
}

// postedFields are the settings form's inputs as they were sent, to show
// them again next to their problems.
func postedFields(schema map[string]any, form url.Values) []EditField {
	var out []EditField
	for _, f := range SchemaFields(schema) {
		raw := form.Get("s." + f.Name)
		out = append(out, EditField{Field: f, Value: raw, Checked: raw == "on" || raw == "true"})
	}
	return out
}

func lookupPath(doc map[string]any, dotted string) (any, bool) {
	parts := strings.Split(dotted, ".")
	m := doc
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			return nil, false
		}
		m = next
	}
	v, ok := m[parts[len(parts)-1]]
	return v, ok
}

// formPatch turns the settings form into a JSON merge patch of the
// instance's settings: each input sets its setting, an empty input
// removes it (the schema's default then applies), and settings the form
// has no input for are left as they are. An array input that is not JSON
// is a problem of its field.
func formPatch(schema map[string]any, form url.Values) (map[string]any, map[string][]string) {
	problems := map[string][]string{}
	wanted := FormSettings(schema, form)
	patch := map[string]any{}
	for _, f := range SchemaFields(schema) {
		raw := form.Get("s." + f.Name)
		if f.Kind == "json" && raw != "" && !json.Valid([]byte(raw)) {
			problems[f.Name] = append(problems[f.Name], "not JSON: write an array such as [\"a\", \"b\"]")
			continue
		}
		v, ok := lookupPath(wanted, f.Name)
		if !ok {
			v = nil // removes the setting
		}
		parts := strings.Split(f.Name, ".")
		m := patch
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
	return patch, problems
}

var (
	problemRE  = regexp.MustCompile(`^at (/[^:]*): (.*)$`)
	missingRE  = regexp.MustCompile(`^missing propert(?:y|ies) (.*)$`)
	quotedName = regexp.MustCompile(`'((?:[^'\\]|\\.)*)'`)
)

// placeProblems puts each problem of a schema refusal ("at /colour: …",
// config.SettingsError) next to the form field it is about: a missing
// property at that property, a problem inside an array or object at the
// nearest field above it. Problems no field holds are returned apart.
func placeProblems(problems []string, fields []EditField) (byField map[string][]string, rest []string) {
	byField = map[string][]string{}
	known := map[string]bool{}
	for _, f := range fields {
		known[f.Name] = true
	}
	place := func(loc, msg string) bool {
		parts := strings.Split(strings.Trim(loc, "/"), "/")
		for i := len(parts); i > 0; i-- {
			name := strings.Join(parts[:i], ".")
			// JSON pointer escapes (RFC 6901).
			name = strings.NewReplacer("~1", "/", "~0", "~").Replace(name)
			if known[name] {
				byField[name] = append(byField[name], msg)
				return true
			}
		}
		return false
	}
	for _, p := range problems {
		m := problemRE.FindStringSubmatch(p)
		if m == nil {
			rest = append(rest, p)
			continue
		}
		loc, msg := m[1], m[2]
		if msg == "validation failed" && len(problems) > 1 {
			// The validator's summary of the problems listed apart.
			continue
		}
		if mm := missingRE.FindStringSubmatch(msg); mm != nil {
			placed := true
			for _, q := range quotedName.FindAllStringSubmatch(mm[1], -1) {
				if !place(strings.TrimSuffix(loc, "/")+"/"+q[1], "required") {
					placed = false
				}
			}
			if placed {
				continue
			}
		} else if place(loc, msg) {
			continue
		}
		rest = append(rest, p)
	}
	return byField, rest
}

// HistoryView is a settings version as the instance page shows it.
type HistoryView struct {
	SettingsChange
	JSON    string
	Current bool
}

// instancePage is what the instance page template shows.
type instancePage struct {
	Repo      string
	Instance  View
	Steps     []StepView
	Refresh   int
	CanChange bool
	// Permission is the fleet's, named to those who lack it.
	Permission string
	Fields     []EditField
	History    []HistoryView
	Notice     string
	Problems   []string
	Done       string
	// The forms shown: what the person may do in the instance's state.
	CanEdit, CanSuspend, CanResume, CanUpgrade, CanDelete bool
}

// serveInstancePage shows an instance to anyone who can read the
// repository.
func (s *Service) serveInstancePage(w http.ResponseWriter, r *http.Request, people People) {
	rc, _, perm, ok := s.person(w, r, people)
	if !ok {
		return
	}
	s.renderInstance(w, r, rc, perm, http.StatusOK, func(p *instancePage) {
		p.Done = doneNotices[r.URL.Query().Get("done")]
	})
}

// renderInstance shows the instance named in the path as it is now; edit
// adds what the request left to say (a notice, the posted form with its
// problems).
func (s *Service) renderInstance(w http.ResponseWriter, r *http.Request, rc *repoCtx, perm string, status int, edit func(*instancePage)) {
	ctx := r.Context()
	full := rc.repo.FullName()
	in, err := s.lookup(ctx, full, r.PathValue("name"))
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	f := rc.cfg.Fleet
	recorded, err := s.store.Steps(ctx, full, in.Name)
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	hist, err := s.store.SettingsHistory(ctx, full, in.Name)
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	p := &instancePage{Repo: full, Instance: s.view(ctx, in, &f), Steps: LaunchSteps(f, s.d.DNS != nil, in, recorded),
		CanChange: mayChange(perm, rc), Permission: f.Permission, Fields: editFields(f.Settings.Schema.Doc, in.Settings)}
	if in.State == StateLaunching {
		p.Refresh = refreshSeconds
	}
	// Newest first: the version one usually rolls back to is near the top.
	for _, h := range slices.Backward(hist) {
		b, _ := json.MarshalIndent(h.Settings, "", "  ")
		p.History = append(p.History, HistoryView{SettingsChange: h, JSON: string(b), Current: h.Version == in.SettingsVersion})
	}
	if p.CanChange {
		// What each state allows, as the Service methods check it; the
		// buttons only spare a refusal.
		p.CanEdit = in.State == StateLive || in.State == StateSuspended
		p.CanSuspend = in.State == StateLive
		p.CanResume = in.State == StateSuspended
		p.CanUpgrade = in.Plan == PlanTrial && in.State != StateDeleted
		p.CanDelete = in.State != StateDeleted && in.State != StateLaunching
	}
	if edit != nil {
		edit(p)
	}
	renderPage(w, r, status, instanceTemplate, p)
}

// serveInstanceAction changes an instance from its page: only for the
// fleet's permission, only from this origin's pages, through the Service
// methods the API calls.
func (s *Service) serveInstanceAction(w http.ResponseWriter, r *http.Request, people People, publicURL string) {
	action := r.PathValue("action")
	if !slices.Contains(instanceActions, action) {
		http.NotFound(w, r)
		return
	}
	if crossSite(r, publicURL) {
		zerolog.Ctx(r.Context()).Warn().Str("repo", r.PathValue("owner")+"/"+r.PathValue("repo")).Str("instance", r.PathValue("name")).
			Str("action", action).Str("origin", r.Header.Get("Origin")).Str("audit", "fleet refused").Msg("fleet dashboard: cross-site post refused")
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
		return
	}
	rc, login, perm, ok := s.person(w, r, people)
	if !ok {
		return
	}
	ctx := r.Context()
	full, name := rc.repo.FullName(), r.PathValue("name")
	if !mayChange(perm, rc) {
		zerolog.Ctx(ctx).Warn().Str("repo", full).Str("instance", name).Str("action", action).Str("actor", login).Str("permission", perm).
			Str("audit", "fleet refused").Msg("fleet dashboard: change refused, permission too low")
		http.Error(w, fmt.Sprintf("changing instances needs %s permission on %s", rc.cfg.Fleet.Permission, full), http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	form := r.PostForm
	schema := rc.cfg.Fleet.Settings.Schema.Doc
	var err error
	done := action
	switch action {
	case "settings":
		patch, problems := formPatch(schema, form)
		if len(problems) > 0 {
			s.renderRefusal(w, r, rc, perm, &Error{Status: http.StatusUnprocessableEntity, Message: "the settings form has problems"}, form, problems)
			return
		}
		var res SettingsResult
		res, err = s.ChangeSettings(ctx, SettingsRequest{Repo: full, Name: name, Patch: patch, Actor: login})
		if err == nil && res.Unchanged {
			done = "unchanged"
		}
		if err != nil {
			s.renderRefusal(w, r, rc, perm, err, form, nil)
			return
		}
	case "rollback":
		v, perr := strconv.Atoi(form.Get("version"))
		if perr != nil || v < 1 {
			err = refuse(http.StatusBadRequest, "version %q is not a settings version", form.Get("version"))
			break
		}
		var res SettingsResult
		res, err = s.ChangeSettings(ctx, SettingsRequest{Repo: full, Name: name, RollbackTo: v, Actor: login})
		if err == nil && res.Unchanged {
			done = "unchanged"
		}
	case "suspend":
		_, err = s.Suspend(ctx, full, name, login, strings.TrimSpace(form.Get("reason")))
	case "resume":
		_, err = s.Resume(ctx, full, name, login)
	case "upgrade":
		_, err = s.Upgrade(ctx, full, name, login)
	case "delete":
		_, err = s.Delete(ctx, full, name, form.Get("confirm"), login)
	}
	if err != nil {
		s.renderRefusal(w, r, rc, perm, err, nil, nil)
		return
	}
	http.Redirect(w, r, instancePath(full, name)+"?done="+done, http.StatusSeeOther)
}

// renderRefusal shows the instance page again with why the change was
// refused: schema problems next to their fields, with the values sent.
func (s *Service) renderRefusal(w http.ResponseWriter, r *http.Request, rc *repoCtx, perm string, err error, form url.Values, problems map[string][]string) {
	var refusal *Error
	if !errors.As(err, &refusal) {
		zerolog.Ctx(r.Context()).Error().Err(err).Str("repo", rc.repo.FullName()).Str("instance", r.PathValue("name")).
			Str("action", r.PathValue("action")).Msg("fleet dashboard: change failed")
		refusal = &Error{Status: http.StatusInternalServerError, Message: "hoist could not do that: " + err.Error()}
	}
	s.renderInstance(w, r, rc, perm, refusal.Status, func(p *instancePage) {
		p.Notice = refusal.Message
		if form == nil {
			return
		}
		p.Fields = postedFields(rc.cfg.Fleet.Settings.Schema.Doc, form)
		var se *config.SettingsError
		if errors.As(err, &se) {
			var rest []string
			problems, rest = placeProblems(se.Problems, p.Fields)
			p.Problems = rest
			p.Notice = "The settings were refused by the fleet's schema; nothing changed."
		}
		for i := range p.Fields {
			p.Fields[i].Errors = problems[p.Fields[i].Name]
		}
	})
}

var instanceTemplate = template.Must(template.New("instance").Parse(`<!doctype html>
<meta charset="utf-8"><title>{{.Instance.Name}} · fleet of {{.Repo}} · hoist</title>
{{if .Refresh}}<meta http-equiv="refresh" content="{{.Refresh}}">{{end}}
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}td,th{padding:.3em .8em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
.notice{background:#fee;padding:.5em 1em}.done-notice{background:#efe;padding:.5em 1em}.live,.done{color:#080}.failed{color:#b00}.suspended,.running{color:#a60}.pending,.skipped,.deleted{color:#777}
label{display:block;margin:.4em 0}.error{color:#b00;display:block}pre{margin:0;font-size:12px}.danger{border:1px solid #b00;padding:0 1em 1em}form.inline{display:inline}</style>
<p><a href="/fleets/{{.Repo}}">Fleet of {{.Repo}}</a></p>
<h1 id="instance" data-instance="{{.Instance.Name}}">{{.Instance.Name}}</h1>
{{if .Done}}<p class="done-notice" role="status">{{.Done}}</p>{{end}}
{{if .Notice}}<p class="notice" role="alert">{{.Notice}}</p>{{end}}
{{range .Problems}}<p class="notice">{{.}}</p>{{end}}
<table id="summary">
<tr><th>State</th><td class="{{.Instance.State}}" id="state">{{.Instance.State}}{{if .Instance.Reason}}: {{.Instance.Reason}}{{end}}</td></tr>
<tr><th>Plan</th><td id="plan">{{.Instance.Plan}}{{if .Instance.ExpiresAt}} until {{.Instance.ExpiresAt.Format "2006-01-02 15:04 UTC"}}{{end}}</td></tr>
<tr><th>Release</th><td>{{.Instance.Version}} {{printf "%.7s" .Instance.SHA}}</td></tr>
<tr><th>Settings</th><td>version {{.Instance.SettingsVersion}}</td></tr>
<tr><th>Launched</th><td>{{.Instance.CreatedAt.Format "2006-01-02 15:04 UTC"}} by {{.Instance.CreatedBy}}</td></tr>
<tr><th>Links</th><td>{{range $stage, $url := .Instance.URLs}}<a href="{{$url}}">{{$stage}}</a> {{end}}</td></tr>
</table>

<h2>Launch</h2>
{{if .Refresh}}<p>The launch is running; this page refreshes every {{.Refresh}} s.</p>{{end}}
<table id="steps"><tr><th>Stage</th><th>Step</th><th>State</th><th>When</th><th></th></tr>
{{range .Steps}}<tr data-step="{{.Stage}}.{{.Step}}" data-state="{{.State}}"><td>{{.Stage}}</td><td>{{.Step}}</td><td class="{{.State}}">{{.State}}</td>
<td>{{if not .DoneAt.IsZero}}{{.DoneAt.Format "15:04:05"}}{{end}}</td><td>{{.Detail}}</td></tr>
{{end}}</table>

<h2>Settings</h2>
{{if .CanEdit}}
<form method="post" action="/fleets/{{.Repo}}/instances/{{.Instance.Name}}/settings" id="settings">
{{range .Fields}}<label>{{.Label}}{{if .Required}} *{{end}}
{{if eq .Kind "select"}}<select name="s.{{.Name}}">{{if not .Required}}<option value="">(default)</option>{{end}}{{$v := .Value}}{{range .Options}}<option{{if eq . $v}} selected{{end}}>{{.}}</option>{{end}}</select>
{{else if eq .Kind "checkbox"}}<input type="checkbox" name="s.{{.Name}}"{{if .Checked}} checked{{end}}>
{{else if eq .Kind "number"}}<input type="number" step="any" name="s.{{.Name}}" value="{{.Value}}"{{if .Required}} required{{end}}>
{{else}}<input name="s.{{.Name}}" value="{{.Value}}"{{if .Pattern}} pattern="{{.Pattern}}"{{end}}{{if .Required}} required{{end}}>{{end}}
{{if .Help}}<small>{{.Help}}</small>{{end}}
{{$n := .Name}}{{range .Errors}}<span class="error" data-field="{{$n}}">{{.}}</span>{{end}}</label>
{{end}}
<button>Save settings</button>
</form>
{{else if not .CanChange}}<p>Changing instances needs {{.Permission}} permission.</p>{{end}}

<h3>History</h3>
<table id="history"><tr><th>Version</th><th>Changed</th><th>By</th><th>Note</th><th>Settings</th><th></th></tr>
{{range .History}}<tr data-version="{{.Version}}"><td>{{.Version}}{{if .Current}} (current){{end}}</td><td>{{.ChangedAt.Format "2006-01-02 15:04 UTC"}}</td>
<td>{{.ChangedBy}}</td><td>{{.Note}}</td><td><pre>{{.JSON}}</pre></td>
<td>{{if and $.CanEdit (not .Current)}}<form method="post" action="/fleets/{{$.Repo}}/instances/{{$.Instance.Name}}/rollback" class="inline">
<input type="hidden" name="version" value="{{.Version}}"><button>Roll back to this version</button></form>{{end}}</td></tr>
{{end}}</table>

{{if .CanChange}}
<h2>Lifecycle</h2>
{{if .CanUpgrade}}<form method="post" action="/fleets/{{.Repo}}/instances/{{.Instance.Name}}/upgrade" id="upgrade"><button>Upgrade trial to paid</button></form>{{end}}
{{if .CanSuspend}}<form method="post" action="/fleets/{{.Repo}}/instances/{{.Instance.Name}}/suspend" id="suspend">
<label>Reason shown to visitors <input name="reason" maxlength="200" placeholder="suspended by you"></label><button>Suspend</button></form>{{end}}
{{if .CanResume}}<form method="post" action="/fleets/{{.Repo}}/instances/{{.Instance.Name}}/resume" id="resume"><button>Resume</button></form>{{end}}
{{if .CanDelete}}<div class="danger"><h3>Delete this instance</h3>
<p>Its branches and DNS records go at once and its pages serve a "closed" page; its folders, settings and history are kept for the grace period, then removed.</p>
<form method="post" action="/fleets/{{.Repo}}/instances/{{.Instance.Name}}/delete" id="delete">
<label>To confirm, type <b>{{.Instance.Name}}</b> <input name="confirm" required autocomplete="off" pattern="{{.Instance.Name}}"></label>
<button>Delete {{.Instance.Name}}</button></form></div>{{end}}
{{end}}
`))
