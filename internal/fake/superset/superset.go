// Package superset is an in-memory fake of Apache Superset 6.1.0's API:
// /health, /version, JWT login, CSRF token with its session cookie, guest
// tokens (HS256 JWTs that require the CSRF header AND the session cookie),
// dashboards, charts, datasets and databases (lists read Rison ?q=), chart
// data for the service user and for guest tokens (RLS clauses applied).
// testdata holds what the real Superset answered (recorded by
// internal/testsuperset); TestReplayRealSuperset holds the fake to it.
package superset

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/insightpulseai/ipai/internal/fake/knob"
)

// Seeded credentials and the guest token secret.
const (
	Username    = "ipai_service"
	Password    = "service-password"
	GuestSecret = "guest-token-secret"
	// SalesUUID is the embedded UUID of the seeded "sales" dashboard.
	SalesUUID = "5b6e1f6a-0c1d-4a8e-9d7e-1f2a3b4c5d6e"
)

// Dashboard is a seeded dashboard; EmbeddedUUID is "" when not embedded.
type Dashboard struct {
	ID           int
	Title, Slug  string
	EmbeddedUUID string
}

// GuestToken is a recorded guest token request.
type GuestToken struct {
	User      map[string]any
	Resources []map[string]any
	RLS       []map[string]any
	Token     string
}

// Server is a running fake Superset.
type Server struct {
	*httptest.Server
	knob.Knobs

	mu         sync.Mutex
	version    string // "" hides /version (older releases)
	access     map[string]bool
	csrf       map[string]string // session cookie → csrf token
	dashboards []Dashboard
	guests     []GuestToken
	databases  []Database
	datasets   []Dataset
	charts     []Chart
}

// New starts a fake Superset 6.1.0 (the release its testdata transcripts
// were recorded from) with the service user, two dashboards (id 1 "sales"
// embedded, id 2 "finance" not embedded) and the sales table, dataset and
// chart of the "sales" dashboard.
func New() *Server {
	s := &Server{version: "6.1.0", access: map[string]bool{}, csrf: map[string]string{},
		dashboards: []Dashboard{{ID: 1, Title: "Sales", Slug: "sales", EmbeddedUUID: SalesUUID},
			{ID: 2, Title: "Finance", Slug: "finance"}}}
	s.seedData()
	s.Server = httptest.NewServer(s.Wrap(s.routes()))
	return s
}

// SetVersion changes /version's version_string; "" makes /version 404.
func (s *Server) SetVersion(v string) { s.mu.Lock(); s.version = v; s.mu.Unlock() }

// GuestTokens returns the guest tokens issued so far.
func (s *Server) GuestTokens() []GuestToken {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]GuestToken(nil), s.guests...)
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, r *http.Request) {
		// Superset 6.1.0 labels its "OK" as HTML.
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("OK"))
	}
	mux.HandleFunc("GET /health", ok)
	mux.HandleFunc("GET /healthcheck", ok)
	mux.HandleFunc("GET /ping", ok)
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		v := s.version
		s.mu.Unlock()
		if v == "" {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(404)
			_, _ = w.Write([]byte("<!doctype html><title>404 Not Found</title><h1>Not Found</h1>"))
			return
		}
		writeJSON(w, 200, map[string]any{"version_string": v, "version_sha": "abc1234", "build_number": nil})
	})
	mux.HandleFunc("POST /api/v1/security/login", s.login)
	mux.HandleFunc("GET /api/v1/security/csrf_token/", s.bearer(s.csrfToken))
	mux.HandleFunc("POST /api/v1/security/guest_token/", s.bearer(s.guestToken))
	mux.HandleFunc("GET /api/v1/dashboard/", s.bearer(s.listDashboards))
	mux.HandleFunc("GET /api/v1/dashboard/{id}/embedded", s.bearer(s.embedded))
	s.dataRoutes(mux)
	return mux
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Username, Password, Provider string
		Refresh                      bool
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Username == "" {
		writeJSON(w, 400, map[string]any{"message": map[string]any{"username": []string{"Missing data for required field."}}})
		return
	}
	if in.Provider != "db" && in.Provider != "ldap" {
		writeJSON(w, 400, map[string]any{"message": map[string]any{"provider": []string{"Must be one of: db, ldap."}}})
		return
	}
	if in.Username != Username || in.Password != Password {
		writeJSON(w, 401, map[string]string{"message": "Not authorized"})
		return
	}
	tok := "acc." + randHex(16)
	s.mu.Lock()
	s.access[tok] = true
	s.mu.Unlock()
	out := map[string]string{"access_token": tok}
	if in.Refresh {
		out["refresh_token"] = "ref." + randHex(16)
	}
	writeJSON(w, 200, out)
}

