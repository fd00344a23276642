// Package demo plays hoist's flow once on embedded defaults, with no
// credentials: the GitHub emulator, a hoist server on SQLite in a scratch
// folder installed on a sample repository, a promotion dev → staging once
// CI passes, a generated
// sample site served on a private loopback listener, a smoke test of it in
// headless Chromium with screenshots published as artifacts, and a signed
// webhook delivered, persisted and handled exactly once. Each step is timed
// and reported; the demo succeeds only if every step did.
package demo

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"embed"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/internal/flow"
	"github.com/hoist-dev/hoist/internal/ghemu"
	"github.com/hoist-dev/hoist/internal/server"
	"github.com/hoist-dev/hoist/internal/site"
	"github.com/hoist-dev/hoist/internal/smoke"
)

//go:embed sample
var sample embed.FS

// Options configure one demo run.
type Options struct {
	// DataDir holds the database, artifacts and the sample site; empty means
	// a fresh temporary folder, removed afterwards unless Keep.
	DataDir string
	// Addr is where hoist listens (loopback by default, on a free port).
	Addr string
	// ChromiumPath overrides the browser found on the machine.
	ChromiumPath string
	// Keep serves until ctx is cancelled after the flow has run.
	Keep bool
	// Log receives hoist's own logs; the demo's steps go to the report.
	Log zerolog.Logger
	// OnStep is called as each step ends, for live output.
	OnStep func(Step)
}

// Step is one stage of the flow.
type Step struct {
	Name     string            `json:"name"`
	OK       bool              `json:"ok"`
	Millis   int64             `json:"ms"`
	Detail   string            `json:"detail"`
	Links    map[string]string `json:"links,omitempty"`
	ErrorMsg string            `json:"error,omitempty"`
}

