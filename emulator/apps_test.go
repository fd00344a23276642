package emulator_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/emulator/emulatortest"
)

func TestAppEndpointsTokensAndDeliveries(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	seed(t, e)
	jwtClient := e.userClient(e.app.JWT()) // go-github sends "Bearer" for WithAuthToken
	e.gh.WaitForDelivery(func(d emulator.Delivery) bool { return d.Event == "installation" && d.Action == "created" })
	e.gh.CreateRepo("acme", "docs", e.alice)
	if id := e.gh.Install(e.app.ID, "acme/docs"); id != e.inst {
		t.Errorf("second install on acme made installation %d, want %d", id, e.inst)
	}
	e.gh.WaitForDelivery(func(d emulator.Delivery) bool { return d.Event == "installation_repositories" && d.Action == "added" })

	app, _, err := jwtClient.Apps.Get(ctx, "")
	if err != nil || app.GetSlug() != "hoist" {
		t.Fatalf("GET /app = %v %v", app, err)
	}
	insts, _, err := jwtClient.Apps.ListInstallations(ctx, nil)
	if err != nil || len(insts) != 1 || insts[0].GetID() != e.inst {
		t.Fatalf("installations = %v %v", insts, err)
	}
	if _, _, err := jwtClient.Apps.GetInstallation(ctx, e.inst); err != nil {
		t.Error(err)
	}
	if in, _, err := jwtClient.Apps.FindRepositoryInstallation(ctx, "acme", "site"); err != nil || in.GetID() != e.inst {
		t.Errorf("repo installation = %v %v", in, err)
	}
	if in, _, err := jwtClient.Apps.FindOrganizationInstallation(ctx, "acme"); err != nil || in.GetID() != e.inst {
		t.Errorf("org installation = %v %v", in, err)
	}
	if _, resp, _ := jwtClient.Apps.FindUserInstallation(ctx, "alice"); resp.StatusCode != 404 {
		t.Errorf("alice has no installation, got %d", resp.StatusCode)
	}
	tok, _, err := jwtClient.Apps.CreateInstallationToken(ctx, e.inst, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok.GetToken(), "ghs_") || tok.GetExpiresAt().Sub(time.Now()) < 59*time.Minute {
		t.Errorf("token %q expires %v", tok.GetToken(), tok.GetExpiresAt())
	}
	instClient := e.userClient(tok.GetToken())
	repos, _, err := instClient.Apps.ListRepos(ctx, nil)
	if err != nil || repos.GetTotalCount() != 2 || repos.Repositories[0].GetFullName() != "acme/site" {
		t.Errorf("installation repos = %v %v", repos, err)
	}
	if status, _, _ := e.do(tok.GetToken(), "PUT", "/repos/acme/site/collaborators/alice", map[string]string{"permission": "push"}); status != 403 {
		t.Errorf("installation without administration added a collaborator: %d", status)
	}
	if _, _, err := instClient.RateLimit.Get(ctx); err != nil {
		t.Error(err)
	}
	// A narrowed token: read-only contents cannot write.
	ro, _, err := jwtClient.Apps.CreateInstallationToken(ctx, e.inst, &github.InstallationTokenOptions{Permissions: &github.InstallationPermissions{Contents: github.String("read")}})
	if err != nil {
		t.Fatal(err)
	}
	if status, _, _ := e.do(ro.GetToken(), "POST", "/repos/acme/site/git/refs", map[string]string{"ref": "refs/heads/x", "sha": zero}); status != 403 {
		t.Errorf("read-only installation token wrote: %d", status)
	}
	// JWTs: a user token or a bad signature is refused; an installation
	// token cannot call app endpoints.
	other := e.gh.CreateApp("other", "")
	forged := &emulatortest.TestApp{ID: e.app.ID, PrivateKeyPEM: other.PrivateKeyPEM}
	if status, _, _ := e.do("", "GET", "/app", nil); status != 401 {
		t.Errorf("anonymous GET /app: %d", status)
	}
	req, _ := http.NewRequest("GET", e.gh.URL()+"/app", nil)
	req.Header.Set("Authorization", "Bearer "+forged.JWT())
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("forged JWT: %v %v", resp.StatusCode, err)
	}
	if status, _, _ := e.do(tok.GetToken(), "GET", "/app/installations", nil); status != 401 {
		t.Errorf("installation token on /app/installations: %d", status)
	}

	// Deliveries: listed for the app, fetched with request and response,
	// redelivered with the same GUID.
	e.gh.WaitForDelivery(pushOf("refs/heads/main"))
	items, _, err := jwtClient.Apps.ListHookDeliveries(ctx, nil)
	if err != nil || len(items) == 0 {
		t.Fatalf("deliveries = %v %v", items, err)
	}
	var push *github.HookDelivery
	for _, it := range items {
		if it.GetEvent() == "push" {
			push = it
		}
	}
	full, _, err := jwtClient.Apps.GetHookDelivery(ctx, push.GetID())
	if err != nil || full.GetStatusCode() != 200 || full.Request.GetHeaders()["X-GitHub-Event"] != "push" {
		t.Fatalf("delivery = %v %v", full, err)
	}
	before := len(e.hooks.hooks())
	if _, resp, err := jwtClient.Apps.RedeliverHookDelivery(ctx, push.GetID()); resp == nil || resp.StatusCode != 202 {
		t.Fatal(err) // go-github reports 202 as *AcceptedError
	}
	rd := e.gh.WaitForDelivery(func(d emulator.Delivery) bool { return d.Redelivery && d.GUID == push.GetGUID() })
	t.Logf("redelivery payload %d bytes, headers %v", len(rd.Payload), rd.RequestHeader)
	got := e.hooks.hooks()
	if len(got) <= before || got[len(got)-1].Delivery != push.GetGUID() {
		t.Errorf("redelivery did not arrive with GUID %s", push.GetGUID())
	}
}

