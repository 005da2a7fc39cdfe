// Package ui is ipai's admin web UI: server-rendered html/template pages
// with embedded assets (no build step, no CDN), signed in with local users
// or OIDC single sign-on, sessions stored server-side and CSRF tokens on
// every form. Pages call the same services and parsers as the REST API
// (package api), and the least role of each page or action is read from the
// API's route table, so the UI never decides a rule of its own.
package ui

import (
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/insightpulseai/ipai/internal/api"
	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/boardsync"
	"github.com/insightpulseai/ipai/internal/chatops"
	"github.com/insightpulseai/ipai/internal/chatops/n8nflow"
	"github.com/insightpulseai/ipai/internal/delivery"
	ipaiembed "github.com/insightpulseai/ipai/internal/embed"
	"github.com/insightpulseai/ipai/internal/event"
	"github.com/insightpulseai/ipai/internal/health"
	"github.com/insightpulseai/ipai/internal/inbound"
	"github.com/insightpulseai/ipai/internal/integration"
	"github.com/insightpulseai/ipai/internal/problem"
	"github.com/insightpulseai/ipai/internal/rule"
	"github.com/insightpulseai/ipai/internal/store"
)

//go:embed templates/*.html assets/*
var files embed.FS

// Cookie names.
const (
	SessionCookie = "ipai_session"
	oidcCookie    = "ipai_oidc"
	ssoCookie     = "ipai_sso" // the ID token of an SSO sign-in, for logout
	loginCookie   = "ipai_login_csrf"
	flashCookie   = "ipai_flash"
)

// Server serves the admin UI. The service fields are the ones the API uses;
// optional ones (nil) hide their pages.
type Server struct {
	DB       *store.DB
	Audit    *audit.Log
	Tokens   *auth.Tokens
	Users    *auth.Users
	Sessions *auth.Sessions
	// OIDC, when set, offers single sign-on; OIDCName labels its button.
	OIDC     *auth.OIDC
	OIDCName string

	Connectors *integration.Service
	Health     *health.Runner
	Hooks      *inbound.Hooks
	Endpoints  *delivery.Endpoints
	Dispatcher interface{ Wake() }
	// Rules is the hub's rule service (the API's, feeding the router).
	Rules *rule.Service
	// Sync resolves and re-syncs board links; ChatOps, Flows and Embed back
	// the bots, n8n and Superset pages (the API's services).
	Sync    *boardsync.Service
	ChatOps *chatops.Service
	Flows   *n8nflow.Service
	Embed   *ipaiembed.Service

	// BaseURL is the hub's external URL; SecureCookies is auto, always or never.
	BaseURL       string
	SecureCookies string
	Limiter       *Limiter
	Log           *slog.Logger
	Version       string
	Now           func() time.Time
	// SetupPublic lets the first-run setup page answer non-loopback clients.
	SetupPublic bool
	// Ingest stores an event as an incoming hook does (the setup page's test event).
	Ingest func(context.Context, event.Request) (event.Result, error)

	pages map[string]*pageTemplate
	setup setupState
}

func (s *Server) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// Handler returns the UI's routes: /ui/…, /login, /logout and /auth/oidc/….
func (s *Server) Handler() http.Handler {
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	if s.Limiter == nil {
		s.Limiter = NewLimiter(5, 15*time.Minute)
	}
	s.pages = parsePages()
	mux := http.NewServeMux()
	assets, _ := fs.Sub(files, "assets")
	static := http.StripPrefix("/ui/assets/", http.FileServerFS(assets))
	mux.Handle("GET /ui/assets/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		static.ServeHTTP(w, r)
	}))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ui/", http.StatusFound) })
	mux.HandleFunc("GET /ui", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ui/", http.StatusFound) })
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.loginSubmit)
	mux.HandleFunc("GET /ui/setup", s.setupPage)
	mux.HandleFunc("POST /ui/setup", s.setupSubmit)
	mux.HandleFunc("GET /auth/oidc/login", s.oidcStart)
	mux.HandleFunc("GET /auth/oidc/callback", s.oidcCallback)
	mux.Handle("POST /logout", s.page(auth.RoleUser, s.logout))
	for _, p := range s.routes() {
		mux.Handle(p.method+" "+p.path, s.page(p.role, p.h))
	}
	mux.Handle("/ui/", s.page(auth.RoleUser, func(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
		return problem.NotFound("there is no page %s", r.URL.Path)
	}))
	formAction := "'self'"
	if s.OIDC != nil {
		// Sign-out posts a form whose answer redirects to the provider's
		// end-session endpoint; Chromium applies form-action to redirects.
		if o := s.OIDC.Origin(); o != "" {
			formAction += " " + o
		}
	}
	return securityHeaders(mux, formAction)
}

