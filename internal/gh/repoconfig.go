package gh

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/appconfig"

	"github.com/hoist-dev/hoist/config"
)

// OwnerConfigRepo is the repository of an owner (organisation or user)
// whose configuration applies to every repository of the owner that has
// none of its own.
const OwnerConfigRepo = ".github"

// ownerConfigPaths are where the owner's default lives in OwnerConfigRepo:
// appconfig's convention (the path with ".github/" removed) first, then the
// path a repository would use, as GitHub accepts both for the files of a
// .github repository.
var ownerConfigPaths = []string{strings.TrimPrefix(config.RepoConfigPath, ".github/"), config.RepoConfigPath}

// OwnerAbsentTTL is how long the loader trusts that an owner has no
// default: unlike a file at a commit, the absence of a .github repository
// has no commit to key it by, and re-checking it on every event would cost
// a repository without any configuration two extra requests each time.
const OwnerAbsentTTL = time.Minute

// DefaultConfigCacheSize bounds a ConfigLoader's cache when none is given.
const DefaultConfigCacheSize = 512

var (
	// ErrNoConfig: neither the repository nor its owner's .github
	// repository has a configuration; hoist leaves the repository alone.
	ErrNoConfig = errors.New("no " + config.RepoConfigPath)
	// ErrInvalidConfig marks a configuration that was read but is wrong:
	// for the user to fix, not for a retry to overcome.
	ErrInvalidConfig = errors.New("invalid configuration")
)

// ConfigOrigin says where a configuration was read.
type ConfigOrigin struct {
	// Repo is "owner/name" of the repository holding the file: the
	// repository itself, its owner's .github repository, or the target of
	// a `remote:` reference.
	Repo string
	Path string
	// SHA is the commit the file was read at; Ref the branch or ref named
	// when it is not a commit (a remote reference to a branch).
	SHA string
	Ref string
	// OwnerDefault is set when the repository has no file of its own and
	// its owner's .github repository provided it; Remote when the file
	// was a `remote:` reference that was followed.
	OwnerDefault bool
	Remote       bool
}

// String names the origin for check runs and logs, e.g.
// "acme/.github hoist.yml at 1a2b3c4 (the owner's default)".
func (o ConfigOrigin) String() string {
	s := o.Repo + " " + o.Path
	switch {
	case o.SHA != "":
		s += " at " + short(o.SHA)
	case o.Ref != "":
		s += " at " + o.Ref
	}
	switch {
	case o.OwnerDefault:
		s += " (the owner's default)"
	case o.Remote:
		s += " (a remote reference)"
	}
	return s
}

// File is the name mistakes are reported under: the path for the
// repository's own file, the repository and path for any other.
func (o ConfigOrigin) File() string {
	if o.OwnerDefault || o.Remote {
		return o.Repo + "/" + o.Path
	}
	return o.Path
}

// LoadedConfig is a configuration read from GitHub and parsed. It is
// cached and shared by every caller: read it, never modify it.
type LoadedConfig struct {
	Origin ConfigOrigin
	Data   []byte
	// Config is the parsed configuration, nil when Err is set.
	Config *config.RepoConfig
	// Err is what is wrong with the file: a config.RepoConfigErrors
	// (file:line:col) or a bad remote reference.
	Err error
}

// InvalidConfigError is the error of a configuration that was read but
// does not parse. It matches ErrInvalidConfig and unwraps to the mistakes.
type InvalidConfigError struct {
	Loaded *LoadedConfig
}

func (e *InvalidConfigError) Error() string {
	return config.RepoConfigPath + " from " + e.Loaded.Origin.String() + ": " + e.Loaded.Err.Error()
}

// Unwrap gives ErrInvalidConfig and the mistakes.
func (e *InvalidConfigError) Unwrap() []error { return []error{ErrInvalidConfig, e.Loaded.Err} }

// ConfigLoader reads repository configurations through go-githubapp's
// appconfig (the repository's own .github/hoist.yml, a `remote:` reference,
// or the owner's .github repository) and caches them by the commit they
// were read at: the file of a commit never changes, so an event of a busy
// repository costs one head lookup and no read or parse, and a push to the
// default branch changes the key by itself. Safe for concurrent use.
type ConfigLoader struct {
	ld    *appconfig.Loader
	own   *appconfig.Loader // the repository's own file only (its owner has no default)
	pin   *appconfig.Loader // reads the owner's default at a commit
	cache *lru
	now   func() time.Time

	// inflight holds the loads under way, so that the jobs a push starts
	// at once read its configuration once.
	mu       sync.Mutex
	inflight map[string]*flight
}

