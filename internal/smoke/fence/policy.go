// Package fence is the network fence of the smoke-test browser: a forward
// proxy that every request of Chromium goes through, which lets a request
// out only to the site under test and to hosts the server allows, and never
// to this machine, its private networks or a cloud metadata service.
//
// Why a proxy rather than request interception alone: Chromium sends every
// kind of traffic it makes (documents, frames, subresources, redirects,
// fetch, WebSocket, workers and service workers, prefetches) through its
// proxy, including traffic CDP interception does not see or sees only per
// target, and the proxy resolves host names itself and connects to the
// address it checked, so a host name that changes its answer between two
// lookups (DNS rebinding) cannot slip through. The browser only reports
// which of its requests the fence refused (see smoke's collector).
package fence

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Rule is one entry of smoke.allow_hosts: a host name, or "*." and a domain
// for its subdomains, with an optional port. Without a port it allows 80
// and 443.
type Rule struct {
	// Host is lower case, without the "*." of a wildcard.
	Host     string
	Wildcard bool
	// Port is 0 for 80 and 443.
	Port int
}

// ParseRule checks one allow_hosts entry: "fonts.example.com",
// "*.example.com" or "cdn.example.com:8443". IP addresses are accepted only
// when public: the fence exists to keep private ones out.
func ParseRule(s string) (Rule, error) { return parseRule(s, false) }

// ParsePrivateRule checks one smoke.verify_private_hosts entry: a live
// site the server lets hoist browse on private addresses, such as
// "edge.internal", "localhost:6081" or "10.0.0.7:8080". The match is
// exact: no wildcards, since each entry opens private addresses to every
// repository's checks. Single-label names (a container's service name)
// and private, loopback or link-local addresses are accepted; a cloud
// metadata address never is.
func ParsePrivateRule(s string) (Rule, error) { return parseRule(s, true) }

func parseRule(s string, private bool) (Rule, error) {
	in := s
	example := "fonts.example.com, *.example.com or cdn.example.com:8443"
	if private {
		example = "edge.internal or 127.0.0.1:6081"
	}
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "" {
		return Rule{}, errors.New("empty host")
	}
	if strings.Contains(s, "://") || strings.ContainsAny(s, "/?#@ \t") {
		return Rule{}, fmt.Errorf("%q: want a host name such as %s, not a URL", in, example)
	}
	var r Rule
	host := s
	if h, p, err := net.SplitHostPort(s); err == nil {
		n, perr := strconv.Atoi(p)
		if perr != nil || n < 1 || n > 65535 {
			return Rule{}, fmt.Errorf("%q: port %q is not a number from 1 to 65535", in, p)
		}
		host, r.Port = h, n
	}
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		if private {
			return Rule{}, fmt.Errorf("%q: wildcards are not accepted here; name each host, such as %s", in, example)
		}
		host, r.Wildcard = rest, true
	}
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		if r.Wildcard {
			return Rule{}, fmt.Errorf("%q: a wildcard needs a domain, not an address", in)
		}
		if private {
			if isMetadata(ip) || ip.IsUnspecified() || !ip.IsValid() {
				return Rule{}, fmt.Errorf("%q: %s cannot be allowed", in, Forbidden(ip))
			}
		} else if why := Forbidden(ip); why != "" {
			return Rule{}, fmt.Errorf("%q: %s cannot be allowed (the browser must not reach this machine or its networks)", in, why)
		}
		r.Host = ip.Unmap().String()
		return r, nil
	}
	if !private && (host == "localhost" || strings.HasSuffix(host, ".localhost")) {
		return Rule{}, fmt.Errorf("%q: localhost is this machine and cannot be allowed", in)
	}
	labels := strings.Split(host, ".")
	if len(labels) < 2 && !private {
		return Rule{}, fmt.Errorf("%q: want a fully qualified host name such as fonts.example.com", in)
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") ||
			strings.IndexFunc(l, func(c rune) bool { return !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') }) >= 0 {
			return Rule{}, fmt.Errorf("%q: %q is not a valid host name label", in, l)
		}
	}
	r.Host = host
	return r, nil
}

