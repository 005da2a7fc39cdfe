// Package keycloak is a faithful in-memory fake of Keycloak 17+
// (shared/reference/apis.md §6): realm OIDC discovery (issuer built from the
// fake's own URL), the token endpoint for client credentials (form or HTTP
// Basic client auth) with OAuth2 error bodies, /admin/serverinfo and the
// management health endpoints.
package keycloak

import (
	"crypto/rand"
	_ "embed"
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
	tokens  map[string]string // access token → client id
	// noSA are clients without service accounts; viewers may read
	// /admin/serverinfo (realm-management view-system).
	noSA, viewers map[string]bool
	// ServiceAccountsDisabled makes client_credentials fail as when the
	// client has no service account.
	serviceAccountsOff bool
}

// New starts a fake Keycloak 26.7.3 (the version its transcripts were recorded from) with realm "ipai" and client "ipai-hub",
// which has a service account with realm-management view-system (so it
// may read /admin/serverinfo).
func New() *Server {
	s := &Server{version: "26.7.3", clients: map[string]string{ClientID: ClientSecret}, tokens: map[string]string{},
		noSA: map[string]bool{}, viewers: map[string]bool{ClientID: true}}
	s.Server = httptest.NewServer(s.Wrap(s.routes()))
	return s
}

// SetVersion changes the version in /admin/serverinfo.
func (s *Server) SetVersion(v string) { s.mu.Lock(); s.version = v; s.mu.Unlock() }

// AddClient registers a confidential client. Without serviceAccounts its
// client_credentials grant fails as Keycloak's does; its tokens may not
// read /admin/serverinfo (403), as a service account without
// realm-management view-system may not.
func (s *Server) AddClient(id, secret string, serviceAccounts bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[id] = secret
	s.noSA[id] = !serviceAccounts
}

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
	writeJSON(w, 200, discoveryFor(s.URL, realm))
}

// discoveryDoc is the discovery document of the real Keycloak 26.7.3 for
// realm ipai (testdata/keycloak-26.7-oidc.json), its URL as {{base_url}}.
//
//go:embed discovery.json
var discoveryDoc string

// discoveryFor is Keycloak's discovery document of realm on base.
func discoveryFor(base, realm string) map[string]any {
	doc := strings.ReplaceAll(discoveryDoc, "{{base_url}}", base)
	doc = strings.ReplaceAll(doc, "/realms/"+Realm+"/", "/realms/"+realm+"/")
	doc = strings.ReplaceAll(doc, "/realms/"+Realm+`"`, "/realms/"+realm+`"`)
	var m map[string]any
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		panic(err)
	}
	return m
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
	off := s.serviceAccountsOff || s.noSA[id]
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
	s.tokens[tok] = id
	s.mu.Unlock()
	writeJSON(w, 200, map[string]any{"access_token": tok, "expires_in": 300, "refresh_expires_in": 0,
		"token_type": "Bearer", "not-before-policy": 0, "scope": "profile email"})
}

func (s *Server) serverInfo(w http.ResponseWriter, r *http.Request) {
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	client, ok := s.tokens[tok]
	viewer, v := s.viewers[client], s.version
	s.mu.Unlock()
	if !ok {
		writeJSON(w, 401, map[string]string{"error": "HTTP 401 Unauthorized"})
		return
	}
	if !viewer {
		writeJSON(w, 403, map[string]string{"error": "HTTP 403 Forbidden"})
		return
	}
	writeJSON(w, 200, map[string]any{"systemInfo": map[string]any{"version": v, "serverTime": "", "uptime": "1 hour"}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
