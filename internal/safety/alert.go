package safety

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// AlertKind is what an alert is about.
type AlertKind string

const (
	AlertVerifyFailed    AlertKind = "verify_failed"
	AlertRollback        AlertKind = "rollback"
	AlertRollbackFailed  AlertKind = "rollback_failed"
	AlertBudgetExhausted AlertKind = "budget_exhausted"
)

// Alert is one message for people on call.
type Alert struct {
	Kind AlertKind
	Repo string // owner/name
	Env  string
	// Text says what happened, in a sentence; URL links to where to look
	// (a check run, a deployment, the dashboard).
	Text string
	URL  string
}

// Webhook posts alerts to a Slack-compatible incoming webhook as
// {"text": "..."}. The URL is a secret (it carries the webhook's token):
// it is never logged and never part of an error. A nil *Webhook sends
// nothing.
type Webhook struct {
	url    string
	client *http.Client
	// pace is the least time between two alerts of one kind, repository
	// and environment; those in between are dropped, counted in the next.
	pace     time.Duration
	attempts int
	backoff  time.Duration
	now      func() time.Time
	pacer    Pacer

	mu      sync.Mutex
	last    map[string]time.Time
	dropped map[string]int
}

// WebhookOptions tune a Webhook; zero values take the defaults.
type WebhookOptions struct {
	Client *http.Client
	// Pace defaults to 10 minutes.
	Pace time.Duration
	// Attempts (default 3) and Backoff (default 2s, doubled each retry)
	// retry a failed post: network errors, 429 and 5xx answers.
	Attempts int
	Backoff  time.Duration
	Now      func() time.Time
	// Pacer shares pacing between replicas (StorePacer); nil paces in
	// this process alone.
	Pacer Pacer
}

// NewWebhook returns a Webhook posting to rawURL; an empty URL returns nil
// (alerts off).
func NewWebhook(rawURL string, o WebhookOptions) *Webhook {
	if rawURL == "" {
		return nil
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Pace == 0 {
		o.Pace = 10 * time.Minute
	}
	if o.Attempts <= 0 {
		o.Attempts = 3
	}
	if o.Backoff == 0 {
		o.Backoff = 2 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Webhook{url: rawURL, client: o.Client, pace: o.Pace, attempts: o.Attempts, backoff: o.Backoff, now: o.Now, pacer: o.Pacer,
		last: map[string]time.Time{}, dropped: map[string]int{}}
}

// String keeps the URL out of logs and %v.
func (w *Webhook) String() string { return "webhook [redacted]" }

// Alert posts a, unless an alert of its kind, repository and environment
// was posted less than the pace ago (then it is dropped and counted).
func (w *Webhook) Alert(ctx context.Context, a Alert) error {
	if w == nil {
		return nil
	}
	// Kinds, repositories and environment names hold no space; PostgreSQL
	// text holds no NUL.
	key := string(a.Kind) + " " + a.Repo + " " + a.Env
	send, dropped, err := w.claim(ctx, key)
	if err != nil {
		return fmt.Errorf("alert %s for %s %s: %w", a.Kind, a.Repo, a.Env, err)
	}
	if !send {
		zerolog.Ctx(ctx).Info().Str("repo", a.Repo).Str("env", a.Env).Str("alert", string(a.Kind)).Msg("alert paced: not sent")
		return nil
	}

	body, err := json.Marshal(map[string]string{"text": alertText(a, dropped)})
	if err != nil {
		return fmt.Errorf("alert: encode: %w", err)
	}
	wait := w.backoff
	for attempt := 1; ; attempt++ {
		retry, after, err := w.post(ctx, body)
		if err == nil {
			zerolog.Ctx(ctx).Info().Str("repo", a.Repo).Str("env", a.Env).Str("alert", string(a.Kind)).Msg("alert sent")
			return nil
		}
		if !retry || attempt >= w.attempts {
			return fmt.Errorf("alert %s for %s %s: %w", a.Kind, a.Repo, a.Env, err)
		}
		if after > 0 {
			wait = after
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("alert %s for %s %s: %w", a.Kind, a.Repo, a.Env, ctx.Err())
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// claim asks the shared pacer, or paces in this process when there is
// none.
func (w *Webhook) claim(ctx context.Context, key string) (bool, int, error) {
	now := w.now()
	if w.pacer != nil {
		return w.pacer.Claim(ctx, key, now, w.pace)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if last, ok := w.last[key]; ok && now.Sub(last) < w.pace {
		w.dropped[key]++
		return false, 0, nil
	}
	w.last[key] = now
	dropped := w.dropped[key]
	delete(w.dropped, key)
	return true, dropped, nil
}

// maxRetryAfter bounds how long a receiver's Retry-After is obeyed.
const maxRetryAfter = 30 * time.Second

// post sends one attempt. Errors never contain the URL.
func (w *Webhook) post(ctx context.Context, body []byte) (retry bool, after time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return false, 0, errors.New("the alert webhook URL is not valid")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.client.Do(req)
	if err != nil {
		// *url.Error prints the URL; keep only what went wrong.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return true, 0, fmt.Errorf("post to the alert webhook: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 == 2 {
		return false, 0, nil
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		after = min(time.Duration(s)*time.Second, maxRetryAfter)
	}
	retry = resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
	return retry, after, fmt.Errorf("the alert webhook answered %d", resp.StatusCode)
}

func alertText(a Alert, dropped int) string {
	t := fmt.Sprintf("hoist: %s", a.Repo)
	if a.Env != "" {
		t += " " + a.Env
	}
	t += ": " + a.Text
	if a.URL != "" {
		t += " " + a.URL
	}
	if dropped > 0 {
		t += fmt.Sprintf(" (%d similar alerts held back since the last one)", dropped)
	}
	return t
}
