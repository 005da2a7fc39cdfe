package outbound

import (
	"fmt"
	"net/netip"
)

// span is one refused range and what it is.
type span struct {
	p    netip.Prefix
	what string
}

func spans(list ...string) []span {
	out := make([]span, 0, len(list)/2)
	for i := 0; i < len(list); i += 2 {
		out = append(out, span{netip.MustParsePrefix(list[i]), list[i+1]})
	}
	return out
}

// refused4 are the IPv4 ranges that are not globally reachable: the IANA
// IPv4 special-purpose registry's "globally reachable: false" entries, the
// deprecated 6to4 relay anycast, multicast, reserved and broadcast.
var refused4 = spans(
	"0.0.0.0/8", "a \"this network\" (unspecified) address",
	"10.0.0.0/8", "a private address",
	"100.64.0.0/10", "a shared (CGNAT) address",
	"127.0.0.0/8", "a loopback address",
	"169.254.0.0/16", "a link-local address (cloud metadata)",
	"172.16.0.0/12", "a private address",
	"192.0.0.0/24", "an IETF protocol assignment address",
	"192.0.2.0/24", "a documentation address (TEST-NET-1)",
	"192.88.99.0/24", "a 6to4 relay anycast address (deprecated)",
	"192.168.0.0/16", "a private address",
	"198.18.0.0/15", "a benchmarking address",
	"198.51.100.0/24", "a documentation address (TEST-NET-2)",
	"203.0.113.0/24", "a documentation address (TEST-NET-3)",
	"224.0.0.0/4", "a multicast address",
	"255.255.255.255/32", "the broadcast address",
	"240.0.0.0/4", "a reserved address",
)

// refused6 are the IPv6 ranges inside global unicast (2000::/3) that are
// not globally reachable, and the named ranges outside it (all of which
// are refused: only 2000::/3 is global unicast).
var refused6 = spans(
	"::/128", "the unspecified address",
	"::1/128", "the loopback address",
	"::/96", "an IPv4-compatible address (deprecated)",
	"64:ff9b:1::/48", "a local-use NAT64 address",
	"100::/64", "a discard-only address",
	"2001::/32", "a Teredo address",
	"2001::/23", "an IETF protocol assignment address",
	"2001:db8::/32", "a documentation address",
	"3fff::/20", "a documentation address",
	"5f00::/16", "an SRv6 SID address",
	"fc00::/7", "a unique-local (private) address",
	"fe80::/10", "a link-local address",
	"fec0::/10", "a site-local address (deprecated)",
	"ff00::/8", "a multicast address",
)

var (
	globalUnicast6 = netip.MustParsePrefix("2000::/3")
	nat64          = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour      = netip.MustParsePrefix("2002::/16")
	compat4        = netip.MustParsePrefix("::/96")
	teredo         = netip.MustParsePrefix("2001::/32")
)

// Embedded returns the IPv4 address an IPv6 address carries and how:
// IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64
// (64:ff9b::a.b.c.d), 6to4 (2002:aabb:ccdd::) and Teredo (the client's
// address, stored inverted in the last 32 bits).
func Embedded(a netip.Addr) (v4 netip.Addr, how string, ok bool) {
	if !a.Is6() {
		return netip.Addr{}, "", false
	}
	a = a.WithZone("")
	b := a.As16()
	switch {
	case a.Is4In6():
		return a.Unmap(), "IPv4-mapped", true
	case nat64.Contains(a):
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), "NAT64", true
	case sixToFour.Contains(a):
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), "6to4", true
	case teredo.Contains(a):
		return netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]}), "Teredo", true
	case compat4.Contains(a) && a != netip.IPv6Unspecified() && a != netip.IPv6Loopback():
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), "IPv4-compatible", true
	}
	return netip.Addr{}, "", false
}

// Refused says why an address is not globally reachable ("a loopback
// address", …), or "" when it is. An IPv6 address that embeds an IPv4
// address (IPv4-mapped, NAT64 64:ff9b::/96, 6to4) is judged by that IPv4
// address; Teredo, IPv4-compatible and local-use NAT64 addresses are
// refused outright, and so is every IPv6 address outside 2000::/3.
func Refused(a netip.Addr) string {
	if !a.IsValid() {
		return "not a valid address"
	}
	a = a.WithZone("")
	if a.Is4() {
		return refused4Why(a)
	}
	if v4, how, ok := Embedded(a); ok {
		if why := refused4Why(v4); why != "" {
			return fmt.Sprintf("the %s form of %s (%s)", how, v4, why)
		}
		if a.Is4In6() || nat64.Contains(a) || sixToFour.Contains(a) {
			return ""
		}
	}
	for _, s := range refused6 {
		if s.p.Contains(a) {
			return s.what
		}
	}
	if !globalUnicast6.Contains(a) {
		return "a reserved IPv6 address (not global unicast)"
	}
	return ""
}

func refused4Why(a netip.Addr) string {
	for _, s := range refused4 {
		if s.p.Contains(a) {
			return s.what
		}
	}
	return ""
}
