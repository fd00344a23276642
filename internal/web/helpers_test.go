package web_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/emulator/emulatortest"
	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/hoisttest"
	"github.com/hoist-dev/hoist/internal/repoconfig"
	"github.com/hoist-dev/hoist/internal/smoke"
	"github.com/hoist-dev/hoist/internal/store"
	"github.com/hoist-dev/hoist/internal/web"
)

const shopConfig = `version: 1
environments:
  dev:        { branch: dev }
  staging:    { branch: staging, promote_from: dev, auto: true, deploy: { url: "https://staging.shop.example/" },
                gates: { checks: ["ci / test"], smoke: true } }
  production: { branch: main, promote_from: staging, deploy: { url: "https://shop.example/" },
                gates: { checks: ["ci / test"], smoke: true } }
candidates:
  - { from: pre-staging, to: staging }
`

// world is GitHub (the emulator, reached through a proxy that counts
// requests) with acme/shop using hoist, acme/plain without
// .github/hoist.yml and acme/broken with a file that does not load, all
// installed for the App; hoist's store; and the dashboard bound to both.
type world struct {
	t     testing.TB
	gh    *emulatortest.Harness
	app   *emulatortest.TestApp
	inst  int64
	alice *github.Client
	// bot acts as the App's installation, as hoist does.
	bot   *gh.Repo
	st    *store.Store
	cc    githubapp.ClientCreator
	calls atomic.Int64
	clock *clock
	dash  *web.Dashboard
	srv   *httptest.Server
	heads map[string]string
	// auth signs people in with the emulator; client is alice's browser,
	// signed in.
	auth   *web.Auth
	client *http.Client
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newWorld(t testing.TB, holds web.HoldSource) *world {
	t.Helper()
	w := &world{t: t, clock: &clock{t: time.Now()}, heads: map[string]string{}}
	ws := hoisttest.Start(t, hoisttest.Spec{Repos: []string{"shop", "plain", "broken"}})
	w.gh, w.app, w.inst = ws.GH, ws.App, ws.InstallationID
	w.alice = ws.User()
	w.put("shop", "main", config.RepoConfigPath, shopConfig, "Configure hoist")
	w.put("plain", "main", "README.md", "plain", "Initial commit")
	w.put("broken", "main", config.RepoConfigPath, "version: 1\nenvironments:\n  dev: { brnch: dev }\n", "Configure hoist")

	target, _ := url.Parse(w.gh.URL())
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.calls.Add(1)
		proxy.ServeHTTP(rw, r)
	}))
	t.Cleanup(front.Close)
	cc, err := gh.NewClientCreator(&serverconfig.Server{GitHub: serverconfig.GitHub{URL: front.URL + "/api/v3/", AppID: w.app.ID,
		PrivateKey: string(w.app.PrivateKeyPEM), Timeout: time.Minute}}, gh.RateLimitOptions{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	w.cc = cc
	w.bot = gh.NewRepo(w.gh.InstallationClient(w.app, w.inst), "acme", "shop")

	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	w.st, err = store.Open(context.Background(), store.Options{SQLitePath: filepath.Join(t.TempDir(), "hoist.db"), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.st.Close() })
	mux := http.NewServeMux()
	w.srv = httptest.NewServer(mux)
	t.Cleanup(w.srv.Close)
	w.auth = newAuth(t, w.gh, w.app, w.srv.URL, w.clock.Now)
	w.dash = web.NewDashboard(web.DashboardOptions{Holds: holds, Logger: log, Now: w.clock.Now, TTL: 15 * time.Second, Access: w.auth,
		Audit: w.st, Clients: w.cc, Configs: repoconfig.New(repoconfig.Deps{Clients: w.cc, Store: w.st})})
	w.dash.Mount(mux)
	w.auth.Mount(mux)
	w.client = w.signIn("alice")
	return w
}

// sessionKey signs the test's session cookies.
var sessionKey = []byte("0123456789abcdef0123456789abcdef")

// newAuth is sign-in with the emulator for the origin at base, whose
// callback the App registers.
func newAuth(t testing.TB, gh *emulatortest.Harness, app *emulatortest.TestApp, base string, now func() time.Time) *web.Auth {
	t.Helper()
	gh.SetCallbackURLs(app.ID, base+web.CallbackPath)
	a, err := web.NewAuth(web.AuthOptions{ClientID: app.ClientID, ClientSecret: app.ClientSecret, SessionKey: sessionKey,
		GitHubWebURL: gh.URL(), GitHubAPIURL: gh.URL() + "/", BaseURL: base, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// signIn is a browser that signed in to the dashboard as login, through
// GitHub's web flow on the emulator. It stops short of the page it is sent
// back to, so that signing in reads nothing of GitHub's state yet.
func (w *world) signIn(login string) *http.Client {
	w.t.Helper()
	c := w.gh.SignedInClient(login)
	c.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), w.srv.URL+"/") && req.URL.Path != web.CallbackPath {
			return http.ErrUseLastResponse
		}
		return nil
	}
	res, err := c.Get(w.srv.URL + web.LoginPath + "?next=/repos/acme/shop")
	if err != nil {
		w.t.Fatal(err)
	}
	res.Body.Close()
	c.CheckRedirect = nil
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != w.srv.URL+"/repos/acme/shop" {
		w.t.Fatalf("sign in as %s: %d to %q", login, res.StatusCode, res.Header.Get("Location"))
	}
	return c
}

// put commits a file to a branch of acme/<repo> as alice and returns the
// commit.
func (w *world) put(repo, branch, path, content, msg string) string {
	w.t.Helper()
	opts := &github.RepositoryContentFileOptions{Message: github.String(msg), Content: []byte(content), Branch: github.String(branch)}
	if f, _, _, err := w.alice.Repositories.GetContents(context.Background(), "acme", repo, path,
		&github.RepositoryContentGetOptions{Ref: branch}); err == nil && f != nil {
		opts.SHA = f.SHA
	}
	res, _, err := w.alice.Repositories.CreateFile(context.Background(), "acme", repo, path, opts)
	if err != nil {
		w.t.Fatalf("commit %s to %s/%s: %v", path, repo, branch, err)
	}
	return res.GetSHA()
}

// branch creates a branch of acme/shop at sha.
func (w *world) branch(name, sha string) {
	w.t.Helper()
	if err := w.bot.FastForward(context.Background(), name, sha); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) head(branch string) string {
	w.t.Helper()
	sha, err := w.bot.BranchHead(context.Background(), branch)
	if err != nil {
		w.t.Fatal(err)
	}
	return sha
}

// deploy records a deployment of sha to env as hoist's publish does.
func (w *world) deploy(env, sha, state, envURL string) {
	w.t.Helper()
	ctx := context.Background()
	d, err := w.bot.CreateDeployment(ctx, sha, env, "promote "+sha[:7]+" to "+env, env == "production", nil)
	if err != nil {
		w.t.Fatal(err)
	}
	if err := w.bot.SetDeploymentStatus(ctx, d.ID, state, envURL, "", env+" is at "+sha[:7]); err != nil {
		w.t.Fatal(err)
	}
}

// smokeRun posts a completed hoist/smoke check run on sha as client (the
// App's installation unless another app's), with screenshots both as
// output images and in the summary, as the check output does.
func (w *world) smokeRun(client *github.Client, sha, conclusion, title string, shots map[string]string) int64 {
	w.t.Helper()
	var images []*github.CheckRunImage
	summary := "| page | screenshot |\n|---|---|\n"
	for alt, u := range shots {
		images = append(images, &github.CheckRunImage{Alt: github.String(alt), ImageURL: github.String(u)})
		summary += "| " + alt + " | ![" + alt + "](" + u + ") |\n"
	}
	cr, _, err := client.Checks.CreateCheckRun(context.Background(), "acme", "shop", github.CreateCheckRunOptions{
		Name: "hoist/smoke", HeadSHA: sha, Status: github.String("completed"), Conclusion: github.String(conclusion),
		CompletedAt: &github.Timestamp{Time: time.Now()},
		Output:      &github.CheckRunOutput{Title: github.String(title), Summary: github.String(summary), Images: images},
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return cr.GetID()
}

func (w *world) audit(e store.AuditEntry) {
	w.t.Helper()
	e.Repo = "acme/shop"
	if err := w.st.Audit(context.Background(), e); err != nil {
		w.t.Fatal(err)
	}
}

// get fetches a dashboard page as alice.
func (w *world) get(path string) (int, string) {
	w.t.Helper()
	return w.getAs(w.client, path)
}

// getAs fetches a dashboard page with a browser (redirects followed).
func (w *world) getAs(c *http.Client, path string) (int, string) {
	w.t.Helper()
	res, err := c.Get(w.srv.URL + path)
	if err != nil {
		w.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		w.t.Errorf("GET %s: Content-Type %q", path, ct)
	}
	return res.StatusCode, string(b)
}

// artifacts serves screenshots as hoist does, at /artifacts/<sha256>.png.
func artifacts(t testing.TB, pngs ...[]byte) (base string, urls []string) {
	t.Helper()
	ds, err := smoke.NewDirStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(smoke.ArtifactHandler(ds))
	t.Cleanup(srv.Close)
	for _, p := range pngs {
		sha, err := ds.Put(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		urls = append(urls, srv.URL+"/artifacts/"+sha+".png")
	}
	return srv.URL, urls
}

// testPNG is a small image of one colour.
func testPNG(c color.RGBA) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 64, 40))
	for y := 0; y < 40; y++ {
		for x := 0; x < 64; x++ {
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	_ = png.Encode(&b, img)
	return b.Bytes()
}

// fixedAccess is an Access with one signed-in person who reads the
// repositories listed (lower-case owner/name → installation).
type fixedAccess map[string]int64

func (fixedAccess) Require(http.ResponseWriter, *http.Request) (*web.Session, bool) {
	return &web.Session{Login: "tester"}, true
}

func (f fixedAccess) Readable(context.Context, *web.Session) (map[string]int64, error) { return f, nil }

// holdList is a HoldSource over a fixed list.
type holdList []web.Hold

func (h holdList) ActiveHolds(_ context.Context, repo string, _ time.Time) ([]web.Hold, error) {
	if repo != "acme/shop" {
		return nil, nil
	}
	return h, nil
}
