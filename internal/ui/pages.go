package ui

import (
	"net/http"
	"strings"
	"time"

	"github.com/insightpulseai/ipai/internal/api"
	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/mcpserver"
	"github.com/insightpulseai/ipai/internal/problem"
	"github.com/insightpulseai/ipai/internal/rule"
	"github.com/insightpulseai/ipai/internal/store"
)

type ruleRow struct {
	store.Rule
	Spec rule.Spec
	Err  string
}

func (s *Server) ruleList(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	list, err := s.DB.ListRules(r.Context())
	if err != nil {
		return err
	}
	from, to, pg := paginate(len(list), pageParam(r))
	rows := make([]ruleRow, 0, to-from)
	for _, x := range list[from:to] {
		sp, err := rule.FromStore(x)
		rows = append(rows, ruleRow{Rule: x, Spec: sp, Err: errText(err)})
	}
	s.render(w, c, http.StatusOK, "rules", map[string]any{"Title": "Rules", "Items": rows, "Pager": pg})
	return nil
}

func (s *Server) auditList(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	q := r.URL.Query()
	data := map[string]any{"Title": "Audit log", "Q": q, "Levels": []string{audit.Debug, audit.Info, audit.Warning, audit.Error}}
	if q.Get("verify") != "" && c.Can("GET", "/api/v1/audit/verify") {
		rep, err := audit.Verify(r.Context(), s.DB)
		if _, broken := err.(*audit.Problem); err != nil && !broken {
			return err
		}
		data["Verify"] = rep
	}
	f, err := api.ParseAuditFilter(localTimes(q, "since", "until"))
	if err != nil {
		fe, err := fieldErrors(err)
		if err != nil {
			return err
		}
		data["Errors"] = fe
		s.render(w, c, http.StatusUnprocessableEntity, "audit", data)
		return nil
	}
	rows, next, err := api.FetchPage(f.Limit, func(n int) ([]store.AuditRow, error) { f.Limit = n; return s.DB.ListAudit(r.Context(), f) }, api.AuditCursor)
	if err != nil {
		return err
	}
	pageLinks(data, q, next, "verify")
	data["Items"] = rows
	s.render(w, c, http.StatusOK, "audit", data)
	return nil
}

func (s *Server) mcpPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	ctx := r.Context()
	agents, err := s.DB.Agents(ctx)
	if err != nil {
		return err
	}
	runs, err := s.DB.Runs(ctx, "", "", 20)
	if err != nil {
		return err
	}
	data := map[string]any{"Title": "MCP", "Agents": agents, "Runs": runs}
	if c.Can("GET", "/api/v1/audit") {
		calls, err := s.DB.ListAudit(ctx, store.AuditFilter{Action: "mcp.tool_call", Limit: 25})
		if err != nil {
			return err
		}
		data["Calls"] = calls
	}
	if c.Can("GET", "/api/v1/tokens") {
		toks, err := s.DB.ListTokens(ctx)
		if err != nil {
			return err
		}
		var mcp []api.TokenView
		for _, t := range toks {
			if strings.Contains(t.Scopes, "mcp:") {
				mcp = append(mcp, api.ViewToken(t))
			}
		}
		data["Tokens"] = mcp
	}
	s.render(w, c, http.StatusOK, "mcp", data)
	return nil
}

// Users & tokens (admin).

func (s *Server) userList(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	return s.showUsers(w, r, c, http.StatusOK, map[string]any{})
}

func (s *Server) showUsers(w http.ResponseWriter, r *http.Request, c *reqCtx, status int, data map[string]any) error {
	after := r.URL.Query().Get("after")
	users, err := s.DB.ListUsers(r.Context(), after, pageSize+1)
	if err != nil {
		return err
	}
	if len(users) > pageSize {
		users = users[:pageSize]
		data["NextUsers"] = users[pageSize-1].Name
	}
	toks, err := s.DB.ListTokens(r.Context())
	if err != nil {
		return err
	}
	from, to, pg := paginate(len(toks), pageParam(r))
	views := api.ViewAll(toks[from:to], api.ViewToken)
	data["Title"], data["Users"], data["Tokens"], data["Pager"], data["After"] = "Users & tokens", users, views, pg, after
	s.render(w, c, status, "users", data)
	return nil
}

