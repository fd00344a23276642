package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/pipeline"
	"github.com/hoist-dev/hoist/internal/store"
)

// Hold is one active hold on an environment: promotions into it wait
// until it is lifted or expires.
type Hold struct {
	Env    string
	Actor  string
	Reason string
	Since  time.Time
	// Until is when the hold expires; zero: until someone lifts it.
	Until time.Time
}

// HoldSource reports a repository's ("owner/name") active holds.
type HoldSource interface {
	ActiveHolds(ctx context.Context, repo string, now time.Time) ([]Hold, error)
}

// Verification is an environment's latest check of its live site after a
// deploy, and what its automatic rollback came to.
type Verification struct {
	SHA string
	// State is queued, success, failure, error or superseded.
	State, Reason string
	At            time.Time
	// Rollback is the latest automatic rollback's stage; empty for none.
	Rollback string
}

// VerifySource reports an environment's latest verification; nil when
// it was never verified.
type VerifySource interface {
	Verification(ctx context.Context, repo, env string) (*Verification, error)
}

// GroupPromotion is the newest promotion of a release group into one
// environment, for each group the repository is a member of.
type GroupPromotion struct {
	Group, Env string
	// Phase is moving, publishing, rolling back, done, refused or failed.
	Phase, Reason string
	At            time.Time
	Members       []GroupMember
}

// GroupMember is one member's part in a group promotion.
type GroupMember struct {
	Repo, SHA, State string
}

// GroupSource lists a repository's release group promotions
// (releasegroup.Service).
type GroupSource interface {
	GroupPromotions(ctx context.Context, repo string) ([]GroupPromotion, error)
}

// Image is one screenshot of a smoke run, shown as a thumbnail.
type Image struct {
	Alt, URL, Caption string
}

// ImageSource reports the images hoist attached to one of its check runs.
// GitHub's API does not return a check run's output.images, so without a
// source the dashboard shows the images the run's summary and text embed.
type ImageSource interface {
	CheckRunImages(ctx context.Context, repo string, checkRunID int64) ([]Image, error)
}

// AuditReader is the part of the store the dashboard reads.
type AuditReader interface {
	AuditLog(ctx context.Context, repo string, limit int) ([]store.AuditEntry, error)
}

// Access decides who sees what: Require answers itself (sending the
// browser to sign in) when nobody is signed in; Readable lists what the
// person may read (lower-case owner/name → installation id). *Auth is one.
type Access interface {
	Require(w http.ResponseWriter, r *http.Request) (*Session, bool)
	Readable(ctx context.Context, s *Session) (map[string]int64, error)
}

