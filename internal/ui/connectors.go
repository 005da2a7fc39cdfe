package ui

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/insightpulseai/ipai/internal/api"
	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/connector"
	"github.com/insightpulseai/ipai/internal/integration"
	"github.com/insightpulseai/ipai/internal/problem"
)

const pageSize = 50

// connectorForm is the create/edit form's state.
type connectorForm struct {
	Edit                                  bool
	Code, Name, Type, BaseURL, APIVersion string
	AuthType                              string
	Settings                              map[string]string
	SecretsSet                            map[string]bool
	TypeInfo                              connector.Type
	Errors                                map[string]string
	CanSecrets                            bool
	Managed                               bool
}

func (s *Server) conns() (*integration.Service, error) { return api.NeedConnectors(s.Connectors) }

func pageParam(r *http.Request) int {
	n, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// paginate cuts a page out of n items.
func paginate(n, page int) (from, to int, pg map[string]int) {
	from = min((page-1)*pageSize, n)
	to = min(from+pageSize, n)
	pg = map[string]int{"Page": page, "Prev": 0, "Next": 0, "Total": n}
	if page > 1 {
		pg["Prev"] = page - 1
	}
	if to < n {
		pg["Next"] = page + 1
	}
	return from, to, pg
}

func (s *Server) connectorList(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	svc, err := s.conns()
	if err != nil {
		return err
	}
	state := r.URL.Query().Get("state")
	list, err := svc.List(r.Context(), state)
	if err != nil {
		return err
	}
	from, to, pg := paginate(len(list), pageParam(r))
	s.render(w, c, http.StatusOK, "connectors", map[string]any{"Title": "Connectors", "Items": api.ViewAll(list[from:to], integration.ViewOf), "Pager": pg,
		"State": state, "Types": connector.Types(),
		"States": []string{connector.StateDraft, connector.StateTesting, connector.StateActive, connector.StateError}})
	return nil
}

func (s *Server) connectorNew(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	typ := r.URL.Query().Get("type")
	f := &connectorForm{Type: typ, Settings: map[string]string{}, CanSecrets: c.Can("POST", "/api/v1/connectors") && c.P.Role.Allows(auth.RoleAdmin)}
	if t, ok := connector.Lookup(typ); ok {
		f.TypeInfo = t
	}
	s.renderConnectorForm(w, c, http.StatusOK, f)
	return nil
}

func (s *Server) renderConnectorForm(w http.ResponseWriter, c *reqCtx, status int, f *connectorForm) {
	title := "New connector"
	if f.Edit {
		title = "Edit " + f.Code
	}
	s.render(w, c, status, "connector_form", map[string]any{"Title": title, "F": f, "Types": connector.Types()})
}

// readConnectorForm reads the posted fields of type t.
func readConnectorForm(r *http.Request, t connector.Type) (settings map[string]string, secrets map[string]string) {
	settings, secrets = map[string]string{}, map[string]string{}
	for _, fd := range t.Fields {
		if v := strings.TrimSpace(r.PostFormValue("setting." + fd.Name)); v != "" {
			settings[fd.Name] = v
		}
	}
	for _, name := range t.Secrets {
		if v := r.PostFormValue("secret." + name); v != "" {
			secrets[name] = v
		}
	}
	return settings, secrets
}

// secretsAllowed applies the API's rule (api.SecretsNeedAdmin), shown next
// to the secrets fields.
func secretsAllowed(c *reqCtx, n int) error {
	if err := api.SecretsNeedAdmin(c.P.Role, n); err != nil {
		return problem.Invalid("secrets", "%s", err.Error())
	}
	return nil
}

func (s *Server) connectorCreate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	svc, err := s.conns()
	if err != nil {
		return err
	}
	typ := r.PostFormValue("type")
	t, _ := connector.Lookup(typ)
	settings, secrets := readConnectorForm(r, t)
	f := &connectorForm{Code: strings.TrimSpace(r.PostFormValue("code")), Name: r.PostFormValue("name"), Type: typ,
		BaseURL: strings.TrimSpace(r.PostFormValue("base_url")), APIVersion: r.PostFormValue("api_version"),
		AuthType: r.PostFormValue("auth_type"), Settings: settings, TypeInfo: t, CanSecrets: c.P.Role.Allows(auth.RoleAdmin)}
	err = secretsAllowed(c, len(secrets))
	if err == nil {
		_, err = svc.Create(r.Context(), integration.Input{Code: f.Code, Name: f.Name, Type: typ, BaseURL: f.BaseURL,
			APIVersion: f.APIVersion, AuthType: f.AuthType, Settings: settings, Secrets: secrets})
	}
	if err != nil {
		fe, err := fieldErrors(err)
		if err != nil {
			return err
		}
		f.Errors = fe
		s.renderConnectorForm(w, c, http.StatusUnprocessableEntity, f)
		return nil
	}
	names := make([]string, 0, len(secrets))
	for k := range secrets {
		names = append(names, k)
	}
	s.audit(r, "connector.create", f.Code, "connector "+f.Code+" ("+typ+") created", map[string]any{"base_url": f.BaseURL, "secrets_set": names}, audit.Info)
	return s.redirect(w, r, "/ui/connectors/"+f.Code, "Connector "+f.Code+" created. Run Test Connection, then Activate.")
}

