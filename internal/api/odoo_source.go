package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/connector"
	"github.com/insightpulseai/ipai/internal/connector/odoo"
	"github.com/insightpulseai/ipai/internal/event"
	"github.com/insightpulseai/ipai/internal/odoosource"
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
	hash := odoosource.TokenHash(tok)
	rec, err := s.DB.OdooTokenByHash(r.Context(), code, hash)
	if errors.Is(err, store.ErrNotFound) || (err == nil && subtle.ConstantTimeCompare([]byte(rec.Hash), []byte(hash)) != 1) {
		s.warnOdoo(r, code, "wrong token")
		return problem.Unauthorized("wrong token for connector %q", code)
	}
	if err != nil {
		return err
	}
	body, err := readBody(r)
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
		n.SetAction(v) // the verb ipai put in the URL (Odoo 18 renames the action)
	}
	if s.Hooks == nil || s.Hooks.Ingester == nil {
		return errors.New("odoo source: no ingester configured")
	}
	// Odoo waits 1 s for the answer and then gives up (the event is still
	// stored): the work below must not depend on the request staying open.
	ctx := context.WithoutCancel(r.Context())
	payload := s.nameOdooValues(ctx, code, n)
	typ := "odoo." + n.Model + "." + n.Action
	key := odoo.NotificationKey(n) // the key change capture uses too
	res, err := s.Hooks.Ingester.Ingest(ctx, event.Request{Source: code, Type: typ, IdemKey: key, Payload: payload})
	if err != nil {
		return err
	}
	if res.Duplicate && key != "" && s.laterState(ctx, res.EventID, n) {
		// Same values and second as an earlier change, but a later one (a
		// record set back within a second): never drop a later state.
		res, err = s.Hooks.Ingester.Ingest(ctx, event.Request{Source: code, Type: typ,
			IdemKey: key + ":" + odoo.NotificationWriteDate(n), Payload: payload})
		if err != nil {
			return err
		}
	}
	_ = s.DB.TouchOdooToken(r.Context(), rec.ID, time.Now())
	writeJSON(w, http.StatusOK, map[string]any{"event_id": res.EventID, "duplicate": res.Duplicate, "type": typ})
	return nil
}

// odooNames caches the many2one display names webhook payloads are given
// (namer) and the Odoo clients it reads them with (clients: code →
// *odooClient).
type odooNames struct {
	namer   odoo.Namer
	clients sync.Map
}

type odooClient struct {
	conf string // what the client was built from
	cl   *odoo.Client
	auth sync.Mutex
}

// nameOdooValues gives the notification's many2one ids their display
// names ([id, "name"], as search_read and the watchers have them), so that
// {{m2o .data.partner_id}} prints a name for webhook events too. Odoo
// waits 1 s for the answer (then drops it), so this takes at most 500 ms
// and calls nothing that waits for Odoo's open transaction: the client is
// kept per connector, and its first login (common.authenticate, which
// does wait on Odoo 18) runs in the background — until it is done, and
// whenever Odoo is slow, the payload is stored as sent (ids).
func (s *Server) nameOdooValues(ctx context.Context, code string, n odoo.Notification) []byte {
	if s.Connectors == nil {
		return n.Body
	}
	cfg, err := s.Connectors.Config(ctx, code)
	if err != nil || cfg.Type != "odoo" {
		return n.Body
	}
	key := cfg.Secret("api_key")
	if key == "" {
		key = cfg.Secret("password")
	}
	conf := cfg.BaseURL + "\x00" + cfg.Setting("database") + "\x00" + cfg.Setting("login") + "\x00" + odoosource.TokenHash(key)
	v, _ := s.odooNames.clients.Load(code)
	oc, _ := v.(*odooClient)
	if oc == nil || oc.conf != conf {
		cl, err := connector.NewAs[*odoo.Client](cfg, s.Connectors.HTTPClient(cfg), "odoo")
		if err != nil {
			s.Log.Warn("odoo webhook: many2one names left as ids", "connector", code, "err", err)
			return n.Body
		}
		oc = &odooClient{conf: conf, cl: cl}
		s.odooNames.clients.Store(code, oc)
	}
	if !oc.cl.Authenticated() {
		go func() {
			if !oc.auth.TryLock() {
				return
			}
			defer oc.auth.Unlock()
			actx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := oc.cl.Login(actx); err != nil { // Odoo 19+: the version only (JSON-2, no login)
				s.Log.Warn("odoo webhook: login to read many2one names failed", "connector", code, "err", err)
			}
		}()
		return n.Body
	}
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	out, err := s.odooNames.namer.Enrich(ctx, oc.cl, code, n.Model, n.Body)
	if err != nil {
		s.Log.Warn("odoo webhook: many2one names not read; the event keeps the ids", "connector", code, "model", n.Model, "err", err)
	}
	return out
}

// laterState says whether the event holding a notification's key is
// another notification with a different write_date (to the microsecond:
// another transaction) than this one.
func (s *Server) laterState(ctx context.Context, eventID string, n odoo.Notification) bool {
	wd := odoo.NotificationWriteDate(n)
	if wd == "" { // a deletion: nothing to compare, no read
		return false
	}
	ev, err := s.DB.Event(ctx, eventID)
	if err != nil {
		return false
	}
	var held struct {
		WriteDate string `json:"write_date"`
		Via       string `json:"_via"` // "poll": seconds only, cannot tell
	}
	_ = json.Unmarshal([]byte(ev.Payload), &held)
	return held.Via == "" && held.WriteDate != "" && held.WriteDate != wd
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
	n, ok := s.odooRefusals.Allow(code, time.Now())
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
