package jobs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/internal/gh"
)

func TestTransientTellsRetryableGitHubErrors(t *testing.T) {
	answer := func(code int) error {
		return fmt.Errorf("branch dev of acme/site: %w", &github.ErrorResponse{Response: &http.Response{StatusCode: code}, Message: http.StatusText(code)})
	}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{answer(502), true},
		{answer(503), true},
		{answer(429), true},
		{answer(404), false},
		{answer(422), false},
		{answer(403), false},
		{fmt.Errorf("read: %w", &gh.RateLimitedError{Until: time.Now().Add(time.Minute)}), true},
		{&github.RateLimitError{Message: "API rate limit exceeded"}, true},
		{&github.AbuseRateLimitError{Message: "secondary rate limit"}, true},
		{fmt.Errorf("get: %w", context.DeadlineExceeded), true},
		{&url.Error{Op: "Get", URL: "https://api.github.com/", Err: syscall.ECONNRESET}, true},
		{errors.New("the configuration is broken"), false},
		{nil, false},
	} {
		if got := Transient(c.err); got != c.want {
			t.Errorf("Transient(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
