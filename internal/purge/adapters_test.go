package purge

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// fakeClock advances only when slept on, and records every wait.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	sleeps  []time.Duration
	onSleep func()
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	f := c.onSleep
	c.mu.Unlock()
	if f != nil {
		f()
	}
	return ctx.Err()
}

func (c *fakeClock) waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sleeps)
}

// faults answers the first requests with canned errors, then passes.
type faults struct {
	mu    sync.Mutex
	queue []func(w http.ResponseWriter) // nil entries pass
}

func (f *faults) next(w http.ResponseWriter) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.queue) == 0 {
		return false
	}
	h := f.queue[0]
	f.queue = f.queue[1:]
	if h == nil {
		return false
	}
	h(w)
	return true
}

func status(code int, retryAfter string, body string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

// fakeFastly checks requests against Fastly's purge API: POST
// /service/{id}/purge with a Fastly-Key and {"surrogate_keys":[…]} of at
// most 256 keys (answered with a key → purge id map), and POST
// /service/{id}/purge_all.
type fakeFastly struct {
	t       *testing.T
	faults  faults
	mu      sync.Mutex
	purged  []string
	soft    []bool
	all     int
	batches []int
}

func (f *fakeFastly) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		f.t.Errorf("fastly: method %s", r.Method)
	}
	if got := r.Header.Get("Fastly-Key"); got != "fastly-token" {
		w.WriteHeader(401)
		io.WriteString(w, `{"msg":"Provided credentials are missing or invalid"}`)
		return
	}
	if f.faults.next(w) {
		return
	}
	switch r.URL.Path {
	case "/service/SVC/purge_all":
		f.mu.Lock()
		f.all++
		f.mu.Unlock()
		io.WriteString(w, `{"status":"ok"}`)
	case "/service/SVC/purge":
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			f.t.Errorf("fastly: content type %q", ct)
		}
		var body struct {
			Keys []string `json:"surrogate_keys"`
		}
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil || len(body.Keys) == 0 {
			w.WriteHeader(400)
			fmt.Fprintf(w, `{"msg":"bad body: %v"}`, err)
			return
		}
		if len(body.Keys) > 256 {
			w.WriteHeader(400)
			io.WriteString(w, `{"msg":"Too many keys"}`)
			return
		}
		ids := map[string]string{}
		f.mu.Lock()
		for i, k := range body.Keys {
			ids[k] = fmt.Sprintf("108-1391560174-%d", len(f.purged)+i)
		}
		f.purged = append(f.purged, body.Keys...)
		f.soft = append(f.soft, r.Header.Get("Fastly-Soft-Purge") == "1")
		f.batches = append(f.batches, len(body.Keys))
		f.mu.Unlock()
		json.NewEncoder(w).Encode(ids)
	default:
		f.t.Errorf("fastly: unexpected path %s", r.URL.Path)
		w.WriteHeader(404)
	}
}

