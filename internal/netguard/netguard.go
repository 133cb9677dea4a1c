package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Resolver looks up the addresses of a host name. *net.Resolver
// implements it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// BlockedError reports a destination that is, or resolves to, an address
// outside the public internet. It names the address and its class, never
// the URL (whose query may hold secrets).
type BlockedError struct {
	Addr  netip.Addr
	Class string // loopback, private, link-local, ...
}

// Error says which address was refused and why.
func (e *BlockedError) Error() string {
	article := "a"
	if strings.ContainsRune("aeiou", rune(e.Class[0])) {
		article = "an"
	}
	return fmt.Sprintf("%s is %s %s address, not a public one", e.Addr, article, e.Class)
}

// ErrNotCanonical reports an IPv4 address written in a form other than a
// dotted quad (2130706433, 0x7f000001, 0177.1): resolvers disagree on
// what such hosts mean, so they are refused whatever they point at.
var ErrNotCanonical = errors.New("a numeric host must be written as a dotted-quad IPv4 address or a bracketed IPv6 address")

// reserved are ranges outside the public internet that netip's own
// predicates do not cover.
var reserved = []struct {
	prefix netip.Prefix
	class  string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "this-network"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("100::/64"), "discard"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
}

// Embedded IPv4 forms: NAT64 (64:ff9b::/96), 6to4 (2002::/16) and the
// deprecated IPv4-compatible form (::/96) carry an IPv4 address that a
// network may route to.
var (
	nat64      = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour  = netip.MustParsePrefix("2002::/16")
	compatible = netip.MustParsePrefix("::/96")
)

// Classify returns the class of a non-public address ("loopback",
// "private", "link-local", ...), or "" for a public one. IPv4 addresses
// embedded in IPv6 (mapped, NAT64, 6to4, compatible) are judged by the
// IPv4 address.
func Classify(a netip.Addr) string {
	a = a.WithZone("").Unmap()
	if a.Is6() {
		b := a.As16()
		switch {
		case nat64.Contains(a):
			return Classify(netip.AddrFrom4([4]byte(b[12:16])))
		case sixToFour.Contains(a):
			return Classify(netip.AddrFrom4([4]byte(b[2:6])))
		case compatible.Contains(a) && !a.IsUnspecified() && !a.IsLoopback():
			return Classify(netip.AddrFrom4([4]byte(b[12:16])))
		}
	}
	switch {
	case !a.IsValid():
		return "invalid"
	case a.IsUnspecified():
		return "unspecified"
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate():
		return "private"
	case a.IsLinkLocalUnicast():
		return "link-local"
	case a.IsMulticast(), a.IsLinkLocalMulticast(), a.IsInterfaceLocalMulticast():
		return "multicast"
	}
	for _, r := range reserved {
		if r.prefix.Contains(a) {
			return r.class
		}
	}
	return ""
}

// check returns a *BlockedError for a non-public address.
func check(a netip.Addr) error {
	if class := Classify(a); class != "" {
		return &BlockedError{Addr: a.WithZone("").Unmap(), Class: class}
	}
	return nil
}

// CheckURL checks the host of an absolute URL: an IP address in any
// notation is judged directly; a name is resolved with r and refused when
// any of its addresses is not public. A name that does not resolve now is
// let through (the dial-time guard of Transport still applies).
func CheckURL(ctx context.Context, r Resolver, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errors.New("not an absolute URL")
	}
	return CheckHost(ctx, r, u.Hostname())
}

// CheckHost is CheckURL for a bare host name or address.
func CheckHost(ctx context.Context, r Resolver, host string) error {
	host = strings.TrimSuffix(strings.TrimSpace(host), ".")
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return check(a)
	}
	if a, ok := parseLegacyIPv4(host); ok {
		if err := check(a); err != nil {
			return err
		}
		return ErrNotCanonical
	}
	if r == nil {
		r = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if err := check(a); err != nil {
			return err
		}
	}
	return nil
}

// parseLegacyIPv4 reads the inet_aton notations of an IPv4 address: one
// to four parts, each decimal, hex (0x) or octal (leading 0), the last
// part filling the remaining bytes (2130706433, 127.1, 0x7f.0.0.1).
func parseLegacyIPv4(host string) (netip.Addr, bool) {
	parts := strings.Split(host, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var v uint64
	for i, p := range parts {
		if p == "" || strings.ContainsAny(p, "_+-") {
			return netip.Addr{}, false
		}
		n, err := strconv.ParseUint(p, 0, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		if i < len(parts)-1 {
			if n > 255 {
				return netip.Addr{}, false
			}
			v = v<<8 | n
			continue
		}
		rest := 8 * uint(5-len(parts))
		if n >= 1<<rest {
			return netip.Addr{}, false
		}
		v = v<<rest | n
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// Control is a net.Dialer Control function that refuses to connect to a
// non-public address. It runs after name resolution, on the address the
// socket is about to connect to.
func Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("connect to %s: cannot read the address: %w", address, err)
	}
	if err := check(ap.Addr()); err != nil {
		return fmt.Errorf("connect refused: %w", err)
	}
	return nil
}

// Transport returns a copy of base (http.DefaultTransport when nil) whose
// connections to non-public addresses are refused when they are made.
// Connections to the proxies base is configured with (HTTPS_PROXY and the
// like, usually inside the private network) are allowed; through a proxy
// the target's name is resolved by the proxy, so only CheckURL applies.
func Transport(base *http.Transport) *http.Transport {
	if base == nil {
		base = http.DefaultTransport.(*http.Transport)
	}
	t := base.Clone()
	plain := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	guarded := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: Control}
	proxies := proxyAddrs(base)
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if proxies[addr] {
			return plain.DialContext(ctx, network, addr)
		}
		return guarded.DialContext(ctx, network, addr)
	}
	t.DialTLSContext = nil
	return t
}

// proxyAddrs are the host:port addresses of the proxies base would use.
func proxyAddrs(base *http.Transport) map[string]bool {
	out := map[string]bool{}
	if base.Proxy == nil {
		return out
	}
	for _, target := range []string{"https://example.com/", "http://example.com/"} {
		req, _ := http.NewRequest(http.MethodGet, target, nil)
		u, err := base.Proxy(req)
		if err != nil || u == nil {
			continue
		}
		port := u.Port()
		if port == "" {
			port = map[string]string{"https": "443", "socks5": "1080"}[u.Scheme]
			if port == "" {
				port = "80"
			}
		}
		out[net.JoinHostPort(u.Hostname(), port)] = true
	}
	return out
}
