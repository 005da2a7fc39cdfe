package outbound

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestAllowEntries(t *testing.T) {
	g, err := New([]string{"10.0.0.0/8", "127.0.0.1:9000", "[::1]:9001", "host.internal:8443", "odoo.internal", "192.168.7.7", "fd00::5"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		host string
		addr string
		ok   bool
	}{
		{"10.9.9.9", "10.9.9.9:1", true},           // CIDR: any port
		{"10.9.9.9", "10.9.9.9:65535", true},       //
		{"x", "[::ffff:10.1.2.3]:80", true},        // IPv4-mapped form of an allowed IPv4
		{"127.0.0.1", "127.0.0.1:9000", true},      // IP:port: that port …
		{"127.0.0.1", "127.0.0.1:9001", false},     // … only
		{"localhost", "127.0.0.1:9000", true},      // (by address, whatever the name)
		{"::1", "[::1]:9001", true},                // [v6]:port
		{"::1", "[::1]:9000", false},               //
		{"host.internal", "10.0.0.1:8443", true},   // name:port
		{"host.internal", "172.16.0.1:8443", true}, //
		{"host.internal", "172.16.0.1:8444", false},
		{"HOST.internal.", "172.16.0.1:8443", true}, // case and trailing dot
		{"odoo.internal", "172.16.0.1:1", true},     // name: any port
		{"other.internal", "172.16.0.1:8443", false},
		{"192.168.7.7", "192.168.7.7:5432", true}, // IP: any port
		{"192.168.7.8", "192.168.7.8:5432", false},
		{"fd00::5", "[fd00::5]:80", true},
		{"fd00::6", "[fd00::6]:80", false},
		{"example.com", "93.184.216.34:443", true}, // public: always
	}
	for _, c := range cases {
		err := g.Permits(c.host, ap(c.addr))
		if c.ok && err != nil {
			t.Errorf("%s at %s refused: %v", c.host, c.addr, err)
		}
		if !c.ok && !errors.Is(err, ErrBlocked) {
			t.Errorf("%s at %s allowed; want refused", c.host, c.addr)
		}
	}
	for _, bad := range []string{"not a host/x", "10.0.0.0/8:80", "host:0", "host:99999", "host:x", "*.internal", "a..b"} {
		if _, err := New([]string{bad}); err == nil {
			t.Errorf("entry %q accepted", bad)
		} else if !strings.Contains(err.Error(), "expected a CIDR") {
			t.Errorf("entry %q: error does not say what is expected: %v", bad, err)
		}
	}
}

func TestErrorSaysWhatToDo(t *testing.T) {
	err := Default().Permits("db", ap("10.1.2.3:5432"))
	if !errors.Is(err, ErrBlocked) || !strings.Contains(err.Error(), "private") || !strings.Contains(err.Error(), "outbound.allow") ||
		!strings.Contains(err.Error(), "10.1.2.3:5432") {
		t.Fatalf("error %v", err)
	}
}

func serve(t *testing.T, code int) (*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) }))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	return srv, port
}

