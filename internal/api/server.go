// Package api is ipai's HTTP surface: the JSON REST API under /api/v1 and
// the system endpoints (/healthz, /readyz, /metrics). Every route is declared
// once, with the least role it needs, in a table (see route); the same table
// drives authentication, the role test and the metrics labels.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/boardsync"
	"github.com/insightpulseai/ipai/internal/chatops"
	"github.com/insightpulseai/ipai/internal/chatops/n8nflow"
	"github.com/insightpulseai/ipai/internal/delivery"
	"github.com/insightpulseai/ipai/internal/embed"
	"github.com/insightpulseai/ipai/internal/event"
	"github.com/insightpulseai/ipai/internal/health"
	"github.com/insightpulseai/ipai/internal/inbound"
	"github.com/insightpulseai/ipai/internal/integration"
	"github.com/insightpulseai/ipai/internal/problem"
	"github.com/insightpulseai/ipai/internal/rule"
	"github.com/insightpulseai/ipai/internal/store"
)

// MaxBody is the largest request body the API reads.
const MaxBody = 1 << 20

// Server holds what the handlers need.
type Server struct {
	DB      *store.DB
	Audit   *audit.Log
	Tokens  *auth.Tokens
	Log     *slog.Logger
	Version string
	// Revision and Modified name the VCS commit the binary was built from
	// and whether its tree had uncommitted changes (shown by /healthz).
	Revision string
	Modified bool
	// OnError, when set, receives unexpected (5xx) errors, e.g. for Sentry.
	OnError func(error, *http.Request)
	// BaseURL is the hub's external URL (for the URLs of incoming hooks).
	BaseURL string
	// Hooks receives incoming webhooks; Endpoints manages outgoing ones;
	// Dispatcher is woken after a replay.
	Hooks      *inbound.Hooks
	Endpoints  *delivery.Endpoints
	Dispatcher interface{ Wake() }
	// Rules changes the routing rules and keeps the hub's router in step
	// (the same service the UI's forms and the rules watch use). Nil: rules
	// are stored, but no router is reloaded.
	Rules *rule.Service
	// Connectors serves /api/v1/connectors; Health (optional) is the
	// running health checker behind /api/v1/health.
	Connectors *integration.Service
	Health     *health.Runner
	// Sync serves /api/v1/sync (nil: no board links); Embed serves the
	// Superset embedding routes (nil: no dashboards); EmbedSDKPath is the
	// embedded SDK bundle served at /embed/sdk.js.
	Sync         *boardsync.Service
	Embed        *embed.Service
	EmbedSDKPath string
	// ChatOps serves bots, slash commands and button clicks; Flows the n8n
	// registry and n8n's signed calls; Ingest commits events (outgoing
	// webhooks, the event hub). All optional.
	ChatOps *chatops.Service
	Flows   *n8nflow.Service
	Ingest  func(ctx context.Context, r event.Request) (event.Result, error)
	// Sessions, when set, are the admin UI's sessions, accepted by routes
	// registered with routeSession.
	Sessions *auth.Sessions
	// MCP, when set, serves the MCP servers at /mcp/{server}.
	MCP *MCP
	// Metrics, when set, is the registry /metrics serves, where the
	// server adds its own metrics (nil: a registry of its own; see Registry).
	Metrics *prometheus.Registry

	metrics   *metrics
	odooNames odooNames
	// odooRefusals throttles audit warnings of refused Odoo posts per connector.
	odooRefusals audit.Throttle
}

// HandlerFunc is a route's handler; a returned error becomes the JSON error
// response (a *problem.Error keeps its status; anything else is a 500).
type HandlerFunc func(s *Server, w http.ResponseWriter, r *http.Request) error

// Route is one entry of the route table.
type Route struct {
	Method  string
	Pattern string    // net/http pattern path, e.g. /api/v1/tokens/{id}
	Role    auth.Role // least role; RolePublic needs no token
	Action  string    // audit action for writes, e.g. "token.create"
	Handler HandlerFunc
	// BodyLimit overrides MaxBody for routes that enforce their own limit.
	BodyLimit int64
	// Session: the route also accepts the admin UI's session cookie (see session.go).
	Session bool
}

var routes []Route

// route registers a route; each file of this package declares its own in init.
func route(method, pattern string, role auth.Role, action string, h HandlerFunc) {
	routes = append(routes, Route{Method: method, Pattern: pattern, Role: role, Action: action, Handler: h})
}