func TestFastlyAdapter(t *testing.T) {
	f := &fakeFastly{t: t}
	srv := httptest.NewServer(f)
	defer srv.Close()
	f.faults.queue = []func(http.ResponseWriter){
		status(503, "", "backend unavailable"),
		status(429, "7", `{"msg":"rate limited"}`),
	}
	cfg := CDNConfig{Name: "fastly-main", Type: Fastly, ServiceID: "SVC", APIToken: "fastly-token", BaseURL: srv.URL, Soft: true}
	req := Request{Edition: "prod", EditionKey: "e-prod", Changes: changes("prod", manyPaths("docs", 600)...)}
	clock := newFakeClock()
	var logs strings.Builder
	_, res, err := Run(context.Background(), req, cfg, WithClock(clock), WithLogger(zerolog.New(&logs)))
	if err != nil {
		t.Fatalf("purge: %v", err)
	}
	if !slices.Equal(f.batches, []int{256, 256, 88}) || len(f.purged) != 600 {
		t.Fatalf("batches %v", f.batches)
	}
	if slices.Contains(f.purged, "e-prod") {
		t.Fatal("the edition key was purged")
	}
	for _, s := range f.soft {
		if !s {
			t.Fatal("soft purge without Fastly-Soft-Purge: 1")
		}
	}
	// 503: back off 1s; 429 with Retry-After: 7 → wait 7s.
	if w := clock.waits(); !slices.Equal(w, []time.Duration{time.Second, 7 * time.Second}) {
		t.Fatalf("waits %v", w)
	}
	if res.Requests != 5 || res.Retries != 2 || res.Keys != 600 || len(res.PurgeIDs) != 600 {
		t.Fatalf("result %+v", res)
	}
	if strings.Contains(logs.String(), "fastly-token") {
		t.Fatal("token logged")
	}

	// --all with purge_all.
	cfg.PurgeAll = true
	_, res, err = Run(context.Background(), Request{All: true}, cfg, WithClock(clock))
	if err != nil || !res.Everything || f.all != 1 {
		t.Fatalf("purge_all: %v %+v", err, res)
	}

	// A refusal is not retried and says what Fastly said.
	bad := cfg
	bad.APIToken = "wrong"
	_, _, err = Run(context.Background(), req, bad, WithClock(clock))
	if !IsStatus(err, 401) || !strings.Contains(err.Error(), "credentials") || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("want a 401 with Fastly's message, got %v", err)
	}

	// Retries stop at the policy's limit.
	f.faults.queue = []func(http.ResponseWriter){status(500, "", "x"), status(500, "", "x"), status(500, "", "x")}
	_, res, err = Run(context.Background(), req, cfg, WithClock(newFakeClock()), WithRetry(RetryPolicy{Attempts: 3}))
	if !IsStatus(err, 500) || res.Requests != 3 {
		t.Fatalf("want to give up after 3 attempts: %v, %d requests", err, res.Requests)
	}

	// Cancellation during a wait ends the purge.
	ctx, cancel := context.WithCancel(context.Background())
	cc := newFakeClock()
	cc.onSleep = cancel
	f.faults.queue = []func(http.ResponseWriter){status(503, "", "x")}
	_, res, err = Run(ctx, req, cfg, WithClock(cc))
	if !errors.Is(err, context.Canceled) || res.Requests != 1 {
		t.Fatalf("want context.Canceled after 1 request, got %v (%d requests)", err, res.Requests)
	}
}

// fakeCloudflare checks requests against POST
// /client/v4/zones/{zone}/purge_cache: a Bearer token and exactly one of
// files, tags, prefixes (≤ 100 each) or purge_everything.
type fakeCloudflare struct {
	t      *testing.T
	faults faults
	mu     sync.Mutex
	bodies []map[string]json.RawMessage
	times  []time.Time
	clock  *fakeClock
}

func (f *fakeCloudflare) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodPost || r.URL.Path != "/client/v4/zones/zone1/purge_cache" {
		f.t.Errorf("cloudflare: %s %s", r.Method, r.URL.Path)
	}
	if r.Header.Get("Authorization") != "Bearer cf-token" {
		w.WriteHeader(403)
		io.WriteString(w, `{"success":false,"errors":[{"code":10000,"message":"Authentication error"}],"messages":[],"result":null}`)
		return
	}
	if f.faults.next(w) {
		return
	}
	var body map[string]json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || len(body) != 1 {
		w.WriteHeader(400)
		io.WriteString(w, `{"success":false,"errors":[{"code":1012,"message":"Request must contain one of \"purge_everything\", \"files\", \"tags\", \"hosts\" or \"prefixes\""}]}`)
		return
	}
	for k, v := range body {
		switch k {
		case "purge_everything":
			if string(v) != "true" {
				f.t.Errorf("purge_everything: %s", v)
			}
		case "files", "tags", "prefixes":
			var items []string
			if err := json.Unmarshal(v, &items); err != nil || len(items) == 0 || len(items) > 100 {
				w.WriteHeader(400)
				io.WriteString(w, `{"success":false,"errors":[{"code":1019,"message":"Too many items"}]}`)
				return
			}
		default:
			f.t.Errorf("cloudflare: field %s", k)
		}
	}
	f.mu.Lock()
	f.bodies = append(f.bodies, body)
	if f.clock != nil {
		f.times = append(f.times, f.clock.Now())
	}
	n := len(f.bodies)
	f.mu.Unlock()
	fmt.Fprintf(w, `{"success":true,"errors":[],"messages":[],"result":{"id":"purge-%d"}}`, n)
}

