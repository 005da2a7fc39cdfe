package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/connector/odoo"
	"github.com/insightpulseai/ipai/internal/inbound"
	"github.com/insightpulseai/ipai/internal/problem"
	"github.com/insightpulseai/ipai/internal/store"
)

// OdooMaxBody bounds an Odoo webhook notification.
const OdooMaxBody = 1 << 20

func init() {
	// Odoo's webhook server actions cannot sign or set headers: the token in
	// the URL (?token=, or the X-Ipai-Token header) is checked here.
	routeBody("POST", "/integrations/odoo/{connector_code}", auth.RolePublic, OdooMaxBody, (*Server).receiveOdoo)
}

// OdooTokenHash is how Odoo source tokens are stored (SHA-256, hex).
func OdooTokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// odooRefusals throttles audit warnings of refused Odoo posts per connector.
var odooRefusals audit.Throttle

// receiveOdoo turns an Odoo "Send Webhook Notification" into an event
// odoo.<model>.<verb> from source <connector_code>; it answers 200 only once
// the event is committed.
func (s *Server) receiveOdoo(w http.ResponseWriter, r *http.Request) error {
	code := r.PathValue("connector_code")
	tok := r.URL.Query().Get("token")
	if tok == "" {
		tok = r.Header.Get("X-Ipai-Token")
	}
	if tok == "" {
		s.warnOdoo(r, code, "no token")
		return problem.Unauthorized("no token: Odoo's webhook URL must end in ?token=<token from `ipai odoo install-webhooks`>")
	}
	hash := OdooTokenHash(tok)
	rec, err := s.DB.OdooTokenByHash(r.Context(), code, hash)
	if errors.Is(err, store.ErrNotFound) || (err == nil && subtle.ConstantTimeCompare([]byte(rec.Hash), []byte(hash)) != 1) {
		s.warnOdoo(r, code, "wrong token")
		return problem.Unauthorized("wrong token for connector %q", code)
	}
	if err != nil {
		return err
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	n, err := odoo.ParseWebhook(body)
	if err != nil {
		return problem.BadRequest("not an Odoo webhook notification: %v", err)
	}
	if v := r.URL.Query().Get("action"); v != "" {
		if !validVerb(v) {
			return problem.BadRequest("action %q: use lowercase letters, digits and _", v)
		}
		n.Action = v // the URL may name the verb (a hand-made server action)
	}
	if s.Hooks == nil || s.Hooks.Ingester == nil {
		return errors.New("odoo source: no ingester configured")
	}
	res, err := s.Hooks.Ingester.Ingest(r.Context(), inbound.Request{Source: code, Type: "odoo." + n.Model + "." + n.Action,
		IdemKey: odoo.NotificationKey(n), Payload: n.Body}) // the key change capture uses too
	if err != nil {
		return err
	}
	_ = s.DB.TouchOdooToken(r.Context(), rec.ID, time.Now())
	writeJSON(w, http.StatusOK, map[string]any{"event_id": res.EventID, "duplicate": res.Duplicate, "type": "odoo." + n.Model + "." + n.Action})
	return nil
}

func validVerb(v string) bool {
	if v == "" || len(v) > 64 || v[0] < 'a' || v[0] > 'z' {
		return false
	}
	for _, c := range v {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

func (s *Server) warnOdoo(r *http.Request, code, why string) {
	n, ok := odooRefusals.Allow(code, time.Now())
	if !ok {
		return
	}
	s.Log.Warn("odoo webhook refused", "connector", code, "reason", why, "ip", clientIP(r), "count", n)
	if s.Audit != nil {
		_ = s.Audit.Write(r.Context(), audit.Entry{Actor: audit.Clip("odoo:"+code, 128), IP: clientIP(r), Action: "odoo.webhook.refused",
			Level: audit.Warning, Target: audit.Clip(code, 128), Message: fmt.Sprintf("%d Odoo webhook post(s) refused; the last: %s", n, audit.Clip(why, 512)),
			Method: r.Method, URL: audit.Clip(r.URL.Path, 512), Status: 401})
	}
}
