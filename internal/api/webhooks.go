package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/delivery"
	"github.com/insightpulseai/ipai/internal/event"
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

type webhookInput struct {
	Direction string `json:"direction"`
	Name      string `json:"name"`
	Connector string `json:"connector"`
	// incoming
	event.HookSpec
	Secret string `json:"secret"`
	// outgoing
	delivery.EndpointSpec
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) error {
	var in webhookInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if strings.TrimSpace(in.Name) == "" {
		return problem.Invalid("name", "give the webhook a name")
	}
	switch in.Direction {
	case store.Incoming:
		c, err := s.Hooks.Create(r.Context(), in.Name, in.Connector, in.HookSpec, in.Secret, false)
		if err != nil {
			return err
		}
		Note(r, c.Hook.ID, "incoming hook "+in.Name+" created ("+in.Scheme+")", nil)
		writeJSON(w, http.StatusCreated, map[string]any{"item": s.viewWebhook(c.Hook), "secret": c.Secret,
			"note": "store the secret now: it is shown only once"})
	case store.Outgoing:
		if in.SealedHeaders != nil {
			return problem.Invalid("sealed_headers", "cannot be set: give header values in \"headers\"; they are sealed")
		}
		h, sec, err := s.Endpoints.Create(r.Context(), in.Name, in.EndpointSpec, false)
		if err != nil {
			return err
		}
		Note(r, h.ID, "outgoing endpoint "+in.Name+" created for "+delivery.SafeURL(in.TargetURL), nil)
		writeJSON(w, http.StatusCreated, map[string]any{"item": s.viewWebhook(h), "secret": sec,
			"note": "the receiver verifies webhook-signature with this secret; it is shown only once"})
	default:
		return problem.Invalid("direction", "%q: expected incoming or outgoing", in.Direction)
	}
	return nil
}

func (s *Server) updateWebhook(w http.ResponseWriter, r *http.Request) error {
	h, err := s.webhook(r)
	if err != nil {
		return err
	}
	if h.Managed {
		return problem.Conflict("webhook %s is declared in ipai.yaml: change it there", h.ID)
	}
	var in struct {
		Name  *string         `json:"name"`
		State *string         `json:"state"`
		Spec  json.RawMessage `json:"spec"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if in.Name != nil {
		h.Name = *in.Name
	}
	if len(in.Spec) > 0 {
		// The new spec is merged over the old one, then validated whole.
		merged := map[string]any{}
		_ = json.Unmarshal([]byte(h.Spec), &merged)
		var patch map[string]any
		if err := json.Unmarshal(in.Spec, &patch); err != nil {
			return problem.Invalid("spec", "expected an object of settings to change")
		}
		if _, ok := patch["sealed_headers"]; ok {
			return problem.Invalid("spec.sealed_headers", "cannot be set: give header values in \"headers\" (a value of %q keeps the stored one); they are sealed", delivery.Redacted)
		}
		for k, v := range patch {
			merged[k] = v
		}
		b, _ := json.Marshal(merged)
		if h.Direction == store.Incoming {
			var spec event.HookSpec
			if err := strictJSON(b, &spec); err != nil {
				return problem.Invalid("spec", "%v", err)
			}
			if err := spec.Validate(); err != nil {
				return err
			}
			b, _ = json.Marshal(spec)
			h.Spec = string(b)
		} else {
			var spec delivery.EndpointSpec
			if err := strictJSON(b, &spec); err != nil {
				return problem.Invalid("spec", "%v", err)
			}
			if h, err = s.Endpoints.Update(r.Context(), h, spec); err != nil {
				return err
			}
		}
	}
	if err := s.DB.UpdateWebhook(r.Context(), h); err != nil {
		return err
	}
	if in.State != nil {
		if *in.State != store.WebhookActive && *in.State != store.WebhookDisabled {
			return problem.Invalid("state", "%q: expected active or disabled", *in.State)
		}
		if _, err := s.Endpoints.SetState(r.Context(), h.ID, *in.State, "set by "+principalName(r)); err != nil {
			return err
		}
	}
	s.Hooks.Forget(h.ID)
	if h, err = s.DB.Webhook(r.Context(), h.ID); err != nil {
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

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	h, err := s.webhook(r)
	if err != nil {
		return err
	}
	if h.Managed {
		return problem.Conflict("webhook %s is declared in ipai.yaml: remove it there", h.ID)
	}
	if err := s.DB.DeleteWebhook(r.Context(), h.ID); err != nil {
		return err
	}
	s.Hooks.Forget(h.ID)
	if err := s.Endpoints.Reload(r.Context()); err != nil {
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