// ParseRules checks every entry, naming the index of the first bad one.
func ParseRules(entries []string) ([]Rule, error) {
	var out []Rule
	for i, e := range entries {
		r, err := ParseRule(e)
		if err != nil {
			return nil, fmt.Errorf("allow_hosts[%d]: %w", i, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// Match tells whether the rule allows host (lower case, no brackets) and
// port.
func (r Rule) Match(host string, port int) bool {
	if r.Port == 0 {
		if port != 80 && port != 443 {
			return false
		}
	} else if port != r.Port {
		return false
	}
	if r.Wildcard {
		return strings.HasSuffix(host, "."+r.Host)
	}
	return host == r.Host
}

func (r Rule) String() string {
	h := r.Host
	if r.Wildcard {
		h = "*." + h
	}
	if r.Port != 0 {
		return net.JoinHostPort(h, strconv.Itoa(r.Port))
	}
	return h
}

// metadata lists the cloud metadata services people recognise in a
// refusal (AWS, GCP, Azure and most others on 169.254.169.254; AWS's IPv6
// one; Alibaba's).
var metadata = map[netip.Addr]bool{
	netip.MustParseAddr("169.254.169.254"): true,
	netip.MustParseAddr("fd00:ec2::254"):   true,
	netip.MustParseAddr("100.100.100.200"): true,
}

// reserved are ranges no public site lives in, beyond those netip
// classifies: "this network", shared address space (carrier NAT), IETF
// protocol assignments, documentation, benchmarking, the old class E and
// broadcast, and IPv6 documentation, site-local and discard prefixes.
var reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("100::/64"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("fec0::/10"),
}

// embedsIPv4 are IPv6 prefixes whose addresses carry an IPv4 address that
// a gateway may connect to: NAT64 (RFC 6052, 8215), 6to4 and the
// deprecated IPv4-compatible form.
var embedsIPv4 = []struct {
	p   netip.Prefix
	off int // byte offset of the IPv4 address
}{
	{netip.MustParsePrefix("64:ff9b::/96"), 12},
	{netip.MustParsePrefix("64:ff9b:1::/48"), 12},
	{netip.MustParsePrefix("2002::/16"), 2},
	{netip.MustParsePrefix("::/96"), 12},
}

// Forbidden says why the browser may not connect to ip ("loopback address
// 127.0.0.1"), or "" when it is a public unicast address.
func Forbidden(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is6() {
		for _, e := range embedsIPv4 {
			if e.p.Contains(ip) && !ip.IsUnspecified() && !ip.IsLoopback() {
				b := ip.As16()
				v4 := netip.AddrFrom4([4]byte(b[e.off : e.off+4]))
				if why := Forbidden(v4); why != "" {
					return fmt.Sprintf("%s (in %s)", why, ip)
				}
			}
		}
	}
	var kind string
	switch {
	case !ip.IsValid():
		kind = "invalid address"
	case ip.IsUnspecified():
		kind = "unspecified address"
	case ip.IsLoopback():
		kind = "loopback address"
	case metadata[ip]:
		return "cloud metadata address " + ip.String()
	case ip.IsLinkLocalUnicast():
		kind = "link-local address"
	case ip.IsPrivate():
		kind = "private address"
	case ip.IsMulticast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast():
		kind = "multicast address"
	default:
		for _, p := range reserved {
			if p.Contains(ip) {
				kind = "reserved address"
				break
			}
		}
	}
	if kind == "" {
		return ""
	}
	return kind + " " + ip.String()
}

// isMetadata tells whether ip is a cloud metadata service, in any of the
// forms Forbidden recognises.
func isMetadata(ip netip.Addr) bool {
	ip = ip.Unmap()
	if metadata[ip] {
		return true
	}
	if ip.Is6() {
		for _, e := range embedsIPv4 {
			if e.p.Contains(ip) && !ip.IsUnspecified() && !ip.IsLoopback() {
				b := ip.As16()
				if metadata[netip.AddrFrom4([4]byte(b[e.off:e.off+4]))] {
					return true
				}
			}
		}
	}
	return false
}