// routeBody registers a route that reads bodies up to limit bytes (the
// handler applies any stricter limit itself).
func routeBody(method, pattern string, role auth.Role, limit int64, h HandlerFunc) {
	routes = append(routes, Route{Method: method, Pattern: pattern, Role: role, Handler: h, BodyLimit: limit})
}

// Routes returns the route table.
func Routes() []Route { return append([]Route(nil), routes...) }

// Handler builds the HTTP handler of every route.
func (s *Server) Handler() http.Handler {
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	if s.metrics == nil {
		s.metrics = newMetrics(s.DB, s.Metrics)
	}
	mux := http.NewServeMux()
	for _, rt := range routes {
		mux.Handle(rt.Method+" "+rt.Pattern, s.wrap(rt))
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, problem.NotFound("no API route %s %s; see the README for the API", r.Method, r.URL.Path))
	})
	return s.recoverer(mux)
}

// wrap adds authentication, the role check, the body limit, metrics, the
// request log and the audit entry of a write.
func (s *Server) wrap(rt Route) http.Handler {
	isWrite := rt.Method != http.MethodGet && rt.Method != http.MethodHead
	limit := int64(MaxBody)
	if rt.BodyLimit > 0 {
		limit = rt.BodyLimit
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		ip := clientIP(r)
		// Only a request with a principal is audited, so only such a
		// request carries a note for its handler to fill.
		var note *auditNote
		var p auth.Principal
		err := func() error {
			if r.ContentLength > limit {
				return problem.TooLarge("request body is %d bytes; the limit is %d", r.ContentLength, limit)
			}
			r.Body = http.MaxBytesReader(rec, r.Body, limit)
			if rt.Role != auth.RolePublic {
				var err error
				if rt.Session && s.Sessions != nil && r.Header.Get("Authorization") == "" {
					p, r, err = s.authenticateSession(r, isWrite)
				} else {
					p, err = s.authenticate(r)
				}
				if err != nil {
					return err
				}
				p.IP = ip
				note = &auditNote{}
				if !p.Role.Allows(rt.Role) {
					return problem.Forbidden("this needs the %s role; your token has %s", rt.Role, p.Role)
				}
				r = r.WithContext(context.WithValue(auth.WithPrincipal(r.Context(), p), noteKey{}, note))
			}
			return rt.Handler(s, rec, r)
		}()
		if err != nil {
			s.fail(rec, r, err)
		}
		d := time.Since(start)
		s.metrics.observe(rt.Pattern, r.Method, rec.status, d)
		logLevel := slog.LevelInfo
		if rec.recorded && rec.status < 400 {
			logLevel = slog.LevelDebug
		}
		s.Log.LogAttrs(r.Context(), logLevel, "http request", slog.String("method", r.Method),
			slog.String("route", rt.Pattern), slog.String("path", r.URL.Path), slog.Int("status", rec.status),
			slog.Duration("duration", d), slog.String("ip", ip))
		switch {
		case rec.status == http.StatusForbidden && p.ID != "":
			s.audit(r, rt, p, ip, rec.status, d, note, audit.Warning, "denied: role "+string(p.Role))
		case isWrite && p.ID != "" && rec.status != http.StatusUnauthorized:
			level := audit.Info
			if rec.status >= 500 {
				level = audit.Error
			} else if rec.status >= 400 {
				level = audit.Warning
			}
			s.audit(r, rt, p, ip, rec.status, d, note, level, note.message)
		}
	})
}

