package site

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"path"
	"strings"
	"time"
)

// Preview is a site served on a loopback listener for the browser that tests
// it. It is never mounted on hoist's public address.
type Preview struct {
	srv  *http.Server
	ln   net.Listener
	url  string
	done chan struct{}
	stop func() bool
}

// ServePreview serves tree on 127.0.0.1 at a port the system picks. The
// server stops when ctx ends or Close is called.
func ServePreview(ctx context.Context, tree Tree) (*Preview, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("preview listener: %w", err)
	}
	p := &Preview{
		ln:   ln,
		url:  "http://" + ln.Addr().String(),
		done: make(chan struct{}),
		srv: &http.Server{
			Handler:           NewPreviewHandler(tree),
			ReadHeaderTimeout: 10 * time.Second,
		},
	}
	go func() {
		defer close(p.done)
		// Serve returns ErrServerClosed after Close; nothing else to report.
		_ = p.srv.Serve(ln)
	}()
	p.stop = context.AfterFunc(ctx, func() { p.srv.Close() })
	return p, nil
}

// URL is the base address of the preview, such as http://127.0.0.1:41234,
// without a trailing slash.
func (p *Preview) URL() string { return p.url }

// Close stops the server and waits until it no longer accepts connections.
func (p *Preview) Close() error {
	p.stop()
	err := p.srv.Close()
	<-p.done
	return err
}

// previewHandler serves one Tree the way a static host would.
type previewHandler struct {
	tree  Tree
	files map[string]Entry
}

// NewPreviewHandler serves tree over HTTP: GET and HEAD only, content types
// by extension, index.html for folders, the site's own 404.html, and no
// directory listings. Symlinks are never served. Paths that try to leave the
// site root are refused.
func NewPreviewHandler(tree Tree) http.Handler {
	h := &previewHandler{tree: tree, files: make(map[string]Entry, len(tree.Entries()))}
	for _, e := range tree.Entries() {
		if !e.Mode.IsRegular() { // symlinks and anything odd
			continue
		}
		h.files[e.Path] = e
	}
	return h
}

func (h *previewHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name, ok := sitePath(r.URL.Path)
	if !ok {
		http.Error(w, "bad path", http.StatusBadRequest)
		return
	}
	if name == "" || strings.HasSuffix(name, "/") {
		if e, ok := h.files[name+"index.html"]; ok {
			h.serveFile(w, r, e, http.StatusOK)
			return
		}
		h.notFound(w, r)
		return
	}
	if e, ok := h.files[name]; ok {
		h.serveFile(w, r, e, http.StatusOK)
		return
	}
	if _, ok := h.files[name+"/index.html"]; ok {
		// A folder asked for without its slash: relative links inside its
		// index.html only resolve against /dir/, as on any static host.
		target := "/" + name + "/"
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusMovedPermanently)
		return
	}
	h.notFound(w, r)
}

// sitePath turns a request path into a tree path (no leading slash; a
// trailing slash kept for folders). It refuses any ".." or "." segment,
// backslashes and NUL bytes rather than cleaning them away, so that a hostile
// path gets an error and never a different file.
func sitePath(p string) (string, bool) {
	if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\\\x00") {
		return "", false
	}
	p = p[1:]
	if p == "" {
		return "", true
	}
	dir := strings.HasSuffix(p, "/")
	trimmed := strings.TrimSuffix(p, "/")
	for _, seg := range strings.Split(trimmed, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", false
		}
	}
	if !fs.ValidPath(trimmed) {
		return "", false
	}
	if dir {
		return trimmed + "/", true
	}
	return trimmed, true
}

func (h *previewHandler) notFound(w http.ResponseWriter, r *http.Request) {
	if e, ok := h.files["404.html"]; ok {
		h.serveFile(w, r, e, http.StatusNotFound)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	http.Error(w, "404 page not found", http.StatusNotFound)
}

func (h *previewHandler) serveFile(w http.ResponseWriter, r *http.Request, e Entry, status int) {
	rc, err := h.tree.Open(e.Path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			http.Error(w, "404 page not found", http.StatusNotFound)
			return
		}
		http.Error(w, "cannot read "+e.Path, http.StatusInternalServerError)
		return
	}
	// Site files are small; reading them whole lets ServeContent answer
	// HEAD, ranges and conditional requests with a correct length.
	body, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		http.Error(w, "cannot read "+e.Path, http.StatusInternalServerError)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", ContentType(e.Path, body))
	hdr.Set("X-Content-Type-Options", "nosniff")
	// The browser revalidates each time; the blob SHA makes that a cheap 304.
	if hdr.Get("Cache-Control") == "" {
		hdr.Set("Cache-Control", "no-cache")
	}
	if e.BlobSHA != "" {
		hdr.Set("ETag", `"`+e.BlobSHA+`"`)
	}
	if status != http.StatusOK {
		hdr.Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(status)
		if r.Method != http.MethodHead {
			w.Write(body)
		}
		return
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// contentTypes fixes the types a static site needs, so that they do not
// depend on the host's /etc/mime.types.
var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".htm":         "text/html; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".json":        "application/json",
	".map":         "application/json",
	".webmanifest": "application/manifest+json",
	".xml":         "application/xml",
	".txt":         "text/plain; charset=utf-8",
	".md":          "text/markdown; charset=utf-8",
	".csv":         "text/csv; charset=utf-8",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".jpg":         "image/jpeg",
	".jpeg":        "image/jpeg",
	".gif":         "image/gif",
	".webp":        "image/webp",
	".avif":        "image/avif",
	".ico":         "image/x-icon",
	".woff":        "font/woff",
	".woff2":       "font/woff2",
	".ttf":         "font/ttf",
	".otf":         "font/otf",
	".wasm":        "application/wasm",
	".pdf":         "application/pdf",
	".mp4":         "video/mp4",
	".webm":        "video/webm",
	".mp3":         "audio/mpeg",
}

// ContentType is the Content-Type a static host would send for name: a fixed
// table first, then the system's table, then sniffing the content.
func ContentType(name string, content []byte) string {
	ext := strings.ToLower(path.Ext(name))
	if ct, ok := contentTypes[ext]; ok {
		return ct
	}
	if ct := mime.TypeByExtension(ext); ct != "" {
		return ct
	}
	return http.DetectContentType(content)
}