// LinkNames are the step's link names in a stable order.
func (s Step) LinkNames() []string {
	names := make([]string, 0, len(s.Links))
	for k := range s.Links {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Report is the whole run, printed as text or JSON.
type Report struct {
	OK        bool   `json:"ok"`
	HoistURL  string `json:"hoist_url"`
	DataDir   string `json:"data_dir"`
	Steps     []Step `json:"steps"`
	TotalMS   int64  `json:"total_ms"`
	StartedAt string `json:"started_at"`
}

const webhookSecret = "demo-webhook-secret"

// Run plays the flow and returns its report. The error is for setup
// failures that prevent a report; a failed step is reported in Report.OK.
func Run(ctx context.Context, o Options) (*Report, error) {
	start := time.Now()
	rep := &Report{StartedAt: start.UTC().Format(time.RFC3339)}
	dataDir := o.DataDir
	if dataDir == "" {
		d, err := os.MkdirTemp("", "hoist-demo-")
		if err != nil {
			return nil, fmt.Errorf("demo: data folder: %w", err)
		}
		dataDir = d
		if !o.Keep {
			defer os.RemoveAll(d)
		}
	}
	rep.DataDir = dataDir
	r := &runner{opts: o, rep: rep, dataDir: dataDir}
	defer r.close()

	ok := r.step("start the GitHub emulator", r.startEmulator) &&
		r.step("start hoist on SQLite", r.startServer) &&
		r.step("create acme/site and install hoist", r.createRepo) &&
		r.step("generate the sample site", r.generateSite) &&
		r.step("serve the candidate privately", r.servePreview) &&
		r.step("smoke-test in headless Chromium", func(s *Step) error { return r.smokeTest(ctx, s) }) &&
		r.step("deliver a signed push webhook", r.deliverPush) &&
		r.step("redeliver it: handled once", r.redeliver) &&
		r.step("refuse a forged webhook", r.refuseForged) &&
		r.step("push a change to dev", r.pushDev) &&
		r.step("CI passes: staging promoted", r.promoteStaging)
	rep.OK = ok
	rep.TotalMS = time.Since(start).Milliseconds()
	if ok && o.Keep {
		<-ctx.Done()
	}
	return rep, nil
}

type runner struct {
	opts    Options
	rep     *Report
	dataDir string

	srv      *server.Server
	cancel   context.CancelFunc
	done     chan error
	url      string
	siteDir  string
	preview  *site.Preview
	artifact *smoke.DirStore
	delivery string
	payload  []byte

	ln       net.Listener
	emu      *ghemu.Server
	app      *ghemu.App
	appKey   []byte
	alice    *github.Client
	aliceTok string
	work     string
	devSHA   string

	installation int64
}

func (r *runner) step(name string, fn func(*Step) error) bool {
	s := Step{Name: name}
	t0 := time.Now()
	err := fn(&s)
	s.Millis = time.Since(t0).Milliseconds()
	s.OK = err == nil
	if err != nil {
		s.ErrorMsg = err.Error()
	}
	r.rep.Steps = append(r.rep.Steps, s)
	if r.opts.OnStep != nil {
		r.opts.OnStep(s)
	}
	return s.OK
}

func (r *runner) close() {
	defer func() {
		if r.emu != nil {
			_ = r.emu.Close()
		}
	}()
	if r.preview != nil {
		_ = r.preview.Close()
	}
	if r.cancel != nil {
		r.cancel()
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
		}
	}
}

func (r *runner) startServer(s *Step) error {
	ln := r.ln
	env := map[string]string{
		"HOIST_ADDR":           ln.Addr().String(),
		"HOIST_PUBLIC_URL":     r.url,
		"HOIST_DATA_DIR":       filepath.Join(r.dataDir, "hoist"),
		"HOIST_APP_ID":         strconv.FormatInt(r.app.ID, 10),
		"HOIST_PRIVATE_KEY":    string(r.appKey),
		"HOIST_WEBHOOK_SECRET": webhookSecret,
		"HOIST_GITHUB_URL":     r.emu.URL() + "/",
	}
	cfg, err := config.LoadServer("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		ln.Close()
		return err
	}
	cfg.Jobs.PollInterval = 100 * time.Millisecond
	artifacts, err := smoke.NewDirStore(filepath.Join(r.dataDir, "hoist", "artifacts"))
	if err != nil {
		ln.Close()
		return err
	}
	r.artifact = artifacts
	log := r.opts.Log
	ctx, cancel := context.WithCancel(context.Background())
	// The flow serves GET /artifacts/ from <data_dir>/artifacts, the folder
	// above.
	opts := server.Options{Logger: &log, Listener: ln}
	promotions := flow.New()
	promotions.Attach(&opts)
	srv, err := server.New(ctx, cfg, opts)
	if err != nil {
		cancel()
		ln.Close()
		return err
	}
	promotions.Start(srv)
	r.srv, r.cancel, r.done = srv, cancel, make(chan error, 1)
	go func() { r.done <- srv.Run(ctx) }()
	if err := waitFor(20*time.Second, func() bool {
		res, err := http.Get(r.url + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	}); err != nil {
		return fmt.Errorf("hoist did not become ready: %w", err)
	}
	s.Detail = "listening on " + r.url + ", database " + filepath.Join(r.dataDir, "hoist", "hoist.db")
	s.Links = map[string]string{"health": r.url + "/readyz", "metrics": r.url + "/metrics"}
	return nil
}

// startEmulator runs the GitHub emulator and registers hoist as an App whose
// webhooks go to hoist's listener, opened first so its address is known.
func (r *runner) startEmulator(s *Step) error {
	addr := r.opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	r.ln = ln
	r.url = "http://" + ln.Addr().String()
	r.rep.HoistURL = r.url
	emu, err := ghemu.New(ghemu.Options{DataDir: filepath.Join(r.dataDir, "github")})
	if err != nil {
		return err
	}
	if err := emu.Start("127.0.0.1:0"); err != nil {
		return err
	}
	r.emu = emu
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	r.appKey = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	r.app, err = emu.CreateApp(ghemu.AppSpec{Slug: "hoist", WebhookURL: r.url + server.WebhookPath, WebhookSecret: webhookSecret,
		PublicKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))})
	if err != nil {
		return err
	}
	s.Detail = "GitHub's REST API, git smart HTTP and signed webhooks at " + emu.URL()
	return nil
}

const demoConfig = `version: 1
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: true,
             gates: { checks: ["ci / test"] } }
`

func (r *runner) createRepo(s *Step) error {
	_, tok, err := r.emu.CreateUser("alice")
	if err != nil {
		return err
	}
	r.aliceTok = tok
	if _, err := r.emu.CreateRepo(ghemu.RepoSpec{Owner: "acme", Name: "site", OwnerToken: tok}); err != nil {
		return err
	}
	inst, err := r.emu.Install(r.app.ID, "acme/site")
	if err != nil {
		return err
	}
	r.installation = inst
	c, err := github.NewClient(nil).WithAuthToken(tok).WithEnterpriseURLs(r.emu.URL()+"/", r.emu.URL()+"/")
	if err != nil {
		return err
	}
	r.alice = c
	u, _ := url.Parse(r.emu.URL() + "/acme/site.git")
	u.User = url.UserPassword("x-access-token", tok)
	r.work = filepath.Join(r.dataDir, "work")
	if err := git("", "clone", "-q", u.String(), r.work); err != nil {
		return err
	}
	for _, args := range [][]string{{"config", "user.email", "alice@example.com"}, {"config", "user.name", "Alice"}} {
		if err := git(r.work, args...); err != nil {
			return err
		}
	}
	if err := writeFile(filepath.Join(r.work, ".github", "hoist.yml"), demoConfig); err != nil {
		return err
	}
	if err := commitAll(r.work, "Configure hoist: dev → staging once CI passes"); err != nil {
		return err
	}
	for _, b := range []string{"main", "dev", "staging"} {
		if err := git(r.work, "push", "-q", "origin", "HEAD:"+b); err != nil {
			return err
		}
	}
	s.Detail = "branches main, dev, staging with .github/hoist.yml (staging promoted from dev when \"ci / test\" passes)"
	return nil
}

