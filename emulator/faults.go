package emulator

import (
	"math/rand"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Faults make the emulator misbehave on purpose, for reliability tests.
// Randomness comes from a seeded source, so a run with the same seed and
// the same requests fails the same way.
type Faults struct {
	// Seed, when non-zero, reseeds the random source as the faults are set.
	Seed   int64        `json:"seed,omitempty"`
	Routes []RouteFault `json:"routes"`
	// WebhookDropRate is the share of deliveries never sent (recorded as
	// "dropped", so they can be redelivered); WebhookDuplicateRate the
	// share sent twice with the same X-GitHub-Delivery.
	WebhookDropRate      float64 `json:"webhook_drop_rate"`
	WebhookDuplicateRate float64 `json:"webhook_duplicate_rate"`
}

// RouteFault applies to requests matching Method (empty: any) and Path: an
// OpenAPI path template as in the route table ("/repos/{owner}/{repo}/git/refs/{ref}"),
// a concrete URL path, a prefix ending in "*" ("/repos/acme/site/*"), or
// "*" for every request (git smart HTTP included).
type RouteFault struct {
	Method string `json:"method,omitempty"`
	Path   string `json:"path"`
	// Writes limits the rule to requests that change something (any
	// method but GET and HEAD), the requests GitHub's secondary limits
	// for content creation count.
	Writes bool `json:"writes,omitempty"`
	// ErrorRate is the share answered with ErrorStatus (default 502).
	ErrorRate   float64 `json:"error_rate,omitempty"`
	ErrorStatus int     `json:"error_status,omitempty"`
	// SecondaryRateLimitRate is the share answered 403 with Retry-After
	// (RetryAfter seconds, default 60), GitHub's secondary rate limit.
	SecondaryRateLimitRate float64 `json:"secondary_rate_limit_rate,omitempty"`
	RetryAfter             int     `json:"retry_after,omitempty"`
	// SecondaryRateLimitNoRetryRate is the share answered with the same 403
	// but without Retry-After, as GitHub also does: the client must then
	// wait on its own (GitHub advises at least a minute).
	SecondaryRateLimitNoRetryRate float64 `json:"secondary_rate_limit_no_retry_after_rate,omitempty"`
	// LatencyMS is added before answering.
	LatencyMS int `json:"latency_ms,omitempty"`
}

func (f RouteFault) matches(method, specPath, urlPath string) bool {
	if f.Method != "" && !strings.EqualFold(f.Method, method) {
		return false
	}
	if f.Writes && (method == http.MethodGet || method == http.MethodHead) {
		return false
	}
	switch {
	case f.Path == "" || f.Path == "*":
		return true
	case strings.HasSuffix(f.Path, "*"):
		return strings.HasPrefix(urlPath, strings.TrimSuffix(f.Path, "*"))
	}
	return f.Path == specPath || f.Path == urlPath
}

type faultOutcome struct {
	latency    time.Duration
	status     int
	retryAfter int
	// secondary marks a secondary rate limit (403); retryAfter 0 then
	// means no Retry-After header.
	secondary bool
}

// pickFault rolls the dice for one request.
func (s *Server) pickFault(method, specPath, urlPath string) faultOutcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out faultOutcome
	for _, f := range s.st.Faults.Routes {
		if !f.matches(method, specPath, urlPath) {
			continue
		}
		out.latency += time.Duration(f.LatencyMS) * time.Millisecond
		if out.status != 0 {
			continue
		}
		if f.ErrorRate > 0 && s.rng.Float64() < f.ErrorRate {
			out.status = f.ErrorStatus
			if out.status == 0 {
				out.status = http.StatusBadGateway
			}
		} else if f.SecondaryRateLimitRate > 0 && s.rng.Float64() < f.SecondaryRateLimitRate {
			out.status = http.StatusForbidden
			out.secondary = true
			out.retryAfter = f.RetryAfter
			if out.retryAfter == 0 {
				out.retryAfter = 60
			}
		} else if f.SecondaryRateLimitNoRetryRate > 0 && s.rng.Float64() < f.SecondaryRateLimitNoRetryRate {
			out.status = http.StatusForbidden
			out.secondary = true
		}
	}
	return out
}

// secondaryRateLimitDocs is the documentation_url GitHub sends with a
// secondary rate limit.
const secondaryRateLimitDocs = "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits"

// injectFault answers a REST request with a configured fault; it returns
// true when it did.
func (s *Server) injectFault(c *call) bool {
	f := s.pickFault(c.r.Method, c.route.specPath, strings.TrimPrefix(c.r.URL.Path, "/api/v3"))
	if f.latency > 0 {
		select {
		case <-time.After(f.latency):
		case <-c.r.Context().Done():
		}
	}
	switch {
	case f.secondary:
		if f.retryAfter > 0 {
			c.w.Header().Set("Retry-After", strconv.Itoa(f.retryAfter))
		}
		c.docOverride = secondaryRateLimitDocs
		c.fail(http.StatusForbidden, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.", nil)
		return true
	case f.status != 0:
		c.fail(f.status, "Server Error", nil)
		return true
	}
	return false
}

func (s *Server) injectGitFault(w http.ResponseWriter, r *http.Request) bool {
	f := s.pickFault(r.Method, "", r.URL.Path)
	if f.latency > 0 {
		time.Sleep(f.latency)
	}
	if f.status != 0 {
		if f.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(f.retryAfter))
		}
		http.Error(w, http.StatusText(f.status), f.status)
		return true
	}
	return false
}

// setFaults replaces the fault settings. Callers hold s.mu.
func (s *Server) setFaults(f Faults) {
	if f.Seed != 0 {
		s.rng = rand.New(rand.NewSource(f.Seed))
	}
	s.st.Faults = f
}
