package fence

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Header marks the fence's own refusal answers, so the browser's report
// can tell them from the site's 403s. Answers passing through lose it.
const Header = "X-Hoist-Fence"

// Config is what one fence lets through.
type Config struct {
	// Origin is the site under test, such as http://127.0.0.1:41234.
	// Requests to it must match its scheme, host and port exactly. Without
	// Pin it is hoist's own private server of a candidate, reachable
	// whatever its address.
	Origin *url.URL
	// Pin, for a site hoist does not serve itself (a live environment),
	// makes the origin a host like any other: it is reached only at the
	// addresses PinOrigin checked before the run, each checked again when
	// connecting, and a redirect elsewhere is judged as any other host.
	Pin *Pin
	// Allow lists the other hosts the pages may load from; they are
	// reached only on public addresses.
	Allow []Rule
	// Lookup resolves host names; nil uses the system resolver.
	Lookup Lookup
	// Public, when set, treats the listed addresses as public although
	// they are not: tests stand in for an external host with a loopback
	// listener this way. Never set outside tests.
	Public []netip.AddrPort
}

// Refusal is one request the fence did not let out.
type Refusal struct {
	At time.Time
	// URL is what the browser asked for: a URL, or host:port for a tunnel
	// (HTTPS, WebSocket), whose path the proxy does not see.
	URL    string
	Reason string
	tunnel bool
	// hostPort is set for tunnels, to match the browser's URL.
	hostPort string
	claimed  bool
}

// Proxy is a running fence: an HTTP forward proxy on a loopback port.
type Proxy struct {
	cfg        Config
	originHP   string
	ln         net.Listener
	srv        *http.Server
	addrs      addrCheck
	toOrigin   *httputil.ReverseProxy
	toOutside  *httputil.ReverseProxy
	transports []*http.Transport

	mu      sync.Mutex
	refused []*Refusal
	tunnels map[net.Conn]bool
	closed  bool
}

// Start listens on 127.0.0.1 and serves until Close.
func Start(cfg Config) (*Proxy, error) {
	if cfg.Origin == nil || (cfg.Origin.Scheme != "http" && cfg.Origin.Scheme != "https") || cfg.Origin.Host == "" {
		return nil, fmt.Errorf("fence: origin %v is not an http(s) URL", cfg.Origin)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fence: listen: %w", err)
	}
	if cfg.Pin != nil && len(cfg.Pin.Addrs) == 0 {
		ln.Close()
		return nil, fmt.Errorf("fence: origin %v pinned to no address", cfg.Origin)
	}
	p := &Proxy{cfg: cfg, ln: ln, originHP: hostPort(cfg.Origin), addrs: newAddrCheck(cfg.Public), tunnels: map[net.Conn]bool{}}
	p.toOrigin = p.reverseProxy(p.dialOrigin)
	p.toOutside = p.reverseProxy(p.dialChecked)
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second, ErrorLog: nil}
	go p.srv.Serve(ln)
	return p, nil
}

// URL is the proxy's address for --proxy-server.
func (p *Proxy) URL() string { return "http://" + p.ln.Addr().String() }

// Close stops the proxy and ends its tunnels.
func (p *Proxy) Close() {
	p.srv.Close()
	p.mu.Lock()
	p.closed = true
	for c := range p.tunnels {
		c.Close()
	}
	p.mu.Unlock()
	for _, t := range p.transports {
		t.CloseIdleConnections()
	}
}

// Refusals returns every refusal so far.
func (p *Proxy) Refusals() []Refusal {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Refusal, len(p.refused))
	for i, r := range p.refused {
		out[i] = *r
	}
	return out
}

