// Package outbound guards every call ipai makes to the outside (deliveries,
// connector calls, agents, the OIDC provider, notifications) against
// server-side request forgery.
//
// A target whose address is not globally reachable (see Refused: loopback,
// private, link-local, shared, multicast, the IANA special-purpose ranges,
// and IPv6 forms that embed such an IPv4 address) is refused, unless
//
//   - an outbound.allow entry (ipai.yaml or IPAI_OUTBOUND_ALLOW, set by an
//     administrator) allows it: a CIDR or IP (any port), an IP with a port
//     (127.0.0.1:9000, [::1]:9000: that port only), a host name (any port)
//     or a host name with a port (host.internal:8443: that port only); or
//   - the client making the call was built with its own allowance
//     (Options.Allow): exactly those scheme://host:port targets, for that
//     client only, and only while Options.Live says the allowance still
//     holds (a connector gets its own base URL this way).
//
// The check runs at connect time on the address actually dialled, so a DNS
// answer that changes between check and use (rebinding) cannot slip through,
// and it runs again for every redirect hop. Redirects are off by default.
// A Guard never changes after New: nothing at run time can widen it.
package outbound

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
	"sync"
	"syscall"
	"time"
)

// ErrBlocked is returned (wrapped) when a target address is refused.
var ErrBlocked = errors.New("outbound address blocked")

// rule is one outbound.allow entry: a prefix or a host name, on one port or
// (port 0) any.
type rule struct {
	prefix netip.Prefix
	host   string
	port   uint16
}

// Guard decides which addresses may be dialled. It is immutable.
type Guard struct {
	rules []rule
}

// New returns a guard allowing the given entries of ipai.yaml's
// outbound.allow / IPAI_OUTBOUND_ALLOW: CIDRs (10.0.0.0/8) and IPs
// (127.0.0.1, ::1) on any port, IPs with a port (127.0.0.1:9000,
// [::1]:9000) on that port only, host names (odoo.internal) on any port and
// host names with a port (odoo.internal:8069) on that port only.
func New(allow []string) (*Guard, error) {
	g := &Guard{}
	for _, a := range allow {
		r, ok, err := parseRule(a)
		if err != nil {
			return nil, err
		}
		if ok {
			g.rules = append(g.rules, r)
		}
	}
	return g, nil
}

var defaultGuard = &Guard{}

// Default is the guard without outbound.allow entries, for callers that
// have no configuration (CLI helpers, nil-client fallbacks).
func Default() *Guard { return defaultGuard }

func parseRule(entry string) (rule, bool, error) {
	entry = strings.TrimSpace(entry)
	if entry == "" {
		return rule{}, false, nil
	}
	bad := func(why string) (rule, bool, error) {
		return rule{}, false, fmt.Errorf("outbound.allow entry %q: %s; expected a CIDR (10.0.0.0/8), an IP (127.0.0.1, ::1), "+
			"an IP with a port (127.0.0.1:9000, [::1]:9000), a host name (odoo.internal) or a host name with a port (odoo.internal:8069)", entry, why)
	}
	if p, err := netip.ParsePrefix(entry); err == nil {
		if p.Addr().Zone() != "" {
			return bad("a zone is not allowed")
		}
		return rule{prefix: p.Masked()}, true, nil
	}
	if a, err := netip.ParseAddr(entry); err == nil {
		return rule{prefix: hostPrefix(a)}, true, nil
	}
	host, port := entry, uint16(0)
	if h, p, err := net.SplitHostPort(entry); err == nil {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return bad(fmt.Sprintf("port %q is not a number from 1 to 65535", p))
		}
		host, port = h, uint16(n)
	} else if strings.HasPrefix(entry, "[") && strings.HasSuffix(entry, "]") {
		host = entry[1 : len(entry)-1]
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return rule{prefix: hostPrefix(a), port: port}, true, nil
	}
	if strings.Contains(host, "/") {
		return bad("a CIDR cannot have a port")
	}
	if !validHostName(host) {
		return bad("not a valid host name")
	}
	return rule{host: normHost(host), port: port}, true, nil
}

func hostPrefix(a netip.Addr) netip.Prefix {
	a = a.WithZone("").Unmap()
	return netip.PrefixFrom(a, a.BitLen())
}

