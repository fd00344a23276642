package fence

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
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

func TestParsePrivateRule(t *testing.T) {
	for in, want := range map[string]Rule{
		"edge.internal":        {Host: "edge.internal"},
		"127.0.0.1:6081":       {Host: "127.0.0.1", Port: 6081},
		"Varnish":              {Host: "varnish"},
		"localhost:8080":       {Host: "localhost", Port: 8080},
		"[::ffff:10.0.0.7]:80": {Host: "10.0.0.7", Port: 80},
		"93.184.215.14":        {Host: "93.184.215.14"},
	} {
		got, err := ParsePrivateRule(in)
		if err != nil || got != want {
			t.Errorf("ParsePrivateRule(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for in, msg := range map[string]string{
		"":                        "empty",
		"*.internal":              "wildcards are not accepted here",
		"169.254.169.254":         "cloud metadata address 169.254.169.254 cannot be allowed",
		"[64:ff9b::a9fe:a9fe]:80": "cloud metadata address",
		"0.0.0.0":                 "unspecified address",
		"http://edge.internal/":   "not a URL",
		"edge.internal:http":      "port",
		"-edge":                   "not a valid host name label",
	} {
		if _, err := ParsePrivateRule(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParsePrivateRule(%q) = %v, want an error with %q", in, err, msg)
		}
	}
}

// A live origin is resolved once and refused when any of its addresses is
// one the fence refuses, unless the server allows the host, which still
// never reaches a metadata service.
func TestPinOrigin(t *testing.T) {
	ctx := context.Background()
	names := map[string][]netip.Addr{
		"shop.example":   {netip.MustParseAddr("93.184.215.14")},
		"mixed.example":  {netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("10.0.0.7")},
		"inside.example": {netip.MustParseAddr("::1")},
		"meta.example":   {netip.MustParseAddr("169.254.169.254")},
	}
	var lookups atomic.Int32
	lookup := func(ctx context.Context, host string) ([]netip.Addr, error) {
		lookups.Add(1)
		if a, ok := names[host]; ok {
			return a, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	standIn := netip.MustParseAddrPort("127.0.0.1:8443")
	for _, c := range []struct {
		url     string
		private bool
		want    string // the error, or the pinned addresses
	}{
		{url: "https://shop.example/", want: "[93.184.215.14]"},
		{url: "http://127.0.0.1:6081/", want: "host 127.0.0.1 is a loopback address"},
		{url: "http://[::1]:6081/", want: "host ::1 is a loopback address"},
		{url: "http://169.254.169.254/latest/", want: "host 169.254.169.254 is a cloud metadata address"},
		{url: "http://10.1.2.3/", want: "host 10.1.2.3 is a private address"},
		{url: "http://[fe80::1]/", want: "host fe80::1 is a link-local address"},
		{url: "http://0.0.0.0:80/", want: "host 0.0.0.0 is an unspecified address"},
		{url: "http://mixed.example/", want: "host mixed.example resolves to private address 10.0.0.7"},
		{url: "http://inside.example/", want: "host inside.example resolves to loopback address ::1"},
		{url: "http://nowhere.example/", want: "no such host"},
		{url: "http://127.0.0.1:8443/", want: "[127.0.0.1]"},
		{url: "http://127.0.0.1:6081/", private: true, want: "[127.0.0.1]"},
		{url: "http://mixed.example/", private: true, want: "[93.184.215.14 10.0.0.7]"},
		{url: "http://meta.example/", private: true, want: "host meta.example resolves to cloud metadata address 169.254.169.254"},
		{url: "http://169.254.169.254/", private: true, want: "host 169.254.169.254 is a cloud metadata address"},
	} {
		u, _ := url.Parse(c.url)
		pin, err := PinOrigin(ctx, u, c.private, lookup, []netip.AddrPort{standIn})
		got := ""
		if err != nil {
			got = err.Error()
		} else {
			got = fmt.Sprint(pin.Addrs)
			if pin.Private != c.private {
				t.Errorf("%s: pin %+v", c.url, pin)
			}
		}
		if !strings.Contains(got, c.want) {
			t.Errorf("PinOrigin(%s, private %v) = %q, want %q", c.url, c.private, got, c.want)
		}
		var oe *OriginError
		if strings.HasPrefix(c.want, "host ") != errors.As(err, &oe) {
			t.Errorf("%s: error %T", c.url, err)
		}
	}
	if n := lookups.Load(); n != 6 {
		t.Errorf("%d lookups, want one per name", n)
	}
}

// A pinned live origin is reached at its pinned address only: the name is
// never resolved again (a rebinding answer goes unused), a pinned address
// the fence refuses is refused at connect time, and the same host on
// another port (a redirect's target) is judged as any other host.
func TestProxyPinsLiveOrigin(t *testing.T) {
	var insideHits atomic.Int32
	inside := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		insideHits.Add(1)
		io.WriteString(w, "secret")
	}))
	defer inside.Close()
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "site")
	}))
	defer site.Close()
	siteAP := netip.MustParseAddrPort(strings.TrimPrefix(site.URL, "http://"))
	insidePort := strings.Split(inside.URL, ":")[2]
	origin, _ := url.Parse(fmt.Sprintf("http://shop.example:%d", siteAP.Port()))
	var lookups atomic.Int32
	start := func(pin *Pin, public ...netip.AddrPort) (*Proxy, *http.Client) {
		p, err := Start(Config{Origin: origin, Pin: pin, Public: public,
			Lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
				lookups.Add(1)
				return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		pu, _ := url.Parse(p.URL())
		return p, &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu)},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	get := func(c *http.Client, u string) (int, string) {
		resp, err := c.Get(u)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	// Pinned to the stand-in of a public address.
	p, c := start(&Pin{Addrs: []netip.Addr{siteAP.Addr()}}, siteAP)
	if code, body := get(c, origin.String()+"/"); code != 200 || body != "site" {
		t.Errorf("the pinned origin: %d %q", code, body)
	}
	for _, u := range []string{"http://shop.example:" + insidePort + "/", "http://127.0.0.1:" + insidePort + "/"} {
		if code, _ := get(c, u); code != http.StatusForbidden {
			t.Errorf("%s: %d, want the fence's 403", u, code)
		}
		if _, ok := p.Claim(u); !ok {
			t.Errorf("%s: no refusal recorded", u)
		}
	}
	if n := lookups.Load(); n != 0 {
		t.Errorf("the fence resolved names %d times; the origin is pinned", n)
	}

	// Pinned to loopback without the server's leave: refused when
	// connecting, as a tunnel too.
	p, c = start(&Pin{Addrs: []netip.Addr{siteAP.Addr()}})
	if code, body := get(c, origin.String()+"/"); code != http.StatusForbidden || !strings.Contains(body, "loopback address 127.0.0.1") {
		t.Errorf("an unchecked loopback pin: %d %q", code, body)
	}
	if _, err := c.Get("https://shop.example:" + strconv.Itoa(int(siteAP.Port())) + "/"); err == nil {
		t.Error("a tunnel to an unchecked loopback pin was opened")
	}
	// Allowed by the server: reached.
	_, c = start(&Pin{Addrs: []netip.Addr{siteAP.Addr()}, Private: true})
	if code, body := get(c, origin.String()+"/"); code != 200 || body != "site" {
		t.Errorf("an allowed private pin: %d %q", code, body)
	}
	if n := insideHits.Load(); n != 0 {
		t.Errorf("the listener inside was reached %d times", n)
	}
}
