package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	mcpauth "github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/mcpserver"
	"github.com/insightpulseai/ipai/internal/problem"
)

// MCP serves the MCP servers over Streamable HTTP at /mcp/{server}: bearer
// tokens with MCP scopes, Origin validation (403 on a foreign Origin) and
// OAuth Protected Resource Metadata (RFC 9728) at
// /.well-known/oauth-protected-resource[/mcp/{server}].
type MCP struct {
	Servers map[string]*mcp.Server
	// PublicURL is the hub's external base URL (e.g. https://ipai.example.com);
	// "" derives it from each request.
	PublicURL string
	// TrustedOrigins may call from a browser besides the hub's own origin.
	TrustedOrigins []string
	// AuthorizationServers are listed in the resource metadata.
	AuthorizationServers []string
	// Stateless serves every request with a fresh MCP session, so that any
	// replica answers any request (for replicas behind a load balancer
	// without sticky sessions). By default a client keeps one session
	// (Mcp-Session-Id), which saves about a millisecond a call; either way
	// the bearer token is checked on every request, and a session answers
	// only requests made with the token of the same principal.
	Stateless bool
	// SessionTimeout closes sessions idle that long (default 30 minutes).
	SessionTimeout time.Duration

	once     sync.Once
	handlers map[string]http.Handler
}

func (s *Server) mcp() (*MCP, bool) { return s.MCP, s.MCP != nil }

// CloseSessions ends every open MCP session, whose stream of server
// messages would otherwise keep its connection busy through a shutdown
// (the HTTP server waits for idle connections). Clients open a new session
// on their next call.
func (m *MCP) CloseSessions() {
	if m == nil {
		return
	}
	for _, srv := range m.Servers {
		for ss := range srv.Sessions() {
			_ = ss.Close()
		}
	}
}

func init() {
	for _, m := range []string{http.MethodPost, http.MethodGet, http.MethodDelete} {
		route(m, "/mcp/{server}", auth.RolePublic, "", serveMCP)
	}
	route(http.MethodGet, "/.well-known/oauth-protected-resource", auth.RolePublic, "", serveResourceMetadata)
	route(http.MethodGet, "/.well-known/oauth-protected-resource/mcp/{server}", auth.RolePublic, "", serveResourceMetadata)
}

func (m *MCP) base(r *http.Request) string {
	if m.PublicURL != "" {
		return strings.TrimRight(m.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (m *MCP) handler(name string) http.Handler {
	m.once.Do(func() {
		m.handlers = map[string]http.Handler{}
		timeout := m.SessionTimeout
		if timeout <= 0 {
			timeout = 30 * time.Minute
		}
		for n, srv := range m.Servers {
			m.handlers[n] = mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv },
				&mcp.StreamableHTTPOptions{Stateless: m.Stateless, JSONResponse: true, SessionTimeout: timeout})
		}
	})
	return m.handlers[name]
}

// originAllowed accepts requests without Origin (non-browser clients), the
// hub's own origin and the trusted ones.
func (m *MCP) originAllowed(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	if pu, err := url.Parse(m.PublicURL); err == nil && pu.Host != "" && strings.EqualFold(pu.Scheme+"://"+pu.Host, o) {
		return true
	}
	return slices.Contains(m.TrustedOrigins, strings.TrimRight(o, "/"))
}

func serveMCP(s *Server, w http.ResponseWriter, r *http.Request) error {
	m, ok := s.mcp()
	name := r.PathValue("server")
	if !ok || m.Servers[name] == nil {
		return problem.NotFound("no MCP server %q here; servers: %s", name, strings.Join(mcpserver.Names, ", "))
	}
	if !m.originAllowed(r) {
		return problem.Forbidden("Origin %q is not allowed to call this MCP server; add it to trusted_origins in the MCP policy", r.Header.Get("Origin"))
	}
	meta := m.base(r) + "/.well-known/oauth-protected-resource/mcp/" + name
	read, write := mcpserver.ReadScope(name), mcpserver.WriteScope(name)
	verify := func(ctx context.Context, tok string, _ *http.Request) (*mcpauth.TokenInfo, error) {
		p, err := s.Tokens.Authenticate(ctx, tok)
		if errors.Is(err, auth.ErrBadToken) {
			return nil, fmt.Errorf("%w: %v", mcpauth.ErrInvalidToken, err)
		}
		if err != nil {
			return nil, err
		}
		p.IP = clientIP(r)
		scopes := p.Scopes
		if p.Role == auth.RoleAdmin {
			scopes = mcpserver.Scopes()
		}
		return &mcpauth.TokenInfo{Scopes: scopes, UserID: p.ID, Extra: map[string]any{mcpserver.PrincipalKey: p}}, nil
	}
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ti := mcpauth.TokenInfoFromContext(r.Context())
		if ti == nil || !(slices.Contains(ti.Scopes, read) || slices.Contains(ti.Scopes, write)) {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer error="insufficient_scope", scope=%q, resource_metadata=%q`, read, meta))
			writeError(w, problem.Forbidden("this token has no scope for the %s MCP server: create one with `ipai token create --scopes %s` (add %s for writes)", name, read, write))
			return
		}
		m.handler(name).ServeHTTP(w, r)
	})
	mcpauth.RequireBearerToken(verify, &mcpauth.RequireBearerTokenOptions{ResourceMetadataURL: meta, AllowMissingExpiration: true})(inner).ServeHTTP(w, r)
	return nil
}

func serveResourceMetadata(s *Server, w http.ResponseWriter, r *http.Request) error {
	m, ok := s.mcp()
	if !ok {
		return problem.NotFound("no MCP servers are mounted on this hub")
	}
	name := r.PathValue("server")
	resource, scopes := m.base(r)+"/mcp", mcpserver.Scopes()
	if name != "" {
		if m.Servers[name] == nil {
			return problem.NotFound("no MCP server %q here", name)
		}
		resource, scopes = m.base(r)+"/mcp/"+name, []string{mcpserver.ReadScope(name), mcpserver.WriteScope(name)}
	}
	mcpauth.ProtectedResourceMetadataHandler(&oauthex.ProtectedResourceMetadata{
		Resource: resource, AuthorizationServers: m.AuthorizationServers, ScopesSupported: scopes,
		BearerMethodsSupported: []string{"header"}, ResourceName: "ipai MCP",
	}).ServeHTTP(w, r)
	return nil
}
