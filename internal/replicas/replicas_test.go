package replicas_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-github/v60/github"
	"github.com/jackc/pgx/v5"

	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/emulator/emulatortest"
	"github.com/hoist-dev/hoist/internal/deploy"
	"github.com/hoist-dev/hoist/internal/server"
	"github.com/hoist-dev/hoist/internal/site"
	"github.com/hoist-dev/hoist/internal/testenv"
)

const (
	replicaCount = 3
	pushes       = 50
	commands     = 30
)

// repoYML: dev is promoted to staging as it moves; the site branch is a
// candidate for live through the smoke gate (pushed once, after the burst).
const repoYML = `version: 1
site: { root: public }
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: true }
  live:    { branch: live, gates: { smoke: true } }
candidates:
  - { from: site, to: live }
smoke:
  viewports: [ { name: desktop, width: 1024, height: 700 } ]
  pages: [ { path: /, expect_text: "Acme" } ]
`

// serverYML: jobs are rescued soon after a replica dies (the default
// waits for the job timeout), and writes are paced at a twentieth of
// GitHub's advised interval, as the other end-to-end tests do.
// Screenshots are kept in an s3 target, shared by the replicas.
const serverYML = `jobs: { poll_interval: 50ms, timeout: 20s, rescue_after: 25s }
github: { write_interval: 50ms, writes_per_minute: 1220 }
targets:
  shots: { type: s3, bucket: shots, endpoint: %q, path_style: true, access_key_id: "${S3_KEY}", secret_access_key: "${S3_SECRET}" }
smoke: { artifacts_target: shots }
dashboard: { client_id: %q, client_secret: "${CLIENT_SECRET}", session_key: "a-session-key-of-thirty-two-byte" }
`

// replica is one hoist serve process.
type replica struct {
	addr    string
	preview string
	cmd     *exec.Cmd
	dead    atomic.Bool
	exited  atomic.Bool
	waited  chan struct{} // closed when the process has exited
	log     *lockedBuffer
}

// lockedBuffer is a process's output, read while the process writes it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proxy is the load balancer in front of the replicas: other requests go
// round-robin; every webhook is sent to every live replica at once (as a
// retrying load balancer or a redelivery racing the first attempt would),
// answered with the first success.
type proxy struct {
	mu       sync.Mutex
	replicas []*replica
	next     atomic.Uint64
	fanned   atomic.Int64
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var targets []*replica
	p.mu.Lock()
	for _, rep := range p.replicas {
		if !rep.dead.Load() {
			targets = append(targets, rep)
		}
	}
	p.mu.Unlock()
	if len(targets) == 0 {
		// Deliveries before the replicas start: GitHub records them as
		// failed, as it would.
		http.Error(w, "no replica", http.StatusServiceUnavailable)
		return
	}
	if r.URL.Path != server.WebhookPath {
		targets = targets[p.next.Add(1)%uint64(len(targets)):][:1]
	} else {
		p.fanned.Add(1)
	}
	type answer struct {
		status int
		header http.Header
		body   []byte
	}
	answers := make(chan answer, len(targets))
	for _, rep := range targets {
		go func() {
			req, _ := http.NewRequestWithContext(r.Context(), r.Method, "http://"+rep.addr+r.URL.RequestURI(), bytes.NewReader(body))
			req.Header = r.Header.Clone()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				answers <- answer{status: http.StatusBadGateway, body: []byte(err.Error())}
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			answers <- answer{resp.StatusCode, resp.Header, b}
		}()
	}
	var best answer
	for range targets {
		a := <-answers
		if best.status == 0 || (a.status < 300 && best.status >= 300) {
			best = a
		}
	}
	for k, v := range best.header {
		w.Header()[k] = v
	}
	w.WriteHeader(best.status)
	w.Write(best.body)
}

// buildHoist builds the hoist binary once for the test.
func buildHoist(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hoist")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/hoist")
	cmd.Dir = testenv.RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Three replicas on one PostgreSQL behind a proxy that sends every webhook
