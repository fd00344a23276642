package purge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// StatusError is a provider's refusal: the HTTP status and what it said.
type StatusError struct {
	Op     string // what was attempted, e.g. "fastly purge 256 keys"
	Status int
	Body   string // the provider's error text, trimmed
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s: HTTP %d: %s", e.Op, e.Status, e.Body)
}

// retryable reports whether a status is worth another attempt.
func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500
}

// doHTTP sends the request that build makes, retrying 429, 5xx and network
// errors per the policy and honouring Retry-After. It returns the body of
// the first answer that is neither (onSuccess sees its headers), and
// counts requests in res. A 2xx is
// success; any other status is a *StatusError.
func doHTTP(ctx context.Context, o options, res *Result, op string, build func(ctx context.Context) (*http.Request, error), onSuccess ...func(http.Header)) (int, []byte, error) {
	log := o.logger(ctx)
	var lastErr error
	for attempt := 1; ; attempt++ {
		req, err := build(ctx)
		if err != nil {
			return 0, nil, fmt.Errorf("%s: %w", op, err)
		}
		res.Requests++
		resp, err := o.client.Do(req)
		var wait time.Duration
		if err != nil {
			if ctx.Err() != nil {
				return 0, nil, fmt.Errorf("%s: %w", op, ctx.Err())
			}
			lastErr = fmt.Errorf("%s: %w", op, err)
		} else {
			body, readErr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			switch {
			case readErr != nil:
				lastErr = fmt.Errorf("%s: read answer: %w", op, readErr)
			case resp.StatusCode >= 200 && resp.StatusCode < 300:
				for _, f := range onSuccess {
					f(resp.Header)
				}
				return resp.StatusCode, body, nil
			case !retryable(resp.StatusCode):
				return resp.StatusCode, body, &StatusError{Op: op, Status: resp.StatusCode, Body: snippet(body)}
			default:
				lastErr = &StatusError{Op: op, Status: resp.StatusCode, Body: snippet(body)}
				if d, ok := retryAfter(resp.Header, o.clock.Now()); ok {
					wait = min(d, o.retry.MaxRetryAfter)
				}
			}
		}
		if attempt >= o.retry.Attempts {
			return 0, nil, fmt.Errorf("after %d attempts: %w", attempt, lastErr)
		}
		if wait == 0 {
			wait = o.retry.backoff(attempt)
		}
		res.Retries++
		log.Warn().Err(lastErr).Int("attempt", attempt).Dur("wait", wait).Msg("purge request failed; retrying")
		if err := o.clock.Sleep(ctx, wait); err != nil {
			return 0, nil, fmt.Errorf("%s: %w (last error: %v)", op, err, lastErr)
		}
	}
}

// snippet trims a provider's answer for an error message.
func snippet(b []byte) string {
	s := strings.TrimSpace(string(bytes.ToValidUTF8(b, []byte("?"))))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	if s == "" {
		s = "(empty answer)"
	}
	return s
}

// IsStatus reports whether err is a provider refusal with the status.
func IsStatus(err error, status int) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status == status
}
