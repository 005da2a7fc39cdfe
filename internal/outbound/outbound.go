// Package outbound guards every call ipai makes to the outside (deliveries
// and connector calls) against server-side request forgery: a target that
// resolves to loopback, link-local (cloud metadata included), private,
// shared or unspecified addresses is refused unless its host belongs to a
// configured connector or is allow-listed (CIDRs or host names).
//
// The check runs at connect time on the address actually dialled, so a DNS
// answer that changes between check and use (rebinding) cannot slip through,
// and it runs again for every redirect hop. Redirects are off by default.
package outbound

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrBlocked is returned (wrapped) when a target address is refused.
var ErrBlocked = errors.New("outbound address blocked")

// Guard decides which addresses may be dialled.
type Guard struct {
	mu       sync.RWMutex
	prefixes []netip.Prefix
	hosts    map[string]bool // allowed host names (lower case), any address
}

// New returns a guard allowing the given CIDRs, IPs and host names
// (entries of ipai.yaml's outbound.allow / IPAI_OUTBOUND_ALLOW).
func New(allow []string) (*Guard, error) {
	g := &Guard{hosts: map[string]bool{}}
	for _, a := range allow {
		if err := g.Allow(a); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// Allow adds a CIDR ("10.0.0.0/8"), an IP, or a host name ("odoo.internal",
// "host:port" is accepted and the port ignored).
func (g *Guard) Allow(entry string) error {
	entry = strings.TrimSpace(entry)
	if entry == "" {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if p, err := netip.ParsePrefix(entry); err == nil {
		g.prefixes = append(g.prefixes, p.Masked())
		return nil
	}
	if a, err := netip.ParseAddr(entry); err == nil {
		g.prefixes = append(g.prefixes, netip.PrefixFrom(a, a.BitLen()))
		return nil
	}
	host := entry
	if h, _, err := net.SplitHostPort(entry); err == nil {
		host = h
	}
	if strings.ContainsAny(host, "/ ") {
		return fmt.Errorf("outbound.allow entry %q: expected a CIDR (10.0.0.0/8), an IP or a host name", entry)
	}
	g.hosts[strings.ToLower(host)] = true
	return nil
}

// AllowURL allows the host of a configured connector's base URL.
func (g *Guard) AllowURL(rawURL string) {
	if i := strings.Index(rawURL, "://"); i >= 0 {
		rest := rawURL[i+3:]
		if j := strings.IndexAny(rest, "/?#"); j >= 0 {
			rest = rest[:j]
		}
		if k := strings.LastIndex(rest, "@"); k >= 0 {
			rest = rest[k+1:]
		}
		_ = g.Allow(rest)
	}
}

func (g *Guard) hostAllowed(host string) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.hosts[strings.ToLower(strings.TrimSuffix(host, "."))]
}

// Check reports whether an address may be dialled.
func (g *Guard) Check(a netip.Addr) error {
	a = a.Unmap()
	g.mu.RLock()
	for _, p := range g.prefixes {
		if p.Contains(a) {
			g.mu.RUnlock()
			return nil
		}
	}
	g.mu.RUnlock()
	if reason := special(a); reason != "" {
		return fmt.Errorf("%w: %s is a %s address; allow it with outbound.allow (or IPAI_OUTBOUND_ALLOW) or configure it as a connector", ErrBlocked, a, reason)
	}
	return nil
}

var sharedCGNAT = netip.MustParsePrefix("100.64.0.0/10")

func special(a netip.Addr) string {
	switch {
	case a.IsLoopback():
		return "loopback"
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast():
		return "link-local (metadata)"
	case a.IsPrivate():
		return "private"
	case a.IsUnspecified():
		return "unspecified"
	case a.IsMulticast(), a.IsInterfaceLocalMulticast():
		return "multicast"
	case sharedCGNAT.Contains(a):
		return "shared (CGNAT)"
	case a.Is4() && a.As4()[0] == 0:
		return "unspecified"
	}
	return ""
}

// DialContext dials addr: hosts that are allow-listed by name connect
// freely; everything else is checked on the address actually dialled.
func (g *Guard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if !g.hostAllowed(host) {
		d.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: cannot parse %s", ErrBlocked, address)
			}
			if err := g.Check(ap.Addr()); err != nil {
				return fmt.Errorf("%s: %w", host, err)
			}
			return nil
		}
	}
	return d.DialContext(ctx, network, addr)
}

// Options shape a guarded client.
type Options struct {
	Timeout        time.Duration // whole request; default 15 s
	FollowRedirect bool          // default off; every hop is checked again
	MaxRedirects   int           // default 5
}

// Client returns an http.Client whose connections pass the guard.
func (g *Guard) Client(o Options) *http.Client {
	if o.Timeout == 0 {
		o.Timeout = 15 * time.Second
	}
	if o.MaxRedirects == 0 {
		o.MaxRedirects = 5
	}
	tr := &http.Transport{
		DialContext:           g.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: o.Timeout,
		Proxy:                 nil, // a proxy would bypass the address check
	}
	c := &http.Client{Transport: tr, Timeout: o.Timeout}
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