func TestCloudflareAdapter(t *testing.T) {
	f := &fakeCloudflare{t: t}
	srv := httptest.NewServer(f)
	defer srv.Close()
	cfg := CDNConfig{Name: "cf", Type: Cloudflare, ZoneID: "zone1", APIToken: "cf-token", BaseURL: srv.URL, SiteURL: "https://www.example.com"}
	req := Request{Edition: "prod", EditionKey: "e-prod", Changes: changes("prod", append(manyPaths("a", 150), "index.html")...)}
	f.faults.queue = []func(http.ResponseWriter){nil, status(429, "30", `{"success":false,"errors":[{"code":971,"message":"Please wait and consider throttling your request speed"}]}`)}
	clock := newFakeClock()
	_, res, err := Run(context.Background(), req, cfg, WithClock(clock), WithLimiters(NewLimiters()))
	if err != nil {
		t.Fatalf("purge: %v", err)
	}
	if res.URLs != 152 || res.Requests != 3 || res.Retries != 1 || !slices.Equal(res.PurgeIDs, []string{"purge-1", "purge-2"}) {
		t.Fatalf("result %+v", res)
	}
	if w := clock.waits(); !slices.Equal(w, []time.Duration{30 * time.Second}) {
		t.Fatalf("waits %v, want the 429's Retry-After only (152 URLs are within the URL bucket)", w)
	}
	var files []string
	json.Unmarshal(f.bodies[0]["files"], &files)
	if len(files) != 100 || !strings.HasPrefix(files[0], "https://www.example.com/") {
		t.Fatalf("files %v", files[:2])
	}

	// success:false is an error with Cloudflare's code and message.
	bad := cfg
	bad.APIToken = "nope"
	_, _, err = Run(context.Background(), req, bad, WithClock(clock), WithLimiters(NewLimiters()))
	if err == nil || !strings.Contains(err.Error(), "10000: Authentication error") || strings.Contains(err.Error(), "nope") {
		t.Fatalf("want Cloudflare's error, got %v", err)
	}

	// purge_everything.
	_, res, err = Run(context.Background(), Request{All: true}, cfg, WithClock(clock), WithLimiters(NewLimiters()))
	if err != nil || !res.Everything {
		t.Fatalf("everything: %v %+v", err, res)
	}
}

// TestCloudflareRateLimit: a Free zone allows a burst of 25 tag requests,
// then one every 12 s (5 a minute); the bucket is per zone and shared by
// successive purges.
func TestCloudflareRateLimit(t *testing.T) {
	clock := newFakeClock()
	f := &fakeCloudflare{t: t, clock: clock}
	srv := httptest.NewServer(f)
	defer srv.Close()
	cfg := CDNConfig{Name: "cf", Type: Cloudflare, ZoneID: "zone1", APIToken: "cf-token", BaseURL: srv.URL, Mode: "tags", MaxBatches: 100}
	req := Request{Edition: "prod", EditionKey: "e-prod", Changes: changes("prod", manyPaths("a", 3000)...)}
	limiters := NewLimiters()
	plan, res, err := Run(context.Background(), req, cfg, WithClock(clock), WithLimiters(limiters))
	if err != nil {
		t.Fatalf("purge: %v", err)
	}
	if len(plan.Batches) != 30 || res.Tags != 3000 || res.Requests != 30 {
		t.Fatalf("plan %d batches, result %+v", len(plan.Batches), res)
	}
	w := clock.waits()
	want := slices.Repeat([]time.Duration{12 * time.Second}, 5)
	if !slices.Equal(w, want) {
		t.Fatalf("waits %v, want %v", w, want)
	}
	start := f.times[0]
	for i, at := range f.times {
		if i < 25 && at != start {
			t.Fatalf("request %d waited: burst is 25", i)
		}
		if i >= 25 && at.Sub(start) != time.Duration(i-24)*12*time.Second {
			t.Fatalf("request %d at +%s", i, at.Sub(start))
		}
	}
	// The next purge of the same zone finds the bucket empty.
	_, _, err = Run(context.Background(), Request{EditionKey: "e-prod", All: true}, cfg, WithClock(clock), WithLimiters(limiters))
	if err != nil {
		t.Fatal(err)
	}
	if w := clock.waits(); len(w) != 6 || w[5] != 12*time.Second {
		t.Fatalf("second purge waits %v", w)
	}
}

