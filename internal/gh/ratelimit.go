package gh

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gregjones/httpcache"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// RateLimitOptions tune the rate-limit middleware.
type RateLimitOptions struct {
	// MaxWait is the longest hoist waits for a secondary limit to lift
	// before giving the 403/429 back to the caller (whose job then retries
	// later with backoff). Default 60s.
	MaxWait time.Duration
	// PrimaryMaxWait is the longest a request waits for an exhausted
	// primary budget to reset; beyond it the request fails at once with a
	// *RateLimitedError, which the job engine turns into a snooze, so that
	// no worker sits out the hour. Default 5s.
	PrimaryMaxWait time.Duration
	// MaxRetries is how often one request is retried after a limit.
	// Default 4; with GitHub's minute and its doubling, MaxWait is what
	// bounds the retries of a secondary limit in practice.
	MaxRetries int
	// SecondaryWait is the pause after a secondary rate limit that came
	// without Retry-After; GitHub asks for at least a minute. Default 60s.
	// Each further secondary limit in a row doubles it.
	SecondaryWait time.Duration
	// Pace spaces each installation's writes.
	Pace    PaceOptions
	Metrics *Metrics
	Logger  zerolog.Logger
	// Now and Sleep are replaced in tests.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

func (o *RateLimitOptions) defaults() {
	if o.MaxWait == 0 {
		o.MaxWait = 60 * time.Second
	}
	if o.PrimaryMaxWait == 0 {
		o.PrimaryMaxWait = 5 * time.Second
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 4
	}
	if o.SecondaryWait == 0 {
		o.SecondaryWait = 60 * time.Second
	}
	o.Pace.defaults()
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}

// RateLimitedError is returned instead of sending a request while the
// installation may not send it for longer than hoist waits inside a job:
// its primary budget is exhausted until the reset, or a secondary limit
// paused its writes. Job workers snooze until Until rather than fail.
type RateLimitedError struct {
	Until time.Time
	// Secondary is set when a secondary limit, not the primary budget,
	// is the cause.
	Secondary bool
}

func (e *RateLimitedError) Error() string {
	kind := "primary rate limit exhausted"
	if e.Secondary {
		kind = "secondary rate limit"
	}
	return fmt.Sprintf("gh: %s until %s", kind, e.Until.UTC().Format(time.RFC3339))
}

// RetryAt is when the request may be sent again.
func (e *RateLimitedError) RetryAt() time.Time { return e.Until }

// RateLimit returns a client middleware that keeps a client within GitHub's
// rate limits instead of hammering it (see rateLimiter). Each call of the
// middleware makes a client with its own write pace; NewClientCreator
// shares one pace among all clients of an installation instead.
func RateLimit(opts RateLimitOptions) githubapp.ClientMiddleware {
	opts.defaults()
	return func(next http.RoundTripper) http.RoundTripper {
		return newRateLimiter(next, opts, newPaces(opts.Pace).get(0))
	}
}

// rateLimiter keeps one client within GitHub's limits:
//   - writes go through the installation's pace: one at a time, spaced
//     by the token bucket (PaceOptions);
//   - after a response with x-ratelimit-remaining: 0, the installation's
//     later requests wait until x-ratelimit-reset when it is near
//     (PrimaryMaxWait), and otherwise fail at once with *RateLimitedError;
//     a 403/429 with remaining 0 is that same exhaustion;
//   - a secondary limit (a 403/429 with Retry-After, GitHub's "secondary
//     rate limit" message, or a bare 429) pauses the installation's writes
//     for Retry-After, or until the reset when remaining is 0, or
//     SecondaryWait, doubled for each limit in a row; the request is
//     retried after the pause when it is within MaxWait and the request
//     can be replayed, and otherwise the response goes back to the caller;
//     a write that finds a pause longer than MaxWait fails at once with
//     *RateLimitedError.
type rateLimiter struct {
	next http.RoundTripper
	o    RateLimitOptions
	pace *installationPace
}

func newRateLimiter(next http.RoundTripper, o RateLimitOptions, pace *installationPace) *rateLimiter {
	return &rateLimiter{next: next, o: o, pace: pace}
}

func (rl *rateLimiter) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	write := isWrite(req.Method)
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	for attempt := 0; ; attempt++ {
		if err := rl.waitForBudget(ctx); err != nil {
			return nil, err
		}
		if attempt > 0 {
			if !replayable {
				return nil, errNotReplayable
			}
			clone := req.Clone(ctx)
			if req.GetBody != nil {
				body, err := req.GetBody()
				if err != nil {
					return nil, err
				}
				clone.Body = body
			}
			req = clone
		}
		if write {
			if err := rl.pace.acquire(ctx, &rl.o); err != nil {
				return nil, err
			}
		}
		res, err := rl.next.RoundTrip(req)
		if write {
			rl.pace.release()
		}
		if err != nil {
			rl.o.Metrics.call(req.Method, "error", "")
			return nil, err
		}
		resource := res.Header.Get("X-Ratelimit-Resource")
		status := strconv.Itoa(res.StatusCode)
		if res.Header.Get(httpcache.XFromCache) == "1" {
			// GitHub answered 304 (free of the rate limit) and the body
			// came from the response cache.
			status = "304"
		}
		rl.o.Metrics.call(req.Method, status, resource)
		rl.o.Metrics.budget(rl.pace.id, res.Header, resource)
		lim := rl.observe(res)
		switch lim.kind {
		case notLimited:
			if write {
				rl.pace.succeeded()
			}
			return res, nil
		case primaryLimit:
			rl.o.Metrics.limited(resource)
			if lim.wait <= rl.o.PrimaryMaxWait && attempt < rl.o.MaxRetries && replayable {
				// The reset is near: waitForBudget sits it out.
				_ = res.Body.Close()
				continue
			}
			_ = res.Body.Close()
			rl.o.Logger.Warn().Int("status", res.StatusCode).Time("until", lim.until).Str("resource", resource).
				Str("path", req.URL.Path).Msg("GitHub rate limit exhausted; the job waits for the reset")
			return nil, &RateLimitedError{Until: lim.until}
		}
		// A secondary limit: pause the installation's writes, longer with
		// each limit in a row.
		wait := rl.pace.pause(rl.o.Now(), lim.wait)
		rl.o.Metrics.limited(resource)
		rl.o.Metrics.paused(rl.pace.id)
		if attempt >= rl.o.MaxRetries || wait > rl.o.MaxWait || !replayable {
			rl.o.Logger.Warn().Int("status", res.StatusCode).Dur("pause", wait).Str("path", req.URL.Path).
				Msg("GitHub secondary rate limit; giving the answer back")
			return res, nil
		}
		rl.o.Logger.Warn().Int("status", res.StatusCode).Dur("wait", wait).Str("resource", resource).
			Str("path", req.URL.Path).Msg("GitHub secondary rate limit; waiting before retrying")
		// Drain so the connection can be reused.
		_ = res.Body.Close()
		if !write {
			// A write waits for the pause in acquire, a read here.
			if err := rl.o.Sleep(ctx, wait); err != nil {
				return nil, err
			}
		}
	}
}

