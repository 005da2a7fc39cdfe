package outbound

import (
	"net/netip"
	"strings"
	"testing"
)

// TestRefusedRanges: one address (and its edges) per refused range, with
// the word the reason must contain; and addresses that must pass.
func TestRefusedRanges(t *testing.T) {
	refused := []struct{ addr, why string }{
		// IPv4
		{"0.0.0.0", "this network"}, {"0.255.255.255", "this network"},
		{"10.0.0.0", "private"}, {"10.255.255.255", "private"},
		{"100.64.0.0", "CGNAT"}, {"100.127.255.255", "CGNAT"},
		{"127.0.0.1", "loopback"}, {"127.255.255.254", "loopback"},
		{"169.254.169.254", "link-local"},
		{"172.16.0.1", "private"}, {"172.31.255.255", "private"},
		{"192.0.0.1", "IETF"}, {"192.0.0.255", "IETF"},
		{"192.0.2.1", "documentation"},
		{"192.88.99.1", "6to4 relay"},
		{"192.168.1.1", "private"},
		{"198.18.0.1", "benchmarking"}, {"198.19.255.255", "benchmarking"},
		{"198.51.100.7", "documentation"},
		{"203.0.113.9", "documentation"},
		{"224.0.0.1", "multicast"}, {"239.255.255.255", "multicast"},
		{"240.0.0.1", "reserved"}, {"255.255.255.254", "reserved"},
		{"255.255.255.255", "broadcast"},
		// IPv6
		{"::", "unspecified"}, {"::1", "loopback"},
		{"::ffff:127.0.0.1", "IPv4-mapped form of 127.0.0.1 (a loopback"},
		{"::ffff:169.254.169.254", "link-local"},
		{"::127.0.0.1", "IPv4-compatible form of 127.0.0.1"},
		{"::8.8.8.8", "IPv4-compatible"},
		{"64:ff9b::127.0.0.1", "NAT64 form of 127.0.0.1"},
		{"64:ff9b::a9fe:a9fe", "NAT64 form of 169.254.169.254"},
		{"64:ff9b::10.0.0.1", "NAT64 form of 10.0.0.1"},
		{"64:ff9b:1::1", "local-use NAT64"}, {"64:ff9b:1:ffff::8.8.8.8", "local-use NAT64"},
		{"2002:7f00:1::1", "6to4 form of 127.0.0.1"},
		{"2002:a00:1::", "6to4 form of 10.0.0.1"},
		{"2002:c0a8:101::1", "6to4 form of 192.168.1.1"},
		{"2001::1", "Teredo"}, {"2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"},
		{"2001:2::1", "IETF"}, {"2001:10::1", "IETF"},
		{"2001:db8::1", "documentation"},
		{"3fff::1", "documentation"}, {"3fff:fff::1", "documentation"},
		{"100::1", "discard"},
		{"5f00::1", "SRv6"},
		{"fc00::1", "unique-local"}, {"fd12:3456::1", "unique-local"},
		{"fe80::1", "link-local"}, {"fe80::1%eth0", "link-local"},
		{"fec0::1", "site-local"},
		{"ff02::1", "multicast"}, {"ff0e::1", "multicast"},
		{"4000::1", "not global unicast"}, {"1::", "not global unicast"}, {"8000::1", "not global unicast"},
	}
	for _, c := range refused {
		why := Refused(netip.MustParseAddr(c.addr))
		if why == "" || !strings.Contains(why, c.why) {
			t.Errorf("Refused(%s) = %q; want a reason containing %q", c.addr, why, c.why)
		}
	}
	for _, a := range []string{"8.8.8.8", "1.1.1.1", "93.184.216.34", "100.63.255.255", "100.128.0.0", "172.32.0.1",
		"192.0.1.1", "192.31.196.1", "192.52.193.1", "198.17.255.255", "198.20.0.0", "223.255.255.255",
		"2606:4700::1111", "2a00:1450:4001::1", "::ffff:8.8.8.8", "64:ff9b::8.8.8.8", "2002:808:808::1", "2001:200::1", "3fff:1000::1"} {
		if why := Refused(netip.MustParseAddr(a)); why != "" {
			t.Errorf("Refused(%s) = %q; want globally reachable", a, why)
		}
	}
	if Refused(netip.Addr{}) == "" {
		t.Error("the zero Addr is not refused")
	}
}