type flight struct {
	done chan struct{}
	lc   *LoadedConfig
	err  error
}

// NewConfigLoader returns a loader whose cache holds at most size entries
// (DefaultConfigCacheSize when size <= 0).
func NewConfigLoader(size int) *ConfigLoader {
	if size <= 0 {
		size = DefaultConfigCacheSize
	}
	return &ConfigLoader{
		ld:       appconfig.NewLoader([]string{config.RepoConfigPath}, appconfig.WithOwnerDefault(OwnerConfigRepo, ownerConfigPaths)),
		own:      appconfig.NewLoader([]string{config.RepoConfigPath}, appconfig.WithOwnerDefault("", nil)),
		pin:      appconfig.NewLoader(ownerConfigPaths, appconfig.WithOwnerDefault("", nil)),
		cache:    newLRU(size),
		now:      time.Now,
		inflight: map[string]*flight{},
	}
}

// Load reads the configuration in force on branch, the repository's
// default branch ("" asks GitHub for HEAD). The error is ErrNoConfig when
// there is none, an *InvalidConfigError (with the LoadedConfig also
// returned) when it does not parse, and anything else when it could not be
// read (network, 5xx, rate limits): retry.
func (l *ConfigLoader) Load(ctx context.Context, repo *Repo, branch string) (*LoadedConfig, error) {
	var head string
	var err error
	if branch == "" {
		head, err = repo.ResolveCommit(ctx, "HEAD")
	} else {
		head, err = repo.BranchHead(ctx, branch)
	}
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%s has no default branch yet: %w", repo.FullName(), ErrNoConfig)
	}
	if err != nil {
		return nil, fmt.Errorf("load %s of %s: %w", config.RepoConfigPath, repo.FullName(), err)
	}
	return l.LoadAt(ctx, repo, head)
}

// LoadAt is Load at a given commit of the repository.
func (l *ConfigLoader) LoadAt(ctx context.Context, repo *Repo, sha string) (*LoadedConfig, error) {
	key := repoKey(repo, sha)
	l.mu.Lock()
	f, busy := l.inflight[key]
	if !busy {
		f = &flight{done: make(chan struct{})}
		l.inflight[key] = f
	}
	l.mu.Unlock()
	if busy {
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	} else {
		f.lc, f.err = l.loadAt(ctx, repo, sha)
		l.mu.Lock()
		delete(l.inflight, key)
		l.mu.Unlock()
		close(f.done)
	}
	lc, err := f.lc, f.err
	if err != nil {
		return nil, fmt.Errorf("load %s of %s at %s: %w", config.RepoConfigPath, repo.FullName(), short(sha), err)
	}
	return result(lc)
}

func result(lc *LoadedConfig) (*LoadedConfig, error) {
	if lc == nil {
		return nil, ErrNoConfig
	}
	if lc.Err != nil {
		return lc, &InvalidConfigError{Loaded: lc}
	}
	return lc, nil
}

// repoEntry is what the cache knows of a repository at a commit: its own
// configuration, or (own nil) that it has none.
type repoEntry struct{ own *LoadedConfig }

// ownerEntry is the owner's default at a commit of its .github repository.
type ownerEntry struct{ lc *LoadedConfig }

func repoKey(repo *Repo, sha string) string {
	return "repo " + strings.ToLower(repo.FullName()) + "@" + sha
}
func ownerKey(owner, sha string) string {
	return "owner " + strings.ToLower(owner) + "/" + OwnerConfigRepo + "@" + sha
}
func branchKey(owner string) string { return "branch " + strings.ToLower(owner) }
func absentKey(owner string) string { return "absent " + strings.ToLower(owner) }

// ownerAbsent reports whether owner was found without a default less than
// OwnerAbsentTTL ago.
func (l *ConfigLoader) ownerAbsent(owner string) bool {
	v, ok := l.cache.get(absentKey(owner))
	return ok && l.now().Before(v.(time.Time))
}

