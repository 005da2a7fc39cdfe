package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/delivery"
	"github.com/insightpulseai/ipai/internal/event"
	"github.com/insightpulseai/ipai/internal/inbound"
	"github.com/insightpulseai/ipai/internal/problem"
	"github.com/insightpulseai/ipai/internal/store"
)

func init() {
	route("GET", "/api/v1/webhooks", auth.RoleUser, "", (*Server).listWebhooks)
	route("POST", "/api/v1/webhooks", auth.RoleAdmin, "webhook.create", (*Server).createWebhook)
	route("GET", "/api/v1/webhooks/{id}", auth.RoleUser, "", (*Server).getWebhook)
	route("PATCH", "/api/v1/webhooks/{id}", auth.RoleManager, "webhook.update", (*Server).updateWebhook)
	route("DELETE", "/api/v1/webhooks/{id}", auth.RoleAdmin, "webhook.delete", (*Server).deleteWebhook)
	route("POST", "/api/v1/webhooks/{id}/rotate-secret", auth.RoleAdmin, "webhook.rotate", (*Server).rotateWebhook)
}

// WebhookView is a webhook as the API shows it: never its secret.
type WebhookView struct {
	ID             string          `json:"id"`
	Direction      string          `json:"direction"`
	Name           string          `json:"name"`
	Connector      string          `json:"connector,omitempty"`
	State          string          `json:"state"`
	Managed        bool            `json:"managed"`
	DisabledReason string          `json:"disabled_reason,omitempty"`
	FailingSince   *time.Time      `json:"failing_since,omitempty"`
	URLs           []string        `json:"urls,omitempty"` // incoming: where senders post
	Spec           json.RawMessage `json:"spec"`
	SecretSet      bool            `json:"secret_set"`
	OldSecretUntil *time.Time      `json:"old_secret_valid_until,omitempty"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
}

func (s *Server) viewWebhook(w store.Webhook) WebhookView {
	v := WebhookView{ID: w.ID, Direction: w.Direction, Name: w.Name, Connector: w.Connector, State: w.State, Managed: w.Managed,
		DisabledReason: w.DisabledReason, FailingSince: optTime(w.FailingSince), Spec: json.RawMessage(w.Spec),
		SecretSet: w.SecretSealed != "", CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
	if w.Direction == store.Outgoing {
		v.Spec = delivery.PublicSpec(w.Spec) // header values and URL credentials are never shown
	}
	if w.Direction == store.Incoming {
		v.URLs = []string{s.BaseURL + "/hooks/" + w.ID}
		if w.Connector != "" {
			v.URLs = append(v.URLs, s.BaseURL+"/integrations/"+w.Connector+"/webhook/"+w.ID)
		}
		if time.Now().Before(w.OldSecretUntil) {
			v.OldSecretUntil = optTime(w.OldSecretUntil)
		}
	}
	return v
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) error {
	dir := r.URL.Query().Get("direction")
	if dir != "" && dir != store.Incoming && dir != store.Outgoing {
		return problem.Invalid("direction", "%q: expected incoming or outgoing", dir)
	}
	hooks, err := s.DB.ListWebhooks(r.Context(), dir)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": ViewAll(hooks, s.viewWebhook)})
	return nil
}

// LoadWebhook reads the webhook r's path names ({id}); a missing one is a
// 404. Shared with the admin UI.
func LoadWebhook(r *http.Request, db *store.DB) (store.Webhook, error) {
	h, err := db.Webhook(r.Context(), r.PathValue("id"))
	if err == store.ErrNotFound {
		return h, problem.NotFound("no webhook %q", r.PathValue("id"))
	}
	return h, err
}

func (s *Server) webhook(r *http.Request) (store.Webhook, error) { return LoadWebhook(r, s.DB) }

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request) error {
	h, err := s.webhook(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.viewWebhook(h))
	return nil
}

// WebhookInput is the body of POST /api/v1/webhooks; the admin UI's forms
// fill it too.
type WebhookInput struct {
	Direction string `json:"direction"`
	Name      string `json:"name"`
	Connector string `json:"connector"`
	// incoming
	event.HookSpec
	Secret string `json:"secret"`
	// outgoing
	delivery.EndpointSpec
}

// NewWebhook is a webhook just created, with its secret (shown once, never
// logged or audited) and the audit message.
type NewWebhook struct {
	Hook    store.Webhook
	Secret  string
	Message string
}

// CreateWebhook makes an incoming hook (hooks) or an outgoing endpoint
// (eps) as POST /api/v1/webhooks does; the admin UI calls it too.
func CreateWebhook(ctx context.Context, hooks *inbound.Hooks, eps *delivery.Endpoints, in WebhookInput) (NewWebhook, error) {
	if strings.TrimSpace(in.Name) == "" {
		return NewWebhook{}, problem.Invalid("name", "give the webhook a name")
	}
	switch in.Direction {
	case store.Incoming:
		if hooks == nil {
			return NewWebhook{}, problem.NotFound("incoming hooks are not enabled on this server")
		}
		c, err := hooks.Create(ctx, in.Name, in.Connector, in.HookSpec, in.Secret, false)
		if err != nil {
			return NewWebhook{}, err
		}
		return NewWebhook{Hook: c.Hook, Secret: c.Secret, Message: "incoming hook " + in.Name + " created (" + in.Scheme + ")"}, nil
	case store.Outgoing:
		if eps == nil {
			return NewWebhook{}, problem.NotFound("outgoing endpoints are not enabled on this server")
		}
		if in.SealedHeaders != nil {
			return NewWebhook{}, problem.Invalid("sealed_headers", "cannot be set: give header values in \"headers\"; they are sealed")
		}
		h, sec, err := eps.Create(ctx, in.Name, in.EndpointSpec, false)
		if err != nil {
			return NewWebhook{}, err
		}
		return NewWebhook{Hook: h, Secret: sec, Message: "outgoing endpoint " + in.Name + " created for " + delivery.SafeURL(in.TargetURL)}, nil
	}
	return NewWebhook{}, problem.Invalid("direction", "%q: expected incoming or outgoing", in.Direction)
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) error {
	var in WebhookInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	c, err := CreateWebhook(r.Context(), s.Hooks, s.Endpoints, in)
	if err != nil {
		return err
	}
	Note(r, c.Hook.ID, c.Message, nil)
	note := "store the secret now: it is shown only once"
	if c.Hook.Direction == store.Outgoing {
		note = "the receiver verifies webhook-signature with this secret; it is shown only once"
	}
	writeJSON(w, http.StatusCreated, map[string]any{"item": s.viewWebhook(c.Hook), "secret": c.Secret, "note": note})
	return nil
}

// WebhookPatch is the body of PATCH /api/v1/webhooks/{id}: the settings in
// Spec are merged over the stored ones, then validated whole.
type WebhookPatch struct {
	Name  *string         `json:"name"`
	State *string         `json:"state"`
	Spec  json.RawMessage `json:"spec"`
}

// UpdateWebhook changes webhook h (not one from ipai.yaml) as PATCH
// /api/v1/webhooks/{id} does; by names who did it (a disabled reason). The
// admin UI calls it too.
func UpdateWebhook(ctx context.Context, db *store.DB, hooks *inbound.Hooks, eps *delivery.Endpoints, h store.Webhook, in WebhookPatch, by string) (store.Webhook, error) {
	if h.Managed {
		return h, problem.Conflict("webhook %s is declared in ipai.yaml: change it there", h.ID)
	}
	if in.Name != nil {
		if strings.TrimSpace(*in.Name) == "" {
			return h, problem.Invalid("name", "give the webhook a name")
		}
		h.Name = *in.Name
	}
	if len(in.Spec) > 0 {
		// The new spec is merged over the old one, then validated whole.
		merged := map[string]any{}
		_ = json.Unmarshal([]byte(h.Spec), &merged)
		var patch map[string]any
		if err := json.Unmarshal(in.Spec, &patch); err != nil {
			return h, problem.Invalid("spec", "expected an object of settings to change")
		}
		if _, ok := patch["sealed_headers"]; ok {
			return h, problem.Invalid("spec.sealed_headers", "cannot be set: give header values in \"headers\" (a value of %q keeps the stored one); they are sealed", delivery.Redacted)
		}
		for k, v := range patch {
			merged[k] = v
		}
		b, _ := json.Marshal(merged)
		if h.Direction == store.Incoming {
			var spec event.HookSpec
			if err := strictJSON(b, &spec); err != nil {
				return h, problem.Invalid("spec", "%v", err)
			}
			if err := spec.Validate(); err != nil {
				return h, err
			}
			b, _ = json.Marshal(spec)
			h.Spec = string(b)
		} else {
			var spec delivery.EndpointSpec
			if err := strictJSON(b, &spec); err != nil {
				return h, problem.Invalid("spec", "%v", err)
			}
			var err error
			if h, err = eps.Update(ctx, h, spec); err != nil {
				return h, err
			}
		}
	}
	if err := db.UpdateWebhook(ctx, h); err != nil {
		return h, err
	}
	if in.State != nil {
		if *in.State != store.WebhookActive && *in.State != store.WebhookDisabled {
			return h, problem.Invalid("state", "%q: expected active or disabled", *in.State)
		}
		if _, err := eps.SetState(ctx, h.ID, *in.State, "set by "+by); err != nil {
			return h, err
		}
	}
	if hooks != nil {
		hooks.Forget(h.ID)
	}
	return db.Webhook(ctx, h.ID)
}

func (s *Server) updateWebhook(w http.ResponseWriter, r *http.Request) error {
	h, err := s.webhook(r)
	if err != nil {
		return err
	}
	if h.Managed {
		return problem.Conflict("webhook %s is declared in ipai.yaml: change it there", h.ID)
	}
	var in WebhookPatch
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if h, err = UpdateWebhook(r.Context(), s.DB, s.Hooks, s.Endpoints, h, in, principalName(r)); err != nil {
		return err
	}
	Note(r, h.ID, "webhook updated", nil)
	writeJSON(w, http.StatusOK, s.viewWebhook(h))
	return nil
}

func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func principalName(r *http.Request) string {
	p, _ := auth.FromContext(r.Context())
	return p.Name
}

// DeleteWebhook deletes webhook h (not one from ipai.yaml) as DELETE
// /api/v1/webhooks/{id} does; the admin UI calls it too.
func DeleteWebhook(ctx context.Context, db *store.DB, hooks *inbound.Hooks, eps *delivery.Endpoints, h store.Webhook) error {
	if h.Managed {
		return problem.Conflict("webhook %s is declared in ipai.yaml: remove it there", h.ID)
	}
	if err := db.DeleteWebhook(ctx, h.ID); err != nil {
		return err
	}
	if hooks != nil {
		hooks.Forget(h.ID)
	}
	if eps != nil {
		return eps.Reload(ctx)
	}
	return nil
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	h, err := s.webhook(r)
	if err != nil {
		return err
	}
	if err := DeleteWebhook(r.Context(), s.DB, s.Hooks, s.Endpoints, h); err != nil {
		return err
	}
	Note(r, h.ID, "webhook "+h.Name+" deleted", nil)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) rotateWebhook(w http.ResponseWriter, r *http.Request) error {
	if h, err := s.webhook(r); err != nil {
		return err
	} else if h.Managed {
		return problem.Conflict("webhook %s is declared in ipai.yaml: change its secret there", h.ID)
	}
	c, err := s.Hooks.Rotate(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	Note(r, c.Hook.ID, "secret rotated; the old one stays valid until "+c.Hook.OldSecretUntil.Format(time.RFC3339), nil)
	writeJSON(w, http.StatusOK, map[string]any{"item": s.viewWebhook(c.Hook), "secret": c.Secret})
	return nil
}
