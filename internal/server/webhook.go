package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/logging"
)

type rawBodyKey struct{}

// webhookHandler checks what go-githubapp's dispatcher does not, cheapest
// first and before anything is stored, counted by event or logged at info:
// a well-formed X-Hub-Signature-256 (HMAC-SHA256 only; the dispatcher
// would fall back to SHA-1), the declared size and content type, a free
// body-read slot, then the body read through a size cap while it is hashed.
// Only once the signature matches are the headers believed: the event
// name, and the delivery id that is the idempotency key. The dispatcher
// then checks the signature again (cheap) and hands the payload to the
// durable scheduler, which persists it before the answer.
func (s *Server) webhookHandler(router *jobs.Router) http.Handler {
	secret := []byte(s.cfg.GitHub.WebhookSecret)
	dispatcher := githubapp.NewEventDispatcher([]githubapp.EventHandler{router}, s.cfg.GitHub.WebhookSecret,
		githubapp.WithScheduler(s.deliveries),
		githubapp.WithErrorCallback(s.onDispatchError),
		githubapp.WithResponseCallback(s.onDispatchResponse),
	)
	// Each body being read holds a slot; a full table answers 503 at once
	// instead of queueing readers (and their buffers) without bound.
	reads := make(chan struct{}, s.cfg.GitHub.WebhookMaxReads)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Before the signature verifies, nothing the request says is
		// logged above debug, and then only bounded and escaped.
		unverified := func(status int, reason, msg string) {
			s.deliveries.RejectedUnverified(reason)
			zerolog.Ctx(r.Context()).Debug().Int("status", status).Str("reason", reason).
				Str("remote", r.RemoteAddr).Str(logging.KeyEvent, logging.Printable(r.Header.Get("X-GitHub-Event"), 64)).
				Msg("webhook refused before its signature verified")
			http.Error(w, msg, status)
		}
		mac, ok := parseSignature(r.Header.Get(github.SHA256SignatureHeader))
		if !ok {
			if r.Header.Get(github.SHA256SignatureHeader) == "" {
				unverified(http.StatusUnauthorized, "missing_signature", "missing X-Hub-Signature-256")
			} else {
				unverified(http.StatusUnauthorized, "bad_signature", "X-Hub-Signature-256 must be sha256=<64 hex digits>")
			}
			return
		}
		if r.ContentLength > MaxWebhookBody {
			unverified(http.StatusRequestEntityTooLarge, "too_large", "payload larger than 25 MB")
			return
		}
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			unverified(http.StatusUnsupportedMediaType, "content_type", "Content-Type must be application/json")
			return
		}
		select {
		case reads <- struct{}{}:
		default:
			w.Header().Set("Retry-After", "1")
			unverified(http.StatusServiceUnavailable, "busy", "too many webhook bodies being read; retry shortly")
			return
		}
		body, err := readSigned(w, r, secret, mac)
		<-reads
		if err != nil {
			var tooLarge *http.MaxBytesError
			switch {
			case errors.As(err, &tooLarge):
				unverified(http.StatusRequestEntityTooLarge, "too_large", "payload larger than 25 MB")
			case errors.Is(err, errSignatureMismatch):
				unverified(http.StatusUnauthorized, "bad_signature", "signature does not match")
			default:
				unverified(http.StatusBadRequest, "read_error", "could not read body")
			}
			return
		}

		event := r.Header.Get("X-GitHub-Event")
		id := r.Header.Get("X-GitHub-Delivery")
		log := zerolog.Ctx(r.Context()).With().Str(logging.KeyDelivery, logging.Printable(id, 64)).
			Str(logging.KeyEvent, logging.Printable(event, 64)).Logger()
		if !validEventName(event) || !validDeliveryID(id) {
			s.deliveries.Rejected(event, "missing_header")
			log.Warn().Int("status", http.StatusBadRequest).Str("reason", "missing_header").Msg("webhook rejected")
			http.Error(w, "X-GitHub-Event (a lower-case event name) and X-GitHub-Delivery (at most 64 printable ASCII characters) are required", http.StatusBadRequest)
			return
		}
		if !s.engine.Running() {
			s.deliveries.Rejected(event, "not_ready")
			log.Warn().Int("status", http.StatusServiceUnavailable).Str("reason", "not_ready").Msg("webhook rejected")
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		// Only the SHA-256 signature counts; the dispatcher must not see SHA-1.
		r.Header.Del(github.SHA1SignatureHeader)
		r.Body = io.NopCloser(bytes.NewReader(body))
		ctx := context.WithValue(log.WithContext(r.Context()), rawBodyKey{}, body)
		dispatcher.ServeHTTP(w, r.WithContext(ctx))
	})
}

var errSignatureMismatch = errors.New("signature does not match")

// parseSignature decodes "sha256=<64 hex digits>".
func parseSignature(h string) ([]byte, bool) {
	hexSig, ok := strings.CutPrefix(h, "sha256=")
	if !ok || len(hexSig) != 2*sha256.Size {
		return nil, false
	}
	mac, err := hex.DecodeString(hexSig)
	return mac, err == nil
}

// readSigned reads the body through MaxWebhookBody while hashing it, and
// compares the HMAC in constant time.
func readSigned(w http.ResponseWriter, r *http.Request, secret, want []byte) ([]byte, error) {
	h := hmac.New(sha256.New, secret)
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		// A declared length is a stranger's word: reserve at most 1 MB
		// ahead, the rest only as bytes arrive.
		buf.Grow(int(min(r.ContentLength, 1<<20)))
	}
	if _, err := io.Copy(io.MultiWriter(&buf, h), http.MaxBytesReader(w, r.Body, MaxWebhookBody)); err != nil {
		return nil, err
	}
	if !hmac.Equal(h.Sum(nil), want) {
		return nil, errSignatureMismatch
	}
	return buf.Bytes(), nil
}

// validEventName: GitHub's event names are short snake_case words.
func validEventName(e string) bool {
	if e == "" || len(e) > 64 {
		return false
	}
	for _, c := range []byte(e) {
		if (c < 'a' || c > 'z') && c != '_' {
			return false
		}
	}
	return true
}

// validDeliveryID: GitHub's delivery ids are UUIDs; anything printable and
// short is accepted (the emulator and tests use their own).
func validDeliveryID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		if c < ' ' || c >= 0x7f {
			return false
		}
	}
	return true
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
