package server_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/handlers"
	"github.com/hoist-dev/hoist/internal/hoisttest"
	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/server"
	"github.com/hoist-dev/hoist/internal/store"
	"github.com/hoist-dev/hoist/internal/world"
)

// effectHandler records, for each delivery of its events, one effect row
// in the transaction that marks the delivery handled: the table has no
// unique key, so one row per delivery means the delivery was acted on
// once.
type effectHandler struct{}

func (effectHandler) Handles() []string { return []string{"push", "issue_comment", "installation"} }
func (effectHandler) Handle(ctx context.Context, event, id string, _ []byte) error {
	return jobs.OnComplete(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO recovery_effects (delivery_id, event) VALUES (?, ?)`, id, event)
		return err
	})
}

// hoistAt runs hoist serve on addr with the effect handler until stop is
// called; the same config (and so the same database) each time.
type hoistAt struct {
	srv  *server.Server
	stop func()
}

func startHoistAt(t *testing.T, cfg *serverconfig.Server, addr string) *hoistAt {
	t.Helper()
	var ln net.Listener
	// The port was free a moment ago; another test may take it for an
	// instant, so try for a while.
	err := world.WaitFor(10*time.Second, func() bool {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err == nil
	})
	must(t, err)
	l := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, server.Options{Logger: &l, Listener: ln,
		Handlers: append([]githubapp.EventHandler{effectHandler{}}, handlers.All(handlers.Deps{})...)})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	_, err = srv.Store().Exec(ctx, `CREATE TABLE IF NOT EXISTS recovery_effects (delivery_id TEXT NOT NULL, event TEXT NOT NULL)`)
	must(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	stopped := false
	h := &hoistAt{srv: srv, stop: func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Errorf("hoist did not stop")
		}
	}}
	t.Cleanup(h.stop)
	must(t, world.WaitReady("http://"+addr, 20*time.Second))
	return h
}

// hoist is down while GitHub sends webhooks: pushes and comments, and the
// App's first installation event. After a restart the recovery job finds
// every one in the App's delivery log (more than one page), GitHub
// redelivers each once, and each is handled once; a second run asks for
// nothing, and what hoist had received is never redelivered.
func TestMissedDeliveriesRecovered(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	addr := ln.Addr().String()
	ln.Close() // hoist is down from the start: the installation event fails
	w := hoisttest.Start(t, hoisttest.Spec{
		App:   emulator.AppSpec{WebhookURL: "http://" + addr + server.WebhookPath, WebhookSecret: testSecret},
		Repos: []string{"site"},
		// Five retries: each missed delivery is six attempts in the log,
		// so that the log takes more than one page of 100.
		Emulator: emulator.Options{WebhookRetries: 5},
	})
	app := w.App
	install := w.GH.WaitForDelivery(func(d emulator.Delivery) bool { return d.Event == "installation" })
	if install.StatusCode != 0 {
		t.Fatalf("installation delivered with %d while hoist was down", install.StatusCode)
	}

	dir := t.TempDir()
	keyFile := filepath.Join(dir, "app.pem")
	must(t, os.WriteFile(keyFile, app.PrivateKeyPEM, 0o600))
	cfg := testConfig(t, map[string]string{
		"HOIST_APP_ID": strconv.FormatInt(app.ID, 10), "HOIST_PRIVATE_KEY_FILE": keyFile,
		"HOIST_GITHUB_URL": w.GitHub.URL() + "/",
	})
	ctx := context.Background()

	// hoist up: the recovery at start brings the installation event; a
	// pull request and a push arrive directly.
	first := startHoistAt(t, cfg, addr)
	st := first.srv.Store()
	handled := func(id string) bool {
		d, err := st.GetDelivery(ctx, id)
		return err == nil && d.Status == store.StatusHandled
	}
	hoisttest.WaitFor(t, 30*time.Second, "the installation event recovered at start", func() bool { return handled(install.GUID) })
	user := w.User()
	main, _, err := user.Git.GetRef(ctx, "acme", "site", "heads/main")
	if err != nil {
		w.Put("site", "README.md", "site", "Start")
		main, _, err = user.Git.GetRef(ctx, "acme", "site", "heads/main")
	}
	must(t, err)
	_, _, err = user.Git.CreateRef(ctx, "acme", "site", &github.Reference{Ref: github.String("refs/heads/feature"), Object: main.Object})
	must(t, err)
	_, _, err = user.Repositories.CreateFile(ctx, "acme", "site", "feature.txt", &github.RepositoryContentFileOptions{
		Message: github.String("Feature"), Content: []byte("f"), Branch: github.String("feature")})
	must(t, err)
	pr, _, err := user.PullRequests.Create(ctx, "acme", "site", &github.NewPullRequest{
		Title: github.String("Feature"), Head: github.String("feature"), Base: github.String("main")})
	must(t, err)
	w.Put("site", "up.txt", "up", "While hoist is up")
	var upGUIDs []string
	hoisttest.WaitFor(t, 30*time.Second, "deliveries while hoist is up handled", func() bool {
		upGUIDs = upGUIDs[:0]
		for _, d := range w.GitHub.Deliveries() {
			if d.GUID == install.GUID {
				continue
			}
			if !d.Done || d.StatusCode != 202 && d.StatusCode != 200 || !handledOrIgnored(st, d.GUID) {
				return false
			}
			upGUIDs = append(upGUIDs, d.GUID)
		}
		return len(upGUIDs) > 0
	})
	first.stop()

	// hoist down: ten pushes and ten comments.
	before := len(w.GitHub.Deliveries())
	for i := 0; i < 10; i++ {
		w.Put("site", fmt.Sprintf("down-%d.txt", i), "down", fmt.Sprintf("While hoist is down %d", i))
		_, _, err := user.Issues.CreateComment(ctx, "acme", "site", pr.GetNumber(), &github.IssueComment{Body: github.String(fmt.Sprintf("comment %d", i))})
		must(t, err)
	}
	var missed []emulator.Delivery
	hoisttest.WaitFor(t, 60*time.Second, "every delivery tried while hoist is down", func() bool {
		missed = missed[:0]
		for _, d := range w.GitHub.Deliveries()[before:] {
			if !d.Done {
				return false
			}
			missed = append(missed, d)
		}
		return true
	})
	events := map[string]int{}
	for _, d := range missed {
		events[d.Event]++
		if d.StatusCode != 0 || d.Attempts != 6 {
			t.Fatalf("delivery %s while down: status %d after %d attempts", d.GUID, d.StatusCode, d.Attempts)
		}
	}
	if events["push"] != 10 || events["issue_comment"] != 10 {
		t.Fatalf("sent while down: %v, want 10 pushes and 10 comments", events)
	}
	if n := len(w.GitHub.HookLog()); n <= 100 {
		t.Fatalf("the delivery log has %d attempts; the test needs more than one page", n)
	}

	// hoist up again: the recovery job runs at start.
	restarted := time.Now()
	second := startHoistAt(t, cfg, addr)
	st = second.srv.Store()
	hoisttest.WaitFor(t, 120*time.Second, "every missed delivery handled", func() bool {
		for _, d := range missed {
			if !handledOrIgnored(st, d.GUID) {
				return false
			}
		}
		return true
	})
	took := time.Since(restarted)
	t.Logf("%d missed deliveries (%v) recovered and handled %s after the restart", len(missed), events, took.Round(time.Millisecond))

	// Exactly once: one effect per delivery, over everything hoist got.
	rows, err := st.Query(ctx, `SELECT delivery_id, count(*) FROM recovery_effects GROUP BY delivery_id`)
	must(t, err)
	effects := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		must(t, rows.Scan(&id, &n))
		effects[id] = n
	}
	rows.Close()
	for _, d := range append(missed, install) {
		if d.Event != "push" && d.Event != "issue_comment" && d.Event != "installation" {
			continue
		}
		if effects[d.GUID] != 1 {
			t.Errorf("%s %s: %d effects, want 1", d.Event, d.GUID, effects[d.GUID])
		}
	}
	for id, n := range effects {
		if n != 1 {
			t.Errorf("delivery %s: %d effects", id, n)
		}
	}

	// GitHub was asked once per missed GUID, never for one hoist had.
	redelivered := map[string]int{}
	for _, d := range w.GitHub.Deliveries() {
		if d.Redelivery {
			redelivered[d.GUID]++
		}
	}
	for _, d := range append(missed, install) {
		if redelivered[d.GUID] != 1 {
			t.Errorf("%s %s redelivered %d times, want 1", d.Event, d.GUID, redelivered[d.GUID])
		}
	}
	for _, g := range upGUIDs {
		if redelivered[g] != 0 {
			t.Errorf("delivery %s hoist had received was redelivered", g)
		}
	}
	if n := counter(t, second.srv, "hoist_deliveries_recovered_total"); n != float64(len(missed)) {
		t.Errorf("hoist_deliveries_recovered_total = %v, want %d", n, len(missed))
	}

	// A second run finds them all stored and asks for nothing.
	rep, err := second.srv.Recoverer().Run(ctx, 24*time.Hour, false)
	must(t, err)
	if len(rep.Missed) != 0 || len(rep.Asked) != 0 || rep.Pages < 2 || rep.Succeeded != rep.GUIDs || rep.GUIDs < len(missed)+1+len(upGUIDs) {
		t.Errorf("second run: %d missed, %d asked, %d pages, %d of %d GUIDs succeeded", len(rep.Missed), len(rep.Asked), rep.Pages, rep.Succeeded, rep.GUIDs)
	}
	reqs, err := st.RedeliveryRequests(ctx)
	must(t, err)
	if len(reqs) != len(missed)+1 {
		t.Errorf("%d redelivery requests remembered, want %d", len(reqs), len(missed)+1)
	}
}

func handledOrIgnored(st *store.Store, id string) bool {
	d, err := st.GetDelivery(context.Background(), id)
	return err == nil && (d.Status == store.StatusHandled || d.Status == store.StatusIgnored)
}

// counter is the value of a counter in the server's registry.
func counter(t *testing.T, srv *server.Server, name string) float64 {
	t.Helper()
	mfs, err := srv.Registry().Gather()
	must(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			sum := 0.0
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
			return sum
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
