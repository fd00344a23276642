package flow

import (
	"context"
	"errors"
	"time"
)

// SmokeRequest asks for one commit to be smoke-tested as a candidate for
// an environment: the result is the hoist/smoke check run on that commit,
// which the smoke gate reads.
type SmokeRequest struct {
	Installation  int64
	Owner, Repo   string
	DefaultBranch string
	// Env is the environment the commit is a candidate for; its current
	// head is the baseline of the visual comparison.
	Env string
	SHA string
	// Actor is who asked (a person's login for /smoke, else "hoist"), and
	// Trigger why (push, command, rerequested).
	Actor   string
	Trigger string
}

// ErrSmokeUnavailable is returned while this server cannot run smoke tests.
var ErrSmokeUnavailable = errors.New("smoke tests are not available on this server")

// RequestSmoke queues a durable smoke test of req.SHA.
func (s *Service) RequestSmoke(ctx context.Context, req SmokeRequest) error {
	return ErrSmokeUnavailable
}

// PreviewLink is a signed, expiring link through which hoist proxies the
// private preview of one commit's site (the /preview command).
type PreviewLink struct {
	URL     string
	Expires time.Time
}

// ErrPreviewDisabled is returned when temporary access is not enabled.
var ErrPreviewDisabled = errors.New("temporary preview links are not enabled on this server")

// Preview returns a temporary access link to the site of sha.
func (s *Service) Preview(ctx context.Context, req SmokeRequest) (PreviewLink, error) {
	return PreviewLink{}, ErrPreviewDisabled
}
