package ui

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/insightpulseai/ipai/internal/api"
	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/delivery"
	"github.com/insightpulseai/ipai/internal/event"
	"github.com/insightpulseai/ipai/internal/store"
	"github.com/insightpulseai/ipai/internal/webhooksig"
)

// The webhook forms create, change and delete incoming hooks and outgoing
// endpoints through api.CreateWebhook, api.UpdateWebhook and
// api.DeleteWebhook, the functions the REST API's /api/v1/webhooks routes
// call. Form fields are named as the API's JSON fields, so the API's
// errors land next to them.

// webhookForm is the create/edit form's state: what the user typed.
type webhookForm struct {
	Edit                 bool
	ID, Direction        string
	Name, Connector      string
	Scheme, EventType    string
	TypeField, IdemField string
	DedupeWindow         string
	MaxBody              string
	RotationGrace        string
	AcceptForm           bool
	TargetURL            string
	EventTypes, Source   string
	Template             string
	ContentType          string
	Headers              string
	Timeout, RateLimit   string
	Retry, DisableAfter  string
	SignHex, Ordered     bool
	FollowRedirects      bool
	Errors               map[string]string
}

// webhookFields are the form fields the API's errors may name.
var webhookFields = map[string]bool{"name": true, "connector": true, "secret": true, "scheme": true, "event_type": true,
	"type_field": true, "idempotency_field": true, "dedupe_window": true, "max_body": true, "rotation_grace": true,
	"target_url": true, "event_types": true, "source": true, "template": true, "content_type": true, "headers": true,
	"timeout": true, "rate_limit": true, "retry_schedule": true, "disable_after": true}

func webhookErrors(err error) (map[string]string, error) {
	fe, err := fieldErrors(err)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for f, msg := range fe {
		f = strings.TrimPrefix(f, "spec.")
		if !webhookFields[f] {
			f = "_"
		}
		out[f] = msg
	}
	return out, nil
}

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

// readWebhookForm reads the posted fields; errs has what could not be read.
func readWebhookForm(r *http.Request) (f webhookForm, hs event.HookSpec, es delivery.EndpointSpec, errs map[string]string) {
	v := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	on := func(k string) bool { return r.PostFormValue(k) != "" }
	f = webhookForm{Direction: v("direction"), Name: v("name"), Connector: v("connector"),
		Scheme: v("scheme"), EventType: v("event_type"), TypeField: v("type_field"), IdemField: v("idempotency_field"),
		DedupeWindow: v("dedupe_window"), MaxBody: v("max_body"), RotationGrace: v("rotation_grace"), AcceptForm: on("accept_form"),
		TargetURL: v("target_url"), EventTypes: v("event_types"), Source: v("source"), Template: r.PostFormValue("template"),
		ContentType: v("content_type"), Headers: r.PostFormValue("headers"), Timeout: v("timeout"), RateLimit: v("rate_limit"),
		Retry: v("retry_schedule"), DisableAfter: v("disable_after"), SignHex: on("sign_hex"), Ordered: on("ordered"),
		FollowRedirects: on("follow_redirects")}
	errs = map[string]string{}
	hs = event.HookSpec{Scheme: f.Scheme, EventType: f.EventType, TypeField: f.TypeField, IdempotencyField: f.IdemField,
		DedupeWindow: f.DedupeWindow, AcceptForm: f.AcceptForm, RotationGrace: f.RotationGrace}
	if f.MaxBody != "" {
		n, err := strconv.ParseInt(f.MaxBody, 10, 64)
		if err != nil {
			errs["max_body"] = "is not a whole number of bytes"
		}
		hs.MaxBody = n
	}
	es = delivery.EndpointSpec{TargetURL: f.TargetURL, EventTypes: splitList(f.EventTypes), Source: f.Source,
		Template: strings.TrimSpace(f.Template), ContentType: f.ContentType, Timeout: f.Timeout, Retry: splitList(f.Retry),
		DisableAfter: f.DisableAfter, SignHex: f.SignHex, Ordered: f.Ordered, FollowRedirects: f.FollowRedirects,
		Headers: map[string]string{}}
	if es.EventTypes == nil {
		es.EventTypes = []string{}
	}
	if f.RateLimit != "" {
		x, err := strconv.ParseFloat(f.RateLimit, 64)
		if err != nil {
			errs["rate_limit"] = "is not a number of requests per second"
		}
		es.RateLimit = x
	}
	for i, line := range strings.Split(f.Headers, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, val, ok := strings.Cut(line, ":")
		if !ok {
			errs["headers"] = "line " + strconv.Itoa(i+1) + ": expected Name: value"
			continue
		}
		es.Headers[strings.TrimSpace(k)] = strings.TrimSpace(val)
	}
	return f, hs, es, errs
}

func (s *Server) webhookNew(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	f := &webhookForm{Direction: r.URL.Query().Get("direction"), Scheme: webhooksig.SchemeStandard, EventTypes: "*"}
	if f.Direction != store.Outgoing {
		f.Direction = store.Incoming
	}
	return s.renderWebhookForm(w, r, c, http.StatusOK, f)
}

func (s *Server) renderWebhookForm(w http.ResponseWriter, r *http.Request, c *reqCtx, status int, f *webhookForm) error {
	var conns []store.Connector
	if s.Connectors != nil && f.Direction == store.Incoming {
		list, err := s.Connectors.List(r.Context(), "")
		if err != nil {
			return err
		}
		conns = list
	}
	title := "New incoming hook"
	if f.Direction == store.Outgoing {
		title = "New outgoing endpoint"
	}
	if f.Edit {
		title = "Edit " + f.Name
	}
	s.render(w, c, status, "webhook_form", map[string]any{"Title": title, "F": f, "Schemes": webhooksig.Schemes, "Connectors": conns,
		"Redacted": delivery.Redacted})
	return nil
}

