package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config"
)

// APIPrefix is where the fleet API is served.
const APIPrefix = "/api/fleets/"

// Mount adds the fleet API to mux. Every route needs a bearer token of
// the server config's fleet.tokens that names the repository; nothing is
// read or stored before that.
func (s *Service) Mount(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/fleets/{owner}/{repo}/instances", s.authed(s.serveLaunch))
	mux.HandleFunc("GET /api/fleets/{owner}/{repo}/instances", s.authed(s.serveList))
	mux.HandleFunc("GET /api/fleets/{owner}/{repo}/instances/{name}", s.authed(s.serveGet))
	mux.HandleFunc("PATCH /api/fleets/{owner}/{repo}/instances/{name}/settings", s.authed(s.serveSettings))
	mux.HandleFunc("GET /api/fleets/{owner}/{repo}/instances/{name}/settings", s.authed(s.serveHistory))
	mux.HandleFunc("POST /api/fleets/{owner}/{repo}/instances/{name}/{action}", s.authed(s.serveAction))
	mux.HandleFunc("DELETE /api/fleets/{owner}/{repo}/instances/{name}", s.authed(s.serveDelete))
}

// serveAction is suspend, resume and upgrade.
func (s *Service) serveAction(w http.ResponseWriter, r *http.Request, full, actor string) {
	name := r.PathValue("name")
	var in Instance
	var err error
	switch r.PathValue("action") {
	case "suspend":
		var body struct {
			Reason string `json:"reason"`
		}
		if r.ContentLength > 0 {
			if err := readJSON(r, &body); err != nil {
				s.fail(w, r, err)
				return
			}
		}
		in, err = s.Suspend(r.Context(), full, name, actor, body.Reason)
	case "resume":
		in, err = s.Resume(r.Context(), full, name, actor)
	case "upgrade":
		in, err = s.Upgrade(r.Context(), full, name, actor)
	default:
		writeError(w, http.StatusNotFound, "unknown action "+r.PathValue("action")+": suspend, resume or upgrade")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.view(r.Context(), in, nil))
}

func (s *Service) serveDelete(w http.ResponseWriter, r *http.Request, full, actor string) {
	in, err := s.Delete(r.Context(), full, r.PathValue("name"), r.URL.Query().Get("confirm"), actor)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.view(r.Context(), in, nil))
}

// maxBody bounds a request body: settings are small documents.
const maxBody = 256 << 10

type handler func(w http.ResponseWriter, r *http.Request, full, actor string)

func (s *Service) authed(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		full := r.PathValue("owner") + "/" + r.PathValue("repo")
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || token == "" {
			writeError(w, http.StatusUnauthorized, "send Authorization: Bearer <token> with a token of the server's fleet.tokens")
			return
		}
		var name string
		var known, allowed bool
		if s.d.Server != nil {
			name, known, allowed = s.d.Server.Fleet.FleetCaller(token, full)
		}
		switch {
		case !known:
			writeError(w, http.StatusUnauthorized, "unknown token")
			return
		case !allowed:
			zerolog.Ctx(r.Context()).Warn().Str("repo", full).Str("caller", name).Str("audit", "fleet refused").Msg("fleet API: token not allowed on the repository")
			writeError(w, http.StatusForbidden, fmt.Sprintf("token %s may not act on %s", name, full))
			return
		}
		h(w, r, full, "token:"+name)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func (s *Service) fail(w http.ResponseWriter, r *http.Request, err error) {
	var refusal *Error
	if errors.As(err, &refusal) {
		writeError(w, refusal.Status, refusal.Message)
		return
	}
	zerolog.Ctx(r.Context()).Error().Err(err).Str("path", r.URL.Path).Msg("fleet API failed")
	writeError(w, http.StatusInternalServerError, "hoist could not do that: "+err.Error())
}

func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return refuse(http.StatusBadRequest, "the body is not the JSON this call takes: %v", err)
	}
	return nil
}

// View is an instance as the API shows it.
type View struct {
	Repo            string            `json:"repo"`
	Name            string            `json:"name"`
	Plan            Plan              `json:"plan"`
	State           State             `json:"state"`
	Reason          string            `json:"reason,omitempty"`
	ExpiresAt       *time.Time        `json:"expires_at,omitempty"`
	Settings        map[string]any    `json:"settings"`
	SettingsVersion int               `json:"settings_version"`
	Version         string            `json:"version"`
	SHA             string            `json:"sha"`
	CreatedBy       string            `json:"created_by"`
	CreatedAt       time.Time         `json:"created_at"`
	UpdatedAt       time.Time         `json:"updated_at"`
	URLs            map[string]string `json:"urls,omitempty"`
	Steps           []string          `json:"steps,omitempty"`
}

func (s *Service) view(ctx context.Context, in Instance, f *config.RepoFleet) View {
	v := View{Repo: in.Repo, Name: in.Name, Plan: in.Plan, State: in.State, Reason: in.Reason, ExpiresAt: in.ExpiresAt,
		Settings: in.Settings, SettingsVersion: in.SettingsVersion, Version: in.Version, SHA: in.SHA, CreatedBy: in.CreatedBy,
		CreatedAt: in.CreatedAt, UpdatedAt: in.UpdatedAt}
	if f != nil {
		v.URLs = map[string]string{}
		for _, st := range config.FleetStageNames {
			if u := StageEnv(*f, st, in.Name).URL; u != "" {
				v.URLs[st] = u
			}
		}
	}
	if steps, err := s.store.Steps(ctx, in.Repo, in.Name); err == nil {
		for _, st := range steps {
			v.Steps = append(v.Steps, st.Name)
		}
	}
	return v
}

func (s *Service) serveLaunch(w http.ResponseWriter, r *http.Request, full, actor string) {
	var req LaunchRequest
	if err := readJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	req.Repo, req.Actor = full, actor
	in, err := s.Launch(r.Context(), req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, s.view(r.Context(), in, nil))
}

func (s *Service) serveList(w http.ResponseWriter, r *http.Request, full, _ string) {
	rc, err := s.open(r.Context(), full)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list, err := s.store.List(r.Context(), rc.repo.FullName())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]View, 0, len(list))
	for _, in := range list {
		out = append(out, s.view(r.Context(), in, &rc.cfg.Fleet))
	}
	writeJSON(w, http.StatusOK, map[string]any{"instances": out})
}

func (s *Service) serveGet(w http.ResponseWriter, r *http.Request, full, _ string) {
	rc, err := s.open(r.Context(), full)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	in, err := s.lookup(r.Context(), rc.repo.FullName(), r.PathValue("name"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.view(r.Context(), in, &rc.cfg.Fleet))
}

func (s *Service) serveSettings(w http.ResponseWriter, r *http.Request, full, actor string) {
	var req SettingsRequest
	if err := readJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	req.Repo, req.Name, req.Actor = full, r.PathValue("name"), actor
	res, err := s.ChangeSettings(r.Context(), req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"before": res.Before.Settings, "after": res.After.Settings,
		"version": res.After.SettingsVersion, "unchanged": res.Unchanged, "written": res.Written, "purged": res.Purged})
}

func (s *Service) serveHistory(w http.ResponseWriter, r *http.Request, full, _ string) {
	if _, err := s.lookup(r.Context(), full, r.PathValue("name")); err != nil {
		s.fail(w, r, err)
		return
	}
	hist, err := s.store.SettingsHistory(r.Context(), full, r.PathValue("name"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"history": hist})
}
