package gh

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"
)

// fakeClock records the waits instead of sleeping them, so the tests
// assert what the middleware decided, not how long the machine took.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return nil
}

type step struct {
	status  int
	headers map[string]string
}

// script serves the given responses in order and records request times.
func script(t *testing.T, clock *fakeClock, steps ...step) (*httptest.Server, *[]time.Time, *[]string) {
	var mu sync.Mutex
	var at []time.Time
	var bodies []string
	i := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		at = append(at, clock.Now())
		if i >= len(steps) {
			t.Errorf("unexpected request #%d", i+1)
			w.WriteHeader(500)
			return
		}
		s := steps[i]
		i++
		for k, v := range s.headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(s.status)
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &at, &bodies
}

func newClient(clock *fakeClock, reg *prometheus.Registry, o RateLimitOptions) *http.Client {
	c, _ := newClientWithMetrics(clock, reg, o)
	return c
}

func newClientWithMetrics(clock *fakeClock, reg *prometheus.Registry, o RateLimitOptions) (*http.Client, *Metrics) {
	o.Now, o.Sleep, o.Logger = clock.Now, clock.Sleep, zerolog.Nop()
	o.Metrics = NewMetrics(reg)
	return &http.Client{Transport: RateLimit(o)(http.DefaultTransport)}, o.Metrics
}

