package jobs

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/store"
)

type limitedArgs struct {
	Case string `json:"case"`
}

func (limitedArgs) Kind() string { return "test_rate_limited" }

type limitedWorker struct {
	river.WorkerDefaults[limitedArgs]
	reset time.Time
}

func (w *limitedWorker) Work(ctx context.Context, job *river.Job[limitedArgs]) error {
	switch job.Args.Case {
	case "hoist":
		return fmt.Errorf("read ref: %w", &gh.RateLimitedError{Until: w.reset})
	case "go-github":
		return &github.RateLimitError{Rate: github.Rate{Reset: github.Timestamp{Time: w.reset}}, Message: "API rate limit exceeded"}
	}
	return errors.New("an ordinary failure")
}

// A job whose installation's budget is spent is snoozed until the reset,
// not failed: its attempt is not used up and it is scheduled for the
// reset; an ordinary failure still counts as a failed attempt.
func TestRateLimitedJobIsSnoozedUntilTheReset(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{SQLitePath: filepath.Join(t.TempDir(), "hoist.db"), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	e, err := New(ctx, Options{Store: st, Logger: zerolog.Nop(), Config: serverconfig.Jobs{
		Workers: 2, MaxAttempts: 3, Timeout: time.Minute, RescueAfter: 2 * time.Minute,
		ShutdownGrace: 5 * time.Second, PollInterval: 50 * time.Millisecond,
	}})
	if err != nil {
		t.Fatal(err)
	}
	reset := time.Now().Add(40 * time.Minute).Truncate(time.Second)
	river.AddWorker(e.Workers(), &limitedWorker{reset: reset})
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop(context.Background(), 5*time.Second) })
	ids := map[string]int64{}
	for _, c := range []string{"hoist", "go-github", "other"} {
		res, err := e.Insert(ctx, limitedArgs{Case: c}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids[c] = res.Job.ID
	}
	type row struct {
		state     string
		errors    string
		scheduled time.Time
	}
	read := func(id int64) row {
		var r row
		var at string
		if err := st.SQLDB().QueryRowContext(ctx, `SELECT state, COALESCE(errors, ''), scheduled_at FROM river_job WHERE id = ?`, id).Scan(&r.state, &r.errors, &at); err != nil {
			t.Fatal(err)
		}
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999"} {
			if ts, err := time.Parse(layout, at); err == nil {
				r.scheduled = ts
				break
			}
		}
		return r
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		h, g, o := read(ids["hoist"]), read(ids["go-github"]), read(ids["other"])
		if h.state == "scheduled" && g.state == "scheduled" && o.state == "retryable" {
			for name, r := range map[string]row{"hoist": h, "go-github": g} {
				if r.errors != "" && r.errors != "[]" {
					t.Errorf("%s: snoozed job recorded errors %s, want none (no failed attempt)", name, r.errors)
				}
				if d := r.scheduled.Sub(reset); d < -2*time.Second || d > 2*time.Second {
					t.Errorf("%s: scheduled at %s, want the reset %s", name, r.scheduled, reset)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("states %s, %s, %s; want scheduled (snoozed), scheduled, retryable", h.state, g.state, o.state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