// DashboardOptions tune the dashboard.
type DashboardOptions struct {
	// Access signs people in and says what they may read; without it
	// every page answers 404 (the dashboard shows private repositories).
	Access Access
	// TTL is how long what was read from GitHub is reused (default 15s):
	// a page view costs GitHub calls at most once per TTL per repository.
	TTL time.Duration
	// Holds, when set, supplies active holds; nil shows none.
	Holds HoldSource
	// Images, when set, supplies smoke screenshots by check run.
	Images ImageSource
	// Verify, when set, supplies each environment's latest post-deploy
	// verification.
	Verify VerifySource
	// Groups, when set, supplies the repository's release groups.
	Groups GroupSource
	// Audit is the store's audit log, and Clients the App's GitHub
	// clients; without both every page answers 503.
	Audit   AuditReader
	Clients githubapp.ClientCreator
	// Configs is the configuration in force (repoconfig.Loader), read as
	// promotions read it; nil is every repository's file as read, without
	// a last good one.
	Configs ConfigSource
	// Delivery, when set, supplies the outcomes behind the delivery
	// measures and failure budgets; nil shows none.
	Delivery DeliverySource
	// Rollouts, when set, supplies fleet rollouts for the rollout view.
	Rollouts RolloutSource
	// Logger is used where the request context carries none.
	Logger zerolog.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// ConfigSource is the configuration in force on a branch: the file when
// valid, else the last good one (nil when there is none) with the file's
// mistakes in broken.
type ConfigSource interface {
	InForce(ctx context.Context, repo *gh.Repo, branch string) (cfg *config.RepoConfig, broken, err error)
}

// fileConfigs reads the file alone, for a dashboard given no ConfigSource.
type fileConfigs struct{ l *gh.ConfigLoader }

func (f fileConfigs) InForce(ctx context.Context, repo *gh.Repo, branch string) (*config.RepoConfig, error, error) {
	lc, err := f.l.Load(ctx, repo, branch)
	if errors.Is(err, gh.ErrInvalidConfig) {
		return nil, err, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return lc.Config, nil, nil
}

// Dashboard serves the read-only overview at GET / and one repository
// at GET /repos/{owner}/{repo}: environments with their head commit, last
// deployment, last smoke result, holds, and the audit log's recent
// activity. Git and GitHub are the state of the world, so heads,
// deployments and check runs are read through the App's installation
// clients (briefly cached); the audit log comes from the store.
type Dashboard struct {
	opts DashboardOptions

	repos  *cache[[]repoRef]
	states *cache[*RepoView]
	app    *cache[string]
	// configs is the configuration in force.
	configs ConfigSource
}

// NewDashboard returns a dashboard.
func NewDashboard(opts DashboardOptions) *Dashboard {
	if opts.TTL <= 0 {
		opts.TTL = 15 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Configs == nil {
		opts.Configs = fileConfigs{gh.NewConfigLoader(0)}
	}
	return &Dashboard{
		opts:    opts,
		repos:   newCache[[]repoRef](opts.TTL, opts.Now),
		states:  newCache[*RepoView](opts.TTL, opts.Now),
		app:     newCache[string](time.Hour, opts.Now),
		configs: opts.Configs,
	}
}

// Mount adds the dashboard's routes to mux.
func (d *Dashboard) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", d.serveOverview)
	mux.HandleFunc("GET /repos/{owner}/{repo}", d.serveRepo)
	d.mountRollouts(mux)
}

func (d *Dashboard) bound() (AuditReader, githubapp.ClientCreator) {
	return d.opts.Audit, d.opts.Clients
}

// Page is what a template renders.
type Page struct {
	Title string
	// User is the signed-in person's login.
	User string
	// Repos are the repositories shown, by name.
	Repos []*RepoView
	// Single is true on a repository's own page (more activity shown).
	Single bool
	// Error is a problem that kept the page from being complete.
	Error string
	Now   time.Time
}

// RepoView is one repository as the dashboard shows it.
type RepoView struct {
	FullName string
	HTMLURL  string
	// ConfigError is why .github/hoist.yml did not load. The repository
	// is shown with it and, when LastGood, with the last good
	// configuration, which stays in force; otherwise with nothing else.
	ConfigError string
	LastGood    bool
	Envs        []EnvView
	Holds       []Hold
	// Groups are the newest promotion of each release group it is in.
	Groups   []GroupPromotion
	Activity []ActivityView
	// Delivery are the environments' delivery measures and budgets.
	Delivery []DeliveryView
	// Error is a problem reading GitHub, audit or holds for the repository.
	Errors []string
	// ReadAt is when the GitHub state was read (it may be cached).
	ReadAt time.Time
}

// EnvView is one environment.
type EnvView struct {
	Name, Branch, BranchURL string
	PromoteFrom             string
	URL                     string
	Head                    *CommitView
	Deployment              *DeploymentView
	Smoke                   *SmokeView
	Candidates              []CandidateView
	Held                    bool
	Verify                  *Verification
	Error                   string
	// budget is the environment's failure budget, if any.
	budget *pipeline.FailureBudget
}

// CandidateView is a candidate branch (pre-<env>) of an environment.
type CandidateView struct {
	Branch, BranchURL string
	Head              *CommitView
	Smoke             *SmokeView
	// Pending is true when the candidate's head is not the environment's.
	Pending bool
}

// CommitView is a commit with its GitHub link.
type CommitView struct {
	SHA, Short, Subject, Author, URL string
	At                               time.Time
}

// DeploymentView is the newest deployment of an environment and its
// newest status.
type DeploymentView struct {
	ID          int64
	SHA, Short  string
	State       string
	URL         string // environment_url
	LogURL      string
	Description string
	At          time.Time
	GitHubURL   string
}

// SmokeView is the newest hoist/smoke check run on a commit.
type SmokeView struct {
	Status, Conclusion, Title, URL string
	Images                         []Image
	At                             time.Time
}

// State is the word shown for the run: its conclusion, or its status
// while it has none.
func (s *SmokeView) State() string {
	if s.Conclusion != "" {
		return s.Conclusion
	}
	return s.Status
}

// ActivityView is one audit log entry.
type ActivityView struct {
	At                         time.Time
	Actor, Action, Env         string
	SHA, Short, CommitURL      string
	Outcome, OutcomeClass, Why string
}

// smokeCell is what the smoke template renders: the run, and the time
// the page is rendered at (for its age).
type smokeCell struct {
	Smoke *SmokeView
	Now   time.Time
}

const (
	overviewActivity = 8
	repoActivity     = 50
	// loadTimeout bounds reading one repository from GitHub; the read is
	// detached from the request so a closed tab does not waste the work
	// other viewers wait for.
	loadTimeout = 20 * time.Second
)

// viewer signs the request's person in (or has answered) and returns
// what they may read.
func (d *Dashboard) viewer(w http.ResponseWriter, r *http.Request) (*Session, map[string]int64, bool) {
	if d.opts.Access == nil {
		http.NotFound(w, r)
		return nil, nil, false
	}
	s, ok := d.opts.Access.Require(w, r)
	if !ok {
		return nil, nil, false
	}
	ctx := d.logCtx(r.Context())
	readable, err := d.opts.Access.Readable(ctx, s)
	if err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Str("user", s.Login).Msg("dashboard: what the person may read")
		d.render(w, http.StatusBadGateway, &Page{Title: "hoist", User: s.Login, Now: d.opts.Now(),
			Error: "could not ask GitHub which repositories you can read; sign in again if this persists"})
		return nil, nil, false
	}
	return s, readable, true
}

// readableRefs keeps the repositories the person may read, through the
// same installation GitHub named.
func readableRefs(refs []repoRef, readable map[string]int64) []repoRef {
	var out []repoRef
	for _, ref := range refs {
		if id, ok := readable[strings.ToLower(ref.FullName)]; ok && id == ref.Installation {
			out = append(out, ref)
		}
	}
	return out
}

func (d *Dashboard) serveOverview(w http.ResponseWriter, r *http.Request) {
	who, readable, ok := d.viewer(w, r)
	if !ok {
		return
	}
	audit, cc := d.bound()
	if cc == nil {
		d.render(w, http.StatusServiceUnavailable, &Page{Title: "hoist", User: who.Login, Error: "hoist is starting", Now: d.opts.Now()})
		return
	}
	ctx := d.logCtx(r.Context())
	refs, err := d.listRepos(ctx, cc)
	refs = readableRefs(refs, readable)
	page := &Page{Title: "hoist", User: who.Login, Now: d.opts.Now()}
	if err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("dashboard: list repositories")
		page.Error = "could not list the App's repositories on GitHub: " + err.Error()
		d.render(w, http.StatusBadGateway, page)
		return
	}
	page.Repos = d.views(ctx, cc, audit, refs, overviewActivity)
	d.render(w, http.StatusOK, page)
}