func (s *Server) bearer(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		if !strings.HasPrefix(h, "Bearer ") {
			writeJSON(w, 401, map[string]string{"msg": "Missing Authorization Header"})
			return
		}
		s.mu.Lock()
		ok := s.access[strings.TrimPrefix(h, "Bearer ")]
		s.mu.Unlock()
		if !ok {
			writeJSON(w, 401, map[string]string{"msg": "Token has expired"})
			return
		}
		next(w, r)
	}
}

// ExpireTokens forgets every access token (clients must log in again).
func (s *Server) ExpireTokens() { s.mu.Lock(); s.access = map[string]bool{}; s.mu.Unlock() }

func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request) {
	sess, tok := randHex(16), randHex(20)
	s.mu.Lock()
	s.csrf[sess] = tok
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "session", Value: sess, Path: "/", HttpOnly: true})
	writeJSON(w, 200, map[string]string{"result": tok})
}

func csrfError(w http.ResponseWriter, msg string) {
	writeJSON(w, 400, map[string]any{"errors": []any{map[string]any{"message": "400 Bad Request: " + msg,
		"error_type": "GENERIC_BACKEND_ERROR", "level": "error",
		"extra": map[string]any{"issue_codes": []any{map[string]any{"code": 1011, "message": "Issue 1011 - Superset encountered an unexpected error."}}}}}})
}

func (s *Server) guestToken(w http.ResponseWriter, r *http.Request) {
	hdr := r.Header.Get("X-CSRFToken")
	if hdr == "" {
		csrfError(w, "The CSRF token is missing.")
		return
	}
	c, err := r.Cookie("session")
	if err != nil {
		csrfError(w, "The CSRF session token is missing.")
		return
	}
	s.mu.Lock()
	want := s.csrf[c.Value]
	s.mu.Unlock()
	if want == "" || want != hdr {
		csrfError(w, "The CSRF tokens do not match.")
		return
	}
	var in struct {
		User      map[string]any   `json:"user"`
		Resources []map[string]any `json:"resources"`
		RLS       []map[string]any `json:"rls"`
	}
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&in); err != nil {
		writeJSON(w, 400, map[string]any{"message": "Request is not JSON"})
		return
	}
	missing := map[string]any{}
	if in.Resources == nil {
		missing["resources"] = []string{"Missing data for required field."}
	}
	if in.RLS == nil {
		missing["rls"] = []string{"Missing data for required field."}
	}
	if len(missing) > 0 {
		writeJSON(w, 400, map[string]any{"message": missing})
		return
	}
	// As Superset 6.1.0 (validate_guest_token_resources): a dashboard named
	// by id or slug exists, embedded or not; anything else must be an
	// embedded uuid.
	for _, res := range in.Resources {
		if res["type"] == "dashboard" && !s.guestResourceExists(res["id"]) {
			writeJSON(w, 400, map[string]any{"message": "EmbeddedDashboard not found."})
			return
		}
	}
	now := time.Now()
	claims := map[string]any{"user": in.User, "resources": in.Resources, "rls_rules": in.RLS,
		"iat": now.Unix(), "exp": now.Add(300 * time.Second).Unix(), "aud": "superset", "type": "guest"}
	tok := signHS256(claims)
	s.mu.Lock()
	s.guests = append(s.guests, GuestToken{User: in.User, Resources: in.Resources, RLS: in.RLS, Token: tok})
	s.mu.Unlock()
	writeJSON(w, 200, map[string]string{"token": tok})
}

