package jobs

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/logging"
)

// failureLog logs every failed job attempt with its reason, so that a job
// that keeps failing shows up in the logs and not only in River's table.
// It is River's ErrorHandler (errors and panics: River recovers a panic in
// a job, records it as a failed attempt and retries it) plus worker
// middleware for what River hands no error handler: a job that cancels
// itself as a permanent failure.
type failureLog struct {
	river.MiddlewareDefaults
	log zerolog.Logger
}

var (
	_ river.ErrorHandler         = (*failureLog)(nil)
	_ rivertype.WorkerMiddleware = (*failureLog)(nil)
)

// jobSubject is what hoist's job arguments say about what a job is for;
// every field is optional.
type jobSubject struct {
	Owner        string `json:"owner"`
	Repo         string `json:"repo"`
	Installation int64  `json:"installation"`
	Delivery     string `json:"delivery"`
	DeliveryID   string `json:"delivery_id"`
}

// event starts a log line about job with the stable keys: kind, job id,
// attempt, and the repository and delivery it works for when its
// arguments name them.
func (f *failureLog) event(e *zerolog.Event, job *rivertype.JobRow) *zerolog.Event {
	e = e.Str("kind", job.Kind).Int64("job", job.ID).Int("attempt", job.Attempt).Int("max_attempts", job.MaxAttempts)
	var s jobSubject
	if json.Unmarshal(job.EncodedArgs, &s) != nil {
		return e
	}
	if s.Owner != "" && s.Repo != "" {
		e = e.Str(logging.KeyRepo, s.Owner+"/"+s.Repo)
	}
	if s.Installation != 0 {
		e = e.Int64(logging.KeyInstallation, s.Installation)
	}
	if d := s.Delivery + s.DeliveryID; d != "" {
		e = e.Str(logging.KeyDelivery, d)
	}
	return e
}

// HandleError logs a failed attempt: a warning while retries remain, an
// error when the job is given up.
func (f *failureLog) HandleError(ctx context.Context, job *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	if job.Attempt >= job.MaxAttempts {
		f.event(f.log.Error(), job).Err(err).Bool("final", true).Msg("job failed on its last attempt; given up")
	} else {
		f.event(f.log.Warn(), job).Err(err).Bool("final", false).Msg("job attempt failed; it will be retried")
	}
	return nil
}

// HandlePanic logs a panic with its stack; River counts it as a failed
// attempt and retries the job.
func (f *failureLog) HandlePanic(ctx context.Context, job *rivertype.JobRow, panicVal any, trace string) *river.ErrorHandlerResult {
	f.event(f.log.Error(), job).Interface("panic", panicVal).Str("stack", trace).Bool("final", job.Attempt >= job.MaxAttempts).
		Msg("job panicked; the attempt counts as failed")
	return nil
}

// Work logs a job that cancels itself (river.JobCancel): River does not
// retry it and calls no error handler for it.
func (f *failureLog) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	err := doInner(ctx)
	var cancel *rivertype.JobCancelError
	if err != nil && errors.As(err, &cancel) {
		f.event(f.log.Error(), job).Err(err).Bool("final", true).Msg("job failed permanently; not retried")
	}
	return err
}
