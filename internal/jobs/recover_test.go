package jobs

import (
	"context"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/internal/hoisttest"
	"github.com/hoist-dev/hoist/internal/store"
	"github.com/hoist-dev/hoist/internal/testenv"
)

// missedWorld is an emulator whose App's webhook URL nobody listens on,
// with n repository_dispatch deliveries (and the installation event)
// failed.
func missedWorld(t *testing.T, n int) (*hoisttest.World, []emulator.Delivery) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/api/github/hook"
	ln.Close()
	w := hoisttest.Start(t, hoisttest.Spec{App: emulator.AppSpec{WebhookURL: url}, Repos: []string{"site"}})
	for i := 0; i < n; i++ {
		_, _, err := w.User().Repositories.Dispatch(context.Background(), "acme", "site", github.DispatchRequestOptions{EventType: "missed"})
		if err != nil {
			t.Fatal(err)
		}
	}
	var missed []emulator.Delivery
	hoisttest.WaitFor(t, 30*time.Second, "every delivery tried", func() bool {
		missed = missed[:0]
		for _, d := range w.GitHub.Deliveries() {
			if !d.Done {
				return false
			}
			missed = append(missed, d)
		}
		return len(missed) == n+1
	})
	return w, missed
}

func appDeliveries(w *hoisttest.World) func() (HookDeliveries, error) {
	return func() (HookDeliveries, error) { return w.GH.Client(w.App.JWT()).Apps, nil }
}

// redeliveries counts, per GUID, the redeliveries GitHub was asked for.
func redeliveries(w *hoisttest.World) map[string]int {
	out := map[string]int{}
	for _, d := range w.GitHub.Deliveries() {
		if d.Redelivery {
			out[d.GUID]++
		}
	}
	return out
}