type uiRoute struct {
	method, path string
	role         auth.Role
	h            pageFunc
}

// routes lists the pages; each role is the least role of the API route
// doing the same thing.
func (s *Server) routes() []uiRoute {
	r := []uiRoute{
		{"GET", "/ui/{$}", auth.RoleUser, s.dashboard},
		{"GET", "/ui/start", auth.RoleUser, s.startPage},
		{"POST", "/ui/start/test-event", APIRole("POST", "/api/v1/webhooks"), s.testEvent},
		{"GET", "/ui/connectors", APIRole("GET", "/api/v1/connectors"), s.connectorList},
		{"GET", "/ui/connectors/new", APIRole("POST", "/api/v1/connectors"), s.connectorNew},
		{"POST", "/ui/connectors", APIRole("POST", "/api/v1/connectors"), s.connectorCreate},
		{"GET", "/ui/connectors/{code}", APIRole("GET", "/api/v1/connectors/{code}"), s.connectorShow},
		{"POST", "/ui/connectors/{code}", APIRole("PATCH", "/api/v1/connectors/{code}"), s.connectorUpdate},
		{"POST", "/ui/connectors/{code}/test", APIRole("POST", "/api/v1/connectors/{code}/test"), s.connectorTest},
		{"POST", "/ui/connectors/{code}/activate", APIRole("POST", "/api/v1/connectors/{code}/activate"), s.connectorActivate},
		{"GET", "/ui/webhooks", APIRole("GET", "/api/v1/webhooks"), s.webhookList},
		{"GET", "/ui/webhooks/new", APIRole("POST", "/api/v1/webhooks"), s.webhookNew},
		{"POST", "/ui/webhooks", APIRole("POST", "/api/v1/webhooks"), s.webhookCreate},
		{"GET", "/ui/webhooks/{id}", APIRole("GET", "/api/v1/webhooks/{id}"), s.webhookShow},
		{"GET", "/ui/webhooks/{id}/edit", APIRole("PATCH", "/api/v1/webhooks/{id}"), s.webhookEdit},
		{"POST", "/ui/webhooks/{id}", APIRole("PATCH", "/api/v1/webhooks/{id}"), s.webhookUpdate},
		{"POST", "/ui/webhooks/{id}/delete", APIRole("DELETE", "/api/v1/webhooks/{id}"), s.webhookDelete},
		{"POST", "/ui/webhooks/{id}/rotate", APIRole("POST", "/api/v1/webhooks/{id}/rotate-secret"), s.webhookRotate},
		{"POST", "/ui/webhooks/{id}/state", APIRole("PATCH", "/api/v1/webhooks/{id}"), s.webhookState},
		{"GET", "/ui/events/{id}", APIRole("GET", "/api/v1/events/{id}"), s.eventShow},
		{"GET", "/ui/deliveries", APIRole("GET", "/api/v1/deliveries"), s.deliveryList},
		{"GET", "/ui/deliveries/{id}", APIRole("GET", "/api/v1/deliveries/{id}"), s.deliveryShow},
		{"POST", "/ui/deliveries/{id}/replay", APIRole("POST", "/api/v1/deliveries/{id}/replay"), s.deliveryReplay},
		{"POST", "/ui/deliveries/replay", APIRole("POST", "/api/v1/deliveries/replay"), s.deliveryReplayBulk},
		{"GET", "/ui/rules", APIRole("GET", "/api/v1/rules"), s.ruleList},
		{"GET", "/ui/rules/new", APIRole("POST", "/api/v1/rules"), s.ruleNew},
		{"POST", "/ui/rules", APIRole("POST", "/api/v1/rules"), s.ruleCreate},
		{"GET", "/ui/rules/{id}", APIRole("GET", "/api/v1/rules/{id}"), s.ruleShow},
		{"GET", "/ui/rules/{id}/edit", APIRole("PATCH", "/api/v1/rules/{id}"), s.ruleEdit},
		{"POST", "/ui/rules/{id}", APIRole("PATCH", "/api/v1/rules/{id}"), s.ruleUpdate},
		{"POST", "/ui/rules/{id}/state", APIRole("PATCH", "/api/v1/rules/{id}"), s.ruleState},
		{"POST", "/ui/rules/{id}/delete", APIRole("DELETE", "/api/v1/rules/{id}"), s.ruleDelete},
		{"POST", "/ui/rules/{id}/test", APIRole("POST", "/api/v1/rules/{id}/test"), s.ruleTest},
		{"GET", "/ui/sync", APIRole("GET", "/api/v1/sync/links"), s.syncList},
		{"POST", "/ui/sync/{id}/resolve", APIRole("POST", "/api/v1/sync/links/{id}/resolve"), s.syncResolve},
		{"POST", "/ui/sync/{id}/resync", APIRole("POST", "/api/v1/sync/links/{id}/resync"), s.syncResync},
		{"GET", "/ui/bots", APIRole("GET", "/api/v1/bots"), s.botList},
		{"GET", "/ui/n8n", APIRole("GET", "/api/v1/n8n/workflows"), s.n8nPage},
		{"POST", "/ui/n8n/sync", APIRole("POST", "/api/v1/n8n/sync"), s.n8nSync},
		{"GET", "/ui/superset", APIRole("GET", "/api/v1/superset/dashboards"), s.supersetPage},
		{"GET", "/ui/audit", APIRole("GET", "/api/v1/audit"), s.auditList},
		{"GET", "/ui/mcp", auth.RoleUser, s.mcpPage},
		{"GET", "/ui/users", APIRole("GET", "/api/v1/tokens"), s.userList},
		{"POST", "/ui/users", APIRole("POST", "/api/v1/tokens"), s.userCreate},
		{"POST", "/ui/users/{id}", APIRole("POST", "/api/v1/tokens"), s.userUpdate},
		{"POST", "/ui/tokens", APIRole("POST", "/api/v1/tokens"), s.tokenCreate},
		{"POST", "/ui/tokens/{id}/revoke", APIRole("DELETE", "/api/v1/tokens/{id}"), s.tokenRevoke},
	}
	return r
}