func (s *Server) connectorShow(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	return s.showConnector(w, r, c, nil, http.StatusOK)
}

func (s *Server) showConnector(w http.ResponseWriter, r *http.Request, c *reqCtx, rep *connector.Report, status int) error {
	svc, err := s.conns()
	if err != nil {
		return err
	}
	code := r.PathValue("code")
	x, err := svc.Get(r.Context(), code)
	if err != nil {
		return err
	}
	v := integration.ViewOf(x)
	checks, err := s.DB.ConnectorChecks(r.Context(), code, 20)
	if err != nil {
		return err
	}
	t, _ := connector.Lookup(x.Type)
	f := &connectorForm{Edit: true, Code: x.Code, Name: x.Name, Type: x.Type, BaseURL: x.BaseURL, APIVersion: x.APIVersion,
		AuthType: x.AuthType, Settings: v.Settings, SecretsSet: v.Secrets, TypeInfo: t, Managed: x.Managed,
		CanSecrets: c.P.Role.Allows(auth.RoleAdmin)}
	if e, ok := r.Context().Value(formErrKey{}).(map[string]string); ok {
		f.Errors = e
	}
	s.render(w, c, status, "connector", map[string]any{"Title": "Connector " + x.Code, "V": v, "F": f, "Report": rep, "Checks": checks})
	return nil
}

type formErrKey struct{}

func (s *Server) connectorUpdate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	svc, err := s.conns()
	if err != nil {
		return err
	}
	code := r.PathValue("code")
	cur, err := svc.Get(r.Context(), code)
	if err != nil {
		return err
	}
	t, _ := connector.Lookup(cur.Type)
	settings, secrets := readConnectorForm(r, t)
	str := func(k string) *string { v := strings.TrimSpace(r.PostFormValue(k)); return &v }
	p := integration.Patch{Name: str("name"), BaseURL: str("base_url"), APIVersion: str("api_version"), AuthType: str("auth_type"),
		Settings: map[string]*string{}, Secrets: map[string]*string{}}
	for _, fd := range t.Fields {
		v := settings[fd.Name]
		p.Settings[fd.Name] = &v // empty removes the setting
	}
	changed := []string{}
	for k, v := range secrets { // empty secret fields keep the stored secret
		p.Secrets[k] = &v
		changed = append(changed, k)
	}
	err = secretsAllowed(c, len(secrets))
	if err == nil {
		_, err = svc.Update(r.Context(), code, p)
	}
	if err != nil {
		fe, err := fieldErrors(err)
		if err != nil {
			return err
		}
		r = r.WithContext(contextWith(r, formErrKey{}, fe))
		return s.showConnector(w, r, c, nil, http.StatusUnprocessableEntity)
	}
	s.audit(r, "connector.update", code, "connector "+code+" updated", map[string]any{"secrets_changed": changed}, audit.Info)
	return s.redirect(w, r, "/ui/connectors/"+code, "Saved.")
}

func (s *Server) connectorTest(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	svc, err := s.conns()
	if err != nil {
		return err
	}
	code := r.PathValue("code")
	rep, err := svc.Test(r.Context(), code)
	if err != nil {
		return err
	}
	s.audit(r, "connector.test", code, integration.ReportMessage(code, rep), integration.ReportFields(rep), audit.Info)
	return s.showConnector(w, r, c, &rep, http.StatusOK)
}

func (s *Server) connectorActivate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	svc, err := s.conns()
	if err != nil {
		return err
	}
	code := r.PathValue("code")
	if _, err := svc.Activate(r.Context(), code); err != nil {
		if p, ok := problem.As(err); ok && p.Status < 500 {
			return s.redirect(w, r, "/ui/connectors/"+code, "Not activated: "+p.Message)
		}
		return err
	}
	s.audit(r, "connector.activate", code, "connector "+code+" activated", nil, audit.Info)
	return s.redirect(w, r, "/ui/connectors/"+code, "Connector "+code+" is active.")
}
