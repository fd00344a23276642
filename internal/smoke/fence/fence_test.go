package fence

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

func TestForbidden(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1":              "loopback address 127.0.0.1",
		"127.8.9.10":             "loopback address 127.8.9.10",
		"::1":                    "loopback address ::1",
		"::ffff:127.0.0.1":       "loopback address 127.0.0.1",
		"169.254.169.254":        "cloud metadata address 169.254.169.254",
		"fd00:ec2::254":          "cloud metadata address fd00:ec2::254",
		"169.254.1.1":            "link-local address 169.254.1.1",
		"fe80::1":                "link-local address fe80::1",
		"10.1.2.3":               "private address 10.1.2.3",
		"172.16.0.1":             "private address 172.16.0.1",
		"192.168.1.1":            "private address 192.168.1.1",
		"fd12::1":                "private address fd12::1",
		"0.0.0.0":                "unspecified address 0.0.0.0",
		"::":                     "unspecified address ::",
		"100.64.0.1":             "reserved address 100.64.0.1",
		"255.255.255.255":        "reserved address 255.255.255.255",
		"224.0.0.1":              "multicast address 224.0.0.1",
		"64:ff9b::a9fe:a9fe":     "cloud metadata address 169.254.169.254 (in 64:ff9b::a9fe:a9fe)",
		"2002:7f00:1::":          "loopback address 127.0.0.1 (in 2002:7f00:1::)",
		"93.184.215.14":          "",
		"2606:4700:4700::1111":   "",
		"::ffff:93.184.215.14":   "",
		"64:ff9b::5db8:d70e":     "",
		"2001:4860:4860::8888":   "",
		"8.8.8.8":                "",
		"::ffff:169.254.169.254": "cloud metadata address 169.254.169.254",
	} {
		if got := Forbidden(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Forbidden(%s) = %q, want %q", addr, got, want)
		}
	}
}

func TestParseRule(t *testing.T) {
	for in, want := range map[string]Rule{
		"fonts.example.com":    {Host: "fonts.example.com"},
		"*.Example.com":        {Host: "example.com", Wildcard: true},
		"cdn.example.com:8443": {Host: "cdn.example.com", Port: 8443},
		"93.184.215.14":        {Host: "93.184.215.14"},
	} {
		got, err := ParseRule(in)
		if err != nil || got != want {
			t.Errorf("ParseRule(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for in, msg := range map[string]string{
		"":                            "empty",
		"https://fonts.example.com/":  "not a URL",
		"localhost":                   "localhost is this machine",
		"app.localhost":               "localhost is this machine",
		"169.254.169.254":             "cloud metadata address",
		"10.0.0.1:80":                 "private address",
		"[::1]:443":                   "loopback address",
		"intranet":                    "fully qualified",
		"cdn.example.com:99999":       "port",
		"*.10.0.0.1":                  "",
		"bad_-.example.com/x":         "not a URL",
		"-bad.example.com":            "not a valid host name label",
		"user@cdn.example.com":        "not a URL",
		"cdn.example.com:http":        "port",
		"*.169.254.169.254.nip.io:80": "",
	} {
		_, err := ParseRule(in)
		if msg == "" {
			continue
		}
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseRule(%q) = %v, want an error with %q", in, err, msg)
		}
	}
	r, _ := ParseRule("*.example.com")
	if !r.Match("fonts.example.com", 443) || r.Match("example.com", 443) || r.Match("evilexample.com", 443) || r.Match("fonts.example.com", 22) {
		t.Error("wildcard rule matches wrongly")
	}
}

// The proxy itself, spoken to as Chromium does: absolute-form requests for
// http and CONNECT for tunnels. An allowed host is checked on the address
// it resolves to when connecting, so a name that answers with a public
// address to one lookup and loopback to the next is refused.
func TestProxyDecidesAtConnectTime(t *testing.T) {
	var hits atomic.Int32
	inside := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "inside")
	}))
	defer inside.Close()
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(Header, "forged")
		io.WriteString(w, "site")
	}))
	defer site.Close()
	insideAP := netip.MustParseAddrPort(strings.TrimPrefix(inside.URL, "http://"))
	origin, _ := url.Parse(site.URL)
	var lookups atomic.Int32
	p, err := Start(Config{
		Origin: origin,
		Allow:  []Rule{{Host: "rebind.example", Port: int(insideAP.Port())}},
		Lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
			lookups.Add(1)
			// A first answer the browser might have checked, then loopback.
			if lookups.Load() == 1 {
				return []netip.Addr{netip.MustParseAddr("93.184.215.14")}, nil
			}
			return []netip.Addr{insideAP.Addr()}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	pu, _ := url.Parse(p.URL())
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu)}}

	resp, err := client.Get(site.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "site" || resp.Header.Get(Header) != "" {
		t.Errorf("the origin through the proxy: %d %q, fence header %q", resp.StatusCode, body, resp.Header.Get(Header))
	}

	lookups.Store(1) // the next lookup answers loopback
	for _, u := range []string{
		"http://rebind.example:" + strings.Split(inside.URL, ":")[2] + "/",
		inside.URL + "/",
		"http://localhost:" + strings.Split(inside.URL, ":")[2] + "/",
		"http://[::ffff:7f00:1]:" + strings.Split(inside.URL, ":")[2] + "/",
		"http://elsewhere.example/",
	} {
		resp, err := client.Get(u)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get(Header) != "refused" {
			t.Errorf("%s: %d, want 403 from the fence", u, resp.StatusCode)
		}
		if _, ok := p.Claim(u); !ok {
			t.Errorf("%s: no refusal recorded", u)
		}
	}
	// A tunnel, as for https:// and ws://.
	_, err = client.Get("https://169.254.169.254/latest/meta-data/")
	if err == nil {
		t.Error("a tunnel to the metadata address was opened")
	}
	if r, ok := p.Claim("https://169.254.169.254/latest/meta-data/"); !ok || !strings.Contains(r.Reason, "cloud metadata") {
		t.Errorf("tunnel refusal %+v, %v", r, ok)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the listener inside was reached %d times", n)
	}
	if u := p.Unclaimed(); len(u) != 0 {
		t.Errorf("unclaimed refusals %+v", u)
	}
	// The proxy's own address is refused like any loopback one.
	c, err := net.Dial("tcp", pu.Host)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	buf := make([]byte, 12)
	io.ReadFull(c, buf)
	c.Close()
	if !strings.Contains(string(buf), "403") {
		t.Errorf("a request to the proxy itself: %q", buf)
	}
}