func TestTokenBucket(t *testing.T) {
	b := NewTokenBucket(2, 10*time.Second)
	t0 := time.Unix(0, 0)
	for i, want := range []time.Duration{0, 0, 10 * time.Second, 20 * time.Second} {
		if got := b.Reserve(t0, 1); got != want {
			t.Fatalf("reserve %d: %s, want %s", i, got, want)
		}
	}
	// After a long idle time the bucket is full again, not more.
	t1 := t0.Add(time.Hour)
	if b.Reserve(t1, 2) != 0 || b.Reserve(t1, 1) != 10*time.Second {
		t.Fatal("bucket overfilled")
	}
}

// fakeCloudFront speaks enough of CloudFront's REST-XML API for
// aws-sdk-go-v2: CreateInvalidation (201 with the Invalidation, the same
// one again for a repeated CallerReference) and GetInvalidation.
type fakeCloudFront struct {
	t      *testing.T
	faults faults
	mu     sync.Mutex
	byRef  map[string]string
	paths  map[string][]string
	polls  map[string]int
	posts  int
}

type cfBatch struct {
	XMLName         xml.Name `xml:"InvalidationBatch"`
	CallerReference string   `xml:"CallerReference"`
	Quantity        int      `xml:"Paths>Quantity"`
	Items           []string `xml:"Paths>Items>Path"`
}

const cfNS = "http://cloudfront.amazonaws.com/doc/2020-05-31/"

var cfPath = regexp.MustCompile(`^/2020-05-31/distribution/([^/]+)/invalidation(?:/([^/]+))?$`)

func cfError(status int, code, msg string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "text/xml")
		w.Header().Set("x-amz-request-id", "req-1")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<?xml version="1.0"?>
<ErrorResponse xmlns="%s"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>req-1</RequestId></ErrorResponse>`, cfNS, code, msg)
	}
}

func (f *fakeCloudFront) invalidationXML(id, status string) string {
	var items strings.Builder
	for _, p := range f.paths[id] {
		fmt.Fprintf(&items, "<Path>%s</Path>", p)
	}
	var ref string
	for r, i := range f.byRef {
		if i == id {
			ref = r
		}
	}
	return fmt.Sprintf(`<?xml version="1.0"?>
