package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/logging"
)

type rawBodyKey struct{}

// webhookHandler checks what go-githubapp's dispatcher does not: the body
// size, that the signature is HMAC-SHA256 (the dispatcher would fall back
// to SHA-1), and that a delivery id is present since it is the idempotency
// key. The dispatcher then checks the signature again (cheap) and hands the
// payload to the durable scheduler, which persists it before the answer.
func (s *Server) webhookHandler(hs []githubapp.EventHandler) http.Handler {
	secret := []byte(s.cfg.GitHub.WebhookSecret)
	dispatcher := githubapp.NewEventDispatcher(hs, s.cfg.GitHub.WebhookSecret,
		githubapp.WithScheduler(s.deliveries),
		githubapp.WithErrorCallback(s.onDispatchError),
		githubapp.WithResponseCallback(s.onDispatchResponse),
	)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		event := r.Header.Get("X-GitHub-Event")
		id := r.Header.Get("X-GitHub-Delivery")
		log := zerolog.Ctx(r.Context()).With().Str(logging.KeyDelivery, id).Str(logging.KeyEvent, event).Logger()
		reject := func(status int, reason, msg string) {
			s.deliveries.Rejected(event, reason)
			log.Warn().Int("status", status).Str("reason", reason).Msg("webhook rejected")
			http.Error(w, msg, status)
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBody))
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				reject(http.StatusRequestEntityTooLarge, "too_large", "payload larger than 25 MB")
				return
			}
			reject(http.StatusBadRequest, "read_error", "could not read body")
			return
		}
		sig := r.Header.Get(github.SHA256SignatureHeader)
		switch {
		case sig == "":
			reject(http.StatusUnauthorized, "missing_signature", "missing X-Hub-Signature-256")
			return
		case !strings.HasPrefix(sig, "sha256="):
			reject(http.StatusUnauthorized, "bad_signature", "X-Hub-Signature-256 must be sha256=<hex>")
			return
		}
		// ValidateSignature compares with hmac.Equal: constant time.
		if err := github.ValidateSignature(sig, body, secret); err != nil {
			reject(http.StatusUnauthorized, "bad_signature", "signature does not match")
			return
		}
		if event == "" || id == "" {
			reject(http.StatusBadRequest, "missing_header", "X-GitHub-Event and X-GitHub-Delivery are required")
			return
		}
		if !s.engine.Running() {
			reject(http.StatusServiceUnavailable, "not_ready", "not ready")
			return
		}
		// Only the SHA-256 signature counts; the dispatcher must not see SHA-1.
		r.Header.Del(github.SHA1SignatureHeader)
		r.Body = io.NopCloser(bytes.NewReader(body))
		ctx := context.WithValue(log.WithContext(r.Context()), rawBodyKey{}, body)
		dispatcher.ServeHTTP(w, r.WithContext(ctx))
	})
}

// onDispatchError answers a delivery the dispatcher or scheduler refused.
func (s *Server) onDispatchError(w http.ResponseWriter, r *http.Request, err error) {
	log := zerolog.Ctx(r.Context())
	var ve githubapp.ValidationError
	switch {
	case errors.Is(err, jobs.ErrDuplicate):
		log.Info().Msg("redelivery of a known delivery; nothing to do")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("duplicate delivery\n"))
	case errors.As(err, &ve):
		cause := errors.New("invalid")
		if ve.Cause != nil {
			cause = ve.Cause
		}
		if !strings.Contains(cause.Error(), "not valid JSON") { // counted where it was found
			s.deliveries.Rejected(r.Header.Get("X-GitHub-Event"), "invalid_payload")
		}
		log.Warn().Err(cause).Msg("webhook rejected: invalid payload")
		http.Error(w, "invalid payload: "+cause.Error(), http.StatusBadRequest)
	default:
		log.Error().Err(err).Msg("could not persist webhook delivery")
		http.Error(w, "could not persist the delivery", http.StatusServiceUnavailable)
	}
}

// onDispatchResponse answers a persisted delivery, and records the ones no
// handler wants as ignored.
func (s *Server) onDispatchResponse(w http.ResponseWriter, r *http.Request, event string, handled bool) {
	if !handled {
		raw, _ := r.Context().Value(rawBodyKey{}).([]byte)
		payload, err := github.ValidatePayloadFromBody(r.Header.Get("Content-Type"), bytes.NewReader(raw),
			r.Header.Get(github.SHA256SignatureHeader), []byte(s.cfg.GitHub.WebhookSecret))
		if err == nil {
			err = s.deliveries.Ignore(r.Context(), event, r.Header.Get("X-GitHub-Delivery"), payload)
		} else {
			err = githubapp.ValidationError{EventType: event, Cause: err}
		}
		if err != nil {
			s.onDispatchError(w, r, err)
			return
		}
		zerolog.Ctx(r.Context()).Debug().Msg("no handler for this event; recorded as ignored")
	}
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write([]byte("accepted\n"))
}
