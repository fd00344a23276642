package site

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultAccessTTL is how long a temporary access link works unless the
// server config says otherwise.
const DefaultAccessTTL = 30 * time.Minute

// AccessPrefix is where AccessHandler expects to be mounted.
const AccessPrefix = "/preview/"

// MinAccessSecret is the shortest secret NewAccessSigner accepts.
const MinAccessSecret = 32

var (
	// ErrAccessExpired is returned by Verify for a link past its expiry.
	ErrAccessExpired = errors.New("preview link expired")
	// ErrAccessInvalid is returned by Verify for a link whose signature does
	// not match: tampered, or signed with another secret.
	ErrAccessInvalid = errors.New("preview link signature invalid")
	// ErrAccessMalformed is returned when a path is not an access link.
	ErrAccessMalformed = errors.New("not a preview link")
)

// AccessSigner makes and checks temporary access links: an HMAC-SHA256 over
// the repository, the commit and the expiry. Temporary access is off unless
// the server is given a signer.
type AccessSigner struct {
	secret []byte
	ttl    time.Duration
}

// NewAccessSigner returns a signer with secret (at least MinAccessSecret
// bytes) whose links last ttl (DefaultAccessTTL when zero).
func NewAccessSigner(secret []byte, ttl time.Duration) (*AccessSigner, error) {
	if len(secret) < MinAccessSecret {
		return nil, fmt.Errorf("preview access secret: %d bytes, need at least %d", len(secret), MinAccessSecret)
	}
	if ttl < 0 {
		return nil, fmt.Errorf("preview access ttl %s: must not be negative", ttl)
	}
	if ttl == 0 {
		ttl = DefaultAccessTTL
	}
	return &AccessSigner{secret: append([]byte(nil), secret...), ttl: ttl}, nil
}

// TTL is how long the links of this signer last.
func (s *AccessSigner) TTL() time.Duration { return s.ttl }

// AccessLink is a parsed temporary access link.
type AccessLink struct {
	Repo    string // owner/name
	SHA     string // commit
	Expires time.Time
	Sig     string // base64url HMAC
}

