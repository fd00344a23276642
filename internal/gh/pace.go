package gh

import (
	"context"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// GitHub's documented secondary limits for content creation: no more than
// 80 content-creating requests a minute, and at least a second between
// writes (https://docs.github.com/rest/using-the-rest-api/best-practices-for-using-the-rest-api).
const (
	DefaultWriteInterval   = time.Second
	DefaultWritesPerMinute = 80
)

// PaceOptions tune the pacing of one App's installation clients.
type PaceOptions struct {
	// Interval is the least time between two writes of one installation
	// once its burst allowance is spent. Default 1s.
	Interval time.Duration
	// PerWindow is the most writes of one installation in any Window.
	// Default 80.
	PerWindow int
	// Window is the span PerWindow counts over. Default one minute; tests
	// shorten it together with Interval to keep the same proportions.
	Window time.Duration
}

func (o *PaceOptions) defaults() {
	if o.Interval <= 0 {
		o.Interval = DefaultWriteInterval
	}
	if o.PerWindow <= 0 {
		o.PerWindow = DefaultWritesPerMinute
	}
	if o.Window <= 0 {
		o.Window = time.Minute
	}
}

func (o PaceOptions) withDefaults() PaceOptions {
	o.defaults()
	return o
}

// limits derives the token bucket that keeps both rules: it refills one
// write per Interval (or slower, when PerWindow asks for less), and its
// burst is what PerWindow leaves over a full Window at that rate, so that
// any Window holds at most burst + Window×rate = PerWindow writes.
func (o PaceOptions) limits() (rate.Limit, int) {
	every := max(o.Interval, o.Window/time.Duration(o.PerWindow))
	burst := o.PerWindow - int(o.Window/every)
	return rate.Every(every), max(burst, 1)
}

// isWrite reports whether a request creates or changes something: the
// requests GitHub's secondary limits for content creation count.
func isWrite(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// installationPace is one installation's write queue and its pause after
// a secondary rate limit. Reads are neither queued nor paced.
type installationPace struct {
	// id is the installation (0: the App itself and user tokens), for
	// the metrics.
	id int64
	// queue serializes writes: GitHub asks not to send them in parallel.
	// A buffered channel rather than a mutex, so that a waiting caller
	// can give up when its context ends.
	queue chan struct{}
	lim   *rate.Limiter

	mu          sync.Mutex
	pausedUntil time.Time // secondary limit: no write leaves before this
	strikes     int       // secondary limits in a row, for the backoff
	// exhaustedUntil is the reset of an exhausted primary budget: no
	// request, read or write, leaves before it.
	exhaustedUntil time.Time
}

// acquire waits for the installation's turn to write: alone, after the
// pause of a secondary limit, and within the token bucket. The caller
// calls release once the response is in.
func (p *installationPace) acquire(ctx context.Context, o *RateLimitOptions) error {
	select {
	case p.queue <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	p.mu.Lock()
	until := p.pausedUntil
	p.mu.Unlock()
	if d := until.Sub(o.Now()); d > o.MaxWait {
		// A long pause (a large Retry-After, or backoff after limits in
		// a row) is not sat out in a worker: the job snoozes until then.
		<-p.queue
		return &RateLimitedError{Until: until, Secondary: true}
	} else if d > 0 {
		if err := o.Sleep(ctx, d); err != nil {
			<-p.queue
			return err
		}
	}
	// The token is taken when the write can leave, not booked ahead: a
	// sleep that overshoots (a busy machine) must not let the next writes
	// catch up on the booked schedule and leave closer than the interval.
	for {
		now := o.Now()
		r := p.lim.ReserveN(now, 1)
		d := r.DelayFrom(now)
		if d == 0 {
			return nil
		}
		r.CancelAt(now)
		if err := o.Sleep(ctx, d); err != nil {
			<-p.queue
			return err
		}
	}
}

func (p *installationPace) release() { <-p.queue }

// pause stops the installation's writes for at least wait after a
// secondary rate limit, doubling with each limit in a row (wait, 2×wait,
// 4×wait, … capped at 16×), as GitHub asks of clients that hit one again.
// It returns the pause applied.
func (p *installationPace) pause(now time.Time, wait time.Duration) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	d := wait << min(p.strikes, 4)
	p.strikes++
	if until := now.Add(d); until.After(p.pausedUntil) {
		p.pausedUntil = until
	}
	return d
}

// succeeded ends a run of secondary limits.
func (p *installationPace) succeeded() {
	p.mu.Lock()
	p.strikes = 0
	p.mu.Unlock()
}

// paces holds each installation's pace, created on first use and kept for
// the life of the process: go-githubapp may drop and recreate a client,
// and the new client must share the old one's queue.
type paces struct {
	o  PaceOptions
	mu sync.Mutex
	m  map[int64]*installationPace
}

func newPaces(o PaceOptions) *paces {
	o.defaults()
	return &paces{o: o, m: map[int64]*installationPace{}}
}

func (ps *paces) get(installationID int64) *installationPace {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	p := ps.m[installationID]
	if p == nil {
		r, b := ps.o.limits()
		p = &installationPace{id: installationID, queue: make(chan struct{}, 1), lim: rate.NewLimiter(r, b)}
		ps.m[installationID] = p
	}
	return p
}
