package smoke

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/rs/zerolog"
)

// ArtifactStore keeps screenshots by the SHA256 of their bytes, so a page
// that did not change costs nothing to store twice.
type ArtifactStore interface {
	// Put stores a PNG and returns its lowercase hex SHA256.
	Put(ctx context.Context, png []byte) (sha string, err error)
	// Open reads a stored PNG; fs.ErrNotExist when absent.
	Open(ctx context.Context, sha string) (io.ReadCloser, error)
}

var shaName = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ValidArtifactSHA tells whether s is a name the store can hold: 64
// lowercase hex digits.
func ValidArtifactSHA(s string) bool { return shaName.MatchString(s) }

// DirStore is an ArtifactStore in a local folder: <dir>/<sha256>.png.
type DirStore struct {
	dir string
}

// NewDirStore uses dir, creating it when needed.
func NewDirStore(dir string) (*DirStore, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("artifact folder %s: %w", dir, err)
	}
	return &DirStore{dir: dir}, nil
}

// Dir is the folder of the store.
func (s *DirStore) Dir() string { return s.dir }

// Put writes the PNG atomically (a temporary file renamed into place) unless
// the same bytes are there already.
func (s *DirStore) Put(ctx context.Context, png []byte) (string, error) {
	sum := sha256.Sum256(png)
	sha := hex.EncodeToString(sum[:])
	final := filepath.Join(s.dir, sha+".png")
	if fi, err := os.Stat(final); err == nil {
		renew(final, fi) // retention goes by the last Put
		return sha, nil
	}
	tmp, err := os.CreateTemp(s.dir, ".put-*")
	if err != nil {
		return "", fmt.Errorf("store artifact %s: %w", sha, err)
	}
	_, err = tmp.Write(png)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), final)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("store artifact %s: %w", sha, err)
	}
	return sha, nil
}

// Open opens <dir>/<sha>.png; the name is validated first.
func (s *DirStore) Open(ctx context.Context, sha string) (io.ReadCloser, error) {
	if !ValidArtifactSHA(sha) {
		return nil, &fs.PathError{Op: "open", Path: sha, Err: fs.ErrNotExist}
	}
	return os.Open(filepath.Join(s.dir, sha+".png"))
}

var artifactPath = regexp.MustCompile(`^/artifacts/([0-9a-f]{64})\.png$`)

// ArtifactHandler serves GET /artifacts/<sha256>.png from store. The name
// must be exactly 64 lowercase hex digits and .png; anything else is 404.
// Content never changes under a name, so it is cached for a year. These
// screenshots are the only public part of a site under test.
func ArtifactHandler(store ArtifactStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := artifactPath.FindStringSubmatch(r.URL.Path)
		if m == nil || r.URL.RawQuery != "" {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		rc, err := store.Open(r.Context(), m[1])
		if errors.Is(err, fs.ErrNotExist) {
			http.NotFound(w, r)
			return
		}
		if err != nil {
			// A bucket that cannot be read is the operator's to fix; the
			// reader only learns it is unavailable.
			zerolog.Ctx(r.Context()).Warn().Err(err).Str("artifact", m[1]).Msg("artifact unavailable")
			http.Error(w, "artifact unavailable", http.StatusServiceUnavailable)
			return
		}
		defer rc.Close()
		h := w.Header()
		h.Set("Content-Type", "image/png")
		h.Set("Cache-Control", ArtifactCacheControl)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("ETag", `"`+m[1]+`"`)
		if rs, ok := rc.(io.ReadSeeker); ok {
			// ServeContent answers HEAD, ranges and If-None-Match.
			http.ServeContent(w, r, "", time.Time{}, rs)
			return
		}
		if match := r.Header.Get("If-None-Match"); match == `"`+m[1]+`"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		if st, ok := rc.(interface{ Stat() (fs.FileInfo, error) }); ok {
			if fi, err := st.Stat(); err == nil {
				h.Set("Content-Length", strconv.FormatInt(fi.Size(), 10))
			}
		} else if sz, ok := rc.(interface{ Size() int64 }); ok && sz.Size() > 0 {
			// A stream from S3 knows its length.
			h.Set("Content-Length", strconv.FormatInt(sz.Size(), 10))
		}
		if r.Method == http.MethodHead {
			return
		}
		io.Copy(w, rc)
	})
}
