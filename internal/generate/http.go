package generate

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/logging"
)

// Path is where HTTPHandler is mounted: POST /api/generate/{owner}/{repo}.
const Path = "/api/generate/"

// MaxBody is the largest request body accepted (a JSON object of two
// short strings needs far less).
const MaxBody = 64 << 10

// The signed request's headers. SignatureHeader carries
// "sha256=<hex HMAC-SHA256 of timestamp.nonce.body>" (see Signature): the
// timestamp bounds when the request may be used and the nonce that it is
// used once, and both are covered by the signature.
const (
	SignatureHeader = "X-Hub-Signature-256"
	TimestampHeader = "X-Hoist-Timestamp"
	NonceHeader     = "X-Hoist-Nonce"
)

// MaxSkew is how far a request's timestamp may be from the server's clock.
const MaxSkew = 5 * time.Minute

// Signature is the value of SignatureHeader for a request signed at
// timestamp (Unix seconds) with nonce:
// "sha256=" + hex(HMAC-SHA256(secret, "<timestamp>.<nonce>.<body>")).
func Signature(secret string, timestamp int64, nonce string, body []byte) string {
	return "sha256=" + hex.EncodeToString(signatureMAC(secret, timestamp, nonce, body))
}

func signatureMAC(secret string, timestamp int64, nonce string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "%d.%s.", timestamp, nonce)
	m.Write(body)
	return m.Sum(nil)
}

// Sign sets the timestamp, a new random nonce and the signature on req,
// whose body is body: what a caller of the trigger does.
func Sign(req *http.Request, secret string, body []byte, now time.Time) {
	nonce := rand.Text()
	req.Header.Set(TimestampHeader, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(NonceHeader, nonce)
	req.Header.Set(SignatureHeader, Signature(secret, now.Unix(), nonce, body))
}

// parseSignature decodes "sha256=<64 hex digits>".
func parseSignature(h string) ([]byte, bool) {
	hexSig, ok := strings.CutPrefix(h, "sha256=")
	if !ok || len(hexSig) != 2*sha256.Size {
		return nil, false
	}
	mac, err := hex.DecodeString(hexSig)
	return mac, err == nil
}

// validNonce: 16 to 64 characters of [A-Za-z0-9_-].
func validNonce(n string) bool {
	if len(n) < 16 || len(n) > 64 {
		return false
	}
	for _, c := range []byte(n) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

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
// the repository takes triggers at all, the size, the form of the
// signature, timestamp and nonce, then the signature over them and the
// body (before anything in the body is believed), that the nonce is new,
// the JSON, and then what the repository's configuration allows.
//
// Until the signature verifies and the nonce is new, the caller is a
// stranger: a refusal writes nothing (no audit row, which would let anyone
// fill the database and the repository's activity) and is logged at debug
// with bounded fields. Refusals after that are audited.
func (s *Service) servePost(w http.ResponseWriter, r *http.Request) {
	ctx := s.logCtx(r.Context())
	owner, repo := r.PathValue("owner"), r.PathValue("repo")
	full := owner + "/" + repo
	t := Trigger{Owner: owner, Repo: repo, Source: "api", Actor: "api"}
	stranger := func(status int, code, msg string) {
		zerolog.Ctx(ctx).Debug().Str("repo", logging.Printable(full, 100)).Str("code", code).Int("status", status).
			Str("remote", r.RemoteAddr).Msg("generate: unauthenticated request refused")
		writeJSON(w, status, Response{Status: "refused", Code: code, Message: msg})
	}
	refuse := func(status int, code, msg string) {
		s.audit(ctx, t, t.Environment, "refused", map[string]any{"code": code, "error": msg, "remote": r.RemoteAddr})
		writeJSON(w, status, Response{Status: "refused", Code: code, Message: msg})
	}

	secret, ok := s.d.Secret(owner, repo)
	if !ok {
		stranger(http.StatusNotFound, "unknown_repository", fmt.Sprintf("no generate secret is configured for %s on this server (generate.repositories in the server configuration)", logging.Printable(full, 100)))
		return
	}
	if r.ContentLength > MaxBody {
		stranger(http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the body is %d bytes; at most %d are accepted", r.ContentLength, MaxBody))
		return
	}
	sig := r.Header.Get(SignatureHeader)
	mac, sigOK := parseSignature(sig)
	switch {
	case sig == "":
		stranger(http.StatusUnauthorized, "missing_signature", SignatureHeader+" is missing: sign timestamp.nonce.body with HMAC-SHA256 and the repository's secret, as sha256=<hex> (docs/generate.md)")
		return
	case !sigOK:
		stranger(http.StatusUnauthorized, "bad_signature", SignatureHeader+" must be sha256=<64 hex digits>")
		return
	}
	ts, err := strconv.ParseInt(r.Header.Get(TimestampHeader), 10, 64)
	if err != nil {
		stranger(http.StatusUnauthorized, "bad_timestamp", TimestampHeader+" must be the time of signing in Unix seconds")
		return
	}
	if skew := s.d.Now().Sub(time.Unix(ts, 0)); skew > MaxSkew || skew < -MaxSkew {
		stranger(http.StatusUnauthorized, "stale_timestamp", fmt.Sprintf("%s is more than %s away from this server's clock; sign each request when sending it", TimestampHeader, MaxSkew))
		return
	}
	nonce := r.Header.Get(NonceHeader)
	if !validNonce(nonce) {
		stranger(http.StatusUnauthorized, "bad_nonce", NonceHeader+" must be 16 to 64 letters, digits, - or _, new for every request (for example: openssl rand -hex 16)")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			stranger(http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the body is over %d bytes", MaxBody))
			return
		}
		stranger(http.StatusBadRequest, "unreadable_body", "could not read the body")
		return
	}
	if !hmac.Equal(mac, signatureMAC(secret, ts, nonce, body)) {
		stranger(http.StatusUnauthorized, "bad_signature", SignatureHeader+" does not match the timestamp, nonce, body and the repository's secret")
		return
	}
	if s.d.Store == nil {
		zerolog.Ctx(ctx).Error().Str("repo", full).Msg("generate: no store to record nonces in")
		writeJSON(w, http.StatusServiceUnavailable, Response{Status: "refused", Code: "unavailable", Message: "not ready; try again"})
		return
	}
	// The nonce is kept as long as its timestamp is acceptable, plus the
	// skew either way; the retention job deletes it after that.
	fresh, err := s.d.Store.UseNonce(ctx, "generate:"+strings.ToLower(full), nonce, time.Unix(ts, 0).Add(MaxSkew+time.Minute))
	if err != nil {
		zerolog.Ctx(ctx).Error().Err(err).Str("repo", full).Msg("generate: record nonce")
		writeJSON(w, http.StatusServiceUnavailable, Response{Status: "refused", Code: "unavailable", Message: "could not record the request's nonce; nothing was scheduled, try again"})
		return
	}
	if !fresh {
		// Signed by the secret's holder once, and now sent again: a replay.
		zerolog.Ctx(ctx).Warn().Str("repo", full).Str("code", "replayed").Str("remote", r.RemoteAddr).
			Msg("generate: replayed request refused")
		writeJSON(w, http.StatusConflict, Response{Status: "refused", Code: "replayed", Message: NonceHeader + " was used before: every request needs a new nonce"})
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
