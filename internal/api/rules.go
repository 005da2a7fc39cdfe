package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/problem"
	"github.com/insightpulseai/ipai/internal/rule"
	"github.com/insightpulseai/ipai/internal/store"
)

func init() {
	route("GET", "/api/v1/rules", auth.RoleUser, "", (*Server).listRules)
	route("POST", "/api/v1/rules", auth.RoleManager, "rule.create", (*Server).createRule)
	route("GET", "/api/v1/rules/{id}", auth.RoleUser, "", (*Server).getRule)
	route("PATCH", "/api/v1/rules/{id}", auth.RoleManager, "rule.update", (*Server).updateRule)
	route("DELETE", "/api/v1/rules/{id}", auth.RoleAdmin, "rule.delete", (*Server).deleteRule)
	route("POST", "/api/v1/rules/{id}/test", auth.RoleManager, "rule.test", (*Server).testRule)
}

// RuleView is a rule as the API shows it.
type RuleView struct {
	ID        string        `json:"id"`
	Name      string        `json:"name"`
	Enabled   bool          `json:"enabled"`
	Managed   bool          `json:"managed"`
	Match     rule.Match    `json:"match"`
	Condition string        `json:"condition"`
	Actions   []rule.Action `json:"actions"`
	CreatedAt time.Time     `json:"created_at"`
	UpdatedAt time.Time     `json:"updated_at"`
}

func viewRule(r store.Rule) (RuleView, error) {
	sp, err := rule.FromStore(r)
	if err != nil {
		return RuleView{}, err
	}
	return RuleView{ID: r.ID, Name: r.Name, Enabled: r.Enabled, Managed: r.Managed, Match: sp.Match, Condition: r.Condition,
		Actions: sp.Actions, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}, nil
}

// reloadRules installs the stored rules in the router the ingester uses.
// TODO(lead): a Server.Rules *rule.Service field would be clearer than
// reaching the router through Endpoints.
func (s *Server) reloadRules(ctx context.Context) error {
	var router *rule.Router
	if s.Endpoints != nil {
		router = s.Endpoints.Router
	}
	if router == nil {
		return nil
	}
	return rule.NewService(s.DB, router, s.Log).Reload(context.WithoutCancel(ctx))
}

func invalidRule(fe *rule.FieldError) error { return problem.Invalid(fe.Field, "%s", fe.Message) }

func (s *Server) listRules(w http.ResponseWriter, r *http.Request) error {
	list, err := s.DB.ListRules(r.Context())
	if err != nil {
		return err
	}
	out := make([]RuleView, 0, len(list))
	for _, x := range list {
		v, err := viewRule(x)
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
	return nil
}

func (s *Server) loadRule(r *http.Request) (store.Rule, error) {
	id := r.PathValue("id")
	x, err := s.DB.Rule(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return x, problem.NotFound("no rule with id %q (list them with GET /api/v1/rules)", id)
	}
	return x, err
}

func (s *Server) getRule(w http.ResponseWriter, r *http.Request) error {
	x, err := s.loadRule(r)
	if err != nil {
		return err
	}
	v, err := viewRule(x)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func nameConflict(err error, name string) error {
	if store.IsConflict(err) {
		return &problem.Error{Status: http.StatusConflict, Code: "conflict", Field: "name",
			Message: "a rule named " + `"` + name + `"` + " already exists; choose another name"}
	}
	return err
}

func (s *Server) createRule(w http.ResponseWriter, r *http.Request) error {
	var in rule.Spec
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if fe := in.Validate(); fe != nil {
		return invalidRule(fe)
	}
	rec := rule.ToStore(rule.NewID(), in, false, time.Now().UTC())
	if err := s.DB.CreateRule(r.Context(), rec); err != nil {
		return nameConflict(err, rec.Name)
	}
	if err := s.reloadRules(r.Context()); err != nil {
		return err
	}
	Note(r, rec.ID, "rule "+rec.Name+" created", map[string]any{"match_type": rec.MatchType, "actions": len(in.Actions)})
	v, err := viewRule(rec)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func managedRule(x store.Rule) error {
	return problem.Conflict("rule %q is managed by ipai.yaml: edit (or remove) it there and restart ipai serve", x.Name)
}

func (s *Server) updateRule(w http.ResponseWriter, r *http.Request) error {
	x, err := s.loadRule(r)
	if err != nil {
		return err
	}
	var in struct {
		Name      *string        `json:"name"`
		Enabled   *bool          `json:"enabled"`
		Match     *rule.Match    `json:"match"`
		Condition *string        `json:"condition"`
		Actions   *[]rule.Action `json:"actions"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if x.Managed {
		return managedRule(x)
	}
	sp, err := rule.FromStore(x)
	if err != nil {
		return err
	}
	if in.Name != nil {
		sp.Name = *in.Name
	}
	if in.Enabled != nil {
		sp.Enabled = in.Enabled
	}
	if in.Match != nil {
		sp.Match = *in.Match
	}
	if in.Condition != nil {
		sp.Condition = *in.Condition
	}
	if in.Actions != nil {
		sp.Actions = *in.Actions
	}
	if fe := sp.Validate(); fe != nil {
		return invalidRule(fe)
	}
	rec := rule.ToStore(x.ID, sp, false, time.Now().UTC())
	rec.CreatedAt = x.CreatedAt
	if err := s.DB.UpdateRule(r.Context(), rec); err != nil {
		return nameConflict(err, rec.Name)
	}
	if err := s.reloadRules(r.Context()); err != nil {
		return err
	}
	Note(r, rec.ID, "rule "+rec.Name+" updated", nil)
	v, err := viewRule(rec)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) deleteRule(w http.ResponseWriter, r *http.Request) error {
	x, err := s.loadRule(r)
	if err != nil {
		return err
	}
	if x.Managed {
		return managedRule(x)
	}
	if err := s.DB.DeleteRule(r.Context(), x.ID); err != nil {
		return err
	}
	if err := s.reloadRules(r.Context()); err != nil {
		return err
	}
	Note(r, x.ID, "rule "+x.Name+" deleted", nil)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// testRule dry-runs a stored rule against a sample event: nothing is sent
// and nothing is stored.
func (s *Server) testRule(w http.ResponseWriter, r *http.Request) error {
	x, err := s.loadRule(r)
	if err != nil {
		return err
	}
	var in struct {
		Type       string          `json:"type"`
		Source     string          `json:"source"`
		Payload    json.RawMessage `json:"payload"`
		ReceivedAt time.Time       `json:"received_at"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if strings.TrimSpace(in.Type) == "" {
		return problem.Invalid("type", "is required: the sample event's type, e.g. odoo.purchase.order.write")
	}
	if len(in.Payload) == 0 {
		in.Payload = json.RawMessage("{}")
	}
	if in.ReceivedAt.IsZero() {
		in.ReceivedAt = time.Now().UTC()
	}
	sp, err := rule.FromStore(x)
	if err != nil {
		return err
	}
	c, err := rule.Compile(x.ID, sp)
	if err != nil {
		var fe *rule.FieldError
		if errors.As(err, &fe) {
			return invalidRule(fe)
		}
		return err
	}
	ev := &store.Event{ID: "evt_test", Source: in.Source, Type: in.Type, ReceivedAt: in.ReceivedAt, Payload: string(in.Payload)}
	Note(r, x.ID, "rule "+x.Name+" tested", nil)
	writeJSON(w, http.StatusOK, c.Test(ev))
	return nil
}