func validHostName(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// normHost is a host as the guard compares it: lower case, no trailing dot,
// an IP in its canonical form.
func normHost(h string) string {
	h = strings.TrimSuffix(strings.ToLower(strings.Trim(h, "[]")), ".")
	if a, err := netip.ParseAddr(h); err == nil {
		return a.WithZone("").Unmap().String()
	}
	return h
}

// allowed reports whether an outbound.allow entry covers the host name
// (as in the URL) dialled at ap.
func (g *Guard) allowed(host string, ap netip.AddrPort) bool {
	if len(g.rules) == 0 {
		return false
	}
	h := normHost(host)
	a := ap.Addr().WithZone("").Unmap()
	for _, r := range g.rules {
		if r.port != 0 && r.port != ap.Port() {
			continue
		}
		if r.host != "" {
			if r.host == h {
				return true
			}
			continue
		}
		if r.prefix.Contains(a) {
			return true
		}
	}
	return false
}

// Permits reports whether host (as named in the URL) may be reached at the
// dialled address ap by a client without an allowance of its own: nil when
// outbound.allow covers it or the address is globally reachable, else an
// error wrapping ErrBlocked that says why and what to do.
func (g *Guard) Permits(host string, ap netip.AddrPort) error {
	if g.allowed(host, ap) {
		return nil
	}
	if why := Refused(ap.Addr()); why != "" {
		return fmt.Errorf("%w: %s is %s; an administrator can allow it with outbound.allow in ipai.yaml (or IPAI_OUTBOUND_ALLOW), e.g. %s",
			ErrBlocked, ap, why, example(ap))
	}
	return nil
}

func example(ap netip.AddrPort) string {
	return netip.AddrPortFrom(ap.Addr().WithZone("").Unmap(), ap.Port()).String()
}

// Target is one scheme://host:port a client may reach as its own allowance.
type Target struct {
	Scheme string // http or https
	Host   string // lower case; an IP in canonical form, without brackets
	Port   string // explicit, else the scheme's default
}

func (t Target) String() string { return t.Scheme + "://" + net.JoinHostPort(t.Host, t.Port) }

// TargetOf returns the target of an absolute http(s) URL.
func TargetOf(rawURL string) (Target, error) {
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil {
		return Target{}, err
	}
	return targetOfURL(u)
}

func targetOfURL(u *url.URL) (Target, error) {
	scheme := strings.ToLower(u.Scheme)
	if (scheme != "http" && scheme != "https") || u.Hostname() == "" {
		return Target{}, fmt.Errorf("%q is not an absolute http(s) URL", u.Redacted())
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	return Target{Scheme: scheme, Host: normHost(u.Hostname()), Port: port}, nil
}

// Targets returns the targets of URLs; empty strings are skipped.
func Targets(urls ...string) ([]Target, error) {
	var out []Target
	for _, u := range urls {
		if strings.TrimSpace(u) == "" {
			continue
		}
		t, err := TargetOf(u)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// Options shape a guarded client.
type Options struct {
	Timeout        time.Duration // whole request; default 15 s
	FollowRedirect bool          // default off; every hop is checked again
	MaxRedirects   int           // default 5
	// Allow is the client's own allowance: requests to exactly these
	// targets (scheme, host and port) may reach them even when the address
	// is refused. Only this client has it; any other request it makes
	// (another port, another scheme, a redirect elsewhere) is judged by the
	// guard alone.
	Allow []Target
	// Live, when set, is asked before each new connection that only Allow
	// permits; an error refuses the connection (e.g. the connector that
	// owns the allowance was deleted or its base URL changed).
	Live func(ctx context.Context) error
}

// dial returns a dialer for a transport: a connection passes when the guard
// permits the dialled address, or when host:port is one of own (and live
// agrees).
func (g *Guard) dial(own []Target, live func(context.Context) error) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		mine := false
		if len(own) > 0 {
			h := normHost(host)
			for _, t := range own {
				if t.Host == h && t.Port == port {
					mine = true
				}
			}
		}
		var once sync.Once
		var liveErr error
		d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second,
			ControlContext: func(ctx context.Context, _, address string, _ syscall.RawConn) error {
				ap, err := netip.ParseAddrPort(address)
				if err != nil {
					return fmt.Errorf("%w: cannot parse %s", ErrBlocked, address)
				}
				err = g.Permits(host, ap)
				if err == nil {
					return nil
				}
				if !mine {
					return fmt.Errorf("%s: %w", host, err)
				}
				if live != nil {
					once.Do(func() { liveErr = live(ctx) })
					if liveErr != nil {
						return fmt.Errorf("%w: %s: the allowance of this client no longer holds: %v", ErrBlocked, host, liveErr)
					}
				}
				return nil
			}}
		return d.DialContext(ctx, network, addr)
	}
}

func (g *Guard) transport(o Options, own []Target, live func(context.Context) error) *http.Transport {
	return &http.Transport{
		DialContext:           g.dial(own, live),
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: o.Timeout,
		Proxy:                 nil, // a proxy would bypass the address check
	}
}

// ownTransport sends requests to the client's own targets through a
// transport that holds the allowance and every other request through one
// that does not: a pooled connection opened under the allowance is never
// reused for anything else.
type ownTransport struct {
	own    []Target
	mine   *http.Transport
	others *http.Transport
}

func (t *ownTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if tg, err := targetOfURL(req.URL); err == nil {
		for _, o := range t.own {
			if o == tg {
				return t.mine.RoundTrip(req)
			}
		}
	}
	return t.others.RoundTrip(req)
}

// CloseIdleConnections closes both transports' idle connections.
func (t *ownTransport) CloseIdleConnections() {
	t.mine.CloseIdleConnections()
	t.others.CloseIdleConnections()
}

// Client returns an http.Client whose connections pass the guard (and, for
// its own targets, o.Allow).
func (g *Guard) Client(o Options) *http.Client {
	if o.Timeout == 0 {
		o.Timeout = 15 * time.Second
	}
	if o.MaxRedirects == 0 {
		o.MaxRedirects = 5
	}
	var rt http.RoundTripper = g.transport(o, nil, nil)
	if len(o.Allow) > 0 {
		own := append([]Target(nil), o.Allow...)
		rt = &ownTransport{own: own, mine: g.transport(o, own, o.Live), others: rt.(*http.Transport)}
	}
	c := &http.Client{Transport: rt, Timeout: o.Timeout}
	if o.FollowRedirect {
		c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if len(via) >= o.MaxRedirects {
				return fmt.Errorf("stopped after %d redirects", o.MaxRedirects)
			}
			return nil
		}
	} else {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return c
}

// ClientFor returns a client of g (Default when nil) whose own allowance is
// exactly the targets of urls: for URLs an administrator configured
// (ipai.yaml, environment, command-line flags). An unparsable URL gives no
// allowance (its calls fail with a clear error of their own).
func ClientFor(g *Guard, o Options, urls ...string) *http.Client {
	if g == nil {
		g = Default()
	}
	for _, u := range urls {
		if t, err := TargetOf(u); err == nil {
			o.Allow = append(o.Allow, t)
		}
	}
	return g.Client(o)
}
