package jobs

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"

	"github.com/google/go-github/v60/github"
)

// Transient reports whether err is one that a later attempt may not meet:
// GitHub's rate limits (RetryAt), a 5xx or 429 answer, a timeout, or a
// request that never got an answer (connection refused or reset). A 4xx
// answer other than a rate limit is GitHub's word on the request, which a
// retry would only repeat.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	if _, ok := RetryAt(err); ok {
		return true
	}
	var abuse *github.AbuseRateLimitError
	if errors.As(err, &abuse) {
		return true
	}
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		code := er.Response.StatusCode
		return code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	// go-github returns the transport's *url.Error when no answer came.
	var ue *url.Error
	return errors.As(err, &ue)
}
