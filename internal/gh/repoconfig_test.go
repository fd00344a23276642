package gh_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/emulator/emulatortest"
	"github.com/hoist-dev/hoist/internal/gh"
)

const ownYML = "version: 1\nenvironments:\n  dev: { branch: dev }\n  staging: { branch: staging, promote_from: dev, auto: true }\n"
const orgYML = "version: 1\nenvironments:\n  dev: { branch: dev }\n  qa: { branch: qa, promote_from: dev, auto: true }\n"

// configWorld is the emulator with acme/site and acme/.github, an
// installation on both, and a count of the contents reads it served.
type configWorld struct {
	t     *testing.T
	gh    *emulatortest.Harness
	alice *github.Client
	tok   string // alice's token
	repo  *gh.Repo
	mu    sync.Mutex
	reads map[string]int // "owner/name" -> GET contents served
	total int            // every request
}

func startConfigWorld(t *testing.T, conform bool) *configWorld {
	t.Helper()
	var spec *emulatortest.Spec
	if conform {
		spec = emulatortest.Shared(t)
	}
	w := &configWorld{t: t, reads: map[string]int{}}
	var errs []string
	w.gh = emulatortest.Start(t, emulator.Options{
		ObserveResponse: func(method, specPath string, status int, header http.Header, body []byte) {
			if spec != nil && status < 400 {
				if err := spec.CheckResponse(method, specPath, status, header, body); err != nil {
					w.mu.Lock()
					errs = append(errs, fmt.Sprintf("%s %s -> %d: %v", method, specPath, status, err))
					w.mu.Unlock()
				}
			}
		},
	})
	t.Cleanup(func() {
		for _, e := range errs {
			t.Errorf("response outside GitHub's description: %s", e)
		}
	})
	app := w.gh.CreateApp("hoist", "http://127.0.0.1:1/webhook")
	tok := w.gh.CreateUser("alice")
	w.gh.CreateRepo("acme", "site", tok)
	w.gh.CreateRepo("acme", ".github", tok)
	w.alice, w.tok = w.gh.Client(tok), tok
	w.put("site", "README.md", "site\n") // a first commit, so main exists
	w.put(".github", "README.md", "the organization's defaults\n")
	inst := w.gh.Install(app.ID, "acme/site", "acme/.github")
	client := w.gh.InstallationClient(app, inst)
	// Count contents reads on the client's side, per repository.
	base := client.Client().Transport
	counted := github.NewClient(&http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		w.mu.Lock()
		w.total++
		w.mu.Unlock()
		if r.Method == http.MethodGet {
			if _, rest, ok := strings.Cut(r.URL.Path, "/repos/"); ok {
				parts := strings.SplitN(rest, "/", 4)
				if len(parts) >= 3 && parts[2] == "contents" {
					w.mu.Lock()
					w.reads[parts[0]+"/"+parts[1]]++
					w.mu.Unlock()
				}
			}
		}
		return base.RoundTrip(r)
	})})
	counted.BaseURL, counted.UploadURL = client.BaseURL, client.UploadURL
	w.repo = gh.NewRepo(counted, "acme", "site")
	return w
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// put writes a file on main of acme/<name> (a commit per call).
func (w *configWorld) put(name, path, content string) string {
	w.t.Helper()
	ctx := context.Background()
	opts := &github.RepositoryContentFileOptions{Message: github.String("Write " + path), Content: []byte(content), Branch: github.String("main")}
	if f, _, _, err := w.alice.Repositories.GetContents(ctx, "acme", name, path, &github.RepositoryContentGetOptions{Ref: "main"}); err == nil && f != nil {
		opts.SHA = f.SHA
	}
	res, _, err := w.alice.Repositories.CreateFile(ctx, "acme", name, path, opts)
	if err != nil {
		w.t.Fatalf("write %s of acme/%s: %v", path, name, err)
	}
	return res.Commit.GetSHA()
}

func (w *configWorld) readsOf(name string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.reads["acme/"+name]
}

func (w *configWorld) requests() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.total
}