// Two replicas on one PostgreSQL run the recovery job and the recover
// command at the same time: GitHub is asked once per GUID, following the
// log's cursor over several pages; a dry run and a bounded run come first.
func TestRecoveryOnTwoEnginesAsksOncePerGUID(t *testing.T) {
	const n = 12
	w, missed := missedWorld(t, n)
	ctx := context.Background()
	dsn := testenv.Postgres(t)
	open := func() *store.Store {
		st, err := store.Open(ctx, store.Options{DatabaseURL: dsn, Logger: zerolog.Nop(), AlsoMigrate: Migrate})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Close)
		return st
	}
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	recoverer := func(st *store.Store, reg prometheus.Registerer, maxPerRun int, every time.Duration) *Recoverer {
		// Seven a page: the 13 missed GUIDs, four attempts each, take
		// eight pages. The redelivered attempts fail too (nobody listens);
		// asking again for them is TestFailedRedeliveriesAreAskedAgainBoundedly's.
		return NewRecoverer(st, RecoverOptions{App: appDeliveries(w), Window: time.Hour, MaxPerRun: maxPerRun, Every: every,
			RetryAfter: time.Hour, PerPage: 7, Logger: log, Registerer: reg})
	}

	// A dry run lists and asks nothing.
	st0 := open()
	rep, err := recoverer(st0, nil, 100, 0).Run(ctx, time.Hour, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Missed) != n+1 || len(rep.Asked) != 0 || rep.Pages != 8 || rep.Attempts != (n+1)*4 || len(redeliveries(w)) != 0 {
		t.Fatalf("dry run: %d missed, %d asked, %d pages, %d attempts, %d redelivered", len(rep.Missed), len(rep.Asked), rep.Pages, rep.Attempts, len(redeliveries(w)))
	}
	if rep.Missed[0].Event != "installation" {
		t.Errorf("oldest missed is %s, want the installation event", rep.Missed[0].Event)
	}
	// A bounded run asks for the oldest five and leaves the rest.
	rep, err = recoverer(st0, nil, 5, 0).Run(ctx, time.Hour, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Asked) != 5 || rep.Deferred != n+1-5 || rep.Asked[0].GUID != missed[0].GUID {
		t.Fatalf("bounded run: %d asked, %d deferred", len(rep.Asked), rep.Deferred)
	}

	// Two replicas, each with the periodic job and each running the
	// recovery by hand as well, all at once.
	var engines []*Engine
	var recs []*Recoverer
	for i := 0; i < 2; i++ {
		st := open()
		reg := prometheus.NewRegistry()
		e, err := New(ctx, Options{Store: st, Logger: log, Config: serverconfig.Jobs{Workers: 2, MaxAttempts: 3, Timeout: time.Minute,
			RescueAfter: 2 * time.Minute, PollInterval: 50 * time.Millisecond, ShutdownGrace: time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		r := recoverer(st, reg, 100, time.Second)
		e.EnableRecovery(r)
		engines, recs = append(engines, e), append(recs, r)
	}
	var wg sync.WaitGroup
	for i := range engines {
		if err := engines[i].Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = engines[i].Stop(ctx, time.Second) })
		wg.Go(func() {
			if err := engines[i].RecoverNow(ctx); err != nil {
				t.Error(err)
			}
			if _, err := recs[i].Run(ctx, time.Hour, false); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	hoisttest.WaitFor(t, 30*time.Second, "every missed GUID redelivered", func() bool { return len(redeliveries(w)) == n+1 })
	// The periodic job runs too (on the leader, once a second) and finds
	// nothing more to ask for.
	okRuns := func() float64 {
		return testutil.ToFloat64(recs[0].runs.WithLabelValues("ok")) + testutil.ToFloat64(recs[1].runs.WithLabelValues("ok"))
	}
	hoisttest.WaitFor(t, 60*time.Second, "periodic runs after the manual ones", func() bool { return okRuns() >= 5 })
	for guid, k := range redeliveries(w) {
		if k != 1 {
			t.Errorf("GUID %s redelivered %d times, want 1", guid, k)
		}
	}
	total := 0.0
	for _, r := range recs {
		total += testutil.ToFloat64(r.recovered)
	}
	if total != n+1-5 {
		t.Errorf("the replicas counted %v recovered, want %d", total, n+1-5)
	}
	if got := testutil.ToFloat64(recs[0].runs.WithLabelValues("error")) + testutil.ToFloat64(recs[1].runs.WithLabelValues("error")); got != 0 {
		t.Errorf("%v failed runs", got)
	}
}

// A redelivery request that fails (GitHub answers the POST with a 502),
// or whose redelivered attempt fails again (nobody listens at the App's
// webhook URL), is asked for again in a later run, with a growing wait,
// at most three times; then recovery gives up on it, once, and says so.
func TestFailedRedeliveriesAreAskedAgainBoundedly(t *testing.T) {
	w, missed := missedWorld(t, 2)
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{SQLitePath: filepath.Join(t.TempDir(), "hoist.db"), Logger: zerolog.Nop(), AlsoMigrate: Migrate})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	clock := time.Now()
	reg := prometheus.NewRegistry()
	r := NewRecoverer(st, RecoverOptions{App: appDeliveries(w), Window: time.Hour, Every: time.Minute,
		Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel), Registerer: reg, Now: func() time.Time { return clock }})
	run := func(what string) Report {
		t.Helper()
		rep, err := r.Run(ctx, time.Hour, false)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		t.Logf("%s (t+%s): asked %d, failed %d, waiting %d, gave up %d", what, time.Until(clock).Round(time.Second),
			len(rep.Asked), len(rep.Failed), rep.AskedBefore, rep.GaveUp)
		return rep
	}
	n := len(missed)
	retries := func(reason string) float64 { return testutil.ToFloat64(r.retries.WithLabelValues(reason)) }

	// 1. GitHub refuses every request.
	w.GitHub.SetFaults(emulator.Faults{Routes: []emulator.RouteFault{
		{Method: "POST", Path: "/app/hook/deliveries/{delivery_id}/attempts", ErrorRate: 1, ErrorStatus: 502}}})
	if rep := run("run 1, GitHub refuses"); len(rep.Failed) != n || len(rep.Asked) != 0 {
		t.Fatalf("run 1: %d failed, %d asked; want all %d failed", len(rep.Failed), len(rep.Asked), n)
	}
	w.GitHub.SetFaults(emulator.Faults{})
	// 2. At once again: each waits for its retry.
	if rep := run("run 2, at once"); rep.AskedBefore != n || len(rep.Asked) != 0 {
		t.Fatalf("run 2: %d waiting, %d asked; want all %d waiting", rep.AskedBefore, len(rep.Asked), n)
	}
	// 3. The next period: asked again, GitHub accepts; the redeliveries
	// fail, since nobody listens.
	clock = clock.Add(time.Minute)
	if rep := run("run 3, a period later"); len(rep.Asked) != n || retries("request_failed") != float64(n) {
		t.Fatalf("run 3: %d asked, %v retries after a refused request; want %d", len(rep.Asked), retries("request_failed"), n)
	}
	hoisttest.WaitFor(t, 30*time.Second, "the redelivered attempts failed", func() bool {
		for _, d := range w.GitHub.Deliveries() {
			if !d.Done {
				return false
			}
		}
		return true
	})
	// 4. One period later is too soon (the wait doubled); two is not.
	clock = clock.Add(time.Minute)
	if rep := run("run 4, a period later"); len(rep.Asked) != 0 || rep.AskedBefore != n {
		t.Fatalf("run 4: %d asked, %d waiting; want all waiting", len(rep.Asked), rep.AskedBefore)
	}
	clock = clock.Add(time.Minute)
	if rep := run("run 5, two periods later"); len(rep.Asked) != n || retries("redelivery_failed") != float64(n) {
		t.Fatalf("run 5: %d asked, %v retries after a failed redelivery; want %d", len(rep.Asked), retries("redelivery_failed"), n)
	}
	hoisttest.WaitFor(t, 30*time.Second, "the second redelivered attempts failed", func() bool {
		for _, d := range w.GitHub.Deliveries() {
			if !d.Done {
				return false
			}
		}
		return true
	})
	// 6. Three tries made: recovery gives up on each, once.
	clock = clock.Add(10 * time.Minute)
	if rep := run("run 6, three tries made"); rep.GaveUp != n || len(rep.Asked) != 0 || testutil.ToFloat64(r.gaveUp) != float64(n) {
		t.Fatalf("run 6: gave up %d (metric %v), asked %d; want gave up on all %d", rep.GaveUp, testutil.ToFloat64(r.gaveUp), len(rep.Asked), n)
	}
	clock = clock.Add(10 * time.Minute)
	if rep := run("run 7"); rep.GaveUp != n || len(rep.Asked) != 0 || testutil.ToFloat64(r.gaveUp) != float64(n) {
		t.Fatalf("run 7: gave up %d (metric %v), asked %d; want the same %d, counted once", rep.GaveUp, testutil.ToFloat64(r.gaveUp), len(rep.Asked), n)
	}
	for _, d := range missed {
		if k := redeliveries(w)[d.GUID]; k != 2 {
			t.Errorf("GUID %s redelivered %d times, want 2 (three requests, the first refused)", d.GUID, k)
		}
	}
	if got := testutil.ToFloat64(r.recovered); got != float64(2*n) {
		t.Errorf("hoist_deliveries_recovered_total = %v, want %d", got, 2*n)
	}
}
