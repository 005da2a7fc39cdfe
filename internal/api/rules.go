package api

import (
	"net/http"
	"time"

	"github.com/insightpulseai/ipai/internal/auth"
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

// rules is the rule service the handlers change rules through.
func (s *Server) rules() *rule.Service {
	if s.Rules == nil {
		return rule.NewService(s.DB, nil, s.Log)
	}
	return s.Rules
}

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

func (s *Server) getRule(w http.ResponseWriter, r *http.Request) error {
	x, err := s.rules().Get(r.Context(), r.PathValue("id"))
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

func (s *Server) createRule(w http.ResponseWriter, r *http.Request) error {
	var in rule.Spec
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	rec, err := s.rules().Create(r.Context(), in)
	if err != nil {
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

func (s *Server) updateRule(w http.ResponseWriter, r *http.Request) error {
	svc := s.rules()
	if _, err := svc.Get(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	var in rule.Patch
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	rec, err := svc.Update(r.Context(), r.PathValue("id"), in)
	if err != nil {
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
	x, err := s.rules().Delete(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	Note(r, x.ID, "rule "+x.Name+" deleted", nil)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// testRule dry-runs a stored rule against a sample event: nothing is sent
// and nothing is stored.
func (s *Server) testRule(w http.ResponseWriter, r *http.Request) error {
	svc := s.rules()
	if _, err := svc.Get(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	var in rule.Sample
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	x, res, err := svc.TestStored(r.Context(), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	Note(r, x.ID, "rule "+x.Name+" tested", nil)
	writeJSON(w, http.StatusOK, res)
	return nil
}