func (d *Dashboard) serveRepo(w http.ResponseWriter, r *http.Request) {
	who, readable, ok := d.viewer(w, r)
	if !ok {
		return
	}
	audit, cc := d.bound()
	full := r.PathValue("owner") + "/" + r.PathValue("repo")
	if cc == nil {
		d.render(w, http.StatusServiceUnavailable, &Page{Title: "hoist", User: who.Login, Error: "hoist is starting", Now: d.opts.Now()})
		return
	}
	ctx := d.logCtx(r.Context())
	refs, err := d.listRepos(ctx, cc)
	// A repository the person cannot read is answered exactly like one
	// that does not exist.
	refs = readableRefs(refs, readable)
	page := &Page{Title: full, User: who.Login, Single: true, Now: d.opts.Now()}
	if err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("dashboard: list repositories")
		page.Error = "could not list the App's repositories on GitHub: " + err.Error()
		d.render(w, http.StatusBadGateway, page)
		return
	}
	for _, ref := range refs {
		if strings.EqualFold(ref.FullName, full) {
			page.Title = ref.FullName
			page.Repos = d.views(ctx, cc, audit, []repoRef{ref}, repoActivity)
			if len(page.Repos) == 1 {
				d.render(w, http.StatusOK, page)
				return
			}
		}
	}
	page.Error = full + " is not a repository of this hoist (the App is not installed there, or it has no .github/hoist.yml)"
	d.render(w, http.StatusNotFound, page)
}

