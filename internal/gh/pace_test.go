package gh

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// paceOptions are rate-limit options on the fake clock, whose Sleep moves
// time on.
func paceOptions(clock *fakeClock, p PaceOptions) *RateLimitOptions {
	o := &RateLimitOptions{Now: clock.Now, Sleep: clock.Sleep, Logger: zerolog.Nop(), Pace: p}
	o.defaults()
	return o
}

// writeTimes sends n writes through one installation's pace one after
// another and returns when each left.
func writeTimes(t *testing.T, p *installationPace, o *RateLimitOptions, clock *fakeClock, n int) []time.Time {
	t.Helper()
	var at []time.Time
	for i := 0; i < n; i++ {
		if err := p.acquire(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		at = append(at, clock.Now())
		p.release()
	}
	return at
}

// maxInWindow is the most times in any span of length w.
func maxInWindow(at []time.Time, w time.Duration) int {
	most, j := 0, 0
	for i := range at {
		for at[i].Sub(at[j]) >= w {
			j++
		}
		most = max(most, i-j+1)
	}
	return most
}

func TestPaceDefaultsFollowGitHub(t *testing.T) {
	r, b := (&PaceOptions{}).withDefaults().limits()
	if every := time.Duration(float64(time.Second) / float64(r)); every != time.Second || b != 20 {
		t.Fatalf("default pace: one write per %s, burst %d; want 1s and 20 (80 a minute)", every, b)
	}
	// A cap below one write per interval slows the refill instead.
	r, b = (&PaceOptions{Interval: time.Second, PerWindow: 30}).withDefaults().limits()
	if every := time.Duration(float64(time.Second) / float64(r)); every != 2*time.Second || b != 1 {
		t.Fatalf("30 a minute: one write per %s, burst %d; want 2s and 1", every, b)
	}
}

func TestPaceSpacesWritesBeyondTheBurst(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	o := paceOptions(clock, PaceOptions{})
	p := newPaces(o.Pace).get(1)
	at := writeTimes(t, p, o, clock, 200)
	for i := 1; i < 20; i++ {
		if at[i] != at[0] {
			t.Fatalf("write %d of the burst waited %s", i+1, at[i].Sub(at[0]))
		}
	}
	for i := 20; i < len(at); i++ {
		if gap := at[i].Sub(at[i-1]); gap < time.Second {
			t.Fatalf("write %d left %s after the previous one, want at least 1s once the burst is spent", i+1, gap)
		}
	}
	if most := maxInWindow(at, time.Minute); most > 80 {
		t.Fatalf("%d writes in one minute, want at most 80", most)
	}
	if most := maxInWindow(at[20:], time.Minute); most < 60 {
		t.Fatalf("only %d writes a minute under load, want 60", most)
	}
}

func TestPaceCapsWritesPerWindow(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	// Ten a second would allow 600 a minute; the cap is 100.
	o := paceOptions(clock, PaceOptions{Interval: 100 * time.Millisecond, PerWindow: 100})
	p := newPaces(o.Pace).get(1)
	at := writeTimes(t, p, o, clock, 500)
	if most := maxInWindow(at, time.Minute); most > 100 {
		t.Fatalf("%d writes in one minute, want at most 100", most)
	}
	for i := 1; i < len(at); i++ {
		if gap := at[i].Sub(at[i-1]); gap > 0 && gap < 100*time.Millisecond {
			t.Fatalf("write %d left %s after the previous one", i+1, gap)
		}
	}
}

func TestPaceAllowsABurstAgainAfterIdling(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	o := paceOptions(clock, PaceOptions{})
	p := newPaces(o.Pace).get(1)
	writeTimes(t, p, o, clock, 100) // bucket empty
	clock.Sleep(context.Background(), time.Minute)
	clock.sleeps = nil
	at := writeTimes(t, p, o, clock, 20)
	if at[19] != at[0] || len(clock.sleeps) != 0 {
		t.Fatalf("after a quiet minute 20 writes took %s (waits %v), want no wait", at[19].Sub(at[0]), clock.sleeps)
	}
	at = writeTimes(t, p, o, clock, 2)
	if gap := at[1].Sub(at[0]); gap < time.Second {
		t.Fatalf("write beyond the new burst came %s after the previous one", gap)
	}
}

func TestPaceKeepsInstallationsApart(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	o := paceOptions(clock, PaceOptions{})
	ps := newPaces(o.Pace)
	writeTimes(t, ps.get(1), o, clock, 60)
	if ps.get(1) != ps.get(1) {
		t.Fatal("one installation got two paces")
	}
	clock.sleeps = nil
	at := writeTimes(t, ps.get(2), o, clock, 20)
	if at[19] != at[0] || len(clock.sleeps) != 0 {
		t.Fatalf("installation 2 waited %v for installation 1's writes", clock.sleeps)
	}
	// A secondary limit of installation 1 pauses its writes only.
	ps.get(1).pause(clock.Now(), time.Minute)
	clock.sleeps = nil
	writeTimes(t, ps.get(3), o, clock, 1)
	if len(clock.sleeps) != 0 {
		t.Fatalf("installation 3 waited %v for installation 1's pause", clock.sleeps)
	}
	writeTimes(t, ps.get(1), o, clock, 1)
	if len(clock.sleeps) != 1 || clock.sleeps[0] < time.Minute {
		t.Fatalf("installation 1 waited %v after its secondary limit, want the minute", clock.sleeps)
	}
}

// On the wall clock and through the middleware: concurrent writes of one
// installation leave one at a time and spaced, reads are not held, and
// another installation's writes are not queued behind them. Times are
// taken where requests leave the middleware, so that network jitter on a
// busy machine does not blur them.
func TestPaceSerializesConcurrentWrites(t *testing.T) {
	const interval = 40 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			time.Sleep(5 * time.Millisecond)
		}
		w.WriteHeader(201)
	}))
	t.Cleanup(srv.Close)
	var mu sync.Mutex
	var sent []time.Time // installation 1's writes
	var inFlight atomic.Int32
	var overlapped atomic.Bool
	wire := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		one := r.Method != http.MethodGet && strings.HasPrefix(r.URL.Path, "/1/")
		if one {
			if inFlight.Add(1) > 1 {
				overlapped.Store(true)
			}
			defer inFlight.Add(-1)
			mu.Lock()
			sent = append(sent, time.Now())
			mu.Unlock()
		}
		return http.DefaultTransport.RoundTrip(r)
	})
	o := RateLimitOptions{Logger: zerolog.Nop(), Pace: PaceOptions{Interval: interval, PerWindow: 62, Window: 60 * interval}}
	o.defaults()
	ps := newPaces(o.Pace)
	c1 := &http.Client{Transport: newRateLimiter(wire, o, ps.get(1))}
	c1b := &http.Client{Transport: newRateLimiter(wire, o, ps.get(1))} // a second client of installation 1
	c2 := &http.Client{Transport: newRateLimiter(wire, o, ps.get(2))}
	var wg sync.WaitGroup
	send := func(c *http.Client, path string) {
		defer wg.Done()
		res, err := c.Post(srv.URL+path, "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Error(err)
			return
		}
		res.Body.Close()
	}
	for i := 0; i < 6; i++ {
		wg.Add(2)
		go send(c1, "/1/w")
		go send(c1b, "/1/w")
	}
	wg.Wait()
	// Installation 1's bucket is now empty: installation 2 and reads must
	// not wait for it.
	t0 := time.Now()
	wg.Add(1)
	send(c2, "/2/w")
	if res, err := c1.Get(srv.URL + "/1/r"); err != nil {
		t.Fatal(err)
	} else {
		res.Body.Close()
	}
	if d := time.Since(t0); d > interval {
		t.Errorf("installation 2's write and installation 1's read took %s, want no wait", d)
	}
	if overlapped.Load() {
		t.Error("two writes of installation 1 were in flight at once")
	}
	if len(sent) != 12 {
		t.Fatalf("%d writes of installation 1, want 12", len(sent))
	}
	// Burst 2 (62 - 60), then one write per interval: any i..j holds at
	// most 2 + span/interval writes.
	for i := range sent {
		for j := i + 1; j < len(sent); j++ {
			span := sent[j].Sub(sent[i]) + time.Millisecond
			if n := j - i + 1; n > 2+int(span/interval) {
				t.Fatalf("writes %d..%d of installation 1 (%d) left within %s, want at most %d", i+1, j+1, n, span, 2+int(span/interval))
			}
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A pause longer than MaxWait is not sat out in a worker: the write fails
// at once with a RateLimitedError the job engine snoozes on, and the
// queue is free again.
func TestLongSecondaryPauseIsATypedError(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	o := paceOptions(clock, PaceOptions{})
	p := newPaces(o.Pace).get(1)
	p.pause(clock.Now(), 10*time.Minute)
	err := p.acquire(context.Background(), o)
	var rle *RateLimitedError
	if !errors.As(err, &rle) || !rle.Secondary || !rle.Until.Equal(clock.Now().Add(10*time.Minute)) || len(clock.sleeps) != 0 {
		t.Fatalf("acquire during a 10-minute pause: %v (waits %v), want a secondary RateLimitedError until its end", err, clock.sleeps)
	}
	clock.Sleep(context.Background(), 10*time.Minute)
	if err := p.acquire(context.Background(), o); err != nil {
		t.Fatalf("after the pause: %v", err)
	}
	p.release()
}