func TestEmbedded(t *testing.T) {
	for in, want := range map[string]string{
		"::ffff:1.2.3.4":                       "1.2.3.4",
		"::1.2.3.4":                            "1.2.3.4",
		"64:ff9b::1.2.3.4":                     "1.2.3.4",
		"2002:102:304::9":                      "1.2.3.4",
		"2001:0:4136:e378:8000:63bf:3fff:fdd2": "192.0.2.45", // RFC 4380's example client
	} {
		v4, _, ok := Embedded(netip.MustParseAddr(in))
		if !ok || v4.String() != want {
			t.Errorf("Embedded(%s) = %v %v; want %s", in, v4, ok, want)
		}
	}
	for _, in := range []string{"1.2.3.4", "::", "::1", "2606:4700::1111"} {
		if _, _, ok := Embedded(netip.MustParseAddr(in)); ok {
			t.Errorf("Embedded(%s) found an IPv4 address", in)
		}
	}
}

// FuzzRefused: never panics; an address that embeds a refused IPv4
// address is refused; an IPv4 address is judged the same in every IPv6 form
// that translates to it (mapped, NAT64); only 2000::/3 and the translated
// forms can pass.
func FuzzRefused(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "8.8.8.8", "::ffff:10.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::", "2001::1", "fe80::1%eth0", "::", "ff02::1"} {
		a := netip.MustParseAddr(s)
		b := a.As16()
		f.Add(b[:], a.Zone())
	}
	f.Fuzz(func(t *testing.T, raw []byte, zone string) {
		var b [16]byte
		copy(b[:], raw)
		a := netip.AddrFrom16(b)
		if len(raw) == 4 {
			a = netip.AddrFrom4([4]byte(raw))
		}
		if a.Is6() && zone != "" && !strings.ContainsAny(zone, "%") {
			a = a.WithZone(zone)
		}
		why := Refused(a)
		if v4, how, ok := Embedded(a); ok {
			if Refused(v4) != "" && why == "" {
				t.Fatalf("%s (%s of %s, refused: %s) passes", a, how, v4, Refused(v4))
			}
		}
		if a.Is4() {
			m := netip.AddrFrom16(a.As16())
			r4 := a.As4()
			n := netip.AddrFrom16([16]byte{0, 0x64, 0xff, 0x9b, 12: r4[0], 13: r4[1], 14: r4[2], 15: r4[3]})
			if (Refused(m) == "") != (why == "") || (Refused(n) == "") != (why == "") {
				t.Fatalf("%s judged %q, mapped %q, NAT64 %q", a, why, Refused(m), Refused(n))
			}
		}
		if u := a.WithZone(""); a.Is6() && !a.Is4In6() && why == "" && !globalUnicast6.Contains(u) && !nat64.Contains(u) {
			t.Fatalf("%s outside 2000::/3 passes", a)
		}
		// The guard's decision without allow entries is the classification.
		if err := Default().Permits("h", netip.AddrPortFrom(a, 443)); (err == nil) != (why == "") {
			t.Fatalf("Permits(%s) = %v but Refused = %q", a, err, why)
		}
	})
}

// BenchmarkPermits: the per-connection cost of the decision (public IPv4,
// public IPv6, an allow entry hit).
func BenchmarkPermits(b *testing.B) {
	g, _ := New([]string{"10.0.0.0/8", "127.0.0.1:9000", "odoo.internal"})
	addrs := []netip.AddrPort{netip.MustParseAddrPort("93.184.216.34:443"), netip.MustParseAddrPort("[2606:4700::1111]:443"),
		netip.MustParseAddrPort("127.0.0.1:9000")}
	for i := 0; b.Loop(); i++ {
		_ = g.Permits("example.com", addrs[i%len(addrs)])
	}
}