type replayError struct{}

func (replayError) Error() string {
	return "gh: rate-limited request has a body that cannot be replayed"
}

var errNotReplayable = replayError{}

// waitForBudget holds a request back while the primary budget is known
// to be exhausted: it waits when the reset is near, and otherwise fails
// with *RateLimitedError rather than block the caller for up to an hour.
func (rl *rateLimiter) waitForBudget(ctx context.Context) error {
	rl.pace.mu.Lock()
	until := rl.pace.exhaustedUntil
	rl.pace.mu.Unlock()
	d := until.Sub(rl.o.Now())
	switch {
	case d <= 0:
		return nil
	case d <= rl.o.PrimaryMaxWait:
		return rl.o.Sleep(ctx, d)
	}
	return &RateLimitedError{Until: until}
}

type limitKind int

const (
	notLimited limitKind = iota
	primaryLimit
	secondaryLimit
)

type limit struct {
	kind  limitKind
	wait  time.Duration
	until time.Time
}

// secondaryLimitMarkers are in the message and documentation_url of
// GitHub's secondary-limit answers, which may come without Retry-After.
var secondaryLimitMarkers = []string{"secondary rate limit", "secondary-rate-limits", "abuse"}

// observe records what the response says about the primary budget and
// classifies it as no limit, the primary budget exhausted, or a
// secondary limit, with the wait GitHub asks for.
func (rl *rateLimiter) observe(res *http.Response) limit {
	now := rl.o.Now()
	h := res.Header
	resource := h.Get("X-Ratelimit-Resource")
	exhausted := h.Get("X-Ratelimit-Remaining") == "0"
	var reset time.Time
	if s, err := strconv.ParseInt(h.Get("X-Ratelimit-Reset"), 10, 64); err == nil {
		// One extra second: the reset is rounded down to the second.
		reset = time.Unix(s, 0).Add(time.Second)
	}
	var retryAfter time.Duration
	hasRetryAfter := false
	if v := h.Get("Retry-After"); v != "" {
		if s, err := strconv.Atoi(v); err == nil && s >= 0 {
			retryAfter, hasRetryAfter = time.Duration(s)*time.Second, true
		} else if t, err := http.ParseTime(v); err == nil {
			retryAfter, hasRetryAfter = max(t.Sub(now), 0), true
		}
	}
	if exhausted && !reset.IsZero() && (resource == "" || resource == "core") {
		// Other resources (search, graphql) have budgets of their own;
		// the next core request must not be held back by them.
		rl.pace.mu.Lock()
		if reset.After(rl.pace.exhaustedUntil) {
			rl.pace.exhaustedUntil = reset
		}
		rl.pace.mu.Unlock()
	}
	if res.StatusCode != http.StatusForbidden && res.StatusCode != http.StatusTooManyRequests {
		return limit{}
	}
	secondary := hasRetryAfter || isSecondaryMessage(res)
	switch {
	case secondary && hasRetryAfter:
		return limit{kind: secondaryLimit, wait: retryAfter}
	case secondary && exhausted && !reset.IsZero():
		return limit{kind: secondaryLimit, wait: max(reset.Sub(now), 0)}
	case secondary:
		return limit{kind: secondaryLimit, wait: rl.o.SecondaryWait}
	case exhausted && !reset.IsZero():
		return limit{kind: primaryLimit, wait: max(reset.Sub(now), 0), until: reset}
	case exhausted:
		return limit{kind: primaryLimit, wait: rl.o.SecondaryWait, until: now.Add(rl.o.SecondaryWait)}
	case res.StatusCode == http.StatusTooManyRequests:
		// A 429 without any hint is a secondary limit: wait the minute.
		return limit{kind: secondaryLimit, wait: rl.o.SecondaryWait}
	}
	return limit{} // a 403 that is a permission error, not a limit
}

