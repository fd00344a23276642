package emulator_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/emulator"
)

// A GET answers with a weak ETag; sending it back as If-None-Match gets a
// bodiless 304 that leaves x-ratelimit-remaining as it was, while other
// requests use up the budget. The ETag of one token does not match for
// another (GitHub's answers vary on Authorization), and a changed resource
// answers 200 again.
func TestConditionalRequests(t *testing.T) {
	e := newEnv(t)
	w, _ := seed(t, e)
	tok := e.gh.InstallationToken(e.inst)
	get := func(token, path, inm string) (int, http.Header, int) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, e.gh.URL()+path, nil)
		req.Header.Set("Authorization", "token "+token)
		req.Header.Set("Accept", "application/vnd.github+json")
		if inm != "" {
			req.Header.Set("If-None-Match", inm)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var n int
		buf := make([]byte, 4096)
		for {
			k, err := resp.Body.Read(buf)
			n += k
			if err != nil {
				break
			}
		}
		return resp.StatusCode, resp.Header, n
	}
	remaining := func(h http.Header) int {
		t.Helper()
		n, err := strconv.Atoi(h.Get("X-RateLimit-Remaining"))
		if err != nil {
			t.Fatalf("x-ratelimit-remaining %q", h.Get("X-RateLimit-Remaining"))
		}
		return n
	}
	const path = "/repos/acme/site/git/ref/heads/main"
	status, h, _ := get(tok, path, "")
	etag := h.Get("ETag")
	if status != 200 || !strings.HasPrefix(etag, `W/"`) {
		t.Fatalf("first read: %d, ETag %q; want 200 and a weak ETag", status, etag)
	}
	before := remaining(h)

	status, h, n := get(tok, path, etag)
	if status != http.StatusNotModified || n != 0 {
		t.Fatalf("revalidation: %d with %d body bytes, want a bodiless 304", status, n)
	}
	if got := remaining(h); got != before {
		t.Fatalf("a 304 used the rate limit: remaining %d, was %d", got, before)
	}
	if h.Get("ETag") != etag {
		t.Fatalf("304 ETag %q, want %q", h.Get("ETag"), etag)
	}
	// The strong form of the same tag matches too (weak comparison).
	if status, _, _ := get(tok, path, `"x", `+strings.TrimPrefix(etag, "W/")); status != http.StatusNotModified {
		t.Fatalf("If-None-Match list with the strong tag: %d, want 304", status)
	}

	status, h, _ = get(tok, path, `W/"something-else"`)
	if status != 200 || remaining(h) != before-1 {
		t.Fatalf("a non-matching If-None-Match: %d, remaining %d; want 200 and %d", status, remaining(h), before-1)
	}

	// Another token (the user's) with the installation's ETag gets 200.
	if status, _, n := get(e.alice, path, etag); status != 200 || n == 0 {
		t.Fatalf("another token's ETag: %d (%d bytes), want 200 with the body", status, n)
	}

	// Once main moves, the old ETag no longer matches.
	w.commit("move", map[string]string{"public/index.html": "v2\n"})
	w.git("push", "-q", "origin", "HEAD:main")
	if status, _, n := get(tok, path, etag); status != 200 || n == 0 {
		t.Fatalf("after a push: %d (%d bytes), want 200 with the new ref", status, n)
	}

	st := e.gh.RequestStats()
	if st.NotModified != 2 || st.Counted == 0 {
		t.Fatalf("request stats %+v, want 2 not modified", st)
	}
	if inst := e.gh.InstallationRequestStats(e.inst); inst.NotModified != 2 || inst.Counted < 2 || inst.Counted >= st.Counted {
		t.Fatalf("installation's request stats %+v of all %+v", inst, st)
	}
	if n := e.gh.InstallationRequests(e.inst, "GET", path); n != 5 {
		t.Fatalf("installation sent GET %s %d times, want 5", path, n)
	}
	resp, err := http.Get(e.gh.URL() + "/_emulator/requests")
	if err != nil {
		t.Fatal(err)
	}
	var admin emulator.RequestStats
	jsonDecode(t, resp, &admin)
	if admin.NotModified != st.NotModified || admin.Counted < st.Counted {
		t.Fatalf("admin API request stats %+v, Go API %+v", admin, st)
	}
}
