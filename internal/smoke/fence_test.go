package smoke

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/smoke/fence"
	"github.com/hoist-dev/hoist/internal/testenv"
)

// stubOutside resolves the given names and treats the listed loopback
// listeners as public hosts: there is no internet in tests.
func stubOutside(names map[string]netip.Addr, public ...netip.AddrPort) *Network {
	return &Network{
		Lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
			if a, ok := names[host]; ok {
				return []netip.Addr{a}, nil
			}
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		},
		Public: public,
	}
}

// countingServer stands in for a metadata service or another listener of
// this machine: it counts what reaches it.
func countingServer(t *testing.T) (*httptest.Server, netip.AddrPort, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var got []string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.String())
		mu.Unlock()
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Write([]byte(`<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"/>`))
	}))
	t.Cleanup(func() { ts.CloseClientConnections(); ts.Close() })
	return ts, netip.MustParseAddrPort(strings.TrimPrefix(ts.URL, "http://")), func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}

// A hostile page reaches for this machine and the cloud metadata service
// in every way a page can: a frame, an HTTP redirect, a meta refresh,
// fetch, an image by a name that resolves to loopback, an allowed name
// that rebinds to loopback, an IPv4-mapped IPv6 address, a WebSocket and
// WebRTC. Nothing reaches the listener, each refused URL is a finding of
// its page, and the pages fail; an allowed external host still loads.
func TestFenceRefusesPrivateAddresses(t *testing.T) {
	chromium := testenv.Chromium(t)
	meta, metaAddr, metaGot := countingServer(t)
	allowed, allowedAddr, allowedGot := countingServer(t)
	_ = allowed
	metaURL := meta.URL
	port := strconv.Itoa(int(metaAddr.Port()))
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	var udpGot atomic.Int32
	go func() {
		buf := make([]byte, 1500)
		for {
			if _, _, err := udp.ReadFrom(buf); err != nil {
				return
			}
			udpGot.Add(1)
		}
	}()
	cdn := fmt.Sprintf("http://cdn.example:%d", allowedAddr.Port())

	pages := map[string]string{
		"/frame.html":   `<iframe src="` + metaURL + `/latest/meta-data/iam/"></iframe>`,
		"/refresh.html": `<meta http-equiv="refresh" content="0;url=` + metaURL + `/refresh">`,
		"/fetch.html":   `<script>fetch("` + metaURL + `/fetch").catch(() => {});</script>`,
		"/img.html":     `<img src="http://localhost:` + port + `/by-name.png">`,
		"/rebind.html":  `<img src="http://rebind.example:` + port + `/rebind.png">`,
		"/mapped.html":  `<img src="http://[::ffff:127.0.0.1]:` + port + `/mapped.png"><img src="http://169.254.169.254/latest/meta-data/">`,
		"/ws.html":      `<script>try { new WebSocket("ws://127.0.0.1:` + port + `/ws"); } catch (e) {}</script>`,
		"/webrtc.html": `<script>
  const pc = new RTCPeerConnection({iceServers: [{urls: "stun:` + udp.LocalAddr().String() + `"}]});
  pc.createDataChannel("x");
  pc.createOffer().then(o => pc.setLocalDescription(o));
</script>`,
		"/allowed.html": `<img src="` + cdn + `/font.svg">`,
	}
	mux := http.NewServeMux()
	for p, body := range pages {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, "<!doctype html><title>%s</title><h1>hostile</h1>%s", p, body)
		})
	}
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, metaURL+"/redirected", http.StatusFound)
	})
	site := httptest.NewServer(mux)
	t.Cleanup(func() { site.CloseClientConnections(); site.Close() })

	order := []string{"/frame.html", "/redirect", "/refresh.html", "/fetch.html", "/img.html", "/rebind.html", "/mapped.html", "/ws.html", "/webrtc.html", "/allowed.html"}
	var ps []Page
	for _, p := range order {
		ps = append(ps, Page{Path: p})
	}
	rep, err := Run(context.Background(), Options{
		BaseURL:      site.URL,
		ChromiumPath: chromium,
		Concurrency:  1,
		Pages:        ps,
		FailOn:       []Kind{KindHTTPError, KindFailedRequest},
		AllowHosts:   []string{"cdn.example:" + strconv.Itoa(int(allowedAddr.Port())), "rebind.example:" + port},
		Network: stubOutside(map[string]netip.Addr{
			"cdn.example":    allowedAddr.Addr(),
			"rebind.example": netip.MustParseAddr("127.0.0.1"),
		}, allowedAddr),
	})
	if err != nil {
		t.Fatal(err)
	}
	// The WebRTC page's ICE gathering has had the whole run to send.
	time.Sleep(200 * time.Millisecond)
	if got := metaGot(); len(got) != 0 {
		t.Errorf("the metadata stand-in was reached: %v", got)
	}
	if n := udpGot.Load(); n != 0 {
		t.Errorf("WebRTC sent %d UDP packets around the proxy", n)
	}
	want := map[string][]string{
		"/frame.html":   {metaURL + "/latest/meta-data/iam/", "loopback address 127.0.0.1"},
		"/redirect":     {metaURL + "/redirected", "loopback address 127.0.0.1"},
		"/refresh.html": {metaURL + "/refresh", "loopback address 127.0.0.1"},
		"/fetch.html":   {metaURL + "/fetch", "loopback address 127.0.0.1"},
		"/img.html":     {"http://localhost:" + port + "/by-name.png", "localhost is this machine"},
		"/rebind.html":  {"http://rebind.example:" + port + "/rebind.png", "rebind.example resolves to loopback address 127.0.0.1"},
		"/mapped.html":  {"http://169.254.169.254/latest/meta-data/", "cloud metadata address 169.254.169.254"},
		"/ws.html":      {"127.0.0.1:" + port, "loopback address 127.0.0.1"},
	}
	for _, p := range rep.Pages {
		w, ok := want[p.Path]
		if !ok {
			continue
		}
		found := false
		for _, f := range p.Findings {
			if f.Kind == KindBlockedRequest && f.Resource == w[0] && strings.Contains(f.Message, w[1]) {
				found = true
				if !f.Fails {
					t.Errorf("%s: a refused request must fail with failed_request in fail_on: %+v", p.Path, f)
				}
			}
		}
		if !found {
			t.Errorf("%s: no blocked_request finding for %s (%s); findings %+v", p.Path, w[0], w[1], p.Findings)
		}
		if p.Conclusion != Failure {
			t.Errorf("%s: conclusion %s, want failure", p.Path, p.Conclusion)
		}
	}
	if p := byPath(t, rep, "/mapped.html"); !hasFinding(p, KindBlockedRequest, "loopback address 127.0.0.1") {
		t.Errorf("/mapped.html: the IPv4-mapped loopback address was not refused: %+v", p.Findings)
	}
	if p := byPath(t, rep, "/allowed.html"); p.Conclusion != Success {
		t.Errorf("/allowed.html: %s %+v", p.Conclusion, p.Findings)
	}
	if got := allowedGot(); len(got) != 1 || got[0] != "GET /font.svg" {
		t.Errorf("the allowed host got %v, want the one image", got)
	}
	if rep.Stats.Refused < len(want) {
		t.Errorf("stats.refused %d, want at least %d", rep.Stats.Refused, len(want))
	}
	if !strings.Contains(rep.Title, "blocked request") {
		t.Errorf("title %q does not count the blocked requests", rep.Title)
	}
}