// isSecondaryMessage reads the error body (keeping it for the caller)
// and reports whether it is GitHub's secondary-limit answer.
func isSecondaryMessage(res *http.Response) bool {
	if res.Body == nil {
		return false
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	_ = res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return false
	}
	lower := strings.ToLower(string(body))
	for _, m := range secondaryLimitMarkers {
		if strings.Contains(lower, m) {
			return true
		}
	}
	return false
}

// Metrics are the GitHub API metrics: requests by method and status, the
// budget left per installation and rate-limit resource (core, search,
// graphql, …), and the limits waited out.
//
// Installations are labelled by their numeric id: the App's own
// installations are few and known, an id is not a secret (a token would
// be), and the id is what GitHub's settings page and hoist's logs show.
// Repositories are not labelled: the budget is the installation's, and
// their number is unbounded.
type Metrics struct {
	calls          *prometheus.CounterVec
	requests       *prometheus.CounterVec
	remainingGauge *prometheus.GaugeVec
	limitGauge     *prometheus.GaugeVec
	resetGauge     *prometheus.GaugeVec
	limits         *prometheus.CounterVec
	pauses         *prometheus.CounterVec
}

// NewMetrics registers the GitHub API metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	budget := []string{"installation", "resource"}
	m := &Metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hoist_github_api_calls_total", Help: "GitHub API requests by HTTP status (or error) and rate-limit resource.",
		}, []string{"status", "resource"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hoist_github_requests_total", Help: "GitHub API requests by method and status class (2xx, 3xx, 4xx, 5xx, error).",
		}, []string{"method", "status_class"}),
		remainingGauge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hoist_github_rate_limit_remaining", Help: "Requests left in the current rate-limit window, from the latest response, by installation id (app: the App itself) and resource.",
		}, budget),
		limitGauge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hoist_github_rate_limit_limit", Help: "Requests allowed in the rate-limit window, from the latest response, by installation id and resource.",
		}, budget),
		resetGauge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hoist_github_rate_limit_reset_timestamp_seconds", Help: "When the rate-limit window resets (Unix time), from the latest response, by installation id and resource.",
		}, budget),
		limits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hoist_github_rate_limited_total", Help: "Responses that were rate-limit refusals hoist waited out, by resource.",
		}, []string{"resource"}),
		pauses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hoist_github_secondary_limit_pauses_total", Help: "Pauses of an installation's writes after a GitHub secondary rate limit, by installation id.",
		}, []string{"installation"}),
	}
	if reg != nil {
		reg.MustRegister(m.calls, m.requests, m.remainingGauge, m.limitGauge, m.resetGauge, m.limits, m.pauses)
	}
	return m
}