func (l *ConfigLoader) loadAt(ctx context.Context, repo *Repo, sha string) (*LoadedConfig, error) {
	v, known := l.cache.get(repoKey(repo, sha))
	if known && v.(repoEntry).own != nil {
		return v.(repoEntry).own, nil
	}
	absent := l.ownerAbsent(repo.Owner)
	if known && absent {
		return nil, nil
	}
	// The head of the owner's .github repository before anything is read,
	// so that a default is cached only under the commit it was certainly
	// read at (its branch is remembered from an earlier load).
	owners := &Repo{Client: repo.Client, Owner: repo.Owner, Name: OwnerConfigRepo}
	var before string
	if b, ok := l.cache.get(branchKey(repo.Owner)); ok && !absent {
		h, err := owners.BranchHead(ctx, b.(string))
		switch {
		case errors.Is(err, ErrNotFound):
			l.cache.remove(branchKey(repo.Owner))
		case err != nil:
			return nil, err
		default:
			before = h
		}
	}
	if known && before != "" {
		if v, ok := l.cache.get(ownerKey(repo.Owner, before)); ok {
			return v.(ownerEntry).lc, nil
		}
	}

	ld := l.ld
	if absent {
		ld = l.own
	}
	c, err := ld.LoadConfig(ctx, repo.Client, repo.Owner, repo.Name, sha)
	if err != nil {
		return invalidRemote(c, err)
	}
	if c.IsUndefined() {
		l.cache.put(repoKey(repo, sha), repoEntry{})
		if !absent {
			l.cache.put(absentKey(repo.Owner), l.now().Add(OwnerAbsentTTL))
		}
		return nil, nil
	}
	srcRepo, srcRef, _ := strings.Cut(c.Source, "@")
	origin := ConfigOrigin{Repo: srcRepo, Path: c.Path, Ref: srcRef, Remote: c.IsRemote}
	own := !c.IsRemote && strings.EqualFold(srcRepo, repo.FullName())
	fromOwner := !c.IsRemote && strings.EqualFold(srcRepo, repo.Owner+"/"+OwnerConfigRepo)
	switch {
	case own:
		origin.SHA, origin.Ref = sha, ""
		lc := parse(origin, c.Content)
		l.cache.put(repoKey(repo, sha), repoEntry{own: lc})
		return lc, nil
	case fromOwner:
		l.cache.put(repoKey(repo, sha), repoEntry{})
		l.cache.put(branchKey(repo.Owner), srcRef)
		after, err := owners.BranchHead(ctx, srcRef)
		if err != nil {
			return nil, err
		}
		data := c.Content
		if after != before {
			// The default may have been read before a push that the head
			// now shows: read it again at that commit.
			pc, err := l.pin.LoadConfig(ctx, repo.Client, repo.Owner, OwnerConfigRepo, after)
			if err != nil {
				return invalidRemote(pc, err)
			}
			if pc.IsUndefined() {
				return nil, nil
			}
			if pc.IsRemote {
				ro := ConfigOrigin{Path: pc.Path, Remote: true}
				ro.Repo, ro.Ref, _ = strings.Cut(pc.Source, "@")
				return parse(ro, pc.Content), nil
			}
			origin.Path, data = pc.Path, pc.Content
		}
		origin.SHA, origin.Ref, origin.OwnerDefault = after, "", true
		lc := parse(origin, data)
		l.cache.put(ownerKey(repo.Owner, after), ownerEntry{lc: lc})
		return lc, nil
	default:
		// A remote reference names a branch, not a commit, so its result
		// is not cached: the next event reads it again.
		return parse(origin, c.Content), nil
	}
}

// invalidRemote tells a bad `remote:` reference (the user's mistake, for
// the hoist/config check) from a failed read (retried).
func invalidRemote(c appconfig.Config, err error) (*LoadedConfig, error) {
	var ge *github.ErrorResponse
	if errors.As(err, &ge) || !strings.Contains(err.Error(), "invalid remote") {
		return nil, err
	}
	origin := ConfigOrigin{Path: c.Path, Remote: c.IsRemote}
	origin.Repo, origin.Ref, _ = strings.Cut(c.Source, "@")
	return &LoadedConfig{Origin: origin, Err: config.RepoConfigErrors{{File: origin.File(), Line: 1, Column: 1, Message: err.Error()}}}, nil
}

func parse(origin ConfigOrigin, data []byte) *LoadedConfig {
	cfg, err := config.LoadRepoConfig(origin.File(), data)
	return &LoadedConfig{Origin: origin, Data: data, Config: cfg, Err: err}
}

// lru is a small bounded map that forgets the least recently used entry.
type lru struct {
	mu    sync.Mutex
	max   int
	order *list.List // front: most recently used
	items map[string]*list.Element
}

type lruItem struct {
	key string
	val any
}

func newLRU(max int) *lru {
	return &lru{max: max, order: list.New(), items: map[string]*list.Element{}}
}

func (c *lru) get(key string) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*lruItem).val, true
}

func (c *lru) put(key string, val any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		e.Value.(*lruItem).val = val
		c.order.MoveToFront(e)
		return
	}
	c.items[key] = c.order.PushFront(&lruItem{key: key, val: val})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*lruItem).key)
	}
}

func (c *lru) remove(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.order.Remove(e)
		delete(c.items, key)
	}
}

func (c *lru) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