func (w *configWorld) allReads() int { return w.readsOf("site") + w.readsOf(".github") }

func TestConfigLoaderReadsTheRepositorysOwnFileOncePerCommit(t *testing.T) {
	w := startConfigWorld(t, false)
	ctx := context.Background()
	w.put(".github", config.RepoConfigPath, orgYML) // an owner default the repository's own file overrides
	sha := w.put("site", config.RepoConfigPath, ownYML)
	l := gh.NewConfigLoader(0)

	lc, err := l.Load(ctx, w.repo, "main")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := lc.Config.Environments.Get("staging"); !ok {
		t.Fatalf("loaded %v, want the repository's own file", lc.Config.Environments.Names())
	}
	want := gh.ConfigOrigin{Repo: "acme/site", Path: config.RepoConfigPath, SHA: sha}
	if lc.Origin != want {
		t.Errorf("origin = %+v, want %+v", lc.Origin, want)
	}
	if w.readsOf("site") != 1 || w.readsOf(".github") != 0 {
		t.Errorf("contents reads: site %d, .github %d; want 1 and 0", w.readsOf("site"), w.readsOf(".github"))
	}

	// A second evaluation of the same commit reads nothing again.
	before := w.allReads()
	again, err := l.Load(ctx, w.repo, "main")
	if err != nil {
		t.Fatal(err)
	}
	if again != lc || w.allReads() != before {
		t.Errorf("second load: %d more contents reads (same result: %v), want none", w.allReads()-before, again == lc)
	}

	// A push to the default branch is a new commit, hence a new key.
	next := w.put("site", config.RepoConfigPath, strings.Replace(ownYML, "auto: true", "auto: false", 1))
	lc, err = l.Load(ctx, w.repo, "main")
	if err != nil {
		t.Fatal(err)
	}
	if env, _ := lc.Config.Environments.Get("staging"); env.Auto || lc.Origin.SHA != next {
		t.Errorf("after the push: auto %v at %s, want false at %s", env.Auto, lc.Origin.SHA, next)
	}
}

func TestConfigLoaderFallsBackToTheOwnersDotGithubRepository(t *testing.T) {
	w := startConfigWorld(t, true)
	ctx := context.Background()
	orgSHA := w.put(".github", config.RepoConfigPath, orgYML)
	l := gh.NewConfigLoader(0)

	lc, err := l.Load(ctx, w.repo, "main")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := lc.Config.Environments.Get("qa"); !ok {
		t.Fatalf("loaded %v, want the owner's default", lc.Config.Environments.Names())
	}
	want := gh.ConfigOrigin{Repo: "acme/.github", Path: config.RepoConfigPath, SHA: orgSHA, OwnerDefault: true}
	if lc.Origin != want {
		t.Errorf("origin = %+v, want %+v", lc.Origin, want)
	}
	if s := lc.Origin.String(); !strings.Contains(s, "acme/.github") || !strings.Contains(s, orgSHA[:7]) || !strings.Contains(s, "owner's default") {
		t.Errorf("origin reads %q", s)
	}

	// Neither commit moved: nothing is read again (the heads are looked up).
	before := w.allReads()
	for range 3 {
		if again, err := l.Load(ctx, w.repo, "main"); err != nil || again != lc {
			t.Fatalf("load again: %v (same result: %v)", err, again == lc)
		}
	}
	if n := w.allReads() - before; n != 0 {
		t.Errorf("%d contents reads for commits already read, want none", n)
	}

	// A change of the owner's default is a new commit of .github: read it.
	orgNext := w.put(".github", config.RepoConfigPath, strings.Replace(orgYML, "qa", "review", -1))
	lc, err = l.Load(ctx, w.repo, "main")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := lc.Config.Environments.Get("review"); !ok || lc.Origin.SHA != orgNext {
		t.Errorf("after the owner's push: %v at %s, want review at %s", lc.Config.Environments.Names(), lc.Origin.SHA, orgNext)
	}

	// appconfig's own place for an owner default, hoist.yml at the root of
	// .github, comes first.
	rootSHA := w.put(".github", "hoist.yml", orgYML)
	lc, err = l.Load(ctx, w.repo, "main")
	if err != nil {
		t.Fatal(err)
	}
	if lc.Origin.Path != "hoist.yml" || lc.Origin.SHA != rootSHA {
		t.Errorf("origin = %+v, want hoist.yml at %s", lc.Origin, rootSHA)
	}

	// Once the repository has a file of its own, it is the one in force.
	own := w.put("site", config.RepoConfigPath, ownYML)
	lc, err = l.Load(ctx, w.repo, "main")
	if err != nil {
		t.Fatal(err)
	}
	if lc.Origin.OwnerDefault || lc.Origin.Repo != "acme/site" || lc.Origin.SHA != own {
		t.Errorf("origin = %+v, want the repository's own file at %s", lc.Origin, own)
	}
}