func (s *Server) userCreate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	role, _ := auth.ParseRole(r.PostFormValue("role"))
	u, err := s.Users.Create(r.Context(), auth.NewUser{Name: r.PostFormValue("name"), DisplayName: r.PostFormValue("display_name"),
		Email: r.PostFormValue("email"), Role: role, Password: r.PostFormValue("password")})
	if err != nil {
		fe, err := fieldErrors(err)
		if err != nil {
			return err
		}
		return s.showUsers(w, r, c, http.StatusUnprocessableEntity, map[string]any{"UserErrors": fe,
			"UserForm": map[string]string{"name": r.PostFormValue("name"), "role": r.PostFormValue("role"), "email": r.PostFormValue("email")}})
	}
	s.audit(r, "user.create", u.ID, "user "+u.Name+" created with role "+u.Role, nil, audit.Info)
	return s.redirect(w, r, "/ui/users", "User "+u.Name+" created.")
}

func (s *Server) userUpdate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	id := r.PathValue("id")
	switch r.PostFormValue("op") {
	case "role":
		role, err := auth.ParseRole(r.PostFormValue("role"))
		if err != nil {
			return problem.Invalid("role", "%v", err)
		}
		if id == c.P.ID && role != auth.RoleAdmin {
			return s.redirect(w, r, "/ui/users", "You cannot lower your own role; ask another admin.")
		}
		u, err := s.Users.SetRole(r.Context(), id, role)
		if err != nil {
			return err
		}
		s.audit(r, "user.role", id, "role of "+u.Name+" set to "+u.Role, nil, audit.Info)
		return s.redirect(w, r, "/ui/users", "Role of "+u.Name+" is now "+u.Role+"; it applies to their next request.")
	case "disable", "enable":
		if id == c.P.ID {
			return s.redirect(w, r, "/ui/users", "You cannot disable yourself.")
		}
		off := r.PostFormValue("op") == "disable"
		u, err := s.Users.SetDisabled(r.Context(), id, off)
		if err != nil {
			return err
		}
		s.audit(r, "user."+r.PostFormValue("op"), id, "user "+u.Name+" "+r.PostFormValue("op")+"d", nil, audit.Info)
		return s.redirect(w, r, "/ui/users", "User "+u.Name+" "+r.PostFormValue("op")+"d.")
	}
	return problem.Invalid("op", "expected role, disable or enable")
}

func (s *Server) tokenCreate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	fe := map[string]string{}
	role, err := auth.ParseRole(r.PostFormValue("role"))
	if err != nil {
		fe["role"] = err.Error()
	}
	var ttl time.Duration
	if v := strings.TrimSpace(r.PostFormValue("expires_in")); v != "" {
		if ttl, err = time.ParseDuration(v); err != nil || ttl <= 0 {
			fe["expires_in"] = "\"" + v + "\" is not a positive duration; expected e.g. 720h"
		}
	}
	var scopes []string
	for _, sc := range strings.FieldsFunc(r.PostFormValue("scopes"), func(r rune) bool { return r == ',' || r == ' ' }) {
		scopes = append(scopes, sc)
	}
	form := map[string]string{"name": r.PostFormValue("name"), "role": r.PostFormValue("role"), "expires_in": r.PostFormValue("expires_in"), "scopes": r.PostFormValue("scopes")}
	if len(fe) == 0 {
		raw, rec, err := s.Tokens.Create(r.Context(), auth.CreateOptions{Name: r.PostFormValue("name"), Role: role, Scopes: scopes,
			Known: mcpserver.Scopes(), CreatedBy: c.P.ID, TTL: ttl})
		if err == nil {
			s.audit(r, "token.create", rec.ID, "token "+rec.Name+" created with role "+rec.Role, nil, audit.Info)
			return s.showUsers(w, r, c, http.StatusOK, map[string]any{"NewToken": raw, "NewTokenName": rec.Name})
		}
		field, msg, ok := strings.Cut(err.Error(), ": ")
		if !ok || (field != "name" && field != "role" && field != "scopes") {
			return err
		}
		fe[field] = msg
	}
	return s.showUsers(w, r, c, http.StatusUnprocessableEntity, map[string]any{"TokenErrors": fe, "TokenForm": form})
}

func (s *Server) tokenRevoke(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	id := r.PathValue("id")
	err := s.DB.RevokeToken(r.Context(), id, time.Now())
	if err == store.ErrNotFound {
		return problem.NotFound("no live token with id %q", id)
	}
	if err != nil {
		return err
	}
	s.audit(r, "token.revoke", id, "token revoked", nil, audit.Info)
	return s.redirect(w, r, "/ui/users", "Token revoked.")
}