// APIRole is the least role of an API route; an unknown route needs admin
// (fail closed).
func APIRole(method, pattern string) auth.Role {
	for _, rt := range api.Routes() {
		if rt.Method == method && rt.Pattern == pattern {
			return rt.Role
		}
	}
	return auth.RoleAdmin
}

// reqCtx is what a page knows about its request.
type reqCtx struct {
	P     auth.Principal
	CSRF  string
	Flash string
	Nav   []navItem
	Path  string
}

func (c *reqCtx) Can(method, pattern string) bool { return c.P.Role.Allows(APIRole(method, pattern)) }

type pageFunc func(w http.ResponseWriter, r *http.Request, c *reqCtx) error

// page wraps a page: session, role, CSRF on writes, errors as pages.
func (s *Server) page(need auth.Role, h pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ck, _ := r.Cookie(SessionCookie)
		raw := ""
		if ck != nil {
			raw = ck.Value
		}
		p, sess, err := s.Sessions.Lookup(r.Context(), raw)
		if err != nil {
			if !errors.Is(err, auth.ErrNoSession) {
				s.Log.Error("session lookup", "err", err)
			}
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
				return
			}
			s.errorPage(w, r, nil, &problem.Error{Status: http.StatusUnauthorized, Code: "unauthorized",
				Message: "your session ended; sign in again"})
			return
		}
		p.IP = clientIP(r)
		c := &reqCtx{P: p, CSRF: sess.CSRF, Path: r.URL.Path}
		c.Nav = s.nav(c)
		r = r.WithContext(auth.WithPrincipal(r.Context(), p))
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			r.Body = http.MaxBytesReader(w, r.Body, api.MaxBody)
			if err := checkCSRF(r, sess.CSRF); err != nil {
				s.errorPage(w, r, c, err)
				return
			}
		}
		if !p.Role.Allows(need) {
			s.audit(r, "ui.denied", r.URL.Path, "denied: role "+string(p.Role), nil, audit.Warning)
			s.errorPage(w, r, c, problem.Forbidden("this page needs the %s role; you have %s", need, p.Role))
			return
		}
		if fc, err := r.Cookie(flashCookie); err == nil {
			if v, err := url.QueryUnescape(fc.Value); err == nil {
				c.Flash = v
			}
			http.SetCookie(w, &http.Cookie{Name: flashCookie, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		}
		if err := h(w, r, c); err != nil {
			s.errorPage(w, r, c, err)
		}
	})
}