func TestConfigLoaderTellsUnreadableFromInvalidFromAbsent(t *testing.T) {
	w := startConfigWorld(t, false)
	ctx := context.Background()
	l := gh.NewConfigLoader(0)

	// Absent everywhere.
	if _, err := l.Load(ctx, w.repo, "main"); !errors.Is(err, gh.ErrNoConfig) {
		t.Fatalf("no file anywhere: %v, want ErrNoConfig", err)
	}

	// A broken owner default (looked for again once the absence is no
	// longer trusted): the mistakes name the .github repository.
	w.put(".github", config.RepoConfigPath, "version: 2\n")
	later := time.Now().Add(gh.OwnerAbsentTTL + time.Second)
	gh.SetConfigClock(l, func() time.Time { return later })
	_, err := l.Load(ctx, w.repo, "main")
	var errs config.RepoConfigErrors
	if !errors.Is(err, gh.ErrInvalidConfig) || !errors.As(err, &errs) || errs[0].File != "acme/.github/"+config.RepoConfigPath {
		t.Fatalf("broken owner default: %v, want ErrInvalidConfig naming acme/.github", err)
	}

	// A broken file of its own: the mistakes, with file, line and column.
	w.put("site", config.RepoConfigPath, "version: 1\nenvironments:\n  dev: { branch: dev, auto: sometimes }\n")
	lc, err := l.Load(ctx, w.repo, "main")
	if !errors.Is(err, gh.ErrInvalidConfig) || !errors.As(err, &errs) || lc == nil || lc.Err == nil {
		t.Fatalf("broken file: %v (loaded %v), want ErrInvalidConfig with the mistakes", err, lc)
	}
	if errs[0].File != config.RepoConfigPath || errs[0].Line != 3 || errs[0].Column == 0 {
		t.Errorf("mistake at %s:%d:%d, want %s:3:<col>", errs[0].File, errs[0].Line, errs[0].Column, config.RepoConfigPath)
	}

	// Could not read: GitHub failing is neither absent nor invalid.
	next := w.put("site", config.RepoConfigPath, ownYML+"# again\n")
	w.gh.SetFaults(emulator.Faults{Routes: []emulator.RouteFault{{Method: "GET", Path: "/repos/{owner}/{repo}/contents/{path}", ErrorRate: 1, ErrorStatus: 502}}})
	_, err = l.LoadAt(ctx, w.repo, next)
	if err == nil || errors.Is(err, gh.ErrNoConfig) || errors.Is(err, gh.ErrInvalidConfig) {
		t.Fatalf("contents API failing: %v, want a load error to retry", err)
	}
	w.gh.SetFaults(emulator.Faults{})
	if lc, err := l.LoadAt(ctx, w.repo, next); err != nil || lc.Origin.SHA != next {
		t.Fatalf("after GitHub recovered: %v", err)
	}
}

