// Package emulator is a GitHub emulator for tests and demos: a REST subset with
// GitHub's JSON shapes, real bare git repositories served over git smart
// HTTP, GitHub App authentication (RS256 JWTs, expiring installation
// tokens) and signed webhooks delivered in order with retries.
//
// State (users, apps, installations, pulls, comments, checks, statuses,
// deployments, deliveries) lives in memory behind one mutex and is saved as
// a JSON snapshot in the data folder; git is the truth for refs and objects.
// Every REST route is declared once in a table with its OpenAPI path
// template, which serves both routing and conformance tests.
package emulator

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Options configure an emulator.
type Options struct {
	// DataDir holds the bare repositories (repos/<owner>/<name>.git) and the
	// state snapshot (state.json). Required.
	DataDir string
	// BaseURL is the address clients use, e.g. http://127.0.0.1:8080. When
	// empty it is taken from Start's listener or the first request's Host.
	BaseURL string
	// Logger receives operational logs; the zero value logs nothing.
	Logger zerolog.Logger
	// Seed seeds the fault-injection random source, for reproducible runs.
	Seed int64
	// ObserveResponse, when set, sees every REST response served through
	// the route table with the route's OpenAPI path template (conformance
	// tests validate them against GitHub's description).
	ObserveResponse func(method, specPath string, status int, header http.Header, body []byte)
	// ObserveWebhook, when set, sees every webhook payload before it is sent.
	ObserveWebhook func(event, action string, payload []byte)
	// Now replaces the clock (tests); defaults to time.Now.
	Now func() time.Time
	// WebhookRetries is how many times a failed delivery is retried
	// (default 3), WebhookBackoff the first pause between attempts
	// (default 200ms, doubling).
	WebhookRetries int
	WebhookBackoff time.Duration
}

// Server is an emulator. It is an http.Handler.
type Server struct {
	opts   Options
	log    zerolog.Logger
	routes []*route

	base atomic.Pointer[string] // set once: Options.BaseURL, Start's listener or the first request

	mu    sync.Mutex // guards st, rng
	st    *state
	rng   *rand.Rand
	locks map[string]*sync.Mutex // per-repository git locks (lock before mu)

	hooks *sender
	cats  catFiles
	rate  rateBook
	// reqLog records every REST request with its times (RequestLog).
	reqLog requestLog

	// Sign-in state of the web flow (oauth.go), kept in memory: codes
	// not yet exchanged, and the emulator's browser sessions.
	oauthCodes  map[string]oauthCode
	webSessions map[string]string
	// manifestCodes are the App manifest flow's pending codes (manifest.go).
	manifestCodes map[string]manifestCode

	dirty     chan struct{} // a snapshot is wanted
	stopSaver chan struct{}
	saverDone chan struct{}
	closeOnce sync.Once

	srv      *http.Server
	listener net.Listener
}

// New opens (or creates) an emulator over opts.DataDir.
func New(opts Options) (*Server, error) {
	if opts.DataDir == "" {
		return nil, errors.New("emulator: Options.DataDir is required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.WebhookRetries == 0 {
		opts.WebhookRetries = 3
	}
	if opts.WebhookBackoff == 0 {
		opts.WebhookBackoff = 200 * time.Millisecond
	}
	if err := os.MkdirAll(filepath.Join(opts.DataDir, "repos"), 0o755); err != nil {
		return nil, fmt.Errorf("emulator: data folder: %w", err)
	}
	st, err := loadState(filepath.Join(opts.DataDir, stateFile))
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts:  opts,
		log:   opts.Logger,
		st:    st,
		rng:   rand.New(rand.NewSource(opts.Seed)),
		locks: map[string]*sync.Mutex{},
	}
	if opts.BaseURL != "" {
		s.setBase(strings.TrimRight(opts.BaseURL, "/"))
	}
	s.routes = s.routeTable()
	sortRoutes(s.routes)
	s.hooks = newSender(s)
	s.dirty, s.stopSaver, s.saverDone = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	go s.saver()
	// Deliveries the last run had not finished are sent now.
	for _, d := range s.st.Deliveries {
		if !d.Done {
			key := "app"
			if d.Repo != "" {
				key = strings.ToLower(d.Repo)
			}
			s.hooks.enqueue(key, d)
		}
	}
	return s, nil
}

// Start serves the emulator on addr ("127.0.0.1:0" picks a free port) until
// Close.
func (s *Server) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("emulator: listen %s: %w", addr, err)
	}
	s.listener = ln
	s.setBase("http://" + ln.Addr().String())
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error().Err(err).Msg("emulator server stopped")
		}
	}()
	return nil
}

// URL is the emulator's base address (no trailing slash).
func (s *Server) URL() string {
	return s.baseURL()
}

// Close stops the listener (if started) and the webhook sender, and saves
// the state.
func (s *Server) Close() error {
	var err error
	if s.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = s.srv.Shutdown(ctx)
		cancel()
	}
	s.hooks.close()
	s.cats.close()
	s.closeOnce.Do(func() { close(s.stopSaver) })
	<-s.saverDone
	if serr := s.save(); serr != nil && err == nil {
		err = serr
	}
	return err
}

// ServeHTTP dispatches git smart HTTP, the admin API and REST.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.setBase("http://" + r.Host)
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/_emulator/"):
		s.serveAdmin(w, r)
	case p == "/login/oauth/authorize" && r.Method == http.MethodGet:
		s.serveAuthorize(w, r)
	case p == "/login/oauth/access_token" && r.Method == http.MethodPost:
		s.serveAccessToken(w, r)
	case isManifestPath(p) && r.Method == http.MethodPost:
		s.serveManifest(w, r)
	case strings.HasPrefix(p, "/codeload/"):
		s.serveCodeload(w, r)
	case isGitPath(p):
		s.serveGit(w, r)
	default:
		s.serveREST(w, r)
	}
}

func (s *Server) now() time.Time { return s.opts.Now().UTC().Truncate(time.Second) }

// repoLock returns the lock that serializes ref changes of one repository:
// pushes, REST ref updates and merges take it so that ref snapshots taken
// around a push see only that push's changes.
func (s *Server) repoLock(fullName string) *sync.Mutex {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(fullName)
	l, ok := s.locks[key]
	if !ok {
		l = &sync.Mutex{}
		s.locks[key] = l
	}
	return l
}

// gitFor is the git access to a repository, sharing its object reader.
func (s *Server) gitFor(r *Repo) gitRepo {
	return gitRepo{dir: s.repoDir(r.Owner, r.Name), cats: &s.cats}
}

func (s *Server) repoDir(owner, name string) string {
	return filepath.Join(s.opts.DataDir, "repos", strings.ToLower(owner), strings.ToLower(name)+".git")
}

func (s *Server) setBase(u string) { s.base.CompareAndSwap(nil, &u) }

func (s *Server) baseURL() string {
	if p := s.base.Load(); p != nil {
		return *p
	}
	return ""
}