// installationLabel is the installation id; 0 is the App's own budget
// (JWT requests) and that of user tokens.
func installationLabel(id int64) string {
	if id == 0 {
		return "app"
	}
	return strconv.FormatInt(id, 10)
}

// methodLabel keeps the method label to the methods GitHub's API knows.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete:
		return m
	}
	return "other"
}

// resourceLabel keeps the resource label to the words GitHub sends
// (core, search, graphql, integration_manifest, …).
func resourceLabel(r string) string {
	if len(r) > 32 {
		return "other"
	}
	for _, c := range []byte(r) {
		if (c < 'a' || c > 'z') && c != '_' {
			return "other"
		}
	}
	return r
}

func (m *Metrics) call(method, status, resource string) {
	if m == nil {
		return
	}
	class := "error"
	if len(status) == 3 && status[0] >= '1' && status[0] <= '5' {
		class = status[:1] + "xx"
	}
	m.requests.WithLabelValues(methodLabel(method), class).Inc()
	m.calls.WithLabelValues(status, resourceLabel(resource)).Inc()
}

// budget records what the response says about the installation's budget.
func (m *Metrics) budget(installation int64, h http.Header, resource string) {
	if m == nil {
		return
	}
	if resource == "" {
		resource = "core" // GitHub's default budget
	}
	inst, res := installationLabel(installation), resourceLabel(resource)
	if v, err := strconv.ParseFloat(h.Get("X-Ratelimit-Remaining"), 64); err == nil {
		m.remainingGauge.WithLabelValues(inst, res).Set(v)
	}
	if v, err := strconv.ParseFloat(h.Get("X-Ratelimit-Limit"), 64); err == nil {
		m.limitGauge.WithLabelValues(inst, res).Set(v)
	}
	if v, err := strconv.ParseFloat(h.Get("X-Ratelimit-Reset"), 64); err == nil {
		m.resetGauge.WithLabelValues(inst, res).Set(v)
	}
}

func (m *Metrics) limited(resource string) {
	if m != nil {
		m.limits.WithLabelValues(resourceLabel(resource)).Inc()
	}
}

func (m *Metrics) paused(installation int64) {
	if m != nil {
		m.pauses.WithLabelValues(installationLabel(installation)).Inc()
	}
}