// A refused request fails the page with the default fail_on (every kind),
// and with one that lists failed_request; with neither it warns.
func TestBlockedRequestFailsLikeFailedRequest(t *testing.T) {
	for _, c := range []struct {
		failOn []Kind
		want   Conclusion
	}{
		{AllKinds, Failure},
		{[]Kind{KindFailedRequest}, Failure},
		{[]Kind{KindBlockedRequest}, Failure},
		{[]Kind{KindHTTPError}, Neutral},
	} {
		r := &Report{FailOn: c.failOn, Pages: []PageResult{{Path: "/", Findings: []Finding{{Kind: KindBlockedRequest, Message: "refused"}}}}}
		r.conclude()
		if r.Conclusion != c.want {
			t.Errorf("fail_on %v: %s, want %s", c.failOn, r.Conclusion, c.want)
		}
	}
}

// Chromium gets none of hoist's environment and, when hoist runs as root,
// runs as another user.
func TestBrowserRunsWithoutSecretsOrRoot(t *testing.T) {
	chromium := testenv.Chromium(t)
	secrets := map[string]string{
		"HOIST_WEBHOOK_SECRET":  "whsec-7a1f09c2",
		"AWS_SECRET_ACCESS_KEY": "aws-9b8c7d6e5f",
		"AWS_SESSION_TOKEN":     "aws-token-31415",
		"HOIST_PRIVATE_KEY":     "-----BEGIN RSA PRIVATE KEY-----fake",
		"GITHUB_TOKEN":          "ghs_0123456789",
	}
	for k, v := range secrets {
		t.Setenv(k, v)
	}
	fp, err := fenceFor(t, "http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	defer fp.Close()
	b, err := startBrowser(context.Background(), launch{path: chromium, shareRenderer: true, proxy: fp.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()
	procs := treeProcs(b.pid)
	if len(procs) == 0 {
		t.Fatal("no browser process found")
	}
	for _, p := range procs {
		env, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p.pid), "environ"))
		if err != nil {
			continue // a process that just ended
		}
		for k, v := range secrets {
			if bytes.Contains(env, []byte(v)) || bytes.Contains(env, []byte(k+"=")) {
				t.Errorf("process %d has %s in its environment", p.pid, k)
			}
		}
		// Child processes overwrite their environment with their command
		// line; the browser's own shows what it was given.
		if p.pid == b.pid && (!bytes.Contains(env, []byte("HOME=/")) || bytes.Contains(env, []byte("HOME="+os.Getenv("HOME")+"\x00"))) {
			t.Errorf("process %d: HOME is not the run's own folder: %q", p.pid, env)
		}
		if os.Geteuid() == 0 {
			status, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p.pid), "status"))
			if err != nil {
				continue
			}
			for _, line := range strings.Split(string(status), "\n") {
				if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
					for _, id := range strings.Fields(rest) {
						if id == "0" {
							t.Errorf("process %d runs as root: %s", p.pid, line)
						}
					}
				}
			}
		}
	}
	t.Logf("browser user %s, sandbox %v, %d processes", b.user, b.sandboxed, len(procs))
	if os.Geteuid() == 0 && b.user == "0:0" {
		t.Error("the browser runs as root")
	}
}