// Claim finds the earliest unclaimed refusal of the browser's request u and
// marks it claimed, so that each refusal is reported once.
func (p *Proxy) Claim(u string) (Refusal, bool) {
	var hp string
	if pu, err := url.Parse(u); err == nil && pu.Host != "" {
		hp = hostPort(pu)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.refused {
		if r.claimed {
			continue
		}
		if (!r.tunnel && r.URL == u) || (r.tunnel && hp != "" && r.hostPort == hp) {
			r.claimed = true
			return *r, true
		}
	}
	return Refusal{}, false
}

// Unclaimed returns the refusals no page has claimed, and claims them.
func (p *Proxy) Unclaimed() []Refusal {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Refusal
	for _, r := range p.refused {
		if !r.claimed {
			r.claimed = true
			out = append(out, *r)
		}
	}
	return out
}

func (p *Proxy) record(u, reason string, tunnel bool, hp string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refused = append(p.refused, &Refusal{At: time.Now(), URL: u, Reason: reason, tunnel: tunnel, hostPort: hp})
}

// refusedError is a connection the fence would not make.
type refusedError struct{ reason string }

func (e *refusedError) Error() string { return "refused by the fence: " + e.reason }

// hostPort is the URL's host and port, the default port filled in.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "https", "wss":
			port = "443"
		default:
			port = "80"
		}
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// decide tells whether host:port may be reached; scheme is "" for a
// tunnel. checked says the connection must go to a checked public address.
func (p *Proxy) decide(scheme, hp string) (checked bool, reason string) {
	host, ps, err := net.SplitHostPort(hp)
	if err != nil {
		return false, fmt.Sprintf("%q is not host:port", hp)
	}
	host = strings.ToLower(host)
	if hp == p.originHP && (scheme == "" || scheme == p.cfg.Origin.Scheme) {
		// The site under test: hoist's own server on whatever address it
		// has, or a live site at its pinned addresses (dialOrigin). A
		// tunnel to it is a WebSocket or an HTTPS request to the same
		// listener. Only this exact host and port is exempt from the
		// allow list: a redirect elsewhere is judged below.
		return false, ""
	}
	port, _ := strconv.Atoi(ps)
	for _, r := range p.cfg.Allow {
		if r.Match(host, port) {
			return true, ""
		}
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if why := p.forbidden(netip.AddrPortFrom(ip, uint16(port))); why != "" {
			return false, why
		}
		return false, fmt.Sprintf("%s is neither the site under test nor in smoke.allow_hosts", hp)
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return false, host + " is this machine"
	}
	if hp == p.originHP {
		return false, fmt.Sprintf("%s is the site under test only over %s", hp, p.cfg.Origin.Scheme)
	}
	return false, fmt.Sprintf("host %s is not in smoke.allow_hosts", hp)
}

// forbidden is Forbidden, plus the addresses of this machine, minus the
// stand-ins tests declare public.
func (p *Proxy) forbidden(ap netip.AddrPort) string { return p.addrs.forbidden(ap) }

// dialOrigin connects to the site under test: hoist's own server where it
// listens, or a pinned live site at its checked addresses only, each
// checked again (the host name is never resolved again).
func (p *Proxy) dialOrigin(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	if p.cfg.Pin == nil {
		return d.DialContext(ctx, network, addr)
	}
	_, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, _ := strconv.Atoi(ps)
	var why string
	var lastErr error
	for _, ip := range p.cfg.Pin.Addrs {
		ap := netip.AddrPortFrom(ip.Unmap(), uint16(port))
		if w := p.addrs.originForbidden(ap, p.cfg.Pin.Private); w != "" {
			why = w
			continue
		}
		c, err := d.DialContext(ctx, "tcp", ap.String())
		if err == nil {
			return c, nil
		}
		lastErr = err
	}
	if lastErr != nil {
		return nil, lastErr
	}
	return nil, &refusedError{reason: "the site under test is at " + why}
}

// dialChecked connects to an allowed host on the first of its addresses
// that is public, resolving the name itself so that the address checked is
// the address connected to.
func (p *Proxy) dialChecked(ctx context.Context, network, addr string) (net.Conn, error) {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, _ := strconv.Atoi(ps)
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		lookup := p.cfg.Lookup
		if lookup == nil {
			lookup = systemLookup
		}
		if ips, err = lookup(ctx, host); err != nil {
			return nil, err
		}
	}
	var why string
	var lastErr error
	d := &net.Dialer{Timeout: 10 * time.Second}
	for _, ip := range ips {
		ap := netip.AddrPortFrom(ip.Unmap(), uint16(port))
		if w := p.forbidden(ap); w != "" {
			why = w
			continue
		}
		c, err := d.DialContext(ctx, "tcp", ap.String())
		if err == nil {
			return c, nil
		}
		lastErr = err
	}
	if lastErr != nil {
		return nil, lastErr
	}
	if why == "" {
		return nil, fmt.Errorf("%s has no address", host)
	}
	return nil, &refusedError{reason: fmt.Sprintf("%s resolves to %s", host, why)}
}

