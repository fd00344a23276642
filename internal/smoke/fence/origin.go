package fence

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Lookup resolves a host name to its addresses.
type Lookup func(ctx context.Context, host string) ([]netip.Addr, error)

// systemLookup is the system resolver.
func systemLookup(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// Pin is a live site's addresses, resolved and checked once before its
// run: the fence connects to that origin at these addresses only, so the
// name cannot answer with another address (DNS rebinding) once the
// browser runs.
type Pin struct {
	Addrs []netip.Addr
	// Private says the server allows the host on private addresses
	// (smoke.verify_private_hosts); a cloud metadata address is still
	// refused.
	Private bool
}

// OriginError is a live site hoist will not browse: its host is, or
// resolves to, an address the fence refuses.
type OriginError struct {
	Host string
	// Addr is the address refused; Literal says it is the host itself.
	Addr    netip.Addr
	Literal bool
	// Reason is what the address is, as Forbidden says it: "loopback
	// address 127.0.0.1".
	Reason string
}

func (e *OriginError) Error() string {
	if e.Literal {
		// "host 127.0.0.1 is a loopback address": the address is the host.
		kind := strings.TrimSuffix(e.Reason, " "+e.Addr.String())
		return fmt.Sprintf("host %s is %s %s", e.Host, article(kind), kind)
	}
	return fmt.Sprintf("host %s resolves to %s", e.Host, e.Reason)
}

func article(s string) string {
	if s != "" && strings.ContainsRune("aeiou", rune(s[0])) {
		return "an"
	}
	return "a"
}

// PinOrigin resolves the host of a site hoist does not serve itself (a
// live environment behind its CDN) and checks every address it has as the
// fence checks any other host's: when one is private, loopback,
// link-local, a metadata service or this machine's, the site is refused
// with an *OriginError, unless allowPrivate (the server allows that host),
// which still refuses a cloud metadata address. lookup nil is the system
// resolver; public lists the loopback listeners tests declare public, as
// Config.Public. The returned Pin goes into Config.Pin of the run's fence.
func PinOrigin(ctx context.Context, origin *url.URL, allowPrivate bool, lookup Lookup, public []netip.AddrPort) (*Pin, error) {
	if origin == nil || origin.Hostname() == "" {
		return nil, errors.New("fence: origin without a host")
	}
	host := strings.ToLower(origin.Hostname())
	port := portOf(origin)
	c := newAddrCheck(public)
	pin := &Pin{Private: allowPrivate}
	literal := false
	if ip, err := netip.ParseAddr(host); err == nil {
		pin.Addrs, literal = []netip.Addr{ip.Unmap()}, true
	} else {
		if lookup == nil {
			lookup = systemLookup
		}
		ips, err := lookup(ctx, host)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", host, err)
		}
		for _, ip := range ips {
			if ip.IsValid() {
				pin.Addrs = append(pin.Addrs, ip.Unmap())
			}
		}
		if len(pin.Addrs) == 0 {
			return nil, fmt.Errorf("resolve %s: no address", host)
		}
	}
	for _, ip := range pin.Addrs {
		if why := c.originForbidden(netip.AddrPortFrom(ip, port), allowPrivate); why != "" {
			return nil, &OriginError{Host: origin.Hostname(), Addr: ip, Literal: literal, Reason: why}
		}
	}
	return pin, nil
}

// addrCheck is the fence's judgement of an address: Forbidden, plus the
// addresses of this machine, minus the stand-ins tests declare public.
type addrCheck struct {
	local  map[netip.Addr]bool
	public map[netip.AddrPort]bool
}

func newAddrCheck(public []netip.AddrPort) addrCheck {
	c := addrCheck{local: localAddrs(), public: map[netip.AddrPort]bool{}}
	for _, a := range public {
		c.public[netip.AddrPortFrom(a.Addr().Unmap(), a.Port())] = true
	}
	return c
}

// forbidden says why ap may not be connected to, or "".
func (c addrCheck) forbidden(ap netip.AddrPort) string {
	ip := ap.Addr().Unmap()
	if c.public[netip.AddrPortFrom(ip, ap.Port())] {
		return ""
	}
	if why := Forbidden(ip); why != "" {
		return why
	}
	if c.local[ip] {
		return "address of this machine " + ip.String()
	}
	return ""
}

// originForbidden is forbidden for a live origin's address; private
// (allowed by the server) leaves only cloud metadata services out.
func (c addrCheck) originForbidden(ap netip.AddrPort, private bool) string {
	if !private {
		return c.forbidden(ap)
	}
	if isMetadata(ap.Addr()) {
		return Forbidden(ap.Addr())
	}
	return ""
}

// portOf is the URL's port, the scheme's default filled in.
func portOf(u *url.URL) uint16 {
	_, ps, _ := net.SplitHostPort(hostPort(u))
	n, _ := strconv.ParseUint(ps, 10, 16)
	return uint16(n)
}