// views reads every repository (in parallel, a few at a time) and adds
// what is not cached: the audit log and holds, which are local and cheap.
// Repositories without .github/hoist.yml are left out.
func (d *Dashboard) views(ctx context.Context, cc githubapp.ClientCreator, audit AuditReader, refs []repoRef, activity int) []*RepoView {
	out := make([]*RepoView, len(refs))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, ref := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i] = d.view(ctx, cc, audit, ref, activity)
		}()
	}
	wg.Wait()
	kept := out[:0]
	for _, v := range out {
		if v != nil {
			kept = append(kept, v)
		}
	}
	return kept
}

func (d *Dashboard) view(ctx context.Context, cc githubapp.ClientCreator, audit AuditReader, ref repoRef, activity int) *RepoView {
	log := zerolog.Ctx(ctx).With().Str("repo", ref.FullName).Logger()
	st, err := d.states.get(ctx, ref.key(), func(ctx context.Context) (*RepoView, error) {
		return d.readRepo(ctx, cc, ref)
	})
	if err != nil {
		log.Warn().Err(err).Msg("dashboard: read repository")
		st = &RepoView{FullName: ref.FullName, HTMLURL: ref.HTMLURL, Errors: []string{"could not read it from GitHub: " + err.Error()}}
	}
	if st == nil {
		return nil // no .github/hoist.yml: not a hoist repository
	}
	// A copy: the cached view is shared between viewers.
	v := *st
	v.Envs = append([]EnvView(nil), st.Envs...)
	v.Errors = append([]string(nil), st.Errors...)
	if audit != nil {
		entries, err := audit.AuditLog(ctx, ref.FullName, activity*4)
		if err != nil {
			log.Warn().Err(err).Msg("dashboard: read audit log")
			v.Errors = append(v.Errors, "could not read the audit log")
		}
		v.Activity = activityOf(entries, v.HTMLURL, activity)
	}
	d.delivery(ctx, &v)
	if d.opts.Groups != nil {
		groups, err := d.opts.Groups.GroupPromotions(ctx, ref.FullName)
		if err != nil {
			log.Warn().Err(err).Msg("dashboard: read release groups")
			v.Errors = append(v.Errors, "could not read the release groups")
		}
		v.Groups = groups
	}
	if d.opts.Holds != nil {
		holds, err := d.opts.Holds.ActiveHolds(ctx, ref.FullName, d.opts.Now())
		if err != nil {
			log.Warn().Err(err).Msg("dashboard: read holds")
			v.Errors = append(v.Errors, "could not read the holds")
		}
		sort.SliceStable(holds, func(i, j int) bool { return holds[i].Env < holds[j].Env })
		v.Holds = holds
		for i := range v.Envs {
			if d.opts.Verify != nil {
				vf, err := d.opts.Verify.Verification(ctx, ref.FullName, v.Envs[i].Name)
				if err != nil {
					log.Warn().Err(err).Msg("dashboard: read verification")
				}
				v.Envs[i].Verify = vf
			}
			for _, h := range holds {
				if h.Env == v.Envs[i].Name {
					v.Envs[i].Held = true
				}
			}
		}
	}
	return &v
}

// activityOf turns audit entries into rows, newest first. The triggers a
// burst of content changes coalesces are left out: each is one row of
// noise; the generation they lead to is shown.
func activityOf(entries []store.AuditEntry, repoURL string, limit int) []ActivityView {
	var out []ActivityView
	for _, e := range entries {
		if len(out) == limit {
			break
		}
		if e.Action == "generate" && (e.Outcome == "scheduled" || e.Outcome == "coalesced") {
			continue
		}
		a := ActivityView{At: e.At, Actor: e.Actor, Action: e.Action, Env: e.Env, SHA: e.SHA, Short: short(e.SHA),
			Outcome: e.Outcome, OutcomeClass: outcomeClass(e.Outcome), Why: why(e.Detail)}
		if a.Outcome == "refuse" {
			a.Outcome = "refused"
		}
		if e.SHA != "" && repoURL != "" {
			a.CommitURL = repoURL + "/commit/" + e.SHA
		}
		out = append(out, a)
	}
	return out
}

