package generate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"
)

// Path is where HTTPHandler is mounted: POST /api/generate/{owner}/{repo}.
const Path = "/api/generate/"

// MaxBody is the largest request body accepted (a JSON object of two
// short strings needs far less).
const MaxBody = 64 << 10

// SignatureHeader carries "sha256=<hex HMAC-SHA256 of the body>", as
// GitHub signs webhooks.
const SignatureHeader = "X-Hub-Signature-256"

// Request is the body of a POST trigger.
type Request struct {
	// Environment to generate; empty: the repository's default.
	Environment string `json:"environment"`
	// Reason is passed to the workflow as its reason input.
	Reason string `json:"reason"`
}

// Response is the answer to a POST trigger: the scheduled generation, or
// Code and Message when refused.
type Response struct {
	Status      string    `json:"status"` // scheduled, coalesced or refused
	Environment string    `json:"environment,omitempty"`
	RunAt       time.Time `json:"run_at,omitzero"`
	JobID       int64     `json:"job_id,omitempty"`
	Code        string    `json:"code,omitempty"`
	Message     string    `json:"message,omitempty"`
}

// HTTPHandler serves the signed trigger. Mount it at Path:
// mux.Handle(generate.Path, svc.HTTPHandler()).
func (s *Service) HTTPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+Path+"{owner}/{repo}", s.servePost)
	mux.HandleFunc(Path, func(w http.ResponseWriter, r *http.Request) {
		if parts := strings.Split(strings.TrimPrefix(r.URL.Path, Path), "/"); len(parts) == 2 && parts[0] != "" && parts[1] != "" {
			w.Header().Set("Allow", http.MethodPost)
			writeJSON(w, http.StatusMethodNotAllowed, Response{Status: "refused", Code: "method_not_allowed",
				Message: "use POST " + Path + "{owner}/{repo}"})
			return
		}
		writeJSON(w, http.StatusNotFound, Response{Status: "refused", Code: "not_found",
			Message: "the trigger is POST " + Path + "{owner}/{repo}"})
	})
	return mux
}

// servePost checks, in this order, what a caller can get wrong: whether
// the repository takes triggers at all, the size, the signature (before
// anything in the body is believed), the JSON, and then what the
// repository's configuration allows. Every refusal is audited.
func (s *Service) servePost(w http.ResponseWriter, r *http.Request) {
	ctx := s.logCtx(r.Context())
	owner, repo := r.PathValue("owner"), r.PathValue("repo")
	full := owner + "/" + repo
	t := Trigger{Owner: owner, Repo: repo, Source: "api", Actor: "api"}
	refuse := func(status int, code, msg string) {
		s.audit(ctx, t, t.Environment, "refused", map[string]any{"code": code, "error": msg, "remote": r.RemoteAddr})
		writeJSON(w, status, Response{Status: "refused", Code: code, Message: msg})
	}

	secret, ok := s.d.Secret(owner, repo)
	if !ok {
		refuse(http.StatusNotFound, "unknown_repository", fmt.Sprintf("no generate secret is configured for %s on this server (generate.repositories in the server configuration)", full))
		return
	}
	if r.ContentLength > MaxBody {
		refuse(http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the body is %d bytes; at most %d are accepted", r.ContentLength, MaxBody))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			refuse(http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the body is over %d bytes", MaxBody))
			return
		}
		refuse(http.StatusBadRequest, "unreadable_body", "could not read the body: "+err.Error())
		return
	}
	sig := r.Header.Get(SignatureHeader)
	switch {
	case sig == "":
		refuse(http.StatusUnauthorized, "missing_signature", SignatureHeader+" is missing: sign the body with HMAC-SHA256 and the repository's secret, as sha256=<hex>")
		return
	case !strings.HasPrefix(sig, "sha256="):
		refuse(http.StatusUnauthorized, "bad_signature", SignatureHeader+" must be sha256=<hex>")
		return
	}
	// go-github's check is GitHub's own scheme, compared with hmac.Equal.
	if err := github.ValidateSignature(sig, body, []byte(secret)); err != nil {
		refuse(http.StatusUnauthorized, "bad_signature", SignatureHeader+" does not match the body and the repository's secret")
		return
	}

	var req Request
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		refuse(http.StatusBadRequest, "invalid_json", `the body must be a JSON object like {"environment":"staging","reason":"…"}: `+err.Error())
		return
	}
	if dec.More() {
		refuse(http.StatusBadRequest, "invalid_json", "the body must hold one JSON object, found more after it")
		return
	}
	t.Environment, t.Reason = req.Environment, req.Reason
	if t.Reason == "" {
		t.Reason = "signed request to " + Path + full
	}

	inst, err := s.d.InstallationFor(ctx, owner, repo)
	if err != nil {
		var nf githubapp.InstallationNotFound
		if errors.Is(err, ErrNotInstalled) || errors.As(err, &nf) {
			refuse(http.StatusNotFound, "not_installed", fmt.Sprintf("the hoist GitHub App is not installed on %s", full))
			return
		}
		zerolog.Ctx(ctx).Error().Err(err).Str("repo", full).Msg("generate: find installation")
		refuse(http.StatusBadGateway, "github_unavailable", "could not ask GitHub for the App's installation on "+full+"; try again")
		return
	}
	t.Installation = inst

	sched, err := s.Schedule(ctx, t)
	var refusal *Refusal
	switch {
	case errors.As(err, &refusal):
		// Schedule audited it.
		writeJSON(w, http.StatusUnprocessableEntity, Response{Status: "refused", Code: refusal.Code, Message: refusal.Message})
		return
	case errors.Is(err, ErrBadConfig):
		refuse(http.StatusUnprocessableEntity, "bad_config", err.Error())
		return
	case errors.Is(err, ErrNotInstalled):
		refuse(http.StatusNotFound, "not_installed", fmt.Sprintf("the hoist GitHub App is not installed on %s", full))
		return
	case err != nil:
		zerolog.Ctx(ctx).Error().Err(err).Str("repo", full).Msg("generate: schedule")
		writeJSON(w, http.StatusServiceUnavailable, Response{Status: "refused", Code: "unavailable",
			Message: "the generation could not be scheduled; nothing was recorded, try again"})
		return
	}
	status := "scheduled"
	if sched.Coalesced {
		status = "coalesced"
	}
	writeJSON(w, http.StatusAccepted, Response{Status: status, Environment: sched.Environment, RunAt: sched.RunAt.UTC(), JobID: sched.JobID})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