// A user token in Basic auth (login:token) and x-access-token both work
// for git; installation tokens push as the app's bot.
func TestGitAuthAndInstallationPush(t *testing.T) {
	e := newEnv(t)
	seed(t, e)
	tok := e.gh.InstallationToken(e.inst)
	w := clone(t, strings.Replace(e.gh.GitURL("acme/site", tok), "x-access-token", "anyone", 1))
	w.git("checkout", "-q", "-b", "pre-staging")
	sha := w.commit("generated", map[string]string{"public/p.html": "p"})
	w.git("push", "-q", "origin", "pre-staging")
	d := e.gh.WaitForDelivery(pushOf("refs/heads/pre-staging"))
	var p struct {
		After  string
		Sender struct{ Login, Type string }
	}
	d.Decode(&p)
	if p.After != sha || p.Sender.Login != "hoist[bot]" || p.Sender.Type != "Bot" {
		t.Errorf("push by installation = %+v", p)
	}
	// A wrong token is refused by git.
	if _, err := (&work{t, t.TempDir()}).tryGit("clone", "-q", e.gh.GitURL("acme/site", "ghs_wrong"), "."); err == nil {
		t.Error("clone with a wrong token succeeded")
	}
}

// A push and API ref updates racing on the same branch never lose a
// commit: each update is a compare-and-swap, and a refused one leaves the
// branch where the winner put it.
func TestConcurrentPushAndRefUpdatesLoseNothing(t *testing.T) {
	e := newEnv(t)
	w, base := seed(t, e)
	const n = 6
	// Prepare n commits on top of base through the API, each a child of
	// base, and one pushed commit chain.
	var shas []string
	for i := 0; i < n; i++ {
		c := e.json(e.alice, "POST", "/repos/acme/site/git/commits", map[string]any{
			"message": "api " + itoa(int64(i)), "tree": get(e.json(e.alice, "GET", "/repos/acme/site/git/commits/"+base, nil, 200), "tree", "sha"), "parents": []string{base},
		}, 201)
		shas = append(shas, get(c, "sha").(string))
	}
	pushed := w.commit("pushed", map[string]string{"p": "p"})
	var wg sync.WaitGroup
	results := make([]int, n)
	var pushErr error
	wg.Add(n + 1)
	go func() {
		defer wg.Done()
		_, pushErr = w.tryGit("push", "-q", "origin", "HEAD:main")
	}()
	for i := 0; i < n; i++ {
		go func(i int) {
			defer wg.Done()
			results[i], _, _ = e.do(e.alice, "PATCH", "/repos/acme/site/git/refs/heads/main", map[string]any{"sha": shas[i], "force": false})
		}(i)
	}
	wg.Wait()
	final := get(e.json(e.alice, "GET", "/repos/acme/site/git/ref/heads/main", nil, 200), "object", "sha").(string)
	wins := 0
	winner := ""
	for i, st := range results {
		switch st {
		case 200:
			wins++
			winner = shas[i]
		case 422:
		default:
			t.Errorf("update %d answered %d", i, st)
		}
	}
	// All candidates are siblings: exactly one move can be a fast-forward
	// from base, whoever came first (the push or one API update).
	if pushErr == nil {
		wins++
		winner = pushed
	}
	if wins != 1 || final != winner {
		t.Errorf("wins %d, final %s, winner %s (push err %v)", wins, final, winner, pushErr)
	}
	// The push webhooks describe exactly the one change.
	d := e.gh.WaitForDelivery(func(d emulator.Delivery) bool {
		var p struct{ After string }
		d.Decode(&p)
		return d.Event == "push" && p.After == final
	})
	var p struct{ Before string }
	d.Decode(&p)
	if p.Before != base {
		t.Errorf("winning push before = %s, want %s", p.Before, base)
	}
}

