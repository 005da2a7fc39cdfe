// Package keycloak is a faithful in-memory fake of Keycloak 17+
// (shared/reference/apis.md §6): realm OIDC discovery (issuer built from the
// fake's own URL), the token endpoint for client credentials (form or HTTP
// Basic client auth) with OAuth2 error bodies, /admin/serverinfo and the
// management health endpoints.
package keycloak

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/insightpulseai/ipai/internal/fake/knob"
)

// Seeded realm and client.
const (
	Realm        = "ipai"
	ClientID     = "ipai-hub"
	ClientSecret = "hub-client-secret"
)

// Server is a running fake Keycloak.
type Server struct {
	*httptest.Server
	knob.Knobs

	mu      sync.Mutex
	version string
	clients map[string]string // client id → secret
	tokens  map[string]bool
	// ServiceAccountsDisabled makes client_credentials fail as when the
	// client has no service account.
	serviceAccountsOff bool
}

// New starts a fake Keycloak 26.0.7 with realm "ipai" and client "ipai-hub".
func New() *Server {
	s := &Server{version: "26.0.7", clients: map[string]string{ClientID: ClientSecret}, tokens: map[string]bool{}}
	s.Server = httptest.NewServer(s.Wrap(s.routes()))
	return s
}

// SetVersion changes the version in /admin/serverinfo.
func (s *Server) SetVersion(v string) { s.mu.Lock(); s.version = v; s.mu.Unlock() }

// DisableServiceAccounts makes the client unable to use client_credentials.
func (s *Server) DisableServiceAccounts() { s.mu.Lock(); s.serviceAccountsOff = true; s.mu.Unlock() }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /realms/{realm}/.well-known/openid-configuration", s.discovery)
	mux.HandleFunc("POST /realms/{realm}/protocol/openid-connect/token", s.token)
	mux.HandleFunc("GET /admin/serverinfo", s.serverInfo)
	for _, p := range []string{"/health", "/health/live", "/health/ready", "/health/started"} {
		mux.HandleFunc("GET "+p, func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, map[string]any{"status": "UP", "checks": []any{}})
		})
	}
	return mux
}

func (s *Server) discovery(w http.ResponseWriter, r *http.Request) {
	realm := r.PathValue("realm")
	if realm != Realm && realm != "master" {
		writeJSON(w, 404, map[string]string{"error": "Realm does not exist"})
		return
	}
	iss := s.URL + "/realms/" + realm
	oidc := iss + "/protocol/openid-connect"
	writeJSON(w, 200, map[string]any{"issuer": iss, "authorization_endpoint": oidc + "/auth",
		"token_endpoint": oidc + "/token", "introspection_endpoint": oidc + "/token/introspect",
		"userinfo_endpoint": oidc + "/userinfo", "end_session_endpoint": oidc + "/logout", "jwks_uri": oidc + "/certs",
		"revocation_endpoint":                   oidc + "/revoke",
		"grant_types_supported":                 []string{"authorization_code", "client_credentials", "refresh_token", "password"},
		"response_types_supported":              []string{"code", "id_token", "code id_token"},
		"subject_types_supported":               []string{"public", "pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"token_endpoint_auth_methods_supported": []string{"private_key_jwt", "client_secret_basic", "client_secret_post"},
		"scopes_supported":                      []string{"openid", "profile", "email"},
		"code_challenge_methods_supported":      []string{"plain", "S256"}})
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("realm") != Realm {
		writeJSON(w, 404, map[string]string{"error": "Realm does not exist"})
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, 400, map[string]string{"error": "invalid_request"})
		return
	}
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	s.mu.Lock()
	want, known := s.clients[id]
	off := s.serviceAccountsOff
	s.mu.Unlock()
	if !known || want != secret {
		writeJSON(w, 401, map[string]string{"error": "unauthorized_client", "error_description": "Invalid client or Invalid client credentials"})
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		writeJSON(w, 400, map[string]string{"error": "unsupported_grant_type", "error_description": "Unsupported grant_type"})
		return
	}
	if off {
		writeJSON(w, 401, map[string]string{"error": "unauthorized_client", "error_description": "Client not enabled to retrieve service account"})
		return
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := "eyJhbGciOiJSUzI1NiJ9." + hex.EncodeToString(b) + ".sig"
	s.mu.Lock()
	s.tokens[tok] = true
	s.mu.Unlock()
	writeJSON(w, 200, map[string]any{"access_token": tok, "expires_in": 300, "refresh_expires_in": 0,
		"token_type": "Bearer", "not-before-policy": 0, "scope": "profile email"})
}

func (s *Server) serverInfo(w http.ResponseWriter, r *http.Request) {
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	ok, v := s.tokens[tok], s.version
	s.mu.Unlock()
	if !ok {
		writeJSON(w, 401, map[string]string{"error": "HTTP 401 Unauthorized"})
		return
	}
	writeJSON(w, 200, map[string]any{"systemInfo": map[string]any{"version": v, "serverTime": "", "uptime": "1 hour"}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