func TestConfigLoaderFollowsARemoteReference(t *testing.T) {
	w := startConfigWorld(t, true)
	ctx := context.Background()
	w.put(".github", "shared/site.yml", orgYML)
	w.put("site", config.RepoConfigPath, "remote: acme/.github\npath: shared/site.yml\n")
	l := gh.NewConfigLoader(0)

	lc, err := l.Load(ctx, w.repo, "main")
	if err != nil {
		t.Fatal(err)
	}
	want := gh.ConfigOrigin{Repo: "acme/.github", Path: "shared/site.yml", Ref: "main", Remote: true}
	if lc.Origin != want {
		t.Errorf("origin = %+v, want %+v", lc.Origin, want)
	}
	if _, ok := lc.Config.Environments.Get("qa"); !ok {
		t.Errorf("loaded %v, want the referenced file", lc.Config.Environments.Names())
	}
	// The reference names a branch, which moves without the site's commit
	// moving: it is read again.
	before := w.readsOf(".github")
	w.put(".github", "shared/site.yml", strings.Replace(orgYML, "qa", "review", -1))
	lc, err = l.Load(ctx, w.repo, "main")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := lc.Config.Environments.Get("review"); !ok || w.readsOf(".github") == before {
		t.Errorf("after the referenced file changed: %v", lc.Config.Environments.Names())
	}

	// A reference to nothing is the user's mistake, not a failed read.
	w.put("site", config.RepoConfigPath, "remote: acme/nowhere\n")
	if _, err := l.Load(ctx, w.repo, "main"); !errors.Is(err, gh.ErrInvalidConfig) {
		t.Errorf("reference to a missing repository: %v, want ErrInvalidConfig", err)
	}
}

func TestConfigLoaderReadsOnceForLoadsAtTheSameTime(t *testing.T) {
	w := startConfigWorld(t, false)
	ctx := context.Background()
	sha := w.put("site", config.RepoConfigPath, ownYML)
	l := gh.NewConfigLoader(0)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := l.LoadAt(ctx, w.repo, sha); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := w.readsOf("site"); n != 1 {
		t.Errorf("%d contents reads for eight loads of one commit at once, want 1", n)
	}
}

func TestConfigLoaderTrustsAnAbsentOwnerDefaultForAMinute(t *testing.T) {
	w := startConfigWorld(t, false)
	ctx := context.Background()
	now := time.Now()
	l := gh.NewConfigLoader(0)
	gh.SetConfigClock(l, func() time.Time { return now })

	// Neither the site nor acme/.github has a configuration.
	if _, err := l.Load(ctx, w.repo, "main"); !errors.Is(err, gh.ErrNoConfig) {
		t.Fatalf("no configuration anywhere: %v", err)
	}
	// The same commit again: the head lookup only.
	before := w.requests()
	if _, err := l.Load(ctx, w.repo, "main"); !errors.Is(err, gh.ErrNoConfig) {
		t.Fatal(err)
	}
	if n := w.requests() - before; n != 1 {
		t.Errorf("%d requests for a commit known to have no configuration, want 1 (its head)", n)
	}
	// A new commit of the site: its own file is looked for, the owner's
	// .github is not asked again.
	w.put("site", "README.md", "site, again\n")
	before, reads := w.requests(), w.allReads()
	if _, err := l.Load(ctx, w.repo, "main"); !errors.Is(err, gh.ErrNoConfig) {
		t.Fatal(err)
	}
	if n, r := w.requests()-before, w.allReads()-reads; n != 2 || r != 1 {
		t.Errorf("new commit: %d requests (%d contents reads), want 2 (head and the site's file)", n, r)
	}

	// The organization adds a default: taken once OwnerAbsentTTL has passed.
	orgSHA := w.put(".github", config.RepoConfigPath, orgYML)
	if _, err := l.Load(ctx, w.repo, "main"); !errors.Is(err, gh.ErrNoConfig) {
		t.Fatalf("within the minute: %v, want the absence still trusted", err)
	}
	now = now.Add(gh.OwnerAbsentTTL + time.Second)
	lc, err := l.Load(ctx, w.repo, "main")
	if err != nil {
		t.Fatal(err)
	}
	if !lc.Origin.OwnerDefault || lc.Origin.SHA != orgSHA {
		t.Errorf("origin = %+v, want the owner's default at %s", lc.Origin, orgSHA)
	}
}
