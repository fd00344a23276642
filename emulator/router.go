package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// route is one REST operation: the OpenAPI path template as GitHub
// documents it (used for matching and for conformance tests), who may call
// it, and its handler.
type route struct {
	method   string
	specPath string
	auth     authKind
	// For repository routes: the permission a user needs and the app
	// permission (scope) an installation needs for it.
	need  level
	scope string
	h     func(*call)
	segs  []segment
}

type segment struct {
	lit   string
	param string
	multi bool // GitHub's x-multi-segment: refs, branch names, file paths
}

type authKind int

const (
	authRepo         authKind = iota // a user or installation with access to {owner}/{repo}
	authApp                          // an app JWT
	authInstallation                 // an installation token
	authAny                          // anyone, even anonymous
)

// multiSegment lists parameters that may contain slashes.
var multiSegment = map[string]bool{"ref": true, "path": true, "basehead": true, "branch": true}

func parsePath(p string) []segment {
	var out []segment
	for _, part := range strings.Split(strings.Trim(p, "/"), "/") {
		if strings.HasPrefix(part, "{") && strings.HasSuffix(part, "}") {
			name := part[1 : len(part)-1]
			out = append(out, segment{param: name, multi: multiSegment[name]})
		} else {
			out = append(out, segment{lit: part})
		}
	}
	return out
}

// sortRoutes puts routes with more literal segments first, so that
// /commits/{ref}/status wins over /commits/{ref} whose {ref} could swallow
// "main/status".
func sortRoutes(rs []*route) {
	for _, r := range rs {
		r.segs = parsePath(r.specPath)
	}
	lits := func(r *route) int {
		n := 0
		for _, s := range r.segs {
			if s.param == "" {
				n++
			}
		}
		return n
	}
	sort.SliceStable(rs, func(i, j int) bool { return lits(rs[i]) > lits(rs[j]) })
}

// match binds the parameters of r against the path's parts. Hand-written
// rather than ServeMux or kin-openapi's router: neither lets a parameter
// span several segments in the middle of a path (commits/{ref}/status with
// ref "feature/x"), which GitHub's x-multi-segment parameters need.
func (r *route) match(parts []string) (map[string]string, bool) {
	params := map[string]string{}
	if matchSegs(r.segs, parts, params) {
		return params, true
	}
	return nil, false
}

func matchSegs(segs []segment, parts []string, params map[string]string) bool {
	if len(segs) == 0 {
		return len(parts) == 0
	}
	if len(parts) == 0 {
		return false
	}
	s := segs[0]
	if s.param == "" {
		return s.lit == parts[0] && matchSegs(segs[1:], parts[1:], params)
	}
	if !s.multi {
		if parts[0] == "" {
			return false
		}
		params[s.param] = parts[0]
		return matchSegs(segs[1:], parts[1:], params)
	}
	// A multi-segment parameter takes the longest run that lets the rest match.
	for n := len(parts) - (len(segs) - 1); n >= 1; n-- {
		if matchSegs(segs[1:], parts[n:], params) {
			params[s.param] = strings.Join(parts[:n], "/")
			return true
		}
	}
	return false
}

// call is one REST request being served.
type call struct {
	s      *Server
	w      http.ResponseWriter
	r      *http.Request
	route  *route
	params map[string]string
	actor  actor
	repo   *Repo // for repository routes; read under s.mu only
	body   []byte
	status int
	// docOverride replaces the documentation_url of an error answer.
	docOverride string
	// free marks a request that does not count against the rate limit
	// (GET /rate_limit).
	free, notModifiedSent bool
}

func (c *call) param(name string) string { return c.params[name] }

func (c *call) intParam(name string) (int64, bool) {
	n, err := strconv.ParseInt(c.params[name], 10, 64)
	if err != nil {
		c.notFound()
		return 0, false
	}
	return n, true
}

// decode reads the JSON body into v; on bad JSON it answers 400 as GitHub
// does ("Problems parsing JSON") and returns false.
func (c *call) decode(v any) bool {
	if len(bytes.TrimSpace(c.body)) == 0 {
		return true
	}
	err := json.Unmarshal(c.body, v)
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		return true
	case errors.As(err, &typeErr):
		// GitHub's wording for a well-formed body with a wrong type.
		c.invalid(fmt.Sprintf("Invalid request.\n\nFor 'properties/%s', %s is not a %s.", typeErr.Field, typeErr.Value, typeErr.Type.Kind()))
	default:
		c.fail(http.StatusBadRequest, "Problems parsing JSON", nil)
	}
	return false
}

