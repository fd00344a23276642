package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"
)

// deferred is implemented by errors that say the work cannot go on before
// a given time, such as gh.RateLimitedError: the installation's GitHub
// budget is exhausted until its reset.
type deferred interface {
	error
	RetryAt() time.Time
}

// RetryAt reports whether err says the job cannot go on before a time,
// and that time: hoist's own rate-limit error, or go-github's
// *github.RateLimitError, which go-github returns without sending when it
// already knows the budget is spent.
func RetryAt(err error) (time.Time, bool) {
	var d deferred
	if errors.As(err, &d) {
		return d.RetryAt(), true
	}
	var rle *github.RateLimitError
	if errors.As(err, &rle) {
		return rle.Rate.Reset.Time, true
	}
	return time.Time{}, false
}

// snoozeRateLimited is River worker middleware, installed once for every
// worker: a job that fails because its installation's GitHub budget is
// spent is snoozed until the reset instead of failing. A snooze is not an
// attempt, so a busy hour does not use up a job's retries, and the worker
// is free for other installations' jobs meanwhile.
type snoozeRateLimited struct {
	river.MiddlewareDefaults
	log zerolog.Logger
	now func() time.Time
}

var _ rivertype.WorkerMiddleware = (*snoozeRateLimited)(nil)

func (m *snoozeRateLimited) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	err := doInner(ctx)
	at, ok := RetryAt(err)
	if !ok {
		return err
	}
	// At least a second: a reset in the past (clock skew) must not spin.
	d := max(at.Sub(m.now()), time.Second)
	m.log.Warn().Err(err).Str("kind", job.Kind).Int64("job", job.ID).Dur("snooze", d).
		Msg("GitHub rate limit: job snoozed until the reset")
	return river.JobSnooze(d)
}
