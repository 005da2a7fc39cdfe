package ui

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/event"
	"github.com/insightpulseai/ipai/internal/problem"
	"github.com/insightpulseai/ipai/internal/store"
)

// SetupTTL is how long a first-run setup URL stays valid.
const SetupTTL = time.Hour

const setupCookie = "ipai_setup_csrf"

// setupState is the one-time first-run token; only its hash is kept.
type setupState struct {
	mu      sync.Mutex
	hash    string
	expires time.Time
	used    bool
}

// ArmSetup makes a one-time setup token when the hub has no user and no
// live admin token, and returns the setup URL's path and query to print
// ("" when the hub already has someone who can sign in or call the API).
func (s *Server) ArmSetup(ctx context.Context) (string, error) {
	need, err := s.needsSetup(ctx)
	if err != nil || !need {
		return "", err
	}
	raw := randomString()
	s.setup.mu.Lock()
	s.setup.hash, s.setup.expires, s.setup.used = auth.HashToken(raw), s.now().Add(SetupTTL), false
	s.setup.mu.Unlock()
	return "/ui/setup?token=" + raw, nil
}

// needsSetup reports whether no user and no usable admin token exist.
func (s *Server) needsSetup(ctx context.Context) (bool, error) {
	us, err := s.DB.ListUsers(ctx, "", 1)
	if err != nil || len(us) > 0 {
		return false, err
	}
	ts, err := s.DB.ListTokens(ctx)
	if err != nil {
		return false, err
	}
	now := s.now()
	for _, t := range ts {
		if t.Role == string(auth.RoleAdmin) && t.RevokedAt.IsZero() && (t.ExpiresAt.IsZero() || t.ExpiresAt.After(now)) {
			return false, nil
		}
	}
	return true, nil
}

func isLoopback(r *http.Request) bool {
	ip := net.ParseIP(clientIP(r))
	return ip != nil && ip.IsLoopback()
}

// setupGate answers the refusals common to the setup page and its form;
// ok means the request may proceed with token raw.
func (s *Server) setupGate(w http.ResponseWriter, r *http.Request, raw string) bool {
	if need, err := s.needsSetup(r.Context()); err != nil {
		s.Log.Error("setup: read users", "err", err)
		s.errorPage(w, r, nil, err)
		return false
	} else if !need {
		s.renderSetupError(w, http.StatusNotFound, "This hub is already set up; sign in instead.")
		return false
	}
	if !s.SetupPublic && !isLoopback(r) {
		s.auditAnon(r, "ui.setup", "", "setup refused: request from "+clientIP(r)+" is not loopback", audit.Warning)
		s.renderSetupError(w, http.StatusForbidden, "The setup page only answers on this machine (loopback). "+
			"Open it from the server itself, e.g. through an SSH tunnel, or restart with `ipai serve --setup-public`.")
		return false
	}
	s.setup.mu.Lock()
	hash, expires, used := s.setup.hash, s.setup.expires, s.setup.used
	s.setup.mu.Unlock()
	switch {
	case hash == "" || raw == "" || subtle.ConstantTimeCompare([]byte(auth.HashToken(raw)), []byte(hash)) != 1:
		s.renderSetupError(w, http.StatusNotFound, "This setup link is not valid. Copy the setup URL from the server's log (the line \"first run: open the setup URL\").")
		return false
	case used:
		s.renderSetupError(w, http.StatusGone, "This setup link was already used; sign in instead.")
		return false
	case !s.now().Before(expires):
		s.renderSetupError(w, http.StatusGone, "This setup link expired. Restart `ipai serve` to print a new one.")
		return false
	}
	return true
}

func (s *Server) renderSetupError(w http.ResponseWriter, status int, msg string) {
	s.render(w, &reqCtx{}, status, "error", map[string]any{"Title": "Setup", "Status": status, "Message": msg})
}

func (s *Server) setupPage(w http.ResponseWriter, r *http.Request) {
	raw := r.URL.Query().Get("token")
	if !s.setupGate(w, r, raw) {
		return
	}
	s.showSetup(w, r, http.StatusOK, raw, "", nil)
}

func (s *Server) showSetup(w http.ResponseWriter, r *http.Request, status int, raw, name string, errs map[string]string) {
	tok := randomString()
	s.setCookie(w, r, setupCookie, tok, "/ui/setup", 3600)
	s.render(w, &reqCtx{}, status, "setup", map[string]any{"Title": "Set up ipai", "CSRF": tok, "Token": raw,
		"Name": name, "E": errs, "Min": auth.MinPassword})
}