func fenceFor(t *testing.T, origin string) (*fence.Proxy, error) {
	t.Helper()
	u, err := url.Parse(origin)
	if err != nil {
		return nil, err
	}
	return fence.Start(fence.Config{Origin: u})
}

// A run leaves nothing for the next: cookies and storage set by a site in
// one run are gone in the next.
func TestRunsDoNotShareCookiesOrStorage(t *testing.T) {
	chromium := testenv.Chromium(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "tenant", Value: "one", MaxAge: 3600, Path: "/"})
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<!doctype html><title>set</title><script>localStorage.setItem("tenant", "one");</script><p>set</p>`)
	})
	mux.HandleFunc("/read", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		c, _ := r.Cookie("tenant")
		fmt.Fprintf(w, `<!doctype html><title>read</title><p id=c>cookie:%v</p><p id=s></p>
<script>document.getElementById("s").textContent = "storage:" + (localStorage.getItem("tenant") || "none");</script>`, c != nil)
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	run := func(pages ...Page) *Report {
		t.Helper()
		rep, err := Run(context.Background(), Options{BaseURL: ts.URL, ChromiumPath: chromium, Concurrency: 1, Pages: pages})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	// Within a run the site keeps its state: the check below means
	// something.
	if rep := run(Page{Path: "/set"}, Page{Path: "/read", ExpectText: "cookie:true"}, Page{Path: "/read?2", ExpectText: "storage:one"}); rep.Conclusion != Success {
		t.Fatalf("run 1 did not keep its own state: %s %+v", rep.Title, rep.Pages)
	}
	if rep := run(Page{Path: "/read", ExpectText: "cookie:false"}, Page{Path: "/read?2", ExpectText: "storage:none"}); rep.Conclusion != Success {
		t.Fatalf("run 2 sees run 1's state: %s %+v", rep.Title, rep.Pages)
	}
}

// Where the browser user cannot run the browser (here: it cannot reach the
// binary), hoist falls back to root without the sandbox, and says so at
// error level rather than failing every smoke test.
func TestBrowserFallsBackLoudly(t *testing.T) {
	chromium := testenv.Chromium(t)
	if os.Geteuid() != 0 {
		t.Skip("the fallback to root needs root")
	}
	hidden := filepath.Join(t.TempDir(), "chromium") // a 0700 folder of root's
	if err := os.Symlink(chromium, hidden); err != nil {
		t.Fatal(err)
	}
	fp, err := fenceFor(t, "http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	defer fp.Close()
	var logs bytes.Buffer
	ctx := zerolog.New(&logs).WithContext(context.Background())
	b, err := startBrowser(ctx, launch{path: hidden, shareRenderer: true, proxy: fp.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()
	if b.user != "0:0" || b.sandboxed {
		t.Errorf("user %s, sandbox %v: want the root fallback", b.user, b.sandboxed)
	}
	if !strings.Contains(logs.String(), `"level":"error"`) || !strings.Contains(logs.String(), "less protection than wanted: as root without the sandbox") {
		t.Errorf("the fallback was not logged as an error: %s", logs.String())
	}

	for spec, want := range map[string]string{"": "65534:65534", "nobody": "65534:65534", "1234": "1234:1234", "1234:99": "1234:99", "root": "root"} {
		cred, _, err := browserCredential(spec)
		got := "root"
		if cred != nil {
			got = fmt.Sprintf("%d:%d", cred.Uid, cred.Gid)
		}
		if err != nil || got != want {
			t.Errorf("browser user %q: %s, %v; want %s", spec, got, err, want)
		}
	}
	if _, _, err := browserCredential("no-such-user-here"); err == nil {
		t.Error("an unknown browser user is not an error")
	}
}
