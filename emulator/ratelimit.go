package emulator

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// rateBook keeps the primary rate limit's count per caller and hour, so
// that x-ratelimit-remaining falls with each request as on GitHub, and
// counts what was served for tests that measure a client's traffic.
type rateBook struct {
	mu          sync.Mutex
	windows     map[string]*rateWindow
	counted     int64
	notModified int64
	byKey       map[string]*RequestStats
	// paths counts each caller's requests by method and URL path.
	paths map[string]map[string]int64
}

type rateWindow struct {
	reset int64
	used  int
}

// RequestStats are the REST requests the emulator served since it started.
type RequestStats struct {
	// Counted are the requests that count against the primary rate limit.
	Counted int64 `json:"counted"`
	// NotModified are the conditional requests answered 304, which do not.
	NotModified int64 `json:"not_modified"`
}

// RequestStats reports the REST requests served so far.
func (s *Server) RequestStats() RequestStats {
	s.rate.mu.Lock()
	defer s.rate.mu.Unlock()
	return RequestStats{Counted: s.rate.counted, NotModified: s.rate.notModified}
}

// InstallationRequestStats reports the REST requests made with the
// installation's tokens so far.
func (s *Server) InstallationRequestStats(installationID int64) RequestStats {
	s.rate.mu.Lock()
	defer s.rate.mu.Unlock()
	if st := s.rate.byKey[installationKey(installationID)]; st != nil {
		return *st
	}
	return RequestStats{}
}

// InstallationRequests reports how often the installation's tokens sent
// method path (such as GET /repos/acme/site/git/ref/heads/dev), 304s
// included.
func (s *Server) InstallationRequests(installationID int64, method, path string) int64 {
	s.rate.mu.Lock()
	defer s.rate.mu.Unlock()
	return s.rate.paths[installationKey(installationID)][method+" "+path]
}

func installationKey(id int64) string { return "installation " + strconv.FormatInt(id, 10) }

// use records one request of key in the hour that ends at reset (when
// count) and returns how many of that hour's requests were used.
func (b *rateBook) use(key, request string, reset int64, count, notModified bool) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.paths == nil {
		b.paths = map[string]map[string]int64{}
	}
	if b.paths[key] == nil {
		b.paths[key] = map[string]int64{}
	}
	b.paths[key][request]++
	if b.windows == nil {
		b.windows = map[string]*rateWindow{}
	}
	w := b.windows[key]
	if w == nil || w.reset != reset {
		w = &rateWindow{reset: reset}
		b.windows[key] = w
	}
	if b.byKey == nil {
		b.byKey = map[string]*RequestStats{}
	}
	st := b.byKey[key]
	if st == nil {
		st = &RequestStats{}
		b.byKey[key] = st
	}
	if notModified {
		b.notModified++
		st.NotModified++
	}
	if count {
		w.used++
		b.counted++
		st.Counted++
	}
	return w.used
}

// rateKey names whose budget a request is taken from: GitHub counts per
// installation, per user and per app (JWT), and unauthenticated calls per
// address.
func (a actor) rateKey(r *http.Request) string {
	switch {
	case a.inst != nil:
		return installationKey(a.inst.ID)
	case a.user != nil:
		return "user " + a.user.Login
	case a.app != nil:
		return "app " + strconv.FormatInt(a.app.ID, 10)
	}
	host := r.RemoteAddr
	if i := strings.LastIndex(host, ":"); i > 0 {
		host = host[:i]
	}
	return "address " + host
}

// etag is the validator of a GET answer. GitHub sends weak ETags on its
// JSON answers, and they differ between tokens: an ETag received with one
// installation token does not match when sent with another (GitHub's
// answers vary on Authorization), so the caller's credentials and the
// media type are hashed with the body.
func (c *call) etag(body []byte) string {
	h := sha256.New()
	h.Write([]byte(c.r.Header.Get("Authorization")))
	h.Write([]byte{0})
	h.Write([]byte(c.r.Header.Get("Accept")))
	h.Write([]byte{0})
	h.Write(body)
	return fmt.Sprintf(`W/"%x"`, h.Sum(nil)[:16])
}

// notModified reports whether the request's If-None-Match names etag,
// compared weakly as RFC 9110 section 13.1.2 asks of If-None-Match.
func (c *call) notModified(etag string) bool {
	inm := c.r.Header.Get("If-None-Match")
	if inm == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, tag := range strings.Split(inm, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == want {
			return true
		}
	}
	return false
}

// rateHeaders sets the x-ratelimit-* headers; a 304 and GET /rate_limit
// do not count against the limit.
func (c *call) rateHeaders(h http.Header, free, notModified bool) {
	limit := 5000
	if c.actor.inst != nil {
		limit = 15000
	}
	reset := c.s.now().Truncate(time.Hour).Add(time.Hour).Unix()
	used := c.s.rate.use(c.actor.rateKey(c.r), c.r.Method+" "+strings.TrimPrefix(c.r.URL.Path, "/api/v3"), reset, !free, notModified)
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(limit-used, 0)))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset, 10))
	h.Set("X-RateLimit-Used", strconv.Itoa(used))
	h.Set("X-RateLimit-Resource", "core")
}

// LoggedRequest is one REST request as the emulator received it, faults
// included, so that tests can check how a client paces itself.
type LoggedRequest struct {
	// At is when the request arrived and Done when its answer was sent
	// (latency faults included), both on the wall clock.
	At, Done time.Time
	// Installation is the installation whose token sent it (0: another
	// caller).
	Installation int64
	Method       string
	// Path is the URL path without the /api/v3 prefix.
	Path   string
	Status int
}

// requestLog keeps the REST requests received, oldest first; it is
// bounded so that a long-running emulator does not grow without end.
type requestLog struct {
	mu      sync.Mutex
	entries []LoggedRequest
}

const requestLogMax = 100_000

func (l *requestLog) add(e LoggedRequest) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.entries) >= requestLogMax {
		l.entries = append(l.entries[:0], l.entries[len(l.entries)/2:]...)
	}
	l.entries = append(l.entries, e)
}

// RequestLog returns the REST requests received so far, oldest first.
func (s *Server) RequestLog() []LoggedRequest {
	s.reqLog.mu.Lock()
	defer s.reqLog.mu.Unlock()
	return append([]LoggedRequest(nil), s.reqLog.entries...)
}