// checkCSRF refuses a write without the session's token, or from another origin.
func checkCSRF(r *http.Request, want string) error {
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		if u, err := url.Parse(o); err != nil || !strings.EqualFold(u.Host, r.Host) {
			return problem.Forbidden("the form was posted from another site (%s); reload the page and try again", o)
		}
	}
	got := r.PostFormValue("csrf")
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return problem.Forbidden("the form's security token is missing or stale; reload the page and try again")
	}
	return nil
}

func (s *Server) secure(r *http.Request) bool {
	switch s.SecureCookies {
	case "always":
		return true
	case "never":
		return false
	}
	return r.TLS != nil || strings.HasPrefix(s.BaseURL, "https://")
}

func (s *Server) setCookie(w http.ResponseWriter, r *http.Request, name, value, path string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: path, MaxAge: maxAge, HttpOnly: true,
		Secure: s.secure(r), SameSite: http.SameSiteLaxMode})
}

// flash shows msg on the next page.
func (s *Server) flash(w http.ResponseWriter, r *http.Request, msg string) {
	s.setCookie(w, r, flashCookie, url.QueryEscape(msg), "/", 60)
}

// redirect answers a successful form post (post/redirect/get).
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, to, msg string) error {
	if msg != "" {
		s.flash(w, r, msg)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

// audit records a UI write as the API would.
func (s *Server) audit(r *http.Request, action, target, msg string, fields map[string]any, level string) {
	if s.Audit == nil {
		return
	}
	p, _ := auth.FromContext(r.Context())
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
	defer cancel()
	if err := s.Audit.Write(ctx, audit.Entry{Actor: p.ID, IP: clientIP(r), Action: action, Level: level, Target: target,
		Message: msg, Method: r.Method, URL: r.URL.Path, Fields: fields}); err != nil {
		s.Log.Error("audit write failed", "action", action, "err", err)
	}
}

func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, c *reqCtx, err error) {
	p, ok := problem.As(err)
	if !ok {
		switch {
		case errors.Is(err, store.ErrNotFound):
			p = problem.NotFound("not found")
		default:
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				p = problem.TooLarge("the form is larger than %d bytes", mbe.Limit)
			} else {
				s.Log.Error("ui request failed", "method", r.Method, "path", r.URL.Path, "err", err)
				p = &problem.Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error; the server log has the details"}
			}
		}
	}
	if c == nil {
		c = &reqCtx{}
	}
	s.render(w, c, p.Status, "error", map[string]any{"Title": http.StatusText(p.Status), "Status": p.Status, "Message": p.Message})
}

func securityHeaders(next http.Handler, formAction string) http.Handler {
	csp := "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action " + formAction
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// clientIP is the peer address (proxies' X-Forwarded-For is not trusted).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// fieldErrors turns a service error into errors by form field; other errors
// are returned as they are.
func fieldErrors(err error) (map[string]string, error) {
	p, ok := problem.As(err)
	if !ok || (p.Status != http.StatusUnprocessableEntity && p.Status != http.StatusConflict && p.Status != http.StatusBadRequest) {
		return nil, err
	}
	f := p.Field
	if f == "" {
		f = "_"
	}
	return map[string]string{f: p.Message}, nil
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return fmt.Sprint(err)
}