var (
	repoPart = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}$`)
	shaRE    = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)
)

func validRepoSHA(repo, sha string) error {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || !repoPart.MatchString(owner) || !repoPart.MatchString(name) || name == "." || name == ".." {
		return fmt.Errorf("repository %q: want owner/name", repo)
	}
	if !shaRE.MatchString(sha) {
		return fmt.Errorf("commit %q: want a full lowercase hex SHA", sha)
	}
	return nil
}

func (s *AccessSigner) mac(repo, sha string, expires int64) string {
	m := hmac.New(sha256.New, s.secret)
	// A fixed label and newline separators keep the fields unambiguous.
	fmt.Fprintf(m, "hoist-preview-v1\n%s\n%s\n%d", repo, sha, expires)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Sign returns the path of a link to the site of repo at sha, valid from now
// for the signer's TTL: /preview/<owner>/<name>/<sha>/<expiry>/<signature>/.
// It panics on a malformed repo or sha, which callers take from GitHub.
func (s *AccessSigner) Sign(repo, sha string, now time.Time) string {
	if err := validRepoSHA(repo, sha); err != nil {
		panic("site: Sign: " + err.Error())
	}
	exp := now.Add(s.ttl).Unix()
	return AccessPrefix + repo + "/" + sha + "/" + strconv.FormatInt(exp, 10) + "/" + s.mac(repo, sha, exp) + "/"
}

// Verify checks the link's signature (in constant time) and then its expiry.
func (s *AccessSigner) Verify(l AccessLink, now time.Time) error {
	if err := validRepoSHA(l.Repo, l.SHA); err != nil {
		return fmt.Errorf("%w: %v", ErrAccessMalformed, err)
	}
	want := s.mac(l.Repo, l.SHA, l.Expires.Unix())
	if !hmac.Equal([]byte(want), []byte(l.Sig)) {
		return ErrAccessInvalid
	}
	if !now.Before(l.Expires) {
		return ErrAccessExpired
	}
	return nil
}

// ParseAccessPath splits an access path into its link and the site path
// that follows it (with a leading slash; empty when the path stops right
// after the signature, without the slash).
func ParseAccessPath(p string) (AccessLink, string, error) {
	rest, ok := strings.CutPrefix(p, AccessPrefix)
	if !ok {
		return AccessLink{}, "", ErrAccessMalformed
	}
	parts := strings.SplitN(rest, "/", 6)
	if len(parts) < 5 {
		return AccessLink{}, "", ErrAccessMalformed
	}
	exp, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil || exp <= 0 {
		return AccessLink{}, "", ErrAccessMalformed
	}
	l := AccessLink{Repo: parts[0] + "/" + parts[1], SHA: parts[2], Expires: time.Unix(exp, 0), Sig: parts[4]}
	if err := validRepoSHA(l.Repo, l.SHA); err != nil {
		return AccessLink{}, "", ErrAccessMalformed
	}
	if len(parts) == 5 {
		// The link without its trailing slash: no site path yet.
		return l, "", nil
	}
	return l, "/" + parts[5], nil
}

// AccessHandler serves the sites behind temporary access links. Mount it at
// AccessPrefix. A nil signer means temporary access is off: every request
// gets 404. A missing, tampered or expired link gets 403. resolve reads the
// tree of repo at sha; its result is kept for a few links so that the
// assets of one page do not each read the tree again.
//
// A site served here lives under its link's path, so root-relative URLs in
// its pages (/css/site.css) leave the link; relative URLs work.
func AccessHandler(signer *AccessSigner, resolve func(repo, sha string) (Tree, error)) http.Handler {
	return &accessHandler{signer: signer, resolve: resolve, cache: map[string]http.Handler{}}
}

type accessHandler struct {
	signer  *AccessSigner
	resolve func(repo, sha string) (Tree, error)

	mu    sync.Mutex
	cache map[string]http.Handler
	order []string
}

const accessCacheSize = 8

func (h *accessHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.signer == nil {
		http.NotFound(w, r)
		return
	}
	hdr := w.Header()
	// The link is a credential: never cache it, never leak it through the
	// Referer of a page's outgoing requests, never index it.
	hdr.Set("Cache-Control", "private, no-store")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Robots-Tag", "noindex, nofollow")

	link, rest, err := ParseAccessPath(r.URL.Path)
	if err == nil {
		err = h.signer.Verify(link, time.Now())
	}
	switch {
	case errors.Is(err, ErrAccessExpired):
		http.Error(w, "this preview link has expired; ask for a new one", http.StatusForbidden)
		return
	case err != nil:
		http.Error(w, "invalid preview link", http.StatusForbidden)
		return
	}
	if rest == "" {
		http.Redirect(w, r, r.URL.Path+"/", http.StatusMovedPermanently)
		return
	}
	site, err := h.site(link.Repo, link.SHA)
	if err != nil {
		http.Error(w, "cannot read the site of this commit", http.StatusBadGateway)
		return
	}
	prefix := strings.TrimSuffix(r.URL.Path[:len(r.URL.Path)-len(rest)], "/")
	r2 := r.Clone(r.Context())
	r2.URL.Path = rest
	r2.URL.RawPath = ""
	site.ServeHTTP(&prefixRedirects{ResponseWriter: w, prefix: prefix}, r2)
}

func (h *accessHandler) site(repo, sha string) (http.Handler, error) {
	key := repo + "@" + sha
	h.mu.Lock()
	s, ok := h.cache[key]
	h.mu.Unlock()
	if ok {
		return s, nil
	}
	tree, err := h.resolve(repo, sha)
	if err != nil {
		return nil, fmt.Errorf("preview %s@%s: %w", repo, sha, err)
	}
	s = NewPreviewHandler(tree)
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.cache[key]; !ok {
		if len(h.order) >= accessCacheSize {
			delete(h.cache, h.order[0])
			h.order = h.order[1:]
		}
		h.cache[key] = s
		h.order = append(h.order, key)
	}
	return s, nil
}

// prefixRedirects puts the link's prefix back in front of the folder
// redirects of the preview handler (/dir → /dir/).
type prefixRedirects struct {
	http.ResponseWriter
	prefix string
}

func (p *prefixRedirects) WriteHeader(code int) {
	if loc := p.Header().Get("Location"); loc != "" && strings.HasPrefix(loc, "/") {
		p.Header().Set("Location", p.prefix+loc)
	}
	p.ResponseWriter.WriteHeader(code)
}
