package emulator_test

import (
	"context"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/emulator/emulatortest"
	"github.com/hoist-dev/hoist/internal/hoisttest"
)

// closedURL is a webhook URL nobody listens on: connecting is refused.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/api/github/hook"
}

// The delivery log lists every attempt, the failed ones too, a page at a
// time with GitHub's cursor in the Link header; a redelivery keeps the
// GUID; only the App's JWT reaches it.
func TestHookLogListsFailedAttemptsWithCursor(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	down := e.gh.CreateApp("down", closedURL(t))
	e.gh.Install(down.ID, "acme/site")
	e.gh.WaitForDelivery(func(d emulator.Delivery) bool { return d.AppID == down.ID && d.Event == "installation" })
	const sent = 5
	for i := 0; i < sent; i++ {
		e.json(e.alice, "POST", "/repos/acme/site/dispatches", map[string]any{"event_type": "missed"}, 204)
	}
	tried := func() int {
		n := 0
		for _, d := range e.gh.Deliveries() {
			if d.AppID == down.ID && d.Action == "missed" && d.Done && d.Attempts == 4 {
				n++
			}
		}
		return n
	}
	hoisttest.WaitFor(t, 10*time.Second, "every missed delivery tried", func() bool { return tried() == sent })

	// 1 installation + 5 dispatches, each tried 4 times (3 retries).
	jwt := e.userClient(down.JWT())
	var all []*github.HookDelivery
	opts := &github.ListCursorOptions{PerPage: 7}
	pages := 0
	for {
		items, resp, err := jwt.Apps.ListHookDeliveries(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(items) > 7 {
			t.Fatalf("page of %d, per_page 7", len(items))
		}
		all = append(all, items...)
		if resp.Cursor == "" {
			break
		}
		opts.Cursor = resp.Cursor
	}
	if len(all) != (sent+1)*4 || pages != 4 {
		t.Fatalf("listed %d attempts on %d pages, want %d on 4", len(all), pages, (sent+1)*4)
	}
	byGUID := map[string][]*github.HookDelivery{}
	seen := map[int64]bool{}
	for i, it := range all {
		if seen[it.GetID()] {
			t.Errorf("attempt %d listed twice", it.GetID())
		}
		seen[it.GetID()] = true
		if i > 0 && it.GetID() >= all[i-1].GetID() {
			t.Errorf("not newest first: %d after %d", it.GetID(), all[i-1].GetID())
		}
		if it.GetStatusCode() != 0 || it.GetStatus() != "failed to connect to host" {
			t.Errorf("attempt to a closed port: %d %q", it.GetStatusCode(), it.GetStatus())
		}
		if it.GetInstallationID() == 0 || it.DeliveredAt == nil {
			t.Errorf("attempt without installation or time: %+v", it)
		}
		byGUID[it.GetGUID()] = append(byGUID[it.GetGUID()], it)
	}
	if len(byGUID) != sent+1 {
		t.Errorf("%d GUIDs, want %d", len(byGUID), sent+1)
	}
	for guid, as := range byGUID {
		first := 0
		for _, a := range as {
			if !a.GetRedelivery() {
				first++
			}
		}
		if first != 1 {
			t.Errorf("GUID %s: %d first attempts, want 1 (the retries are redeliveries)", guid, first)
		}
	}
	// A failure filter finds nothing: GitHub's classifies by status code
	// 400–599, and a receiver that was down answered none.
	if items, _, err := jwt.Apps.ListHookDeliveries(ctx, &github.ListCursorOptions{PerPage: 100}); err != nil || len(items) != len(all) {
		t.Fatalf("one page of 100: %d %v", len(items), err)
	}
	e.json(down.JWT(), "GET", "/app/hook/deliveries?status=failure", nil, 200)
	if status, _, _ := e.do(down.JWT(), "GET", "/app/hook/deliveries?status=broken", nil); status != 422 {
		t.Errorf("status=broken: %d, want 422", status)
	}
	if status, _, _ := e.do(down.JWT(), "GET", "/app/hook/deliveries?cursor=nonsense", nil); status != 422 {
		t.Errorf("a bad cursor: %d, want 422", status)
	}

	// Redelivery: same GUID, payload and event, flagged, logged again.
	target := all[len(all)-1]
	full, _, err := jwt.Apps.GetHookDelivery(ctx, target.GetID())
	if err != nil || full.GetGUID() != target.GetGUID() || full.Request == nil {
		t.Fatalf("get %d: %v %v", target.GetID(), full, err)
	}
	before := len(e.gh.HookLog())
	if _, resp, _ := jwt.Apps.RedeliverHookDelivery(ctx, target.GetID()); resp == nil || resp.StatusCode != 202 {
		t.Fatalf("redeliver: %v", resp)
	}
	hoisttest.WaitFor(t, 10*time.Second, "the redelivery logged", func() bool {
		for _, a := range e.gh.HookLog()[before:] {
			if a.GUID == target.GetGUID() && a.Redelivery && a.StatusCode == 0 {
				return true
			}
		}
		return false
	})

	// Only the App's own JWT: anonymous, a user, an installation token, a
	// JWT signed by another key, or another App (its own log only).
	forged := &emulatortest.TestApp{ID: down.ID, PrivateKeyPEM: e.app.PrivateKeyPEM}
	instTok := e.gh.InstallationToken(e.inst)
	for name, tok := range map[string]string{"anonymous": "", "user": e.alice, "installation": instTok, "forged JWT": forged.JWT()} {
		for _, r := range []struct{ method, path string }{
			{"GET", "/app/hook/deliveries"},
			{"GET", "/app/hook/deliveries/" + itoa(target.GetID())},
			{"POST", "/app/hook/deliveries/" + itoa(target.GetID()) + "/attempts"},
		} {
			if status, _, _ := e.do(tok, r.method, r.path, nil); status != 401 {
				t.Errorf("%s: %s %s answered %d, want 401", name, r.method, r.path, status)
			}
		}
	}
	if status, _, _ := e.do(e.app.JWT(), "POST", "/app/hook/deliveries/"+itoa(target.GetID())+"/attempts", nil); status != 404 {
		t.Errorf("another App redelivered this App's delivery: %d", status)
	}
	after := len(e.gh.Deliveries())
	time.Sleep(100 * time.Millisecond)
	if n := len(e.gh.Deliveries()); n != after {
		t.Errorf("refused requests queued %d deliveries", n-after)
	}
}

// Like GitHub's, the log keeps three days: older attempts are neither
// listed nor redelivered.
func TestHookLogKeepsThreeDays(t *testing.T) {
	needGit(t)
	now := time.Now()
	var mu sync.Mutex
	gh := emulatortest.Start(t, emulator.Options{Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	alice := gh.CreateUser("alice")
	app := gh.CreateApp("hoist", "")
	gh.CreateRepo("acme", "site", alice)
	gh.Install(app.ID, "acme/site")
	d := gh.WaitForDelivery(func(d emulator.Delivery) bool { return d.Event == "installation" })
	// The App's JWT must be fresh by the emulator's clock.
	client := func() *github.Client {
		mu.Lock()
		at := now
		mu.Unlock()
		key, err := jwt.ParseRSAPrivateKeyFromPEM(app.PrivateKeyPEM)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{
			Issuer: itoa(app.ID), ExpiresAt: jwt.NewNumericDate(at.Add(5 * time.Minute)),
		}).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return gh.Client(tok)
	}
	ctx := context.Background()
	list := func() int {
		items, _, err := client().Apps.ListHookDeliveries(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		return len(items)
	}
	if n := list(); n != 1 {
		t.Fatalf("%d attempts listed, want 1", n)
	}
	mu.Lock()
	now = now.Add(emulator.HookLogRetention + time.Minute)
	mu.Unlock()
	if n := list(); n != 0 {
		t.Errorf("%d attempts listed after three days", n)
	}
	if _, resp, err := client().Apps.RedeliverHookDelivery(ctx, d.ID); resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("redelivery past retention: %v %v", resp, err)
	}
}