func (r *runner) pushDev(s *Step) error {
	if err := writeFile(filepath.Join(r.work, "public", "index.html"), "<h1>Acme Shop</h1><p>Spring catalogue</p>\n"); err != nil {
		return err
	}
	if err := commitAll(r.work, "Spring catalogue"); err != nil {
		return err
	}
	if err := git(r.work, "push", "-q", "origin", "HEAD:dev"); err != nil {
		return err
	}
	sha, err := gitOut(r.work, "rev-parse", "HEAD")
	if err != nil {
		return err
	}
	r.devSHA = sha
	s.Detail = "dev is at " + sha[:7] + "; hoist waits for its check"
	return nil
}

func (r *runner) promoteStaging(s *Step) error {
	ctx := context.Background()
	_, _, err := r.alice.Repositories.CreateStatus(ctx, "acme", "site", r.devSHA,
		&github.RepoStatus{State: github.String("success"), Context: github.String("ci / test")})
	if err != nil {
		return err
	}
	var head string
	if err := waitFor(30*time.Second, func() bool {
		ref, _, err := r.alice.Git.GetRef(ctx, "acme", "site", "heads/staging")
		if err == nil {
			head = ref.GetObject().GetSHA()
		}
		return head == r.devSHA
	}); err != nil {
		return fmt.Errorf("staging is at %.7s, not %.7s: %w", head, r.devSHA, err)
	}
	// The deployment is recorded right after the ref moves.
	var deps []*github.Deployment
	if err := waitFor(10*time.Second, func() bool {
		deps, _, err = r.alice.Repositories.ListDeployments(ctx, "acme", "site", &github.DeploymentsListOptions{Environment: "staging"})
		return err == nil && len(deps) > 0
	}); err != nil {
		return fmt.Errorf("no GitHub deployment recorded for staging: %w", err)
	}
	s.Detail = fmt.Sprintf("staging fast-forwarded to %.7s (compare-and-swap) and deployment %d recorded", r.devSHA, deps[0].GetID())
	s.Links = map[string]string{"staging ref": r.emu.URL() + "/repos/acme/site/git/ref/heads/staging"}
	return nil
}

func git(dir string, args ...string) error {
	_, err := gitOut(dir, args...)
	return err
}

func gitOut(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", args[0], err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

func commitAll(dir, msg string) error {
	if err := git(dir, "add", "-A"); err != nil {
		return err
	}
	return git(dir, "commit", "-q", "-m", msg)
}

func writeFile(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(content), 0o644)
}

func (r *runner) generateSite(s *Step) error {
	r.siteDir = filepath.Join(r.dataDir, "site")
	n := 0
	err := fs.WalkDir(sample, "sample", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(r.siteDir, strings.TrimPrefix(p, "sample"))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := sample.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		return fmt.Errorf("write sample site: %w", err)
	}
	s.Detail = fmt.Sprintf("%d files in %s", n, r.siteDir)
	return nil
}

func (r *runner) servePreview(s *Step) error {
	tree, err := site.NewDirTree(r.siteDir)
	if err != nil {
		return err
	}
	p, err := site.ServePreview(context.Background(), tree)
	if err != nil {
		return err
	}
	r.preview = p
	s.Detail = fmt.Sprintf("%d files on a loopback listener only the browser uses (%s)", len(tree.Entries()), p.URL())
	return nil
}

func (r *runner) smokeTest(ctx context.Context, s *Step) error {
	rep, err := smoke.Run(ctx, smoke.Options{
		BaseURL: r.preview.URL(),
		Pages: []smoke.Page{
			{Path: "/", ExpectText: "Shop"},
			{Path: "/products/", ExpectSelector: ".product"},
			{Path: "/about/", ExpectText: "About"},
		},
		Viewports:    []smoke.Viewport{smoke.DesktopViewport, {Name: "mobile", Width: 390, Height: 844}},
		Crawl:        smoke.Crawl{MaxPages: 10},
		ChromiumPath: r.opts.ChromiumPath,
	})
	if err != nil {
		return err
	}
	s.Links = map[string]string{}
	for _, p := range rep.Pages {
		if p.Screenshot == nil {
			continue
		}
		// Screenshots are public artifacts (GitHub's image proxy fetches them);
		// the site itself stays on the private listener.
		sha, err := r.artifact.Put(ctx, p.Screenshot.PNG)
		if err != nil {
			return fmt.Errorf("store screenshot of %s: %w", p.Key(), err)
		}
		s.Links["screenshot "+p.Key()] = r.url + "/artifacts/" + sha + ".png"
	}
	s.Detail = fmt.Sprintf("%s in %d ms (%s)", rep.Title, rep.DurationMS, rep.Conclusion)
	if rep.Conclusion != smoke.Success {
		return fmt.Errorf("smoke test concluded %s: %s", rep.Conclusion, rep.Title)
	}
	return nil
}