func (s *Server) audit(r *http.Request, rt Route, p auth.Principal, ip string, status int, d time.Duration, n *auditNote, level, msg string) {
	if n == nil { // refused before the handler ran
		n = &auditNote{}
	}
	action := rt.Action
	if action == "" {
		action = "api." + strings.ToLower(rt.Method)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
	defer cancel()
	if err := s.Audit.Write(ctx, audit.Entry{Actor: p.ID, IP: ip, Action: action, Level: level, Target: n.target,
		Message: msg, Method: r.Method, URL: r.URL.Path, Status: status, DurationMS: d.Milliseconds(), Fields: n.fields}); err != nil {
		s.Log.Error("audit write failed", "action", action, "err", err)
	}
}

// auditNote lets a handler say what its write touched.
type auditNote struct {
	target, message string
	fields          map[string]any
}

type noteKey struct{}

// Note records the target and message of the current write for its audit entry.
func Note(r *http.Request, target, message string, fields map[string]any) {
	if n, ok := r.Context().Value(noteKey{}).(*auditNote); ok {
		n.target, n.message, n.fields = target, message, fields
	}
}

func (s *Server) authenticate(r *http.Request) (auth.Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return auth.Principal{}, problem.Unauthorized("no credentials: send Authorization: Bearer <token> (create one with `ipai token create`)")
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return auth.Principal{}, problem.Unauthorized("Authorization must be 'Bearer <token>'")
	}
	p, err := s.Tokens.Authenticate(r.Context(), strings.TrimSpace(tok))
	if errors.Is(err, auth.ErrBadToken) {
		return p, problem.Unauthorized("%v", err)
	}
	return p, err
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if p, ok := problem.As(err); ok {
		writeError(w, p)
		return
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		writeError(w, tooLarge(mbe.Limit))
	case errors.Is(err, store.ErrNotFound):
		writeError(w, problem.NotFound("not found"))
	case errors.Is(err, store.ErrConflict):
		writeError(w, problem.Conflict("%v", err))
	default:
		s.Log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		if s.OnError != nil {
			s.OnError(err, r)
		}
		writeError(w, &problem.Error{Status: http.StatusInternalServerError, Code: "internal",
			Message: "internal error; the server log has the details"})
	}
}

func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				// The stack goes to the log only, never to the client.
				s.Log.Error("handler panicked", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				s.fail(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field,omitempty"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, p *problem.Error) {
	var b errorBody
	b.Error.Code, b.Error.Message, b.Error.Field = p.Code, p.Message, p.Field
	writeJSON(w, p.Status, b)
}

// need returns svc, or when it is nil (this hub runs without it) a 503
// saying so in msg.
func need[T any](svc *T, msg string) (*T, error) {
	if svc == nil {
		return nil, unavailable(msg)
	}
	return svc, nil
}

func unavailable(msg string) error {
	return &problem.Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: msg}
}

// ViewAll converts rows for display with view: never nil, so an empty list
// is [] in JSON. Shared with the admin UI.
func ViewAll[T, V any](rows []T, view func(T) V) []V {
	out := make([]V, 0, len(rows))
	for _, x := range rows {
		out = append(out, view(x))
	}
	return out
}

// writeJSON writes v as the JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h["Content-Type"], h["X-Content-Type-Options"] = jsonType, nosniff
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// Header values every JSON answer carries, shared (never modified).
var jsonType, nosniff = []string{"application/json"}, []string{"nosniff"}

// tooLarge is the 413 of a body over a route's limit (bytes).
func tooLarge(limit int64) *problem.Error {
	return problem.TooLarge("request body exceeds this route's limit of %s", byteSize(limit))
}

// byteSize writes n bytes, and in MiB or KiB when one divides it.
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d bytes (%d MiB)", n, n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d bytes (%d KiB)", n, n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// readBody reads the request body: over the route's limit is a 413 that
// names it, a body that cannot be read a 400.
func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, tooLarge(mbe.Limit)
	case err != nil:
		return nil, problem.BadRequest("cannot read the request body: %v", err)
	}
	return body, nil
}

// decodeJSON reads the request body into v, strictly.
func decodeJSON(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return &problem.Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type",
			Message: "send the body as JSON with Content-Type: application/json"}
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge(mbe.Limit)
		}
		if errors.Is(err, io.EOF) {
			return problem.BadRequest("request body is empty; send a JSON object")
		}
		return problem.BadRequest("request body is not valid JSON for this endpoint: %v", err)
	}
	if dec.More() {
		return problem.BadRequest("request body has data after the JSON object")
	}
	return nil
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
	// recorded: the handler stored what the request brought (an event),
	// so a success needs no access log line at info.
	recorded bool
}

// recorded marks w's request as stored where it can be listed (an event):
// its access log line, when the answer is a success, is written at debug.
// A hook taking thousands of events a second would otherwise write as many
// log lines, each a write to the log's file or pipe.
func recorded(w http.ResponseWriter) {
	if rec, ok := w.(*statusRecorder); ok {
		rec.recorded = true
	}
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// clientIP is the peer address (proxies' X-Forwarded-For is not trusted).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