// to all of them, with GitHub duplicating a tenth of its deliveries and one
// replica killed with SIGKILL mid-burst: every command is answered once,
// the environment ends at the last head with one deployment per promoted
// commit, and nothing is lost or doubled.
func TestThreeReplicasActOnceEach(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and three hoist processes")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	start := time.Now()
	bin := buildHoist(t)
	dsn := testenv.Postgres(t)
	gh := emulatortest.Start(t)
	t.Logf("built hoist, started PostgreSQL and the emulator in %s", time.Since(start).Round(time.Millisecond))

	p := &proxy{}
	front := httptest.NewServer(p)
	t.Cleanup(front.Close)
	app := gh.CreateApp("hoist", front.URL+server.WebhookPath)
	aliceToken := gh.CreateUser("alice")
	gh.CreateRepo("acme", "site", aliceToken)
	gh.Install(app.ID, "acme/site")
	alice := gh.Client(aliceToken)

	endpoint, s3key, s3secret := testenv.VersityGW(t)
	shots, err := deploy.NewS3Target(context.Background(), deploy.TargetConfig{Type: "s3", Bucket: "shots", Endpoint: endpoint, PathStyle: true,
		AccessKeyID: s3key, SecretAccessKey: s3secret}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := shots.Client().CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("shots")}); err != nil {
		t.Fatal(err)
	}
	chromium := testenv.Chromium(t)

	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "hoist-server.yml")
	if err := os.WriteFile(cfgFile, []byte(fmt.Sprintf(serverYML, endpoint, app.ClientID)), 0o600); err != nil {
		t.Fatal(err)
	}
	// Each replica serves previews on its own listener; the links name
	// one preview origin (a host other than public_url's, as hoist asks).
	previewAddrs := make([]string, replicaCount)
	for i := range previewAddrs {
		previewAddrs[i] = freeAddr(t)
	}
	_, previewPort, _ := net.SplitHostPort(previewAddrs[0])
	for i := range replicaCount {
		rep := &replica{addr: freeAddr(t), preview: previewAddrs[i], log: &lockedBuffer{}}
		cmd := exec.Command(bin, "serve", "--config", cfgFile)
		cmd.Env = append(os.Environ(),
			"HOIST_ADDR="+rep.addr, "HOIST_PUBLIC_URL="+front.URL, "HOIST_DATA_DIR="+filepath.Join(dir, fmt.Sprint("data", i)),
			"HOIST_APP_ID="+strconv.FormatInt(app.ID, 10), "HOIST_PRIVATE_KEY="+string(app.PrivateKeyPEM),
			"HOIST_WEBHOOK_SECRET="+app.WebhookSecret, "HOIST_GITHUB_URL="+gh.URL()+"/", "HOIST_LOG_LEVEL=warn",
			"HOIST_DATABASE_URL="+dsn, "HOIST_CHROMIUM="+chromium, "HOIST_PREVIEW_ADDR="+rep.preview,
			"HOIST_PREVIEW_URL=http://localhost:"+previewPort, "S3_KEY="+s3key, "S3_SECRET="+s3secret,
			"CLIENT_SECRET="+app.ClientSecret)
		cmd.Stdout, cmd.Stderr = rep.log, rep.log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		rep.cmd, rep.waited = cmd, make(chan struct{})
		go func() { cmd.Wait(); rep.exited.Store(true); close(rep.waited) }()
		p.mu.Lock()
		p.replicas = append(p.replicas, rep)
		p.mu.Unlock()
		t.Cleanup(func() {
			if !rep.exited.Load() {
				_ = cmd.Process.Signal(syscall.SIGTERM)
				select {
				case <-rep.waited:
				case <-time.After(30 * time.Second):
					_ = cmd.Process.Kill()
					t.Errorf("replica %s did not stop on SIGTERM", rep.addr)
				}
			}
			if t.Failed() {
				t.Logf("replica %s:\n%s", rep.addr, tail(rep.log.String(), 4000))
			}
		})
	}
	// All three start together on the empty database.
	for _, rep := range p.replicas {
		waitHealthy(t, rep)
	}
	t.Logf("three replicas serving after %s", time.Since(start).Round(time.Millisecond))

	ctx := context.Background()
	work := filepath.Join(dir, "work")
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = work
		if args[0] == "clone" {
			cmd.Dir = ""
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("clone", "-q", gh.GitURL("acme/site", aliceToken), work)
	git("config", "user.email", "alice@example.com")
	git("config", "user.name", "Alice")
	commit := func(path, content, msg string) string {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(work, path)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, path), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		git("add", path)
		git("commit", "-q", "-m", msg)
		return git("rev-parse", "HEAD")
	}
	commit(".github/hoist.yml", repoYML, "Configure hoist")
	commit("public/index.html", "<!doctype html><title>Acme</title><h1>Acme</h1>", "A site")
	git("push", "-q", "--atomic", "origin", "HEAD:main", "HEAD:dev", "HEAD:staging")
	// A pull request to comment on.
	commit("public/feature.html", "feature", "Feature")
	git("push", "-q", "origin", "HEAD:feature")
	git("reset", "-q", "--hard", "HEAD~1")
	pr, _, err := alice.PullRequests.Create(ctx, "acme", "site", &github.NewPullRequest{
		Title: github.String("Feature"), Head: github.String("feature"), Base: github.String("main")})
	if err != nil {
		t.Fatal(err)
	}

	gh.SetFaults(emulator.Faults{Seed: 15, WebhookDuplicateRate: 0.1})
	burst := time.Now()
	var comments []int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	// Commands, in their own goroutine, while the pushes run.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range commands {
			c, _, err := alice.Issues.CreateComment(ctx, "acme", "site", pr.GetNumber(), &github.IssueComment{Body: github.String("/status")})
			if err != nil {
				t.Errorf("comment %d: %v", i, err)
				return
			}
			mu.Lock()
			comments = append(comments, c.GetID())
			mu.Unlock()
			time.Sleep(150 * time.Millisecond)
		}
	}()
	var last string
	for i := range pushes {
		last = commit(fmt.Sprintf("public/page%02d.html", i), fmt.Sprintf("<h1>page %d</h1>", i), fmt.Sprintf("Page %d", i))
		git("push", "-q", "origin", "HEAD:dev")
		if i == pushes/2 {
			// Mid-burst, one replica dies without a goodbye: its
			// connections drop, its running jobs stay marked running.
			victim := p.replicas[1]
			victim.dead.Store(true)
			if err := victim.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			<-victim.waited
			t.Logf("replica %s killed after %d pushes", victim.addr, i+1)
		}
	}
	wg.Wait()
	t.Logf("%d pushes and %d commands sent in %s", pushes, len(comments), time.Since(burst).Round(time.Millisecond))

	db, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(context.Background()) })

	// Every command answered, once.
	eventually(t, 120*time.Second, func() (bool, string) {
		var done int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM command_runs WHERE status = 'done' AND reply_id <> 0`).Scan(&done); err != nil {
			return false, err.Error()
		}
		return done == commands, fmt.Sprintf("%d of %d commands answered", done, commands)
	})
	var runs int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM command_runs`).Scan(&runs); err != nil {
		t.Fatal(err)
	}
	if runs != commands {
		t.Errorf("%d command runs for %d commands", runs, commands)
	}
	// The environment ends at the last head.
	eventually(t, 120*time.Second, func() (bool, string) {
		b, _, err := alice.Repositories.GetBranch(ctx, "acme", "site", "staging", 0)
		if err != nil {
			return false, err.Error()
		}
		return b.GetCommit().GetSHA() == last, fmt.Sprintf("staging at %s, dev at %s", b.GetCommit().GetSHA(), last)
	})
	eventually(t, 60*time.Second, func() (bool, string) {
		var n int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM pending_publications`).Scan(&n); err != nil {
			return false, err.Error()
		}
		return n == 0, fmt.Sprintf("%d publications pending", n)
	})
	time.Sleep(2 * time.Second) // late duplicates would land now
	t.Logf("settled %s after the burst", time.Since(burst).Round(time.Millisecond))

	replies := 0
	cs, err := listComments(ctx, alice, pr.GetNumber())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.GetUser().GetLogin() == "hoist[bot]" {
			replies++
		}
	}
	if replies != commands {
		t.Errorf("%d replies from hoist for %d commands", replies, commands)
	}
	for _, id := range comments {
		rs, _, err := alice.Reactions.ListIssueCommentReactions(ctx, "acme", "site", id, nil)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for _, r := range rs {
			if r.GetUser().GetLogin() == "hoist[bot]" {
				seen[r.GetContent()]++
			}
		}
		for content, n := range seen {
			if n != 1 {
				t.Errorf("comment %d: %d %q reactions from hoist", id, n, content)
			}
		}
		if len(seen) == 0 {
			t.Errorf("comment %d: no reaction from hoist", id)
		}
	}

	// Linear history: hoist only fast-forwards.
	git("fetch", "-q", "origin")
	if merges := git("rev-list", "--merges", "origin/staging"); merges != "" {
		t.Errorf("merge commits on staging: %s", merges)
	}
	// One deployment per promoted commit, and none of a commit not promoted.
	promoted := map[string]int{}
	rows, err := db.Query(ctx, `SELECT sha FROM audit_log WHERE env = 'staging' AND outcome = 'promoted'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var sha string
		if err := rows.Scan(&sha); err != nil {
			t.Fatal(err)
		}
		promoted[sha]++
	}
	rows.Close()
	for sha, n := range promoted {
		if n != 1 {
			t.Errorf("%s promoted %d times", sha[:7], n)
		}
	}
	if promoted[last] != 1 {
		t.Errorf("the last head %s was not promoted once: %v", last[:7], promoted)
	}
	deps := map[string]int{}
	for _, d := range allDeployments(t, alice, "staging") {
		deps[d.GetSHA()]++
	}
	for sha, n := range deps {
		if n != 1 {
			t.Errorf("%d deployments of staging at %s", n, sha[:7])
		}
		if promoted[sha] == 0 && sha != git("rev-parse", "origin/main") {
			t.Errorf("deployment of staging at %s, which hoist did not promote", sha[:7])
		}
	}
	for sha := range promoted {
		if deps[sha] != 1 {
			t.Errorf("promoted %s has %d deployments", sha[:7], deps[sha])
		}
	}
	for _, d := range allDeployments(t, alice, "dev") {
		deps["dev "+d.GetSHA()]++
	}
	for k, n := range deps {
		if strings.HasPrefix(k, "dev ") && n != 1 {
			t.Errorf("%d deployments of dev at %s", n, k[4:11])
		}
	}
	checkShared(t, p, gh, alice, app.PrivateKeyPEM, front.URL, commit, git)

	var dups, deliveries int
	if err := db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE duplicates > 0), count(*) FROM deliveries`).Scan(&dups, &deliveries); err != nil {
		t.Fatal(err)
	}
	if dups == 0 {
		t.Error("no delivery was received twice; the test proves nothing")
	}
	t.Logf("%d deliveries, %d received more than once (%d webhook posts fanned out to every replica); %d promotions of staging, %d dev deployments; %s in all",
		deliveries, dups, p.fanned.Load(), len(promoted), len(deps)-len(promoted), time.Since(start).Round(time.Millisecond))
}

func listComments(ctx context.Context, c *github.Client, number int) ([]*github.IssueComment, error) {
	var out []*github.IssueComment
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for {
		cs, resp, err := c.Issues.ListComments(ctx, "acme", "site", number, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

func allDeployments(t *testing.T, c *github.Client, env string) []*github.Deployment {
	t.Helper()
	var out []*github.Deployment
	opts := &github.DeploymentsListOptions{Environment: env, ListOptions: github.ListOptions{PerPage: 100}}
	for {
		ds, resp, err := c.Repositories.ListDeployments(context.Background(), "acme", "site", opts)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ds...)
		if resp.NextPage == 0 {
			return out
		}
		opts.Page = resp.NextPage
	}
}

func waitHealthy(t *testing.T, rep *replica) {
	t.Helper()
	eventually(t, 90*time.Second, func() (bool, string) {
		if rep.exited.Load() {
			t.Fatalf("replica %s exited: %s", rep.addr, rep.log.String())
		}
		resp, err := http.Get("http://" + rep.addr + "/healthz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
}

func eventually(t *testing.T, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	var why string
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var ok bool
		if ok, why = cond(); ok {
			return
		}
	}
	t.Fatalf("timed out: %s", why)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// checkShared tests what a person is handed after a smoke run on one
// replica: the screenshot URL and a preview link work from every live
// replica (the screenshots are in the shared bucket; a replica whose
// mirror lacks the commit fetches it).
func checkShared(t *testing.T, p *proxy, gh *emulatortest.Harness, alice *github.Client, key []byte, front string, commit func(path, content, msg string) string, git func(args ...string) string) {
	t.Helper()
	ctx := context.Background()
	sha := commit("public/index.html", "<!doctype html><title>Acme</title><h1>Acme, live</h1>", "The live site")
	git("push", "-q", "origin", "HEAD:site")
	var run emulator.CheckRun
	eventually(t, 120*time.Second, func() (bool, string) {
		res, _, err := alice.Checks.ListCheckRunsForRef(ctx, "acme", "site", sha, &github.ListCheckRunsOptions{CheckName: github.String("hoist/smoke")})
		if err != nil {
			return false, err.Error()
		}
		for _, cr := range res.CheckRuns {
			if cr.GetStatus() == "completed" {
				var ok bool
				run, ok = gh.CheckRunState(cr.GetID())
				return ok, "check run not in the emulator"
			}
		}
		return false, "no completed hoist/smoke check run on " + sha[:7]
	})
	if run.Conclusion != "success" || len(run.Output.Images) == 0 {
		t.Fatalf("smoke run: %s %q, %d images", run.Conclusion, run.Output.Title, len(run.Output.Images))
	}
	shot := fmt.Sprint(run.Output.Images[0]["image_url"])
	if !strings.HasPrefix(shot, front+"/artifacts/") {
		t.Fatalf("screenshot URL %q is not hoist's", shot)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("hoist preview links v1"))
	signer, err := site.NewAccessSigner(m.Sum(nil), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	link := signer.Sign("acme/site", sha, time.Now())
	for _, rep := range p.replicas {
		if rep.dead.Load() {
			continue
		}
		u := "http://" + rep.addr + strings.TrimPrefix(shot, front)
		status, ctype, body := get(t, ctx, u)
		if status != http.StatusOK || ctype != "image/png" || !bytes.HasPrefix(body, []byte("\x89PNG")) {
			t.Errorf("screenshot from replica %s: %d %s", rep.addr, status, ctype)
		}
		status, _, body = get(t, ctx, "http://"+rep.preview+link)
		if status != http.StatusOK || !strings.Contains(string(body), "Acme, live") {
			t.Errorf("preview link from replica %s: %d %.200s", rep.addr, status, body)
		}
	}
}

func get(t *testing.T, ctx context.Context, u string) (int, string, []byte) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}
