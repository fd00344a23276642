package smokegate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/site"
	"github.com/hoist-dev/hoist/internal/smoke"
	"github.com/hoist-dev/hoist/internal/store"
)

// SmokeReportPrefix is where a smoke run's report page is served: the
// check run's details_url is <public_url>/smoke/runs/<token>.
const SmokeReportPrefix = "/smoke/runs/"

// mountSmoke adds the public routes of smoke tests: screenshots and report
// pages, each only through a signed, expiring URL (GitHub's image proxy and
// the check run's readers reach them without signing in). An unsigned,
// tampered or expired URL gets 404, which does not confirm that anything
// exists. Nothing of a site under test is served here: previews live on
// their own origin (smoke_preview.go).
func (s *Gate) mountSmoke(mux *http.ServeMux) {
	mux.Handle("GET /artifacts/{owner}/{repo}/{file}", http.HandlerFunc(s.serveArtifact))
	mux.Handle("GET "+SmokeReportPrefix+"{token}", http.HandlerFunc(s.serveSmokeReport))
}

var (
	tokenRE    = regexp.MustCompile(`^[0-9a-f]{32}$`)
	artifactRE = regexp.MustCompile(`^([0-9a-f]{64})\.png$`)
)

// verified reports whether r carries a valid signature of its own path.
func (s *Gate) verified(r *http.Request) bool {
	s.smoke.mu.Lock()
	u := s.smoke.urls
	s.smoke.mu.Unlock()
	return u != nil && u.Verify(r.URL, time.Now()) == nil
}

// artifactPath is the path of a screenshot of repo ("owner/name"); the
// repository is part of what is signed.
func artifactPath(repo, sha256 string) string {
	return "/artifacts/" + repo + "/" + sha256 + ".png"
}

// artifactURL makes signed URLs of repo's screenshots under base ("" for
// a path on hoist's own address).
func (s *Gate) artifactURL(repo, base string) func(sha256 string) string {
	s.smoke.mu.Lock()
	u := s.smoke.urls
	s.smoke.mu.Unlock()
	now := time.Now()
	return func(sha string) string {
		if u == nil {
			return ""
		}
		return base + u.Sign(artifactPath(repo, sha), now)
	}
}

func (s *Gate) serveArtifact(w http.ResponseWriter, r *http.Request) {
	m := artifactRE.FindStringSubmatch(r.PathValue("file"))
	s.smoke.mu.Lock()
	a := s.smoke.artifacts
	s.smoke.mu.Unlock()
	if m == nil || a == nil || !s.verified(r) {
		http.NotFound(w, r)
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path, r2.URL.RawPath, r2.URL.RawQuery = "/artifacts/"+m[1]+".png", "", ""
	smoke.ArtifactHandler(a).ServeHTTP(w, r2)
}

var pendingPage = template.Must(template.New("pending").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5"><meta name="robots" content="noindex">
<title>Smoke test {{.Status}}</title></head>
<body style="font:14px system-ui,sans-serif;margin:24px">
<h1 style="font-size:20px">Smoke test of <code>{{.SHA}}</code> for {{.Env}}: {{.Status}}</h1>
<p>{{if .Title}}{{.Title}}{{else}}The report appears here when the run completes; this page reloads itself.{{end}}</p>
</body></html>
`))

// serveSmokeReport renders a run's report: every page, every screenshot.
func (s *Gate) serveSmokeReport(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	if !tokenRE.MatchString(token) || s.store == nil || !s.verified(r) {
		http.NotFound(w, r)
		return
	}
	run, err := s.store.SmokeRunByToken(r.Context(), token)
	if errors.Is(err, store.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		http.Error(w, "report unavailable", http.StatusServiceUnavailable)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Robots-Tag", "noindex, nofollow")
	h.Set("X-Content-Type-Options", "nosniff")
	rep := decodeReport(run.Report)
	if rep == nil {
		h.Set("Cache-Control", "no-cache")
		var buf bytes.Buffer
		pendingPage.Execute(&buf, map[string]string{"SHA": shortSHA(run.SHA), "Env": orDash(run.Env), "Status": strings.ReplaceAll(run.Status, "_", " "), "Title": run.Title})
		w.Write(buf.Bytes())
		return
	}
	// A completed report never changes; it is the repository's, so no
	// shared cache keeps it.
	h.Set("Cache-Control", "private, max-age=3600")
	h.Set("Referrer-Policy", "no-referrer")
	page, err := smoke.RenderHTML(rep, s.artifactURL(run.Repo, ""))
	if err != nil {
		http.Error(w, "cannot render the report", http.StatusInternalServerError)
		return
	}
	w.Write(page)
}

// previewTree reads the site of repo at sha from the mirror for a preview
// link; the site root comes from the commit's own .github/hoist.yml. The
// replica that issued the link fetched the commit into its mirror; any
// other replica answering the link fetches it on demand.
func (s *Gate) previewTree(full, sha string) (site.Tree, error) {
	owner, name, _ := strings.Cut(full, "/")
	m, err := s.mirror(owner, name)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	all, err := m.Tree(ctx, sha, "")
	if err != nil {
		if ferr := s.fetchForPreview(ctx, owner, name, m, sha); ferr != nil {
			return nil, fmt.Errorf("%w (fetching it: %v)", err, ferr)
		}
		if all, err = m.Tree(ctx, sha, ""); err != nil {
			return nil, err
		}
	}
	root := "."
	if rc, err := all.Open(config.RepoConfigPath); err == nil {
		data, rerr := io.ReadAll(rc)
		rc.Close()
		if rerr == nil {
			if cfg, err := config.LoadRepoConfig(config.RepoConfigPath, data); err == nil {
				root = cfg.Site.Root
			}
		}
	}
	t, err := m.Tree(ctx, sha, root)
	if err != nil {
		return nil, fmt.Errorf("site root %q of %s: %w", root, shortSHA(sha), err)
	}
	return t, nil
}

// fetchForPreview fetches sha of owner/name into this replica's mirror for
// a signed preview link issued by another replica. The link's signature
// has already authorised it; the App's installation on the repository
// reads the commit.
func (s *Gate) fetchForPreview(ctx context.Context, owner, name string, m *site.Mirror, sha string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	app, err := s.clients.NewAppClient()
	if err != nil {
		return fmt.Errorf("app client: %w", err)
	}
	inst, _, err := app.Apps.FindRepositoryInstallation(ctx, owner, name)
	if err != nil {
		return fmt.Errorf("installation on %s/%s: %w", owner, name, err)
	}
	client, err := s.clients.NewInstallationClient(inst.GetID())
	if err != nil {
		return fmt.Errorf("client of installation %d: %w", inst.GetID(), err)
	}
	return s.fetchCommits(ctx, gh.NewRepo(client, owner, name), inst.GetID(), m, sha)
}
