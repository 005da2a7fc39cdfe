package outbound

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestBlocksSpecialRanges(t *testing.T) {
	g, _ := New(nil)
	for _, a := range []string{"127.0.0.1", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
		"fe80::1", "0.0.0.0", "::", "100.64.0.1", "::ffff:127.0.0.1", "fd00::1"} {
		if err := g.Check(netip.MustParseAddr(a)); !errors.Is(err, ErrBlocked) {
			t.Errorf("%s allowed; want blocked", a)
		}
	}
	for _, a := range []string{"8.8.8.8", "2606:4700::1111", "93.184.216.34"} {
		if err := g.Check(netip.MustParseAddr(a)); err != nil {
			t.Errorf("%s blocked: %v", a, err)
		}
	}
}

func TestAllowListByCIDRAndHost(t *testing.T) {
	g, err := New([]string{"10.0.0.0/8", "odoo.internal:8069"})
	if err != nil {
		t.Fatal(err)
	}
	if g.Check(netip.MustParseAddr("10.9.9.9")) != nil || g.Check(netip.MustParseAddr("192.168.0.1")) == nil {
		t.Fatal("CIDR allow-list wrong")
	}
	if !g.hostAllowed("ODOO.internal") || g.hostAllowed("other.internal") {
		t.Fatal("host allow-list wrong")
	}
	if _, err := New([]string{"not a host/x"}); err == nil {
		t.Fatal("bad entry accepted")
	}
}

func TestClientRefusesLoopbackUnlessAllowed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	defer srv.Close()
	g, _ := New(nil)
	_, err := g.Client(Options{}).Get(srv.URL)
	if !errors.Is(err, ErrBlocked) {
		t.Fatalf("GET %s: %v; want blocked", srv.URL, err)
	}
	// A name that resolves to loopback is blocked too (checked on the dialled address).
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	if _, err := g.Client(Options{}).Get("http://localhost:" + port); !errors.Is(err, ErrBlocked) {
		t.Fatalf("GET localhost: %v; want blocked", err)
	}
	g.AllowURL("http://localhost:" + port + "/x")
	resp, err := g.Client(Options{}).Get("http://localhost:" + port)
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("allow-listed host: %v", err)
	}
	resp.Body.Close()
}

func TestRedirectsOffByDefaultAndCheckedWhenOn(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }))
	defer target.Close()
	redir := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusFound)
	}))
	defer redir.Close()
	g2, _ := New(nil)
	_ = g2.Allow("127.0.0.1/32")
	resp, err := g2.Client(Options{}).Get(redir.URL)
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("redirect followed by default: %v %v", resp, err)
	}
	resp.Body.Close()
	// With redirects on, a hop to a blocked address is refused.
	g3, _ := New([]string{"localhost"})
	redirToIP := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
	}))
	defer redirToIP.Close()
	_, p2, _ := net.SplitHostPort(redirToIP.Listener.Addr().String())
	_, err = g3.Client(Options{FollowRedirect: true}).Get("http://localhost:" + p2)
	if !errors.Is(err, ErrBlocked) {
		t.Fatalf("redirect to metadata address: %v; want blocked", err)
	}
}