// why is the human reason an audit entry carries, if any.
func why(detail map[string]any) string {
	var parts []string
	if rs, ok := detail["reasons"].([]any); ok {
		for _, r := range rs {
			if s, ok := r.(string); ok && s != "" {
				parts = append(parts, s)
			}
		}
	}
	for _, k := range []string{"error", "reason"} {
		if s, ok := detail[k].(string); ok && s != "" && len(parts) == 0 {
			parts = append(parts, s)
		}
	}
	s := strings.Join(parts, "; ")
	if r := []rune(s); len(r) > 300 {
		s = string(r[:299]) + "…"
	}
	return s
}

// outcomeClass maps an outcome (of a promotion, a check or a deployment)
// to one of the page's colours.
func outcomeClass(o string) string {
	switch o {
	case "promoted", "success", "dispatched", "deployed", "purged", "active", "done":
		return "ok"
	case "refuse", "refused", "failure", "failed", "error", "timed_out", "cancelled", "action_required":
		return "bad"
	case "wait", "waiting", "queued", "in_progress", "pending", "ready", "scheduled", "coalesced", "created":
		return "wait"
	}
	return "neutral"
}

func (d *Dashboard) logCtx(ctx context.Context) context.Context {
	if zerolog.Ctx(ctx).GetLevel() == zerolog.Disabled {
		return d.opts.Logger.WithContext(ctx)
	}
	return ctx
}

//go:embed templates/*.html
var templateFS embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"class":      outcomeClass,
	"ago":        ago,
	"utc":        func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"cell":       func(s *SmokeView, now time.Time) smokeCell { return smokeCell{Smoke: s, Now: now} },
	"stateClass": stateClass,
}).ParseFS(templateFS, "templates/*.html"))

// render writes the page whole or not at all: a template error midway
// would otherwise leave half a page with a 200.
func (d *Dashboard) render(w http.ResponseWriter, status int, p *Page) {
	d.renderTemplate(w, status, "dashboard.html", p)
}

func (d *Dashboard) renderTemplate(w http.ResponseWriter, status int, name string, p any) {
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, name, p); err != nil {
		d.opts.Logger.Error().Err(err).Msg("dashboard: render")
		http.Error(w, "the dashboard could not be rendered", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// No scripts at all; images from anywhere (screenshots behind signed
	// URLs, possibly on another host); the sign-out form only; no framing.
	h.Set("Content-Security-Policy", "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	// A page is one person's view: never kept by a shared cache.
	h.Set("Cache-Control", "private, no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// ago is a short relative time: "just now", "5 min ago", "3 h ago",
// "2 days ago".
func ago(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	switch {
	case d < 45*time.Second:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Round(time.Minute)/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d/time.Hour))
	default:
		return fmt.Sprintf("%d days ago", int(d/(24*time.Hour)))
	}
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// cache remembers values for ttl, and loads each key once at a time:
// viewers that arrive during a load wait for it instead of repeating it.
// Errors are not remembered.
type cache[V any] struct {
	ttl time.Duration
	now func() time.Time

	mu sync.Mutex
	m  map[string]*cacheEntry[V]
}

type cacheEntry[V any] struct {
	done    chan struct{}
	v       V
	err     error
	expires time.Time
}

func newCache[V any](ttl time.Duration, now func() time.Time) *cache[V] {
	return &cache[V]{ttl: ttl, now: now, m: map[string]*cacheEntry[V]{}}
}

func (c *cache[V]) get(ctx context.Context, key string, load func(context.Context) (V, error)) (V, error) {
	c.mu.Lock()
	e, ok := c.m[key]
	if ok {
		select {
		case <-e.done:
			if c.now().After(e.expires) {
				ok = false
			}
		default: // loading: wait below
		}
	}
	if !ok {
		e = &cacheEntry[V]{done: make(chan struct{})}
		c.m[key] = e
		for k, old := range c.m { // keep the map as small as what is viewed
			select {
			case <-old.done:
				if c.now().After(old.expires) {
					delete(c.m, k)
				}
			default:
			}
		}
		c.mu.Unlock()
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loadTimeout)
		e.v, e.err = load(lctx)
		cancel()
		e.expires = c.now().Add(c.ttl)
		if e.err != nil {
			c.mu.Lock()
			if c.m[key] == e {
				delete(c.m, key)
			}
			c.mu.Unlock()
		}
		close(e.done)
		return e.v, e.err
	}
	c.mu.Unlock()
	select {
	case <-e.done:
		return e.v, e.err
	case <-ctx.Done():
		var zero V
		return zero, errors.Join(errors.New("the page request ended"), ctx.Err())
	}
}