func (p *Proxy) reverseProxy(dial func(ctx context.Context, network, addr string) (net.Conn, error)) *httputil.ReverseProxy {
	t := &http.Transport{
		Proxy:                 nil,
		DialContext:           dial,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		DisableCompression:    true,
	}
	p.transports = append(p.transports, t)
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			// Absolute-form request of a proxy client: go where it says,
			// with its Host, and add no forwarding headers.
			pr.Out.URL = pr.In.URL
			pr.Out.Host = pr.In.Host
		},
		Transport: t,
		ModifyResponse: func(r *http.Response) error {
			r.Header.Del(Header)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			var re *refusedError
			if errors.As(err, &re) {
				p.refuse(w, r.RequestURI, re.reason, false, "")
				return
			}
			http.Error(w, "hoist's browser proxy: "+err.Error(), http.StatusBadGateway)
		},
	}
}

func (p *Proxy) refuse(w http.ResponseWriter, u, reason string, tunnel bool, hp string) {
	p.record(u, reason, tunnel, hp)
	w.Header().Set(Header, "refused")
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, "hoist refused this request of the page under test: "+reason, http.StatusForbidden)
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect {
		p.tunnel(w, r)
		return
	}
	if !r.URL.IsAbs() || r.URL.Host == "" {
		// Not a proxy request: someone asked the proxy itself.
		p.refuse(w, r.RequestURI, "the browser's proxy itself", false, "")
		return
	}
	scheme := strings.ToLower(r.URL.Scheme)
	if scheme != "http" {
		p.refuse(w, r.RequestURI, "scheme "+scheme+" through the proxy", false, "")
		return
	}
	checked, why := p.decide(scheme, hostPort(r.URL))
	if why != "" {
		p.refuse(w, r.RequestURI, why, false, "")
		return
	}
	if checked {
		p.toOutside.ServeHTTP(w, r)
	} else {
		p.toOrigin.ServeHTTP(w, r)
	}
}

// tunnel serves CONNECT: HTTPS and WebSocket connections.
func (p *Proxy) tunnel(w http.ResponseWriter, r *http.Request) {
	hp := r.Host
	if h, port, err := net.SplitHostPort(hp); err == nil {
		hp = net.JoinHostPort(strings.ToLower(h), port)
	}
	checked, why := p.decide("", hp)
	if why != "" {
		p.refuse(w, hp, why, true, hp)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	var up net.Conn
	var err error
	if checked {
		up, err = p.dialChecked(ctx, "tcp", hp)
	} else {
		up, err = p.dialOrigin(ctx, "tcp", hp)
	}
	cancel()
	if err != nil {
		var re *refusedError
		if errors.As(err, &re) {
			p.refuse(w, hp, re.reason, true, hp)
			return
		}
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		up.Close()
		http.Error(w, "no tunnel", http.StatusInternalServerError)
		return
	}
	down, brw, err := hj.Hijack()
	if err != nil {
		up.Close()
		return
	}
	if !p.track(down, up) {
		return
	}
	defer p.untrack(down, up)
	if _, err := io.WriteString(down, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	done := make(chan struct{}, 2)
	go func() { copyBuffered(up, brw.Reader); closeWrite(up); done <- struct{}{} }()
	go func() { io.Copy(down, up); closeWrite(down); done <- struct{}{} }()
	<-done
	<-done
}

func copyBuffered(dst io.Writer, src *bufio.Reader) { io.Copy(dst, src) }

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseWrite()
		return
	}
	c.Close()
}

func (p *Proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		p.tunnels[c] = true
	}
	return true
}

func (p *Proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		c.Close()
		delete(p.tunnels, c)
	}
}

// localAddrs are the addresses of this machine's interfaces: hoist's own
// listeners (and everything else the machine serves) answer on them, even
// when one is a public address.
func localAddrs() map[netip.Addr]bool {
	out := map[netip.Addr]bool{}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return out
	}
	for _, a := range addrs {
		if pfx, err := netip.ParsePrefix(a.String()); err == nil {
			out[pfx.Addr().Unmap()] = true
		}
	}
	return out
}