func TestFaultsAreSeededAndApplied(t *testing.T) {
	e := newEnv(t)
	seed(t, e)
	set := func(f map[string]any) {
		if v := e.json("", "PUT", "/_emulator/faults", f, 200); v == nil {
			t.Fatal("no body")
		}
	}
	set(map[string]any{"seed": 7, "routes": []map[string]any{{"path": "/repos/{owner}/{repo}/git/ref/{ref}", "error_rate": 1}}})
	if status, _, _ := e.do(e.alice, "GET", "/repos/acme/site/git/ref/heads/main", nil); status != 502 {
		t.Errorf("error_rate 1: %d", status)
	}
	if status, _, _ := e.do(e.alice, "GET", "/repos/acme/site/branches", nil); status != 200 {
		t.Errorf("other route: %d", status)
	}
	set(map[string]any{"routes": []map[string]any{{"method": "GET", "path": "/repos/acme/*", "secondary_rate_limit_rate": 1, "retry_after": 30}}})
	status, hdr, body := e.do(e.alice, "GET", "/repos/acme/site", nil)
	if status != 403 || hdr.Get("Retry-After") != "30" || !strings.Contains(string(body), "secondary rate limit") {
		t.Errorf("secondary rate limit: %d %q %s", status, hdr.Get("Retry-After"), body)
	}
	// Same seed, same answers.
	pattern := func() string {
		set(map[string]any{"seed": 42, "routes": []map[string]any{{"path": "*", "error_rate": 0.5, "error_status": 503}}})
		var b strings.Builder
		for i := 0; i < 20; i++ {
			st, _, _ := e.do(e.alice, "GET", "/repos/acme/site/branches", nil)
			b.WriteString(itoa(int64(st)) + " ")
		}
		return b.String()
	}
	p1, p2 := pattern(), pattern()
	if p1 != p2 || !strings.Contains(p1, "503") || !strings.Contains(p1, "200") {
		t.Errorf("seeded faults differ or degenerate:\n%s\n%s", p1, p2)
	}
	if status, _, _ := e.do("", "PUT", "/_emulator/faults", map[string]any{"webhook_drop_rate": 2}); status != 422 {
		t.Errorf("rate 2 accepted: %d", status)
	}
	// Dropped deliveries are recorded and can be redelivered; duplicates
	// arrive twice with one GUID.
	set(map[string]any{"webhook_drop_rate": 1})
	e.json(e.alice, "POST", "/repos/acme/site/dispatches", map[string]any{"event_type": "dropped"}, 204)
	d := e.gh.WaitForDelivery(func(d emulator.Delivery) bool { return d.Action == "dropped" })
	if !d.Dropped {
		t.Errorf("delivery not marked dropped: %+v", d.Status)
	}
	set(map[string]any{"webhook_duplicate_rate": 1})
	e.json(e.alice, "POST", "/repos/acme/site/dispatches", map[string]any{"event_type": "twice"}, 204)
	d = e.gh.WaitForDelivery(func(d emulator.Delivery) bool { return d.Action == "twice" })
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := 0
		for _, h := range e.hooks.hooks() {
			if h.Delivery == d.GUID {
				n++
			}
		}
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("duplicate arrived %d times", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A failing receiver is retried, and the outcome recorded.
	set(map[string]any{})
	e.hooks.mu.Lock()
	e.hooks.status = 500
	e.hooks.mu.Unlock()
	e.json(e.alice, "POST", "/repos/acme/site/dispatches", map[string]any{"event_type": "failing"}, 204)
	d = e.gh.WaitForDelivery(func(d emulator.Delivery) bool { return d.Action == "failing" })
	if d.StatusCode != 500 || d.Attempts != 4 || d.Status != "Invalid HTTP Response: 500" {
		t.Errorf("failing delivery: %d attempts, status %d %q", d.Attempts, d.StatusCode, d.Status)
	}
}

// Headers and error bodies have the shape of GitHub's recorded answers.
func TestHeadersMatchRecordedExchanges(t *testing.T) {
	e := newEnv(t)
	_, sha := seed(t, e)
	for _, ex := range emulatortest.Fixture(t, "git-refs") {
		if ex.Method != "POST" {
			continue
		}
		status, hdr, body := e.do(e.alice, "POST", "/repos/acme/site/git/refs", map[string]string{"ref": "refs/heads/test", "sha": sha})
		if status != ex.Status {
			t.Errorf("status %d, recorded %d: %s", status, ex.Status, body)
		}
		for _, k := range []string{"Content-Type", "X-Github-Media-Type", "X-Ratelimit-Limit", "X-Ratelimit-Remaining", "X-Ratelimit-Reset", "X-Ratelimit-Used", "X-Ratelimit-Resource", "Location", "Access-Control-Expose-Headers"} {
			if ex.Header.Get(k) == "" {
				continue
			}
			if hdr.Get(k) == "" {
				t.Errorf("header %s missing (recorded %q)", k, ex.Header.Get(k))
			}
		}
		for _, k := range []string{"Content-Type", "X-Github-Media-Type", "X-Ratelimit-Resource", "Access-Control-Expose-Headers"} {
			if hdr.Get(k) != ex.Header.Get(k) {
				t.Errorf("%s = %q, recorded %q", k, hdr.Get(k), ex.Header.Get(k))
			}
		}
		break
	}
	for _, ex := range emulatortest.Fixture(t, "errors") {
		var recorded map[string]any
		if err := jsonUnmarshal(ex.Body, &recorded); err != nil || ex.Status != 422 {
			continue
		}
		_, _, body := e.do(e.alice, "PATCH", "/repos/acme/site/git/refs/heads/main", map[string]any{"sha": "nope"})
		var ours map[string]any
		jsonUnmarshal(body, &ours)
		for k := range recorded {
			if k == "errors" {
				continue
			}
			if _, ok := ours[k]; !ok {
				t.Errorf("422 body lacks %q: %s", k, body)
			}
		}
		_, _, body = e.do(e.alice, "POST", "/repos/acme/site/pulls", map[string]any{"title": "x", "head": "nope", "base": "main"})
		jsonUnmarshal(body, &ours)
		errs, _ := ours["errors"].([]any)
		rec := recorded["errors"].([]any)[0].(map[string]any)
		if len(errs) == 0 {
			t.Fatalf("validation 422 without errors: %s", body)
		}
		for k := range rec {
			if _, ok := errs[0].(map[string]any)[k]; !ok {
				t.Errorf("422 error entry lacks %q: %s", k, body)
			}
		}
	}
}

func TestStateSurvivesRestart(t *testing.T) {
	needGit(t)
	dir := t.TempDir()
	s, err := emulator.New(emulator.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	_, tok, err := s.CreateUser("alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateRepo(emulator.RepoSpec{Owner: "acme", Name: "site", OwnerToken: tok}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateRepo(emulator.RepoSpec{Owner: "acme", Name: "site"}); err == nil {
		t.Error("duplicate repository accepted")
	}
	if _, err := s.CreateApp(emulator.AppSpec{Slug: "x", PublicKeyPEM: "nope"}); err == nil || !strings.Contains(err.Error(), "public_key_pem") {
		t.Errorf("bad key: %v", err)
	}
	s.Close()
	s2, err := emulator.New(emulator.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	srv := httptestServer(t, s2)
	req, _ := http.NewRequest("GET", srv+"/repos/acme/site", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after restart: %v %v", resp.StatusCode, err)
	}
}

func TestInstallationTokensExpireAfterAnHour(t *testing.T) {
	needGit(t)
	now := time.Now()
	var mu sync.Mutex
	gh := emulatortest.Start(t, emulator.Options{Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	alice := gh.CreateUser("alice")
	app := gh.CreateApp("hoist", "")
	gh.CreateRepo("acme", "site", alice)
	inst := gh.Install(app.ID, "acme/site")
	req, _ := http.NewRequest("POST", gh.URL()+"/app/installations/"+itoa(inst)+"/access_tokens", nil)
	req.Header.Set("Authorization", "Bearer "+app.JWT())
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("token: %v %v", resp, err)
	}
	var tok struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	jsonDecode(t, resp, &tok)
	if d := tok.ExpiresAt.Sub(now); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("expires in %v", d)
	}
	get := func() int {
		req, _ := http.NewRequest("GET", gh.URL()+"/repos/acme/site/branches", nil)
		req.Header.Set("Authorization", "token "+tok.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := get(); st != 200 {
		t.Errorf("fresh token: %d", st)
	}
	mu.Lock()
	now = now.Add(61 * time.Minute)
	mu.Unlock()
	if st := get(); st != 401 {
		t.Errorf("expired token: %d, want 401", st)
	}
	// The repository installation lookup needs the app's JWT, not a user token.
	req, _ = http.NewRequest("GET", gh.URL()+"/api/v3/repos/acme/site/installation", nil)
	req.Header.Set("Authorization", "token "+alice)
	if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != 401 {
		t.Errorf("user token on /installation: %d", resp.StatusCode)
	}
	// The root folder of an empty repository's contents is a 404, not a crash.
	req, _ = http.NewRequest("GET", gh.URL()+"/repos/acme/site/contents/", nil)
	req.Header.Set("Authorization", "token "+alice)
	if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != 404 {
		t.Errorf("contents of an empty repository: %d", resp.StatusCode)
	}
}

// A delivery still being retried when the emulator stops is sent after
// it starts again from the same data folder.
func TestPendingDeliveriesResumeAfterRestart(t *testing.T) {
	needGit(t)
	dir := t.TempDir()
	rec := newReceiver(t)
	rec.status = 500
	s, err := emulator.New(emulator.Options{DataDir: dir, WebhookRetries: 100, WebhookBackoff: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptestServer(t, s)
	_, tok, _ := s.CreateUser("alice")
	app, err := s.CreateApp(emulator.AppSpec{Slug: "hoist", WebhookURL: rec.srv.URL, WebhookSecret: "x", PublicKeyPEM: testPublicKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	rec.secret = "x"
	s.CreateRepo(emulator.RepoSpec{Owner: "acme", Name: "site", OwnerToken: tok})
	s.Install(app.ID, "acme/site")
	req, _ := http.NewRequest("POST", srv+"/repos/acme/site/dispatches", strings.NewReader(`{"event_type":"later"}`))
	req.Header.Set("Authorization", "token "+tok)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 204 {
		t.Fatalf("dispatch: %v %v", resp, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(rec.hooks()) < 2 && time.Now().Before(deadline) { // installation, then the dispatch's first attempt
		time.Sleep(10 * time.Millisecond)
	}
	s.Close()
	rec.mu.Lock()
	rec.status = 0
	rec.mu.Unlock()
	s2, err := emulator.New(emulator.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	d, err := s2.WaitDelivery(10*time.Second, func(d emulator.Delivery) bool { return d.Action == "later" })
	if err != nil {
		t.Fatal(err)
	}
	if d.StatusCode != 200 {
		t.Errorf("resumed delivery: %d %s", d.StatusCode, d.Status)
	}
}

// Many requests at once on one pull request: run with -race, this checks
// handlers copy shared state under the lock.
func TestConcurrentRequestsOnOnePull(t *testing.T) {
	e := newEnv(t)
	w, _ := seed(t, e)
	w.git("checkout", "-q", "-b", "dev")
	head := w.commit("dev", map[string]string{"d": "d"})
	w.git("push", "-q", "origin", "dev")
	e.json(e.alice, "POST", "/repos/acme/site/pulls", map[string]any{"title": "t", "head": "dev", "base": "main"}, 201)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			switch i % 4 {
			case 0:
				e.do(e.alice, "POST", "/repos/acme/site/issues/1/comments", map[string]string{"body": "hi"})
			case 1:
				e.do(e.alice, "PATCH", "/repos/acme/site/pulls/1", map[string]string{"title": "t" + itoa(int64(i))})
			case 2:
				e.do(e.alice, "GET", "/repos/acme/site/pulls/1/files", nil)
				e.do(e.alice, "GET", "/repos/acme/site/commits/"+head+"/pulls", nil)
			case 3:
				e.do(e.alice, "GET", "/repos/acme/site/pulls/1", nil)
				e.do(e.alice, "GET", "/repos/acme/site/issues/1/comments", nil)
			}
		}(i)
	}
	wg.Wait()
	if n := len(e.json(e.alice, "GET", "/repos/acme/site/issues/1/comments", nil, 200).([]any)); n != 2 {
		t.Errorf("%d comments, want 2", n)
	}
}

// The request log has every REST request, faults included, with its
// times and the installation that sent it.
func TestRequestLogRecordsTimesAndInstallations(t *testing.T) {
	e := newEnv(t)
	seed(t, e)
	tok := e.gh.InstallationToken(e.inst)
	before := time.Now()
	e.gh.SetFaults(emulator.Faults{Routes: []emulator.RouteFault{{Path: "/repos/acme/site/statuses/*", SecondaryRateLimitNoRetryRate: 1, LatencyMS: 30}}})
	if status, _, _ := e.do(tok, "POST", "/repos/acme/site/statuses/0123456789abcdef0123456789abcdef01234567", map[string]any{"state": "success"}); status != 403 {
		t.Fatalf("faulted write: %d, want 403", status)
	}
	e.gh.SetFaults(emulator.Faults{})
	if status, _, _ := e.do(tok, "GET", "/repos/acme/site", nil); status != 200 {
		t.Fatalf("read: %d", status)
	}
	if status, _, _ := e.do(e.alice, "GET", "/repos/acme/site", nil); status != 200 {
		t.Fatalf("read as alice: %d", status)
	}
	var got []emulator.LoggedRequest
	for _, r := range e.gh.RequestLog() {
		if !r.At.Before(before) {
			got = append(got, r)
		}
	}
	if len(got) != 3 {
		t.Fatalf("%d requests logged, want 3: %+v", len(got), got)
	}
	w, r, a := got[0], got[1], got[2]
	if w.Method != "POST" || w.Path != "/repos/acme/site/statuses/0123456789abcdef0123456789abcdef01234567" || w.Status != 403 || w.Installation != e.inst {
		t.Errorf("faulted write logged as %+v", w)
	}
	if d := w.Done.Sub(w.At); d < 30*time.Millisecond {
		t.Errorf("faulted write answered %s after it arrived, want the 30ms latency", d)
	}
	if r.Method != "GET" || r.Status != 200 || r.Installation != e.inst || r.At.Before(w.Done) {
		t.Errorf("read logged as %+v", r)
	}
	if a.Installation != 0 || a.Status != 200 {
		t.Errorf("alice's read logged as %+v, want installation 0", a)
	}
}