func (r *runner) deliverPush(s *Step) error {
	r.delivery = newUUID()
	r.payload = pushPayload(r.installation)
	code, err := r.post(r.delivery, "push", r.payload, sign(webhookSecret, r.payload))
	if err != nil {
		return err
	}
	if code != http.StatusAccepted {
		return fmt.Errorf("hoist answered %d, want 202", code)
	}
	var status string
	if err := waitFor(20*time.Second, func() bool {
		d, err := r.srv.Store().GetDelivery(context.Background(), r.delivery)
		status = d.Status
		return err == nil && d.Status == "handled"
	}); err != nil {
		return fmt.Errorf("delivery %s not handled (status %q): %w", r.delivery, status, err)
	}
	s.Detail = "202 Accepted after the delivery was persisted; a worker handled it (delivery " + r.delivery + ")"
	return nil
}

func (r *runner) redeliver(s *Step) error {
	code, err := r.post(r.delivery, "push", r.payload, sign(webhookSecret, r.payload))
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("redelivery answered %d, want 200", code)
	}
	d, err := r.srv.Store().GetDelivery(context.Background(), r.delivery)
	if err != nil {
		return err
	}
	if d.Duplicates != 1 || d.Status != "handled" {
		return fmt.Errorf("after redelivery: status %q, duplicates %d", d.Status, d.Duplicates)
	}
	s.Detail = "200 OK, recorded as a duplicate; the handler did not run again"
	return nil
}

func (r *runner) refuseForged(s *Step) error {
	id := newUUID()
	code, err := r.post(id, "push", r.payload, sign("not-the-secret", r.payload))
	if err != nil {
		return err
	}
	if code != http.StatusUnauthorized {
		return fmt.Errorf("forged webhook answered %d, want 401", code)
	}
	if _, err := r.srv.Store().GetDelivery(context.Background(), id); err == nil {
		return errors.New("forged webhook was stored")
	}
	s.Detail = "401 Unauthorized, nothing stored"
	return nil
}

func (r *runner) post(id, event string, body []byte, signature string) (int, error) {
	req, err := http.NewRequest(http.MethodPost, r.url+server.WebhookPath, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", id)
	req.Header.Set("X-Hub-Signature-256", signature)
	req.Header.Set("User-Agent", "GitHub-Hookshot/hoist-demo")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, nil
}

func sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// pushPayload is a push to a branch no environment reads, shaped as GitHub
// sends it, so the handler has nothing to promote.
func pushPayload(installation int64) []byte {
	sha := strings.Repeat("a1", 20)
	p := map[string]any{
		"ref": "refs/heads/notes", "before": strings.Repeat("0", 40), "after": sha,
		"created": true, "deleted": false, "forced": false,
		"repository": map[string]any{"id": 1, "name": "site", "full_name": "acme/site",
			"owner": map[string]any{"login": "acme", "id": 1}, "default_branch": "main"},
		"sender":       map[string]any{"login": "site-builder", "id": 2, "type": "User"},
		"installation": map[string]any{"id": installation},
		"head_commit":  map[string]any{"id": sha, "message": "Meeting notes"},
		"commits":      []any{},
	}
	b, _ := json.Marshal(p)
	return b
}

func waitFor(limit time.Duration, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if cond() {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("gave up after %s", limit)
}

// Text renders the report for a terminal.
func (rep *Report) Text() string {
	var b strings.Builder
	for i, s := range rep.Steps {
		mark := "ok  "
		if !s.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(&b, "%s %d. %-36s %6d ms  %s\n", mark, i+1, s.Name, s.Millis, s.Detail)
		if s.ErrorMsg != "" {
			fmt.Fprintf(&b, "        error: %s\n", s.ErrorMsg)
		}
		for _, k := range s.LinkNames() {
			fmt.Fprintf(&b, "        %s: %s\n", k, s.Links[k])
		}
	}
	verdict := "every step succeeded"
	if !rep.OK {
		verdict = "a step failed"
	}
	fmt.Fprintf(&b, "\n%s in %d ms; hoist at %s\n", verdict, rep.TotalMS, rep.HoistURL)
	return b.String()
}
