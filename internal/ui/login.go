package ui

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/store"
)

func randomString() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// safeNext keeps post-login redirects on this site's UI.
func safeNext(next string) string {
	if strings.HasPrefix(next, "/ui/") && !strings.HasPrefix(next, "//") && !strings.ContainsAny(next, "\\\r\n") {
		return next
	}
	return "/ui/"
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.showLogin(w, r, http.StatusOK, "", r.URL.Query().Get("next"), r.URL.Query().Get("error"))
}

func (s *Server) showLogin(w http.ResponseWriter, r *http.Request, status int, name, next, msg string) {
	tok := randomString()
	s.setCookie(w, r, loginCookie, tok, "/login", 3600)
	firstRun, _ := s.needsSetup(r.Context())
	s.render(w, &reqCtx{}, status, "login", map[string]any{"Title": "Sign in", "CSRF": tok, "Name": name, "FirstRun": firstRun,
		"Next": safeNext(next), "Error": msg, "OIDC": s.OIDC != nil, "OIDCName": s.OIDCName})
}

func (s *Server) loginSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	name, password, next := strings.ToLower(strings.TrimSpace(r.PostFormValue("name"))), r.PostFormValue("password"), r.PostFormValue("next")
	ck, _ := r.Cookie(loginCookie)
	if ck == nil || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(r.PostFormValue("csrf"))) != 1 {
		s.showLogin(w, r, http.StatusForbidden, name, next, "The sign-in form expired; please try again.")
		return
	}
	ip := clientIP(r)
	keys := []string{"ip:" + ip, "user:" + name}
	if blocked, wait := s.Limiter.Blocked(keys...); blocked {
		s.auditAnon(r, "ui.login", name, "sign-in refused: too many failed attempts", audit.Warning)
		w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
		s.showLogin(w, r, http.StatusTooManyRequests, name, next,
			fmt.Sprintf("Too many failed sign-ins. Try again in %s.", shortDur(wait.Round(time.Second)+time.Second)))
		return
	}
	u, err := s.Users.Authenticate(r.Context(), name, password)
	if errors.Is(err, auth.ErrBadLogin) {
		s.Limiter.Fail(keys...)
		s.auditAnon(r, "ui.login", name, "sign-in failed", audit.Warning)
		s.showLogin(w, r, http.StatusUnauthorized, name, next, "The user name or password is wrong.")
		return
	}
	if err != nil {
		s.Log.Error("sign-in", "err", err)
		s.showLogin(w, r, http.StatusInternalServerError, name, next, "Sign-in failed on the server; the server log has the details.")
		return
	}
	s.Limiter.Reset("user:" + name)
	s.startSession(w, r, u, "password", safeNext(next))
}

func (s *Server) startSession(w http.ResponseWriter, r *http.Request, u store.User, method, next string) {
	raw, _, err := s.Sessions.Create(r.Context(), u, clientIP(r), r.UserAgent())
	if err != nil {
		s.Log.Error("create session", "err", err)
		http.Error(w, "could not start a session; the server log has the details", http.StatusInternalServerError)
		return
	}
	s.setCookie(w, r, SessionCookie, raw, "/", int(s.Sessions.TTL.Seconds()))
	s.setCookie(w, r, loginCookie, "", "/login", -1)
	r = r.WithContext(auth.WithPrincipal(r.Context(), auth.Principal{ID: u.ID, Name: u.Name, Kind: "user", Role: auth.Role(u.Role)}))
	s.audit(r, "ui.login", u.ID, "signed in ("+method+") as "+u.Name+" with role "+u.Role, nil, audit.Info)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) auditAnon(r *http.Request, action, target, msg, level string) {
	r = r.WithContext(auth.WithPrincipal(r.Context(), auth.Principal{ID: "anonymous"}))
	s.audit(r, action, target, msg, nil, level)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if ck, err := r.Cookie(SessionCookie); err == nil {
		if err := s.Sessions.Delete(r.Context(), ck.Value); err != nil {
			return err
		}
	}
	s.setCookie(w, r, SessionCookie, "", "/", -1)
	to := "/login"
	if ck, err := r.Cookie(ssoCookie); err == nil && s.OIDC != nil {
		// Signed in with SSO: end the provider's session too, or the next
		// "Sign in with SSO" would pass without a password.
		s.setCookie(w, r, ssoCookie, "", "/logout", -1)
		if u, err := s.OIDC.LogoutURL(r.Context(), ck.Value); err != nil {
			s.Log.Warn("oidc logout", "err", err)
		} else if u != "" {
			to = u
		}
	}
	s.audit(r, "ui.logout", c.P.ID, "signed out", nil, audit.Info)
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

// oidcStart redirects to the provider with state, nonce and a PKCE
// challenge; their secrets wait in a short-lived HttpOnly cookie.
func (s *Server) oidcStart(w http.ResponseWriter, r *http.Request) {
	if s.OIDC == nil {
		http.NotFound(w, r)
		return
	}
	to, f, err := s.OIDC.Start(r.Context())
	if err != nil {
		s.Log.Warn("oidc start", "err", err)
		s.showLogin(w, r, http.StatusBadGateway, "", "", "Single sign-on is unavailable: "+err.Error())
		return
	}
	next := safeNext(r.URL.Query().Get("next"))
	s.setCookie(w, r, oidcCookie, strings.Join([]string{f.State, f.Nonce, f.Verifier, base64.RawURLEncoding.EncodeToString([]byte(next))}, "."), "/auth/oidc/", 600)
	http.Redirect(w, r, to, http.StatusFound)
}

func (s *Server) oidcCallback(w http.ResponseWriter, r *http.Request) {
	if s.OIDC == nil {
		http.NotFound(w, r)
		return
	}
	ck, _ := r.Cookie(oidcCookie)
	s.setCookie(w, r, oidcCookie, "", "/auth/oidc/", -1)
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		s.showLogin(w, r, http.StatusUnauthorized, "", "", "The identity provider refused the sign-in: "+e+" "+q.Get("error_description"))
		return
	}
	var f auth.Flow
	next := "/ui/"
	if ck != nil {
		if parts := strings.Split(ck.Value, "."); len(parts) == 4 {
			f = auth.Flow{State: parts[0], Nonce: parts[1], Verifier: parts[2]}
			if b, err := base64.RawURLEncoding.DecodeString(parts[3]); err == nil {
				next = safeNext(string(b))
			}
		}
	}
	id, err := s.OIDC.Finish(r.Context(), f, q.Get("state"), q.Get("code"))
	if err != nil {
		s.auditAnon(r, "ui.login", id.Subject, "single sign-on failed: "+err.Error(), audit.Warning)
		s.showLogin(w, r, http.StatusUnauthorized, "", "", "Single sign-on failed: "+err.Error())
		return
	}
	u, err := s.Users.UpsertOIDC(r.Context(), id)
	if err != nil {
		msg := "Single sign-on failed on the server; the server log has the details."
		if errors.Is(err, auth.ErrBadLogin) {
			msg = "Your ipai user is disabled; ask an administrator."
		} else {
			s.Log.Error("oidc user", "err", err)
		}
		s.showLogin(w, r, http.StatusForbidden, "", "", msg)
		return
	}
	// The ID token names the provider's session at logout (id_token_hint).
	s.setCookie(w, r, ssoCookie, id.RawIDToken, "/logout", int(s.Sessions.TTL.Seconds()))
	s.startSession(w, r, u, "sso", next)
}
