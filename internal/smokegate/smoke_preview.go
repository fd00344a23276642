package smokegate

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"regexp"
	"time"

	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/site"
	"github.com/hoist-dev/hoist/internal/web"
)

// PreviewGate signs people in on the preview origin (web.Auth is one).
type PreviewGate interface {
	Mount(mux *http.ServeMux)
	Require(w http.ResponseWriter, r *http.Request) (*web.Session, bool)
}

// PreviewLink is where a person with write access opens the preview of
// one commit (the /preview command): a page on the preview origin that
// signs them in and only then hands out the signed, expiring link.
type PreviewLink struct {
	URL string
	// TTL is how long the signed link handed out there works.
	TTL time.Duration
}

// ErrPreviewDisabled is returned when this server has no preview origin.
var ErrPreviewDisabled = errors.New("previews are off on this server: it has no preview origin of its own " +
	"(preview_addr and preview_url in the server configuration), and a site's scripts never run on hoist's own address")

// OpenPreviewPrefix is the preview origin's page that opens a commit's
// preview after sign-in: /open/<owner>/<repo>/<sha>.
const OpenPreviewPrefix = "/open/"

// Preview fetches sha into the mirror, so the preview opens at once, and
// returns the page that opens it. The page's URL names only the commit: it
// is no credential.
func (s *Gate) Preview(ctx context.Context, req SmokeRequest) (PreviewLink, error) {
	st := &s.smoke
	st.mu.Lock()
	signer, base := st.signer, st.previewURL
	st.mu.Unlock()
	if signer == nil || base == "" {
		return PreviewLink{}, ErrPreviewDisabled
	}
	client, err := s.clients.NewInstallationClient(req.Installation)
	if err != nil {
		return PreviewLink{}, fmt.Errorf("preview: client for installation %d: %w", req.Installation, err)
	}
	repo := gh.NewRepo(client, req.Owner, req.Repo)
	m, err := s.mirror(req.Owner, req.Repo)
	if err != nil {
		return PreviewLink{}, err
	}
	if err := s.fetchCommits(ctx, repo, req.Installation, m, req.SHA); err != nil {
		return PreviewLink{}, fmt.Errorf("preview of %s: %w", shortSHA(req.SHA), err)
	}
	return PreviewLink{URL: base + OpenPreviewPrefix + repo.FullName() + "/" + req.SHA, TTL: signer.TTL()}, nil
}

// mountPreview adds the preview origin's routes: sign-in, the page that
// opens a preview for a writer, and the signed links themselves.
func (s *Gate) mountPreview(mux *http.ServeMux) {
	if s.previewGate != nil {
		s.previewGate.Mount(mux)
	}
	mux.HandleFunc("GET "+OpenPreviewPrefix+"{owner}/{repo}/{sha}", s.serveOpenPreview)
	mux.Handle("GET "+site.AccessPrefix, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.smoke.mu.Lock()
		h := s.smoke.access
		s.smoke.mu.Unlock()
		if h == nil {
			http.NotFound(w, r) // previews are off
			return
		}
		h.ServeHTTP(w, r)
	}))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		previewPage(w, http.StatusOK, "hoist previews: open the link of a /preview reply on a pull request.")
	})
}

var (
	previewOwner = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}$`)
	previewSHA   = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// serveOpenPreview signs the person in, checks they may write to the
// repository, and sends them to a fresh signed link.
func (s *Gate) serveOpenPreview(w http.ResponseWriter, r *http.Request) {
	owner, name, sha := r.PathValue("owner"), r.PathValue("repo"), r.PathValue("sha")
	s.smoke.mu.Lock()
	signer, base := s.smoke.signer, s.smoke.previewURL
	s.smoke.mu.Unlock()
	if signer == nil || s.previewGate == nil || !previewOwner.MatchString(owner) || !previewOwner.MatchString(name) || !previewSHA.MatchString(sha) {
		http.NotFound(w, r)
		return
	}
	who, ok := s.previewGate.Require(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	full := owner + "/" + name
	log := zerolog.Ctx(ctx).With().Str("repo", full).Str("sha", sha).Logger()
	app, err := s.clients.NewAppClient()
	if err != nil {
		previewPage(w, http.StatusServiceUnavailable, "hoist cannot reach GitHub right now.")
		return
	}
	inst, _, err := app.Apps.FindRepositoryInstallation(ctx, owner, name)
	if err != nil {
		// Not installed, or no such repository: the same answer as for one
		// the person may not write to, so nothing is confirmed.
		previewPage(w, http.StatusForbidden, "You need write access to "+full+" to open its previews.")
		return
	}
	client, err := s.clients.NewInstallationClient(inst.GetID())
	if err != nil {
		previewPage(w, http.StatusServiceUnavailable, "hoist cannot reach GitHub right now.")
		return
	}
	repo := gh.NewRepo(client, owner, name)
	perm, err := repo.Permission(ctx, who.Login)
	if err != nil {
		log.Warn().Err(err).Msg("preview: permission")
		previewPage(w, http.StatusBadGateway, "hoist could not read your permission on GitHub; try again.")
		return
	}
	switch perm {
	case "write", "maintain", "admin":
	default:
		log.Info().Dict("audit", zerolog.Dict().Str("actor", who.Login).Str("action", "preview_open").Str("outcome", "refused").Str("permission", perm)).Msg("preview refused")
		previewPage(w, http.StatusForbidden, "You need write access to "+full+" to open its previews.")
		return
	}
	m, err := s.mirror(owner, name)
	if err == nil {
		err = s.fetchCommits(ctx, repo, inst.GetID(), m, sha)
	}
	if err != nil {
		log.Warn().Err(err).Msg("preview: fetch the commit")
		previewPage(w, http.StatusBadGateway, "hoist could not fetch that commit from GitHub.")
		return
	}
	link := signer.Sign(repo.FullName(), sha, s.now())
	log.Info().Dict("audit", zerolog.Dict().Str("actor", who.Login).Str("action", "preview_link")).Msg("preview link issued")
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, base+link, http.StatusFound)
}

var previewTmpl = template.Must(template.New("p").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex"><title>hoist preview</title></head>
<body style="font:14px system-ui,sans-serif;margin:24px"><p>{{.}}</p></body></html>
`))

func previewPage(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "private, no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = previewTmpl.Execute(w, msg)
}
