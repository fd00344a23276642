package site

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// URLSigner makes unguessable, expiring URLs for what must be readable
// without signing in (screenshots fetched by GitHub's image proxy, the
// smoke report a check run links to): an HMAC-SHA256 over the path and the
// expiry, carried as ?exp=<unix>&sig=<base64url>.
type URLSigner struct {
	secret []byte
	ttl    time.Duration
	// round makes the expiry of URLs signed within one window the same, so
	// a page reloaded later links the same URLs and caches keep working.
	round time.Duration
}

// ErrURLNotSigned is returned by Verify for a URL without a valid,
// unexpired signature (the reason is deliberately not told apart).
var ErrURLNotSigned = errors.New("not a valid signed URL")

// NewURLSigner returns a signer with secret (at least MinAccessSecret
// bytes) whose URLs last at least ttl.
func NewURLSigner(secret []byte, ttl time.Duration) (*URLSigner, error) {
	if len(secret) < MinAccessSecret {
		return nil, fmt.Errorf("signed URL secret: %d bytes, need at least %d", len(secret), MinAccessSecret)
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("signed URL lifetime %s: must be positive", ttl)
	}
	round := time.Hour
	if ttl >= 48*time.Hour {
		round = 24 * time.Hour
	}
	return &URLSigner{secret: append([]byte(nil), secret...), ttl: ttl, round: round}, nil
}

func (s *URLSigner) mac(path string, exp int64) string {
	m := hmac.New(sha256.New, s.secret)
	fmt.Fprintf(m, "hoist-signed-url-v1\n%s\n%d", path, exp)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Sign returns path with its signature, valid from now for at least the
// signer's lifetime (at most one rounding window more).
func (s *URLSigner) Sign(path string, now time.Time) string {
	exp := now.Add(s.ttl + s.round).Truncate(s.round).Unix()
	return s.SignUntil(path, time.Unix(exp, 0))
}

// SignUntil returns path signed to expire at exp.
func (s *URLSigner) SignUntil(path string, exp time.Time) string {
	e := exp.Unix()
	return path + "?exp=" + strconv.FormatInt(e, 10) + "&sig=" + s.mac(path, e)
}

// Verify checks u's signature (in constant time) and expiry; anything else
// in the query makes it invalid.
func (s *URLSigner) Verify(u *url.URL, now time.Time) error {
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil || len(q) != 2 || len(q["exp"]) != 1 || len(q["sig"]) != 1 {
		return ErrURLNotSigned
	}
	exp, err := strconv.ParseInt(q.Get("exp"), 10, 64)
	if err != nil || exp <= 0 {
		return ErrURLNotSigned
	}
	if !hmac.Equal([]byte(s.mac(u.Path, exp)), []byte(q.Get("sig"))) {
		return ErrURLNotSigned
	}
	if !now.Before(time.Unix(exp, 0)) {
		return ErrURLNotSigned
	}
	return nil
}