func (s *Server) webhookCreate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	f, hs, es, errs := readWebhookForm(r)
	if len(errs) == 0 {
		in := api.WebhookInput{Direction: f.Direction, Name: f.Name, Secret: r.PostFormValue("secret")}
		if f.Direction == store.Incoming {
			in.Connector, in.HookSpec = f.Connector, hs
		} else {
			in.EndpointSpec = es
		}
		created, err := api.CreateWebhook(r.Context(), s.Hooks, s.Endpoints, in)
		if err == nil {
			s.audit(r, "webhook.create", created.Hook.ID, created.Message, nil, audit.Info)
			return s.showWebhook(w, r, c, created.Hook.ID, created.Secret, true)
		}
		if errs, err = webhookErrors(err); err != nil {
			return err
		}
	}
	f.Errors = errs
	return s.renderWebhookForm(w, r, c, http.StatusUnprocessableEntity, &f)
}

// formOf fills the edit form from a stored webhook (header values redacted).
func formOf(h store.Webhook) *webhookForm {
	f := &webhookForm{Edit: true, ID: h.ID, Direction: h.Direction, Name: h.Name, Connector: h.Connector}
	if h.Direction == store.Incoming {
		var sp event.HookSpec
		_ = json.Unmarshal([]byte(h.Spec), &sp)
		f.Scheme, f.EventType, f.TypeField, f.IdemField = sp.Scheme, sp.EventType, sp.TypeField, sp.IdempotencyField
		f.DedupeWindow, f.RotationGrace, f.AcceptForm = sp.DedupeWindow, sp.RotationGrace, sp.AcceptForm
		if sp.MaxBody != 0 {
			f.MaxBody = strconv.FormatInt(sp.MaxBody, 10)
		}
		return f
	}
	var sp delivery.EndpointSpec
	_ = json.Unmarshal(delivery.PublicSpec(h.Spec), &sp)
	f.TargetURL, f.EventTypes, f.Source, f.Template, f.ContentType = sp.TargetURL, strings.Join(sp.EventTypes, ", "), sp.Source, sp.Template, sp.ContentType
	f.Timeout, f.Retry, f.DisableAfter = sp.Timeout, strings.Join(sp.Retry, ", "), sp.DisableAfter
	f.SignHex, f.Ordered, f.FollowRedirects = sp.SignHex, sp.Ordered, sp.FollowRedirects
	if sp.RateLimit != 0 {
		f.RateLimit = strconv.FormatFloat(sp.RateLimit, 'g', -1, 64)
	}
	names := make([]string, 0, len(sp.Headers))
	for k := range sp.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		f.Headers += k + ": " + sp.Headers[k] + "\n"
	}
	return f
}

func (s *Server) webhookEdit(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	h, err := s.webhook(r)
	if err != nil {
		return err
	}
	if h.Managed {
		return s.redirect(w, r, "/ui/webhooks/"+h.ID, "Webhook "+h.Name+" is declared in ipai.yaml: change it there.")
	}
	return s.renderWebhookForm(w, r, c, http.StatusOK, formOf(h))
}

func (s *Server) webhookUpdate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	h, err := s.webhook(r)
	if err != nil {
		return err
	}
	f, hs, es, errs := readWebhookForm(r)
	f.Edit, f.ID, f.Direction, f.Connector = true, h.ID, h.Direction, h.Connector
	if len(errs) == 0 {
		// Every setting the form shows is sent, so a cleared field clears
		// the setting; the API merges them over the stored spec.
		var spec map[string]any
		if h.Direction == store.Incoming {
			spec = map[string]any{"scheme": hs.Scheme, "event_type": hs.EventType, "type_field": hs.TypeField,
				"idempotency_field": hs.IdempotencyField, "dedupe_window": hs.DedupeWindow, "max_body": hs.MaxBody,
				"accept_form": hs.AcceptForm, "rotation_grace": hs.RotationGrace}
		} else {
			spec = map[string]any{"target_url": es.TargetURL, "event_types": es.EventTypes, "source": es.Source,
				"template": es.Template, "content_type": es.ContentType, "headers": es.Headers, "sign_hex": es.SignHex,
				"timeout": es.Timeout, "rate_limit": es.RateLimit, "retry_schedule": es.Retry, "ordered": es.Ordered,
				"disable_after": es.DisableAfter, "follow_redirects": es.FollowRedirects}
		}
		b, _ := json.Marshal(spec)
		name := f.Name
		h, err = api.UpdateWebhook(r.Context(), s.DB, s.Hooks, s.Endpoints, h, api.WebhookPatch{Name: &name, Spec: b}, c.P.Name)
		if err == nil {
			s.audit(r, "webhook.update", h.ID, "webhook updated", nil, audit.Info)
			return s.redirect(w, r, "/ui/webhooks/"+h.ID, "Webhook "+h.Name+" saved.")
		}
		if errs, err = webhookErrors(err); err != nil {
			return err
		}
	}
	f.Errors = errs
	return s.renderWebhookForm(w, r, c, http.StatusUnprocessableEntity, &f)
}

func (s *Server) webhookDelete(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	h, err := s.webhook(r)
	if err != nil {
		return err
	}
	if h.Managed {
		return s.redirect(w, r, "/ui/webhooks/"+h.ID, "Webhook "+h.Name+" is declared in ipai.yaml: remove it there.")
	}
	if err := api.DeleteWebhook(r.Context(), s.DB, s.Hooks, s.Endpoints, h); err != nil {
		return err
	}
	s.audit(r, "webhook.delete", h.ID, "webhook "+h.Name+" deleted", nil, audit.Info)
	return s.redirect(w, r, "/ui/webhooks", "Webhook "+h.Name+" deleted.")
}