func (s *Server) serveREST(w http.ResponseWriter, r *http.Request) {
	// Each segment is unescaped once, from the path as sent: a branch
	// named feature/%2e%2e arrives as feature/%252e%252e and is that
	// branch, as on GitHub, not feature/.. (r.URL.Path is decoded already).
	p := r.URL.EscapedPath()
	if strings.HasPrefix(p, "/api/v3/") || p == "/api/v3" {
		p = strings.TrimPrefix(p, "/api/v3")
	}
	parts := strings.Split(strings.Trim(p, "/"), "/")
	for i, part := range parts {
		if u, err := url.PathUnescape(part); err == nil {
			parts[i] = u
		}
	}
	rt, params := s.findRoute(r.Method, parts)
	if rt == nil {
		// "/contents" and "/contents/" name the root folder: an empty
		// multi-segment path.
		rt, params = s.findRoute(r.Method, append(parts, ""))
	}
	rec := &recorder{ResponseWriter: w, header: http.Header{}}
	c := &call{s: s, w: rec, r: r, route: rt, params: params}
	arrived := time.Now()
	defer func() {
		a := c.actor
		if (a == actor{}) {
			// A fault answered before authorization: find the caller
			// for the log only.
			a, _ = s.identify(credentials(r))
		}
		var inst int64
		if a.inst != nil {
			inst = a.inst.ID
		}
		s.reqLog.add(LoggedRequest{At: arrived, Done: time.Now(), Installation: inst, Method: r.Method, Path: p, Status: rec.status})
	}()
	if rt == nil {
		c.fail(http.StatusNotFound, "Not Found", nil)
		rec.flush()
		return
	}
	defer func() {
		if p := recover(); p != nil {
			s.log.Error().Interface("panic", p).Str("route", rt.method+" "+rt.specPath).Msg("emulator handler panicked")
			rec.header, rec.status = http.Header{}, 0
			rec.buf.Reset()
			c.fail(http.StatusInternalServerError, fmt.Sprintf("emulator error: %v", p), nil)
			rec.flush()
		}
	}()
	if s.injectFault(c) {
		rec.flush()
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		c.fail(http.StatusBadRequest, "could not read request body", nil)
		rec.flush()
		return
	}
	c.body = body
	if c.authorize() {
		rt.h(c)
	}
	if c.status == 0 {
		c.fail(http.StatusInternalServerError, "handler wrote no response", nil)
	}
	rec.flush()
	ev := s.log.Debug()
	if r.Method != http.MethodGet {
		ev = s.log.Info()
	}
	if c.repo != nil {
		ev = ev.Str("repo", c.repo.FullName())
	}
	ev.Str("audit", c.actor.login()+" "+rt.method+" "+rt.specPath).Int("status", rec.status).Msg("api")
	if s.opts.ObserveResponse != nil {
		s.opts.ObserveResponse(rt.method, rt.specPath, rec.status, rec.header.Clone(), rec.buf.Bytes())
	}
}

func (s *Server) findRoute(method string, parts []string) (*route, map[string]string) {
	for _, cand := range s.routes {
		if cand.method != method {
			continue
		}
		if ps, ok := cand.match(parts); ok {
			return cand, ps
		}
	}
	return nil, nil
}