func (s *Server) setupSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	raw := r.PostFormValue("token")
	if !s.setupGate(w, r, raw) {
		return
	}
	name := strings.ToLower(strings.TrimSpace(r.PostFormValue("name")))
	ck, _ := r.Cookie(setupCookie)
	if ck == nil || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(r.PostFormValue("csrf"))) != 1 {
		s.showSetup(w, r, http.StatusForbidden, raw, name, map[string]string{"_": "The setup form expired or was posted from elsewhere; please try again."})
		return
	}
	pw := r.PostFormValue("password")
	if pw != r.PostFormValue("password2") {
		s.showSetup(w, r, http.StatusUnprocessableEntity, raw, name, map[string]string{"password2": "does not match the password"})
		return
	}
	// Claim the token before creating the user: two racing posts make one admin.
	s.setup.mu.Lock()
	if s.setup.used {
		s.setup.mu.Unlock()
		s.renderSetupError(w, http.StatusGone, "This setup link was already used; sign in instead.")
		return
	}
	s.setup.used = true
	s.setup.mu.Unlock()
	u, err := s.Users.Create(r.Context(), auth.NewUser{Name: name, Role: auth.RoleAdmin, Password: pw,
		DisplayName: r.PostFormValue("display_name"), Email: r.PostFormValue("email")})
	if err != nil {
		s.setup.mu.Lock()
		s.setup.used = false
		s.setup.mu.Unlock()
		errs, err := fieldErrors(err)
		if err != nil {
			s.errorPage(w, r, nil, err)
			return
		}
		s.showSetup(w, r, http.StatusUnprocessableEntity, raw, name, errs)
		return
	}
	s.setup.mu.Lock()
	s.setup.hash = ""
	s.setup.mu.Unlock()
	s.setCookie(w, r, setupCookie, "", "/ui/setup", -1)
	s.Log.Info("first run: setup done; the setup URL no longer works", "admin", u.Name)
	r = r.WithContext(auth.WithPrincipal(r.Context(), auth.Principal{ID: u.ID, Name: u.Name, Kind: "user", Role: auth.RoleAdmin}))
	s.audit(r, "ui.setup", u.ID, "first run: created the first admin "+u.Name, nil, audit.Info)
	s.startSession(w, r, u, "setup", "/ui/start")
}

// startPage is the guided start shown after setup (and from the dashboard).
// Each step says what is already there.
func (s *Server) startPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	data := map[string]any{"Title": "Get started", "BaseURL": strings.TrimRight(s.BaseURL, "/")}
	if s.Connectors != nil && c.Can("GET", "/api/v1/connectors") {
		list, err := s.Connectors.List(r.Context(), "")
		if err != nil {
			return err
		}
		data["Connectors"] = list
	}
	if c.Can("GET", "/api/v1/webhooks") {
		for key, dir := range map[string]string{"Incoming": store.Incoming, "Outgoing": store.Outgoing} {
			list, err := s.DB.ListWebhooks(r.Context(), dir)
			if err != nil {
				return err
			}
			data[key] = list
		}
	}
	s.render(w, c, http.StatusOK, "start", data)
	return nil
}

// testEvent stores a sample event (source ipai, type ipai.test) as an
// incoming hook would, so the rules route it to the subscribed outgoing
// endpoints, and shows the event with the deliveries it caused.
func (s *Server) testEvent(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if s.Ingest == nil {
		return problem.NotFound("this hub does not accept events")
	}
	now := s.now().UTC()
	payload, _ := json.Marshal(map[string]any{"test": true, "message": "test event from the ipai setup page", "sent_by": c.P.Name,
		"sent_at": now.Format(time.RFC3339Nano)})
	res, err := s.Ingest(r.Context(), event.Request{Source: "ipai", Type: "ipai.test", Payload: payload, IdemKey: "ui-test:" + randomString()})
	if err != nil {
		return err
	}
	s.audit(r, "ui.test_event", res.EventID, "sent a test event (ipai.test)", nil, audit.Info)
	return s.redirect(w, r, "/ui/events/"+res.EventID, "Test event sent. The outgoing endpoints that subscribe to ipai.test (or *) get a delivery, listed below.")
}
