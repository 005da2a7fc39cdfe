package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/problem"
)

// SessionCookie is the admin UI's session cookie (ui.SessionCookie; the UI
// sets it HttpOnly and SameSite=Lax).
const SessionCookie = "ipai_session"

// CSRFHeader carries the UI session's CSRF token on writes made with the
// session cookie (a same-origin fetch sets it; a cross-site form cannot).
const CSRFHeader = "X-CSRF-Token"

// routeSession registers a route that also accepts the admin UI's session
// cookie when the request has no Authorization header (browser pages such
// as /embed/dashboards/{id} and the fetches they make).
func routeSession(method, pattern string, role auth.Role, action string, h HandlerFunc) {
	routes = append(routes, Route{Method: method, Pattern: pattern, Role: role, Action: action, Handler: h, Session: true})
}

type csrfKey struct{}

// sessionCSRF is the CSRF token of the request's UI session ("" when the
// caller used a bearer token).
func sessionCSRF(ctx context.Context) string { s, _ := ctx.Value(csrfKey{}).(string); return s }

// authenticateSession authenticates a request by the UI session cookie.
// Writes must come from the same origin (Origin and Sec-Fetch-Site, when
// sent) and carry the session's CSRF token in X-CSRF-Token.
func (s *Server) authenticateSession(r *http.Request, write bool) (auth.Principal, *http.Request, error) {
	ck, err := r.Cookie(SessionCookie)
	if err != nil || ck.Value == "" {
		return auth.Principal{}, r, problem.Unauthorized("no credentials: send Authorization: Bearer <token>, or sign in to the admin UI")
	}
	p, sess, err := s.Sessions.Lookup(r.Context(), ck.Value)
	if errors.Is(err, auth.ErrNoSession) {
		return p, r, problem.Unauthorized("the session has expired or was ended: sign in to the admin UI again")
	}
	if err != nil {
		return p, r, err
	}
	if write {
		if o := r.Header.Get("Origin"); o != "" {
			if u, err := url.Parse(o); o == "null" || err != nil || !strings.EqualFold(u.Host, r.Host) {
				return auth.Principal{}, r, problem.Forbidden("cross-origin request (%s) with a session cookie refused", o)
			}
		}
		if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
			return auth.Principal{}, r, problem.Forbidden("%s request with a session cookie refused", site)
		}
		got := r.Header.Get(CSRFHeader)
		if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRF)) != 1 {
			return auth.Principal{}, r, problem.Forbidden("missing or stale %s header: reload the page", CSRFHeader)
		}
	}
	return p, r.WithContext(context.WithValue(r.Context(), csrfKey{}, sess.CSRF)), nil
}
