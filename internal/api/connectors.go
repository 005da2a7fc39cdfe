package api

import (
	"net/http"
	"slices"

	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/connector"
	"github.com/insightpulseai/ipai/internal/integration"
	"github.com/insightpulseai/ipai/internal/problem"
)

func init() {
	route("GET", "/api/v1/connectors", auth.RoleUser, "", (*Server).listConnectors)
	route("POST", "/api/v1/connectors", auth.RoleManager, "connector.create", (*Server).createConnector)
	route("GET", "/api/v1/connectors/{code}", auth.RoleUser, "", (*Server).getConnector)
	route("PATCH", "/api/v1/connectors/{code}", auth.RoleManager, "connector.update", (*Server).updateConnector)
	route("DELETE", "/api/v1/connectors/{code}", auth.RoleAdmin, "connector.delete", (*Server).deleteConnector)
	route("POST", "/api/v1/connectors/{code}/test", auth.RoleManager, "connector.test", (*Server).testConnector)
	route("POST", "/api/v1/connectors/{code}/activate", auth.RoleManager, "connector.activate", (*Server).activateConnector)
}

// NeedConnectors returns svc, or the 503 the API and the admin UI answer
// when connectors are not enabled (svc nil).
func NeedConnectors(svc *integration.Service) (*integration.Service, error) {
	return need(svc, "connectors are not enabled on this server")
}

func (s *Server) conns() (*integration.Service, error) { return NeedConnectors(s.Connectors) }

// SecretsNeedAdmin refuses setting or changing n connector secrets unless
// role is admin: a manager configures connectors without secrets. The admin
// UI applies the same rule.
func SecretsNeedAdmin(role auth.Role, n int) error {
	if n > 0 && !role.Allows(auth.RoleAdmin) {
		return problem.Forbidden("setting or changing connector secrets needs the admin role; a manager can configure a connector without its secrets")
	}
	return nil
}

func secretsNeedAdmin(r *http.Request, n int) error {
	p, _ := auth.FromContext(r.Context())
	return SecretsNeedAdmin(p.Role, n)
}

func (s *Server) listConnectors(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.conns()
	if err != nil {
		return err
	}
	state, typ := r.URL.Query().Get("state"), r.URL.Query().Get("type")
	states := []string{connector.StateDraft, connector.StateTesting, connector.StateActive, connector.StateError}
	if state != "" && !slices.Contains(states, state) {
		return problem.Invalid("state", "%q is not a state; expected draft, testing, active or error", state)
	}
	list, err := svc.List(r.Context(), state)
	if err != nil {
		return err
	}
	out := []integration.View{}
	for _, c := range list {
		if typ == "" || c.Type == typ {
			out = append(out, integration.ViewOf(c))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
	return nil
}

func (s *Server) getConnector(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.conns()
	if err != nil {
		return err
	}
	c, err := svc.Get(r.Context(), r.PathValue("code"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, integration.ViewOf(c))
	return nil
}

func (s *Server) createConnector(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.conns()
	if err != nil {
		return err
	}
	var in struct {
		Code       string            `json:"code"`
		Name       string            `json:"name"`
		Type       string            `json:"type"`
		BaseURL    string            `json:"base_url"`
		APIVersion string            `json:"api_version"`
		AuthType   string            `json:"auth_type"`
		Settings   map[string]string `json:"settings"`
		Secrets    map[string]string `json:"secrets"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if err := secretsNeedAdmin(r, len(in.Secrets)); err != nil {
		return err
	}
	c, err := svc.Create(r.Context(), integration.Input{Code: in.Code, Name: in.Name, Type: in.Type, BaseURL: in.BaseURL,
		APIVersion: in.APIVersion, AuthType: in.AuthType, Settings: in.Settings, Secrets: in.Secrets})
	if err != nil {
		return err
	}
	v := integration.ViewOf(c)
	Note(r, c.Code, "connector "+c.Code+" ("+c.Type+") created", map[string]any{"base_url": c.BaseURL, "secrets_set": v.SecretNames()})
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (s *Server) updateConnector(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.conns()
	if err != nil {
		return err
	}
	code := r.PathValue("code")
	var in struct {
		Code       *string            `json:"code"`
		Type       *string            `json:"type"`
		Name       *string            `json:"name"`
		BaseURL    *string            `json:"base_url"`
		APIVersion *string            `json:"api_version"`
		AuthType   *string            `json:"auth_type"`
		Settings   map[string]*string `json:"settings"`
		Secrets    map[string]*string `json:"secrets"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if err := secretsNeedAdmin(r, len(in.Secrets)); err != nil {
		return err
	}
	cur, err := svc.Get(r.Context(), code)
	if err != nil {
		return err
	}
	if in.Code != nil && *in.Code != cur.Code {
		return problem.Invalid("code", "cannot be changed; create a new connector and delete this one")
	}
	if in.Type != nil && *in.Type != cur.Type {
		return problem.Invalid("type", "cannot be changed; create a new connector of type %s and delete this one", *in.Type)
	}
	c, err := svc.Update(r.Context(), code, integration.Patch{Name: in.Name, BaseURL: in.BaseURL, APIVersion: in.APIVersion,
		AuthType: in.AuthType, Settings: in.Settings, Secrets: in.Secrets})
	if err != nil {
		return err
	}
	changed := make([]string, 0, len(in.Secrets))
	for k := range in.Secrets {
		changed = append(changed, k)
	}
	slices.Sort(changed)
	Note(r, code, "connector "+code+" updated", map[string]any{"state": c.State, "secrets_changed": changed})
	writeJSON(w, http.StatusOK, integration.ViewOf(c))
	return nil
}

func (s *Server) deleteConnector(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.conns()
	if err != nil {
		return err
	}
	code := r.PathValue("code")
	if err := svc.Delete(r.Context(), code); err != nil {
		return err
	}
	Note(r, code, "connector "+code+" deleted", nil)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) testConnector(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.conns()
	if err != nil {
		return err
	}
	code := r.PathValue("code")
	rep, err := svc.Test(r.Context(), code)
	if err != nil {
		return err
	}
	Note(r, code, integration.ReportMessage(code, rep), integration.ReportFields(rep))
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func (s *Server) activateConnector(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.conns()
	if err != nil {
		return err
	}
	code := r.PathValue("code")
	c, err := svc.Activate(r.Context(), code)
	if err != nil {
		return err
	}
	Note(r, code, "connector "+code+" activated", nil)
	writeJSON(w, http.StatusOK, integration.ViewOf(c))
	return nil
}