func TestRetryAfterOn429IsWaitedOut(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	srv, at, bodies := script(t, clock,
		step{429, map[string]string{"Retry-After": "7"}},
		step{200, map[string]string{"X-Ratelimit-Remaining": "4999"}})
	c, m := newClientWithMetrics(clock, prometheus.NewRegistry(), RateLimitOptions{})
	res, err := c.Post(srv.URL+"/repos/o/r/statuses/abc", "application/json", strings.NewReader(`{"state":"success"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("status %d, want the retried 200", res.StatusCode)
	}
	if len(clock.sleeps) != 1 || clock.sleeps[0] != 7*time.Second {
		t.Fatalf("waits %v, want exactly the 7s of Retry-After", clock.sleeps)
	}
	if (*at)[1].Sub((*at)[0]) < 7*time.Second {
		t.Fatalf("retry sent %v after the refusal", (*at)[1].Sub((*at)[0]))
	}
	if (*bodies)[1] != `{"state":"success"}` {
		t.Fatalf("retried body %q", (*bodies)[1])
	}
	var g dto.Metric
	_ = m.remainingGauge.WithLabelValues("app", "core").Write(&g)
	if got := g.GetGauge().GetValue(); got != 4999 {
		t.Errorf("remaining gauge %v", got)
	}
}

func TestPrimaryLimit403NearResetIsWaitedOut(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	reset := clock.now.Add(3 * time.Second).Unix()
	srv, _, _ := script(t, clock,
		step{403, map[string]string{"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": strconv.FormatInt(reset, 10), "X-Ratelimit-Resource": "core"}},
		step{200, nil})
	c := newClient(clock, prometheus.NewRegistry(), RateLimitOptions{})
	res, err := c.Get(srv.URL + "/repos/o/r")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || len(clock.sleeps) != 1 || clock.sleeps[0] != 4*time.Second {
		t.Fatalf("status %d waits %v, want 200 after 4s (reset + 1s)", res.StatusCode, clock.sleeps)
	}
}

func TestPrimaryLimit403FarFromResetIsATypedError(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	reset := clock.now.Add(20 * time.Minute).Unix()
	srv, at, _ := script(t, clock,
		step{403, map[string]string{"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": strconv.FormatInt(reset, 10), "X-Ratelimit-Resource": "core"}})
	c := newClient(clock, prometheus.NewRegistry(), RateLimitOptions{})
	_, err := c.Post(srv.URL+"/repos/o/r/statuses/abc", "application/json", strings.NewReader(`{}`))
	var rle *RateLimitedError
	if !errors.As(err, &rle) || rle.Secondary || !rle.Until.Equal(time.Unix(reset+1, 0)) {
		t.Fatalf("error %v, want a primary *RateLimitedError until the reset + 1s", err)
	}
	if len(clock.sleeps) != 0 || len(*at) != 1 {
		t.Fatalf("waits %v after %d requests: the caller must not be held", clock.sleeps, len(*at))
	}
	// The next request is not sent at all while the budget is exhausted.
	if _, err := c.Get(srv.URL + "/x"); !errors.As(err, &rle) || len(*at) != 1 {
		t.Fatalf("next request: %v after %d requests, want *RateLimitedError without sending", err, len(*at))
	}
}

func TestExhaustedBudgetHoldsBackTheNextRequest(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	reset := clock.now.Add(2 * time.Second).Unix()
	srv, at, _ := script(t, clock,
		step{200, map[string]string{"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": strconv.FormatInt(reset, 10)}},
		step{200, map[string]string{"X-Ratelimit-Remaining": "5000"}})
	c := newClient(clock, prometheus.NewRegistry(), RateLimitOptions{})
	for i := 0; i < 2; i++ {
		res, err := c.Get(srv.URL + "/x")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	if got := (*at)[1].Sub((*at)[0]); got < 2*time.Second {
		t.Fatalf("second request sent %v after the budget ran out, before the reset", got)
	}
}

func TestOtherResourceDoesNotHoldBackCore(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	reset := clock.now.Add(time.Hour).Unix()
	srv, at, _ := script(t, clock,
		step{200, map[string]string{"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": strconv.FormatInt(reset, 10), "X-Ratelimit-Resource": "search"}},
		step{200, nil})
	c := newClient(clock, prometheus.NewRegistry(), RateLimitOptions{})
	for i := 0; i < 2; i++ {
		res, err := c.Get(srv.URL + "/x")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	if len(*at) != 2 || len(clock.sleeps) != 0 {
		t.Fatalf("%d requests, waits %v", len(*at), clock.sleeps)
	}
}

func TestSecondaryLimit403WithoutRetryAfterBacksOff(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	body := `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`
	var n int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		if n <= 2 {
			w.Header().Set("X-Ratelimit-Remaining", "4000")
			w.WriteHeader(403)
			_, _ = w.Write([]byte(body))
			return
		}
		w.WriteHeader(201)
	}))
	t.Cleanup(srv.Close)
	c := newClient(clock, prometheus.NewRegistry(), RateLimitOptions{MaxWait: 10 * time.Minute})
	res, err := c.Post(srv.URL+"/repos/o/r/issues/1/comments", "application/json", strings.NewReader(`{"body":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 201 || n != 3 {
		t.Fatalf("status %d after %d requests, want the third to pass", res.StatusCode, n)
	}
	if len(clock.sleeps) != 2 || clock.sleeps[0] != time.Minute || clock.sleeps[1] != 2*time.Minute {
		t.Fatalf("waits %v, want a minute, then two (exponential backoff)", clock.sleeps)
	}
}

func TestSecondaryLimitBodyIsKeptForTheCaller(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	body := `{"message":"You have exceeded a secondary rate limit."}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(403)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	// The minute is beyond MaxWait: the answer goes back as it came.
	c := newClient(clock, prometheus.NewRegistry(), RateLimitOptions{MaxWait: time.Second})
	res, err := c.Get(srv.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 403 || string(got) != body {
		t.Fatalf("status %d body %q", res.StatusCode, got)
	}
}

func TestWaitBeyondMaxIsHandedBack(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	srv, at, _ := script(t, clock, step{403, map[string]string{"Retry-After": "3600"}})
	c := newClient(clock, prometheus.NewRegistry(), RateLimitOptions{MaxWait: time.Minute})
	res, err := c.Get(srv.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 403 || len(*at) != 1 || len(clock.sleeps) != 0 {
		t.Fatalf("status %d, %d requests, waits %v: want the 403 back at once", res.StatusCode, len(*at), clock.sleeps)
	}
}

func TestSecondaryLimitWithoutHintWaitsAMinute(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	srv, _, _ := script(t, clock, step{429, nil}, step{200, nil})
	c := newClient(clock, prometheus.NewRegistry(), RateLimitOptions{MaxWait: 2 * time.Minute})
	res, err := c.Get(srv.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || len(clock.sleeps) != 1 || clock.sleeps[0] != time.Minute {
		t.Fatalf("status %d waits %v", res.StatusCode, clock.sleeps)
	}
}

func TestPermissionDeniedIsNotRetried(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	srv, at, _ := script(t, clock, step{403, map[string]string{"X-Ratelimit-Remaining": "4000"}})
	c := newClient(clock, prometheus.NewRegistry(), RateLimitOptions{})
	res, err := c.Get(srv.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 403 || len(*at) != 1 {
		t.Fatalf("status %d after %d requests", res.StatusCode, len(*at))
	}
}

func TestRetriesAreBounded(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	srv, at, _ := script(t, clock,
		step{429, map[string]string{"Retry-After": "1"}},
		step{429, map[string]string{"Retry-After": "1"}},
		step{429, map[string]string{"Retry-After": "1"}})
	c := newClient(clock, prometheus.NewRegistry(), RateLimitOptions{MaxRetries: 2})
	res, err := c.Get(srv.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 429 || len(*at) != 3 {
		t.Fatalf("status %d after %d requests, want 429 after 3", res.StatusCode, len(*at))
	}
}

func TestCancelledWhileWaiting(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	srv, _, _ := script(t, clock, step{429, map[string]string{"Retry-After": "5"}})
	c := newClient(clock, prometheus.NewRegistry(), RateLimitOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/x", nil)
	if _, err := c.Do(req); err == nil {
		t.Fatal("want an error from a cancelled context")
	}
}

func TestGraphQLURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://api.github.com/":         "https://api.github.com/graphql",
		"https://ghe.example.com/api/v3/": "https://ghe.example.com/api/graphql",
		"http://127.0.0.1:9000/":          "http://127.0.0.1:9000/graphql",
	} {
		if got := GraphQLURL(in); got != want {
			t.Errorf("GraphQLURL(%q) = %q, want %q", in, got, want)
		}
	}
}
