package site

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestURLSignerSignsPathAndExpiry(t *testing.T) {
	s, err := NewURLSigner([]byte(strings.Repeat("k", 32)), 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 2, 20, 0, 0, 0, time.UTC)
	p := "/artifacts/acme/site/" + strings.Repeat("a", 64) + ".png"
	signed := s.Sign(p, now)
	u, _ := url.Parse(signed)
	if err := s.Verify(u, now); err != nil || u.Path != p {
		t.Fatalf("a fresh URL %s: %v", signed, err)
	}
	// The expiry is rounded up to the day: the same URL all day long, and
	// at least the lifetime.
	if again := s.Sign(p, now.Add(3*time.Hour)); again != signed {
		t.Errorf("signed later the same day: %s, want %s", again, signed)
	}
	exp, _ := time.Parse(time.RFC3339, "2027-01-02T00:00:00Z")
	if !strings.Contains(signed, "exp="+itoa(exp.Unix())) {
		t.Errorf("expiry of %s, want %s", signed, exp)
	}
	other, _ := NewURLSigner([]byte(strings.Repeat("x", 32)), time.Hour)
	q := u.Query()
	for name, raw := range map[string]string{
		"unsigned":          p,
		"another path":      strings.Replace(signed, "acme/site", "acme/blog", 1),
		"another expiry":    strings.Replace(signed, "exp="+q.Get("exp"), "exp="+itoa(exp.Unix()+86400), 1),
		"another signature": strings.Replace(signed, q.Get("sig"), strings.Repeat("A", len(q.Get("sig"))), 1),
		"an extra argument": signed + "&x=1",
		"a repeated sig":    signed + "&sig=" + q.Get("sig"),
		"another key":       other.Sign(p, now),
	} {
		u, _ := url.Parse(raw)
		if err := s.Verify(u, now); err != ErrURLNotSigned {
			t.Errorf("%s (%s): %v, want ErrURLNotSigned", name, raw, err)
		}
	}
	if err := s.Verify(u, exp); err != ErrURLNotSigned {
		t.Errorf("at its expiry: %v", err)
	}
	if _, err := NewURLSigner([]byte("short"), time.Hour); err == nil {
		t.Error("a short secret was accepted")
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