func get(c *http.Client, url string) (int, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func TestClientRefusesLoopbackUnlessAllowed(t *testing.T) {
	srv, port := serve(t, 204)
	g, _ := New(nil)
	if _, err := get(g.Client(Options{}), srv.URL); !errors.Is(err, ErrBlocked) {
		t.Fatalf("GET %s: %v; want blocked", srv.URL, err)
	}
	// A name that resolves to loopback is blocked too (checked on the dialled address).
	if _, err := get(g.Client(Options{}), "http://localhost:"+port); !errors.Is(err, ErrBlocked) {
		t.Fatalf("GET localhost: %v; want blocked", err)
	}
	g2, _ := New([]string{"localhost:" + port})
	if code, err := get(g2.Client(Options{}), "http://localhost:"+port); err != nil || code != 204 {
		t.Fatalf("allow-listed host and port: %d %v", code, err)
	}
}

func TestAllowEntryWithPortIsThatPortOnly(t *testing.T) {
	srvA, portA := serve(t, 204)
	srvB, _ := serve(t, 204)
	g, _ := New([]string{"127.0.0.1:" + portA})
	c := g.Client(Options{})
	if code, err := get(c, srvA.URL); err != nil || code != 204 {
		t.Fatalf("allowed port: %d %v", code, err)
	}
	if _, err := get(c, srvB.URL); !errors.Is(err, ErrBlocked) {
		t.Fatalf("other port on the same host: %v; want blocked", err)
	}
}

func TestOwnAllowanceIsThatClientsOnly(t *testing.T) {
	srvA, portA := serve(t, 204)
	srvB, _ := serve(t, 204)
	g, _ := New(nil)
	own, err := TargetOf(srvA.URL + "/api")
	if err != nil {
		t.Fatal(err)
	}
	live := true
	c := g.Client(Options{Allow: []Target{own}, Live: func(context.Context) error {
		if !live {
			return errors.New("connector deleted")
		}
		return nil
	}})
	if code, err := get(c, srvA.URL+"/x"); err != nil || code != 204 {
		t.Fatalf("own target: %d %v", code, err)
	}
	// Another port on the same host, another scheme on the same port, and
	// another client: all refused.
	if _, err := get(c, srvB.URL); !errors.Is(err, ErrBlocked) {
		t.Fatalf("other port: %v; want blocked", err)
	}
	if _, err := get(c, "https://127.0.0.1:"+portA); !errors.Is(err, ErrBlocked) {
		t.Fatalf("other scheme: %v; want blocked", err)
	}
	if _, err := get(g.Client(Options{}), srvA.URL); !errors.Is(err, ErrBlocked) {
		t.Fatalf("another client: %v; want blocked", err)
	}
	// Once the allowance no longer holds, new connections are refused.
	live = false
	c.CloseIdleConnections()
	if _, err := get(c, srvA.URL); !errors.Is(err, ErrBlocked) || !strings.Contains(err.Error(), "connector deleted") {
		t.Fatalf("after the allowance ended: %v; want blocked", err)
	}
}

func TestRedirectsOffByDefaultAndCheckedWhenOn(t *testing.T) {
	target, _ := serve(t, 200)
	redir := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusFound)
	}))
	defer redir.Close()
	g2, _ := New([]string{"127.0.0.1/32"})
	if code, err := get(g2.Client(Options{}), redir.URL); err != nil || code != http.StatusFound {
		t.Fatalf("redirect followed by default: %d %v", code, err)
	}
	// With redirects on, a hop to a blocked address is refused.
	_, p2 := serve(t, 200)
	redirToIP := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
	}))
	defer redirToIP.Close()
	_, p3, _ := net.SplitHostPort(redirToIP.Listener.Addr().String())
	g3, _ := New([]string{"localhost:" + p3})
	if _, err := get(g3.Client(Options{FollowRedirect: true}), "http://localhost:"+p3); !errors.Is(err, ErrBlocked) {
		t.Fatalf("redirect to metadata address: %v; want blocked", err)
	}
	// A client's own allowance does not follow a redirect to another port.
	redirOther := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://127.0.0.1:"+p2+"/", http.StatusFound)
	}))
	defer redirOther.Close()
	own, _ := TargetOf(redirOther.URL)
	c := Default().Client(Options{FollowRedirect: true, Allow: []Target{own}})
	if _, err := get(c, redirOther.URL); !errors.Is(err, ErrBlocked) {
		t.Fatalf("redirect from the own target to another port: %v; want blocked", err)
	}
}

func TestTargetOf(t *testing.T) {
	for in, want := range map[string]Target{
		"http://Odoo.Internal:8069/web":  {"http", "odoo.internal", "8069"},
		"https://odoo.internal/":         {"https", "odoo.internal", "443"},
		"http://[::1]:9000":              {"http", "::1", "9000"},
		"HTTP://127.0.0.1":               {"http", "127.0.0.1", "80"},
		"http://user:pw@10.0.0.1:81/x?y": {"http", "10.0.0.1", "81"},
	} {
		got, err := TargetOf(in)
		if err != nil || got != want {
			t.Errorf("TargetOf(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "ftp://x", "/relative", "http://"} {
		if _, err := TargetOf(bad); err == nil {
			t.Errorf("TargetOf(%q) accepted", bad)
		}
	}
}
