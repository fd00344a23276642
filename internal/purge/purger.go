package purge

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Purger performs a plan against one CDN.
type Purger interface {
	Purge(ctx context.Context, p Plan) (Result, error)
}

// Result summarises what a purge did. On error it holds what was done
// before the error.
type Result struct {
	CDN      string `json:"cdn"`
	Type     Type   `json:"type"`
	Requests int    `json:"requests"` // HTTP requests made, retries included
	Retries  int    `json:"retries"`
	// Items purged by kind.
	Keys     int `json:"keys,omitempty"`
	Paths    int `json:"paths,omitempty"`
	URLs     int `json:"urls,omitempty"`
	Tags     int `json:"tags,omitempty"`
	Prefixes int `json:"prefixes,omitempty"`
	// Everything is set when the whole service or zone was purged.
	Everything bool `json:"everything,omitempty"`
	// InvalidationIDs are CloudFront invalidations; PurgeIDs are the ids
	// Fastly and Cloudflare answer with.
	InvalidationIDs []string `json:"invalidation_ids,omitempty"`
	PurgeIDs        []string `json:"purge_ids,omitempty"`
	// Completed is set when a CloudFront invalidation was waited for.
	Completed bool `json:"completed,omitempty"`
	// Nodes is how many Varnish nodes acknowledged every batch.
	Nodes int `json:"nodes,omitempty"`
	// Evicted is the number of objects Varnish reported purged.
	Evicted int `json:"evicted,omitempty"`
}

// String is a one-line summary for logs and check-run text.
func (r Result) String() string {
	var parts []string
	add := func(n int, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(r.Keys, "keys")
	add(r.Paths, "paths")
	add(r.URLs, "URLs")
	add(r.Tags, "tags")
	add(r.Prefixes, "prefixes")
	if r.Everything {
		parts = append(parts, "everything")
	}
	if len(parts) == 0 {
		parts = append(parts, "nothing")
	}
	s := fmt.Sprintf("%s: purged %s in %d requests", r.CDN, strings.Join(parts, ", "), r.Requests)
	if r.Retries > 0 {
		s += fmt.Sprintf(" (%d retries)", r.Retries)
	}
	if r.Nodes > 0 {
		s += fmt.Sprintf(" on %d nodes", r.Nodes)
	}
	if len(r.InvalidationIDs) > 0 {
		s += ", invalidation " + strings.Join(r.InvalidationIDs, ", ")
		if r.Completed {
			s += " (completed)"
		}
	}
	return s
}

// Clock is time as the adapters see it; tests inject a fake one.
type Clock interface {
	Now() time.Time
	// Sleep waits d or until ctx ends, returning ctx's error then.
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// RetryPolicy bounds retries of 429, 5xx and network errors. A Retry-After
// answer is honoured (up to MaxRetryAfter); otherwise the wait doubles from
// Base up to Max.
type RetryPolicy struct {
	Attempts      int           // total attempts per request (default 6)
	Base          time.Duration // first wait (default 1s)
	Max           time.Duration // longest computed wait (default 60s)
	MaxRetryAfter time.Duration // longest Retry-After honoured (default 5m)
}

func (r RetryPolicy) withDefaults() RetryPolicy {
	if r.Attempts <= 0 {
		r.Attempts = 6
	}
	if r.Base <= 0 {
		r.Base = time.Second
	}
	if r.Max <= 0 {
		r.Max = time.Minute
	}
	if r.MaxRetryAfter <= 0 {
		r.MaxRetryAfter = 5 * time.Minute
	}
	return r
}

// backoff is the wait before attempt n+1 (n ≥ 1): Base·2^(n-1), capped.
// No jitter: purges of one deploy run one at a time, and a deterministic
// schedule keeps the waits testable.
func (r RetryPolicy) backoff(n int) time.Duration {
	d := r.Base
	for i := 1; i < n && d < r.Max; i++ {
		d *= 2
	}
	return min(d, r.Max)
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	var secs int
	if _, err := fmt.Sscanf(v, "%d", &secs); err == nil && fmt.Sprint(secs) == v && secs >= 0 {
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// Option configures an adapter.
type Option func(*options)

type options struct {
	client   *http.Client
	ownHTTP  bool // the caller gave the client
	clock    Clock
	retry    RetryPolicy
	limiters *Limiters
	log      *zerolog.Logger
}

// WithHTTPClient sets the HTTP client (default: one with cfg.Timeout).
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) { o.client, o.ownHTTP = c, true }
}

// WithClock sets the clock used for waits and rate limits.
func WithClock(c Clock) Option { return func(o *options) { o.clock = c } }

// WithRetry sets the retry policy.
func WithRetry(r RetryPolicy) Option { return func(o *options) { o.retry = r } }

// WithLimiters sets the registry of Cloudflare rate limiters (default: one
// shared by the process, so purges of one zone share its budget).
func WithLimiters(l *Limiters) Option { return func(o *options) { o.limiters = l } }

// WithLogger sets the logger (default: zerolog.Ctx of each call).
func WithLogger(l zerolog.Logger) Option { return func(o *options) { o.log = &l } }

func buildOptions(cfg CDNConfig, opts []Option) options {
	o := options{clock: realClock{}, limiters: defaultLimiters}
	for _, f := range opts {
		f(&o)
	}
	o.retry = o.retry.withDefaults()
	if o.client == nil {
		timeout := cfg.Timeout
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		o.client = &http.Client{Timeout: timeout}
	}
	return o
}

func (o options) logger(ctx context.Context) *zerolog.Logger {
	if o.log != nil {
		return o.log
	}
	return zerolog.Ctx(ctx)
}

// New returns the adapter for cfg's CDN type.
func New(cfg CDNConfig, opts ...Option) (Purger, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := buildOptions(cfg, opts)
	switch cfg.Type {
	case Fastly:
		return newFastly(cfg, o), nil
	case CloudFront:
		return newCloudFront(cfg, o)
	case Cloudflare:
		return newCloudflare(cfg, o), nil
	case Varnish:
		return newVarnish(cfg, o), nil
	}
	return nil, fmt.Errorf("cdn %q: unknown type %q", cfg.Name, cfg.Type)
}

// Run plans req for cfg and performs the plan.
func Run(ctx context.Context, req Request, cfg CDNConfig, opts ...Option) (Plan, Result, error) {
	plan, err := MakePlan(req, cfg)
	if err != nil {
		return plan, Result{CDN: cfg.Name, Type: cfg.Type}, err
	}
	p, err := New(cfg, opts...)
	if err != nil {
		return plan, Result{CDN: cfg.Name, Type: cfg.Type}, err
	}
	res, err := p.Purge(ctx, plan)
	return plan, res, err
}

func checkPlan(cfg CDNConfig, p Plan) error {
	if p.Type != cfg.Type || p.CDN != cfg.Name {
		return fmt.Errorf("plan for %s (%s) given to the %s adapter of %s", p.CDN, p.Type, cfg.Type, cfg.Name)
	}
	return nil
}