<Invalidation xmlns="%s"><Id>%s</Id><Status>%s</Status><CreateTime>2026-01-02T03:04:05.000Z</CreateTime><InvalidationBatch><Paths><Quantity>%d</Quantity><Items>%s</Items></Paths><CallerReference>%s</CallerReference></InvalidationBatch></Invalidation>`,
		cfNS, id, status, len(f.paths[id]), items.String(), ref)
}

func (f *fakeCloudFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := cfPath.FindStringSubmatch(r.URL.Path)
	if m == nil || m[1] != "E123" {
		cfError(404, "NoSuchDistribution", "The specified distribution does not exist.")(w)
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKIDTEST/") {
		cfError(403, "InvalidClientTokenId", "The security token included in the request is invalid.")(w)
		return
	}
	if f.faults.next(w) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == http.MethodPost && m[2] == "":
		f.posts++
		var b cfBatch
		if err := xml.NewDecoder(r.Body).Decode(&b); err != nil {
			cfError(400, "MalformedInput", err.Error())(w)
			return
		}
		wild := 0
		for _, p := range b.Items {
			if !strings.HasPrefix(p, "/") {
				cfError(400, "InvalidArgument", "path must start with /")(w)
				return
			}
			if strings.Contains(strings.TrimSuffix(p, "*"), "*") {
				cfError(400, "InvalidArgument", "* only at the end")(w)
				return
			}
			if strings.HasSuffix(p, "*") {
				wild++
			}
		}
		switch {
		case b.Quantity != len(b.Items):
			cfError(400, "InconsistentQuantities", "Quantity does not match Items")(w)
			return
		case b.CallerReference == "":
			cfError(400, "InvalidArgument", "CallerReference is required")(w)
			return
		case len(b.Items)-wild > 3000, wild > 15:
			cfError(400, "BatchTooLarge", "Invalidation batch specified is too large.")(w)
			return
		}
		id, ok := f.byRef[b.CallerReference]
		if !ok {
			id = fmt.Sprintf("I%03dEXAMPLE", len(f.byRef)+1)
			f.byRef[b.CallerReference] = id
			f.paths[id] = b.Items
		}
		w.Header().Set("Location", "https://cloudfront.amazonaws.com/2020-05-31/distribution/E123/invalidation/"+id)
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(201)
		io.WriteString(w, f.invalidationXML(id, "InProgress"))
	case r.Method == http.MethodGet && m[2] != "":
		id := m[2]
		if _, ok := f.paths[id]; !ok {
			cfError(404, "NoSuchInvalidation", "The specified invalidation does not exist.")(w)
			return
		}
		f.polls[id]++
		st := "InProgress"
		if f.polls[id] >= 3 {
			st = "Completed"
		}
		w.Header().Set("Content-Type", "text/xml")
		io.WriteString(w, f.invalidationXML(id, st))
	default:
		cfError(405, "MethodNotAllowed", r.Method)(w)
	}
}

func TestCloudFrontAdapter(t *testing.T) {
	f := &fakeCloudFront{t: t, byRef: map[string]string{}, paths: map[string][]string{}, polls: map[string]int{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	cfg := CDNConfig{Name: "cf-main", Type: CloudFront, DistributionID: "E123", AccessKeyID: "AKIDTEST",
		SecretAccessKey: "secret", BaseURL: srv.URL, WaitForCompletion: true}
	paths := append(manyPaths("docs/api", 4000), "index.html", "about/index.html")
	req := Request{ID: "prod@abc123", Edition: "prod", Changes: changes("prod", paths...)}
	f.faults.queue = []func(http.ResponseWriter){
		cfError(400, "TooManyInvalidationsInProgress", "Processing your request will cause you to exceed the maximum number of in-progress wildcard invalidations."),
		cfError(503, "ServiceUnavailable", "CloudFront is unavailable"),
	}
	clock := newFakeClock()
	plan, res, err := Run(context.Background(), req, cfg, WithClock(clock))
	if err != nil {
		t.Fatalf("purge: %v", err)
	}
	if len(res.InvalidationIDs) != 1 || res.InvalidationIDs[0] != "I001EXAMPLE" || !res.Completed {
		t.Fatalf("result %+v", res)
	}
	got := f.paths["I001EXAMPLE"]
	if !slices.Equal(got, plan.Batches[0].Items) || !slices.Contains(got, "/docs/api/*") || !slices.Contains(got, "/about/") {
		t.Fatalf("invalidated %v", got)
	}
	// 2 failed + 1 created + 3 polls.
	if res.Requests != 6 || res.Retries != 2 {
		t.Fatalf("requests %d retries %d", res.Requests, res.Retries)
	}
	if w := clock.waits(); !slices.Equal(w, []time.Duration{time.Second, 2 * time.Second, CloudFrontPollInterval, CloudFrontPollInterval}) {
		t.Fatalf("waits %v", w)
	}

	// The same deploy again reuses the CallerReference: CloudFront answers
	// with the same invalidation instead of creating (and billing) another.
	_, res2, err := Run(context.Background(), req, cfg, WithClock(clock))
	if err != nil || res2.InvalidationIDs[0] != "I001EXAMPLE" || len(f.byRef) != 1 {
		t.Fatalf("retry of the deploy: %v %+v (%d invalidations)", err, res2, len(f.byRef))
	}
	// Another deploy gets another.
	req.ID = "prod@def456"
	cfg.WaitForCompletion = false
	_, res3, err := Run(context.Background(), req, cfg, WithClock(clock))
	if err != nil || res3.InvalidationIDs[0] != "I002EXAMPLE" || res3.Completed {
		t.Fatalf("next deploy: %v %+v", err, res3)
	}

	// Errors that retrying cannot fix are returned at once.
	bad := cfg
	bad.DistributionID = "ENOPE"
	_, res, err = Run(context.Background(), req, bad, WithClock(clock))
	if err == nil || !strings.Contains(err.Error(), "NoSuchDistribution") || res.Requests != 1 {
		t.Fatalf("want NoSuchDistribution after one request, got %v (%d)", err, res.Requests)
	}
	// --all.
	_, res, err = Run(context.Background(), Request{ID: "x", All: true, Prefix: "staging/"}, cfg, WithClock(clock))
	if err != nil || !slices.Equal(f.paths[res.InvalidationIDs[0]], []string{"/staging/*"}) {
		t.Fatalf("--all: %v %v", err, res)
	}
}
