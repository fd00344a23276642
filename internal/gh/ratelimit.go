package gh

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gregjones/httpcache"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// RateLimitOptions tune the rate-limit middleware.
type RateLimitOptions struct {
	// MaxWait is the longest hoist waits for a limit to reset before
	// giving the 403/429 back to the caller (whose job then retries later
	// with backoff). Default 60s.
	MaxWait time.Duration
	// MaxRetries is how often one request is retried after a limit.
	// Default 2.
	MaxRetries int
	// SecondaryWait is the pause after a secondary rate limit that came
	// without Retry-After; GitHub asks for at least a minute. Default 60s.
	SecondaryWait time.Duration
	Metrics       *Metrics
	Logger        zerolog.Logger
	// Now and Sleep are replaced in tests.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

func (o *RateLimitOptions) defaults() {
	if o.MaxWait == 0 {
		o.MaxWait = 60 * time.Second
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 2
	}
	if o.SecondaryWait == 0 {
		o.SecondaryWait = 60 * time.Second
	}
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

// RateLimit returns a client middleware that keeps a client within GitHub's
// rate limits instead of hammering it:
//   - after a response with x-ratelimit-remaining: 0, later requests wait
//     until x-ratelimit-reset before they are sent;
//   - a 403 or 429 that is a rate limit (Retry-After, or remaining 0) is
//     retried after Retry-After, or the reset time, or SecondaryWait, when
//     that wait is within MaxWait and the request can be replayed;
//     otherwise the response goes back to the caller unchanged.
//
// go-githubapp applies a middleware to each client it creates, and each
// installation has its own client, so each installation's budget is
// tracked on its own.
func RateLimit(opts RateLimitOptions) githubapp.ClientMiddleware {
	opts.defaults()
	return func(next http.RoundTripper) http.RoundTripper {
		return &rateLimiter{next: next, o: opts}
	}
}

type rateLimiter struct {
	next http.RoundTripper
	o    RateLimitOptions

	mu         sync.Mutex
	blockUntil time.Time // no request leaves before this time
}

func (rl *rateLimiter) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	for attempt := 0; ; attempt++ {
		if err := rl.waitForBudget(ctx); err != nil {
			return nil, err
		}
		if attempt > 0 {
			if req.GetBody == nil && req.Body != nil && req.Body != http.NoBody {
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
		res, err := rl.next.RoundTrip(req)
		if err != nil {
			rl.o.Metrics.call("error", "")
			return nil, err
		}
		resource := res.Header.Get("X-Ratelimit-Resource")
		status := strconv.Itoa(res.StatusCode)
		if res.Header.Get(httpcache.XFromCache) == "1" {
			// GitHub answered 304 (free of the rate limit) and the body
			// came from the response cache.
			status = "304"
		}
		rl.o.Metrics.call(status, resource)
		rl.o.Metrics.remaining(res.Header, resource)
		wait, limited := rl.observe(res)
		if !limited || attempt >= rl.o.MaxRetries || wait > rl.o.MaxWait || (req.Body != nil && req.Body != http.NoBody && req.GetBody == nil) {
			return res, nil
		}
		rl.o.Logger.Warn().Int("status", res.StatusCode).Dur("wait", wait).Str("resource", resource).
			Str("path", req.URL.Path).Msg("GitHub rate limit reached; waiting before retrying")
		rl.o.Metrics.limited(resource)
		// Drain so the connection can be reused.
		_ = res.Body.Close()
	}
}

type replayError struct{}

func (replayError) Error() string {
	return "gh: rate-limited request has a body that cannot be replayed"
}

var errNotReplayable = replayError{}

func (rl *rateLimiter) waitForBudget(ctx context.Context) error {
	rl.mu.Lock()
	until := rl.blockUntil
	rl.mu.Unlock()
	if d := until.Sub(rl.o.Now()); d > 0 {
		return rl.o.Sleep(ctx, d)
	}
	return nil
}

// observe records what the response says about the budget and reports
// whether it is a rate-limit refusal and how long to wait.
func (rl *rateLimiter) observe(res *http.Response) (time.Duration, bool) {
	now := rl.o.Now()
	h := res.Header
	exhausted := h.Get("X-Ratelimit-Remaining") == "0"
	var reset time.Time
	if s, err := strconv.ParseInt(h.Get("X-Ratelimit-Reset"), 10, 64); err == nil {
		reset = time.Unix(s, 0)
	}
	var retryAfter time.Duration
	hasRetryAfter := false
	if v := h.Get("Retry-After"); v != "" {
		if s, err := strconv.Atoi(v); err == nil && s >= 0 {
			retryAfter, hasRetryAfter = time.Duration(s)*time.Second, true
		} else if t, err := http.ParseTime(v); err == nil {
			retryAfter, hasRetryAfter = t.Sub(now), true
		}
	}
	var wait time.Duration
	switch {
	case hasRetryAfter:
		wait = retryAfter
	case exhausted && !reset.IsZero():
		// One extra second: the reset is rounded down to the second.
		wait = reset.Sub(now) + time.Second
	}
	if wait < 0 {
		wait = 0
	}
	if hasRetryAfter || exhausted {
		rl.mu.Lock()
		if until := now.Add(wait); until.After(rl.blockUntil) {
			rl.blockUntil = until
		}
		rl.mu.Unlock()
	}
	if res.StatusCode != http.StatusForbidden && res.StatusCode != http.StatusTooManyRequests {
		return 0, false
	}
	if !hasRetryAfter && !exhausted {
		if res.StatusCode == http.StatusForbidden {
			return 0, false // a permission error, not a limit
		}
		// A 429 without any hint is a secondary limit: wait the minute.
		wait = rl.o.SecondaryWait
		rl.mu.Lock()
		rl.blockUntil = now.Add(wait)
		rl.mu.Unlock()
	}
	return wait, true
}

// Metrics are the GitHub API metrics: calls by status and the remaining
// budget by rate-limit resource (core, search, graphql, …).
type Metrics struct {
	calls          *prometheus.CounterVec
	remainingGauge *prometheus.GaugeVec
	limits         *prometheus.CounterVec
}

// NewMetrics registers the GitHub API metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hoist_github_api_calls_total", Help: "GitHub API requests by HTTP status (or error) and rate-limit resource.",
		}, []string{"status", "resource"}),
		remainingGauge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hoist_github_rate_limit_remaining", Help: "Requests left in the current rate-limit window, from the latest response, by resource.",
		}, []string{"resource"}),
		limits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hoist_github_rate_limited_total", Help: "Responses that were rate-limit refusals hoist waited out, by resource.",
		}, []string{"resource"}),
	}
	if reg != nil {
		reg.MustRegister(m.calls, m.remainingGauge, m.limits)
	}
	return m
}

func (m *Metrics) call(status, resource string) {
	if m != nil {
		m.calls.WithLabelValues(status, resource).Inc()
	}
}

func (m *Metrics) remaining(h http.Header, resource string) {
	if m == nil {
		return
	}
	if v, err := strconv.ParseFloat(h.Get("X-Ratelimit-Remaining"), 64); err == nil {
		if resource == "" {
			resource = "core"
		}
		m.remainingGauge.WithLabelValues(resource).Set(v)
	}
}

func (m *Metrics) limited(resource string) {
	if m != nil {
		m.limits.WithLabelValues(resource).Inc()
	}
}
