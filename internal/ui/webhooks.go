package ui

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/insightpulseai/ipai/internal/api"
	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/delivery"
	"github.com/insightpulseai/ipai/internal/problem"
	"github.com/insightpulseai/ipai/internal/store"
)

type webhookRow struct {
	store.Webhook
	URLs        []string
	Scheme      string
	Target      string
	Counts      map[string]int64
	SuccessRate float64
	HasRate     bool
}

func (s *Server) webhookRow(ctx *http.Request, h store.Webhook, counts bool) (webhookRow, error) {
	row := webhookRow{Webhook: h}
	if h.Direction == store.Outgoing { // header values and URL credentials are never shown
		h.Spec = string(delivery.PublicSpec(h.Spec))
		row.Webhook = h
	}
	var spec map[string]any
	_ = json.Unmarshal([]byte(h.Spec), &spec)
	row.Scheme, _ = spec["scheme"].(string)
	row.Target, _ = spec["target_url"].(string)
	if h.Direction == store.Incoming {
		row.URLs = []string{s.BaseURL + "/hooks/" + h.ID}
		if h.Connector != "" {
			row.URLs = append(row.URLs, s.BaseURL+"/integrations/"+h.Connector+"/webhook/"+h.ID)
		}
	} else if counts {
		m, err := s.DB.CountDeliveries(ctx.Context(), store.DeliveryFilter{EndpointID: h.ID})
		if err != nil {
			return row, err
		}
		row.Counts = m
		done := m[store.DeliverySucceeded] + m[store.DeliveryDead]
		if done > 0 {
			row.SuccessRate, row.HasRate = float64(m[store.DeliverySucceeded])/float64(done), true
		}
	}
	return row, nil
}

func (s *Server) webhookList(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	in, err := s.DB.ListWebhooks(r.Context(), store.Incoming)
	if err != nil {
		return err
	}
	out, err := s.DB.ListWebhooks(r.Context(), store.Outgoing)
	if err != nil {
		return err
	}
	page := pageParam(r)
	fi, ti, pgIn := paginate(len(in), page)
	fo, to, pgOut := paginate(len(out), page)
	var inRows, outRows []webhookRow
	for _, h := range in[fi:ti] {
		row, _ := s.webhookRow(r, h, false)
		inRows = append(inRows, row)
	}
	for _, h := range out[fo:to] {
		row, err := s.webhookRow(r, h, true)
		if err != nil {
			return err
		}
		outRows = append(outRows, row)
	}
	pg := pgIn
	if pgOut["Next"] > 0 {
		pg["Next"] = pgOut["Next"]
	}
	s.render(w, c, http.StatusOK, "webhooks", map[string]any{"Title": "Webhooks", "Incoming": inRows, "Outgoing": outRows, "Pager": pg})
	return nil
}

func (s *Server) webhook(r *http.Request) (store.Webhook, error) { return api.LoadWebhook(r, s.DB) }

func (s *Server) webhookShow(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	return s.showWebhook(w, r, c, r.PathValue("id"), "", false)
}

// showWebhook shows webhook id; newSecret, when set, is shown this once
// (created says the webhook was just made).
func (s *Server) showWebhook(w http.ResponseWriter, r *http.Request, c *reqCtx, id, newSecret string, created bool) error {
	h, err := s.DB.Webhook(r.Context(), id)
	if err == store.ErrNotFound {
		return problem.NotFound("no webhook %q", id)
	}
	if err != nil {
		return err
	}
	row, err := s.webhookRow(r, h, true)
	if err != nil {
		return err
	}
	data := map[string]any{"Title": "Webhook " + h.Name, "H": row, "Spec": row.Spec, "NewSecret": newSecret, "Created": created}
	if h.Direction == store.Incoming {
		evs, err := s.DB.ListEvents(r.Context(), store.EventFilter{HookID: h.ID, Before: r.URL.Query().Get("cursor"), Limit: pageSize + 1})
		if err != nil {
			return err
		}
		if len(evs) > pageSize {
			evs = evs[:pageSize]
			data["Next"] = evs[pageSize-1].ID
		}
		data["Events"] = evs
	} else {
		ds, err := s.DB.ListDeliveries(r.Context(), store.DeliveryFilter{EndpointID: h.ID, Limit: 20})
		if err != nil {
			return err
		}
		data["Deliveries"] = ds
	}
	if time.Now().Before(h.OldSecretUntil) {
		data["OldSecretUntil"] = h.OldSecretUntil
	}
	s.render(w, c, http.StatusOK, "webhook", data)
	return nil
}

func (s *Server) webhookRotate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if s.Hooks == nil {
		return problem.NotFound("incoming hooks are not enabled on this server")
	}
	if h, err := s.webhook(r); err != nil {
		return err
	} else if h.Managed { // as the API's rotate-secret route refuses
		return s.redirect(w, r, "/ui/webhooks/"+h.ID, "Webhook "+h.Name+" is declared in ipai.yaml: change its secret there.")
	}
	cr, err := s.Hooks.Rotate(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	s.audit(r, "webhook.rotate", cr.Hook.ID, "secret rotated; the old one stays valid until "+cr.Hook.OldSecretUntil.Format(time.RFC3339), nil, audit.Info)
	return s.showWebhook(w, r, c, cr.Hook.ID, cr.Secret, false)
}

func (s *Server) webhookState(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if s.Endpoints == nil {
		return problem.NotFound("outgoing endpoints are not enabled on this server")
	}
	h, err := s.webhook(r)
	if err != nil {
		return err
	}
	if h.Managed {
		return s.redirect(w, r, "/ui/webhooks/"+h.ID, "Webhook "+h.Name+" is declared in ipai.yaml: change it there.")
	}
	state := r.PostFormValue("state")
	if state != store.WebhookActive && state != store.WebhookDisabled {
		return problem.Invalid("state", "%q: expected active or disabled", state)
	}
	if _, err := s.Endpoints.SetState(r.Context(), h.ID, state, "set by "+c.P.Name); err != nil {
		return err
	}
	if s.Hooks != nil {
		s.Hooks.Forget(h.ID)
	}
	s.audit(r, "webhook.update", h.ID, "webhook "+state, map[string]any{"state": state}, audit.Info)
	return s.redirect(w, r, "/ui/webhooks/"+h.ID, "Webhook "+h.Name+" is now "+state+".")
}

func (s *Server) eventShow(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	e, err := api.LoadEvent(r.Context(), s.DB, r.PathValue("id"))
	if err != nil {
		return err
	}
	ds, err := s.DB.ListDeliveries(r.Context(), store.DeliveryFilter{EventID: e.ID, Limit: pageSize + 1})
	if err != nil {
		return err
	}
	more := len(ds) > pageSize
	if more {
		ds = ds[:pageSize]
	}
	s.render(w, c, http.StatusOK, "event", map[string]any{"Title": "Event " + e.ID, "E": e, "Deliveries": ds, "More": more})
	return nil
}