// recorder buffers a response so that observers see exactly what was sent.
type recorder struct {
	http.ResponseWriter
	header http.Header
	status int
	buf    bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(code int)        { r.status = code }
func (r *recorder) Write(b []byte) (int, error) { return r.buf.Write(b) }
func (r *recorder) flush() {
	for k, v := range r.header {
		r.ResponseWriter.Header()[k] = v
	}
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.ResponseWriter.WriteHeader(r.status)
	r.ResponseWriter.Write(r.buf.Bytes())
}

// Standard headers GitHub sends on every API answer (see the recorded
// exchanges): media type, rate limit, request id.
func (c *call) commonHeaders() {
	h := c.w.Header()
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
	h.Set("X-GitHub-Request-Id", fmt.Sprintf("%04X:%05X:%07X:%07X:%08X", 0, 0, 0, 0, c.s.now().Unix()&0xffffffff))
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", "ETag, Link, Location, Retry-After, X-GitHub-OTP, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Used, X-RateLimit-Resource, X-RateLimit-Reset, X-OAuth-Scopes, X-Accepted-OAuth-Scopes, X-Poll-Interval, X-GitHub-Media-Type, X-GitHub-SSO, X-GitHub-Request-Id, Deprecation, Sunset")
	h.Set("Content-Security-Policy", "default-src 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "deny")
	h.Set("X-XSS-Protection", "0")
	h.Set("Referrer-Policy", "origin-when-cross-origin, strict-origin-when-cross-origin")
	c.rateHeaders(h, c.free, c.notModifiedSent)
}

// json answers with a JSON body.
func (c *call) json(status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		c.fail(http.StatusInternalServerError, "encode response: "+err.Error(), nil)
		return
	}
	h := c.w.Header()
	if c.r.Method == http.MethodGet {
		h.Set("Cache-Control", "private, max-age=60, s-maxage=60")
		h.Set("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP")
		etag := c.etag(data)
		h.Set("ETag", etag)
		if status == http.StatusOK && c.notModified(etag) {
			// GitHub answers 304 without a body, and it does not count
			// against the primary rate limit.
			c.free, c.notModifiedSent = true, true
			c.commonHeaders()
			c.status = http.StatusNotModified
			c.w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	c.commonHeaders()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	c.status = status
	c.w.WriteHeader(status)
	c.w.Write(data)
}

// noContent answers 204.
func (c *call) noContent() {
	c.commonHeaders()
	c.status = http.StatusNoContent
	c.w.WriteHeader(http.StatusNoContent)
}

// fieldError is one entry of a 422's "errors".
type fieldError struct {
	Resource string `json:"resource,omitempty"`
	Field    string `json:"field,omitempty"`
	Code     string `json:"code"`
	Message  string `json:"message,omitempty"`
}

// fail answers with GitHub's error body: message, errors, documentation_url.
func (c *call) fail(status int, message string, errs []fieldError) {
	var list any
	if len(errs) > 0 {
		list = errs
	}
	c.failWith(status, message, list)
}

// invalidSimple is the 422 some endpoints send with plain-string errors
// (GitHub's validation-error-simple).
func (c *call) invalidSimple(message string, errs ...string) {
	c.failWith(http.StatusUnprocessableEntity, message, errs)
}

func (c *call) failWith(status int, message string, errs any) {
	body := map[string]any{"message": message}
	if errs != nil {
		body["errors"] = errs
	}
	body["documentation_url"] = c.docURL()
	body["status"] = strconv.Itoa(status)
	data, _ := json.Marshal(body)
	c.commonHeaders()
	h := c.w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	c.status = status
	c.w.WriteHeader(status)
	c.w.Write(data)
}

func (c *call) docURL() string {
	if c.docOverride != "" {
		return c.docOverride
	}
	if c.route == nil {
		return "https://docs.github.com/rest"
	}
	return "https://docs.github.com/rest"
}

func (c *call) notFound() { c.fail(http.StatusNotFound, "Not Found", nil) }

func (c *call) invalid(message string, errs ...fieldError) {
	c.fail(http.StatusUnprocessableEntity, message, errs)
}

func (c *call) missing(resource, field string) {
	c.invalid("Invalid request.\n\n\""+field+"\" wasn't supplied.", fieldError{Resource: resource, Field: field, Code: "missing_field"})
}

// paginate answers a page of items with GitHub's Link header (per_page
// default 30, at most 100; page from 1).
func paginate[T any](c *call, items []T) {
	c.json(http.StatusOK, pageOf(c, items))
}

func pageOf[T any](c *call, items []T) []T {
	q := c.r.URL.Query()
	per, _ := strconv.Atoi(q.Get("per_page"))
	if per <= 0 {
		per = 30
	}
	if per > 100 {
		per = 100
	}
	page, _ := strconv.Atoi(q.Get("page"))
	if page <= 0 {
		page = 1
	}
	last := (len(items) + per - 1) / per
	if last == 0 {
		last = 1
	}
	if last > 1 {
		link := func(p int) string {
			u := *c.r.URL
			qq := u.Query()
			qq.Set("page", strconv.Itoa(p))
			qq.Set("per_page", strconv.Itoa(per))
			u.RawQuery = qq.Encode()
			return "<" + c.s.URL() + u.Path + "?" + u.RawQuery + ">"
		}
		var rels []string
		if page > 1 {
			rels = append(rels, link(page-1)+`; rel="prev"`)
		}
		if page < last {
			rels = append(rels, link(page+1)+`; rel="next"`, link(last)+`; rel="last"`)
		}
		if page > 1 {
			rels = append(rels, link(1)+`; rel="first"`)
		}
		c.w.Header().Set("Link", strings.Join(rels, ", "))
	}
	start := (page - 1) * per
	if start >= len(items) {
		return []T{}
	}
	end := start + per
	if end > len(items) {
		end = len(items)
	}
	return items[start:end]
}