func (s *Server) guestResourceExists(id any) bool {
	sid := toString(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.dashboards {
		if d.Slug == sid || toString(d.ID) == sid || d.EmbeddedUUID != "" && d.EmbeddedUUID == sid {
			return true
		}
	}
	return false
}

// dashboardListMeta is what Superset 6.1.0 sends beside the dashboard
// list's result (testdata/connector.json).
const dashboardListMeta = `{"description_columns":{},"label_columns":{"certification_details":"Certification Details","certified_by":"Certified By","changed_by.first_name":"Changed By First Name","changed_by.id":"Changed By Id","changed_by.last_name":"Changed By Last Name","changed_by_name":"Changed By Name","changed_on_delta_humanized":"Changed On Delta Humanized","changed_on_utc":"Changed On Utc","created_by.first_name":"Created By First Name","created_by.id":"Created By Id","created_by.last_name":"Created By Last Name","created_on_delta_humanized":"Created On Delta Humanized","dashboard_title":"Dashboard Title","id":"Id","is_managed_externally":"Is Managed Externally","owners.email":"Owners Email","owners.first_name":"Owners First Name","owners.id":"Owners Id","owners.last_name":"Owners Last Name","published":"Published","roles.id":"Roles Id","roles.name":"Roles Name","slug":"Slug","status":"Status","tags.id":"Tags Id","tags.name":"Tags Name","tags.type":"Tags Type","thumbnail_url":"Thumbnail Url","url":"Url","uuid":"Uuid"},"list_columns":["id","uuid","published","status","slug","url","thumbnail_url","certified_by","certification_details","changed_by.first_name","changed_by.last_name","changed_by.id","changed_by_name","changed_on_utc","changed_on_delta_humanized","created_on_delta_humanized","created_by.first_name","created_by.id","created_by.last_name","dashboard_title","owners.id","owners.first_name","owners.last_name","owners.email","roles.id","roles.name","is_managed_externally","uuid","tags.id","tags.name","tags.type"],"list_title":"List Dashboard","order_columns":["changed_by.first_name","changed_on_delta_humanized","created_by.first_name","dashboard_title","published","changed_on"]}`

// owner is the service user as Superset 6.1.0 shows it in lists.
func owner() map[string]any {
	return map[string]any{"first_name": "Ipai", "id": 1, "last_name": "Admin"}
}

// listDashboards answers as Superset 6.1.0 does: most recently changed
// first (the seeds: highest id first), each item with every list column.
func (s *Server) listDashboards(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	res := []any{}
	ids := []int{}
	for i := len(s.dashboards) - 1; i >= 0; i-- {
		d := s.dashboards[i]
		res = append(res, map[string]any{"id": d.ID, "uuid": uuidOf(d.ID), "dashboard_title": d.Title, "slug": d.Slug,
			"url": "/superset/dashboard/" + d.Slug + "/", "published": true, "status": "published",
			"thumbnail_url": "/api/v1/dashboard/" + toString(d.ID) + "/thumbnail/" + randHex(32) + "/",
			"certified_by":  nil, "certification_details": nil, "changed_by": owner(), "changed_by_name": "Ipai Admin",
			"changed_on_utc": "2026-01-01T00:00:00.000000+0000", "changed_on_delta_humanized": "a day ago",
			"created_by": owner(), "created_on_delta_humanized": "a day ago", "is_managed_externally": false,
			"owners": []any{map[string]any{"email": "admin@example.invalid", "first_name": "Ipai", "id": 1, "last_name": "Admin"}},
			"roles":  []any{}, "tags": []any{}})
		ids = append(ids, d.ID)
	}
	out := map[string]any{}
	_ = json.Unmarshal([]byte(dashboardListMeta), &out)
	out["count"], out["ids"], out["result"] = len(res), ids, res
	writeJSON(w, 200, out)
}

// uuidOf is a dashboard's (non-embedded) uuid.
func uuidOf(id int) string {
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", id)
}

func (s *Server) embedded(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.dashboards {
		if toString(d.ID) == id || d.Slug == id {
			if d.EmbeddedUUID == "" {
				break
			}
			cb := owner()
			cb["username"] = Username
			writeJSON(w, 200, map[string]any{"result": map[string]any{"uuid": d.EmbeddedUUID,
				"allowed_domains": []string{}, "dashboard_id": toString(d.ID), "changed_on": "2026-01-01T00:00:00.000000", "changed_by": cb}})
			return
		}
	}
	// Superset 6.1.0 answers a dashboard that is not embedded (or unknown)
	// with 404 and an empty object.
	writeJSON(w, 404, map[string]any{})
}

func signHS256(claims map[string]any) string {
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT"})
	c, _ := json.Marshal(claims)
	msg := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	m := hmac.New(sha256.New, []byte(GuestSecret))
	m.Write([]byte(msg))
	return msg + "." + enc.EncodeToString(m.Sum(nil))
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		b, _ := json.Marshal(x)
		return string(b)
	case int:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return ""
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
