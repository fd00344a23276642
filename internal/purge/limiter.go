package purge

import (
	"sync"
	"time"
)

// TokenBucket is Cloudflare's rate-limit model: up to Burst tokens, one
// more every Every. Reserve takes tokens now and says how long to wait
// before acting; the bucket may go into debt so that waiters queue in
// order. Hand-written rather than golang.org/x/time/rate to keep the
// module set as it is for thirty lines; times come from the caller, so
// tests drive it with a fake clock.
type TokenBucket struct {
	mu     sync.Mutex
	burst  float64
	every  time.Duration
	tokens float64
	last   time.Time
}

// NewTokenBucket returns a full bucket.
func NewTokenBucket(burst int, every time.Duration) *TokenBucket {
	return &TokenBucket{burst: float64(burst), every: every, tokens: float64(burst)}
}

// Reserve takes n tokens at now and returns the wait before they are
// available (0 when they are).
func (b *TokenBucket) Reserve(now time.Time, n int) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last.IsZero() {
		b.last = now
	}
	if now.After(b.last) {
		b.tokens = min(b.burst, b.tokens+float64(now.Sub(b.last))/float64(b.every))
		b.last = now
	}
	b.tokens -= float64(n)
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens * float64(b.every))
}

// Limiters holds one pair of buckets per Cloudflare zone: requests (tag,
// prefix and purge-everything calls) and URLs (single-file purges), as
// Cloudflare meters them.
type Limiters struct {
	mu    sync.Mutex
	zones map[string]*zoneLimit
}

type zoneLimit struct {
	requests, urls *TokenBucket
}

// NewLimiters returns an empty registry.
func NewLimiters() *Limiters { return &Limiters{zones: map[string]*zoneLimit{}} }

var defaultLimiters = NewLimiters()

func (l *Limiters) zone(id string, lim cloudflareLimit) *zoneLimit {
	l.mu.Lock()
	defer l.mu.Unlock()
	z := l.zones[id]
	if z == nil {
		z = &zoneLimit{
			requests: NewTokenBucket(lim.requestBurst, lim.requestsPer),
			urls:     NewTokenBucket(lim.urlsPerSecond, time.Second/time.Duration(lim.urlsPerSecond)),
		}
		l.zones[id] = z
	}
	return z
}
