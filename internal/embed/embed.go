// Package embed issues Superset guest tokens for embedded dashboards with
// row-level security: a registry of dashboards (who may see them, which
// RLS clauses apply), the service-account login with its CSRF token and
// session cookie (cached 240 s, refreshed once on 401/403), and an audit
// entry per token.
package embed

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/connector"
	"github.com/insightpulseai/ipai/internal/connector/superset"
)

// Dashboard is one embeddable dashboard.
type Dashboard struct {
	ID           string `yaml:"id" json:"id"` // the registry key, used in URLs
	Name         string `yaml:"name" json:"name"`
	Description  string `yaml:"description" json:"description,omitempty"`
	SupersetID   string `yaml:"superset_id" json:"superset_id"`     // dashboard id or slug
	EmbeddedUUID string `yaml:"embedded_uuid" json:"embedded_uuid"` // what the SDK and the guest token name
	// Roles (ipai roles: user, manager, admin — or higher) and Groups (ERP
	// groups a trusted caller passes) that may see it; both empty = everyone.
	Roles  []string `yaml:"roles" json:"roles,omitempty"`
	Groups []string `yaml:"groups" json:"groups,omitempty"`
	// RLS: company_id = <viewer's company>, user_id = <viewer's id>, and a
	// custom clause with ${company_id}, ${user_id}, ${user_login}.
	RLSByCompany bool   `yaml:"rls_by_company" json:"rls_by_company,omitempty"`
	RLSByUser    bool   `yaml:"rls_by_user" json:"rls_by_user,omitempty"`
	RLSClause    string `yaml:"rls_clause" json:"rls_clause,omitempty"`
	// UI of the embedded dashboard.
	HideTitle         bool `yaml:"hide_title" json:"hide_title,omitempty"`
	HideFilters       bool `yaml:"hide_filters" json:"hide_filters,omitempty"`
	HideChartControls bool `yaml:"hide_chart_controls" json:"hide_chart_controls,omitempty"`
}

// Viewer is who looks at a dashboard.
type Viewer struct {
	UserID    string   `json:"id"`
	Login     string   `json:"login"`
	Name      string   `json:"name,omitempty"`
	CompanyID string   `json:"company_id,omitempty"`
	Role      string   `json:"-"`
	Groups    []string `json:"groups,omitempty"`
}

// Errors callers map to HTTP statuses.
var (
	ErrNotFound  = errors.New("no such dashboard")
	ErrForbidden = errors.New("not allowed to view this dashboard")
)

var roleRank = map[string]int{"user": 1, "manager": 2, "admin": 3}

// Allows reports whether v may see d.
func (d Dashboard) Allows(v Viewer) bool {
	if len(d.Roles) == 0 && len(d.Groups) == 0 {
		return true
	}
	for _, r := range d.Roles {
		if n := roleRank[r]; n > 0 && roleRank[v.Role] >= n {
			return true
		}
	}
	for _, g := range d.Groups {
		for _, h := range v.Groups {
			if g == h {
				return true
			}
		}
	}
	return false
}

// Validate checks a dashboard entry.
func (d Dashboard) Validate() error {
	switch {
	case d.ID == "":
		return errors.New("id is required (the name used in /embed/dashboards/<id>)")
	case d.EmbeddedUUID == "":
		return fmt.Errorf("dashboard %s: embedded_uuid is required (Superset: dashboard → Embed dashboard → copy the id)", d.ID)
	}
	for _, r := range d.Roles {
		if roleRank[r] == 0 {
			return fmt.Errorf("dashboard %s: role %q: use user, manager or admin", d.ID, r)
		}
	}
	return nil
}

// RLS renders the dashboard's row-level security clauses for v.
func (d Dashboard) RLS(v Viewer) ([]superset.RLS, error) {
	var out []superset.RLS
	if d.RLSByCompany {
		if !isInt(v.CompanyID) {
			return nil, fmt.Errorf("%w: the dashboard filters by company and the viewer has no numeric company id", ErrForbidden)
		}
		out = append(out, superset.RLS{Clause: "company_id = " + v.CompanyID})
	}
	if d.RLSByUser {
		if !isInt(v.UserID) {
			return nil, fmt.Errorf("%w: the dashboard filters by user and the viewer has no numeric user id", ErrForbidden)
		}
		out = append(out, superset.RLS{Clause: "user_id = " + v.UserID})
	}
	if d.RLSClause != "" {
		out = append(out, superset.RLS{Clause: Render(d.RLSClause, v)})
	}
	return out, nil
}

func isInt(s string) bool { _, err := strconv.ParseInt(s, 10, 64); return err == nil }

// Render fills ${company_id}, ${user_id} and ${user_login} into a clause.
// Ids must be integers (else "NULL", which matches nothing); the login is
// quoted as an SQL string literal.
func Render(clause string, v Viewer) string {
	num := func(s string) string {
		if isInt(s) {
			return s
		}
		return "NULL"
	}
	return strings.NewReplacer("${company_id}", num(v.CompanyID), "${user_id}", num(v.UserID),
		"${user_login}", "'"+strings.ReplaceAll(v.Login, "'", "''")+"'").Replace(clause)
}

// TokenTTL is how long the service login and CSRF token are reused.
const TokenTTL = 240 * time.Second

// Service issues guest tokens.
type Service struct {
	Dashboards []Dashboard
	// Config gives the Superset connector's configuration (with secrets).
	Config func(ctx context.Context) (connector.Config, error)
	HTTP   *http.Client
	// Client, when set, gives the connector's own guarded client instead
	// of HTTP (integration.Service.HTTPClient).
	Client func(connector.Config) *http.Client
	Audit  *audit.Log
	Now    func() time.Time

	mu       sync.Mutex
	clients  map[string]*cachedClient // base_url:username
	loggedIn int                      // service logins done (for tests and metrics)
}

type cachedClient struct {
	c  *superset.Client
	at time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Dashboard returns a registry entry.
func (s *Service) Dashboard(id string) (Dashboard, error) {
	for _, d := range s.Dashboards {
		if d.ID == id {
			return d, nil
		}
	}
	return Dashboard{}, ErrNotFound
}

// Visible lists the dashboards v may see.
func (s *Service) Visible(v Viewer) []Dashboard {
	out := []Dashboard{}
	for _, d := range s.Dashboards {
		if d.Allows(v) {
			out = append(out, d)
		}
	}
	return out
}

// Logins returns how many service logins the cache has done.
func (s *Service) Logins() int { s.mu.Lock(); defer s.mu.Unlock(); return s.loggedIn }

// client returns a logged-in client (access + CSRF + session cookie no
// older than TokenTTL), logging in again when fresh is set or it expired.
func (s *Service) client(ctx context.Context, fresh bool) (*superset.Client, string, error) {
	cfg, err := s.Config(ctx)
	if err != nil {
		return nil, "", err
	}
	user := cfg.Setting("username")
	key := cfg.BaseURL + ":" + user
	s.mu.Lock()
	if s.clients == nil {
		s.clients = map[string]*cachedClient{}
	}
	cc := s.clients[key]
	if cc == nil {
		hc := s.HTTP
		if s.Client != nil {
			hc = s.Client(cfg)
		}
		cc = &cachedClient{c: superset.New(cfg.BaseURL, user, cfg.Secret("password"), hc)}
		s.clients[key] = cc
	}
	stale := fresh || cc.at.IsZero() || s.now().Sub(cc.at) >= TokenTTL
	s.mu.Unlock()
	if stale {
		if _, err := cc.c.Login(ctx); err != nil {
			return nil, "", fmt.Errorf("superset service login: %w", err)
		}
		if _, err := cc.c.CSRF(ctx); err != nil {
			return nil, "", fmt.Errorf("superset csrf token: %w", err)
		}
		s.mu.Lock()
		cc.at = s.now()
		s.loggedIn++
		s.mu.Unlock()
	}
	return cc.c, strings.TrimRight(cfg.BaseURL, "/"), nil
}

// Token is what a viewer gets.
type Token struct {
	Token       string `json:"token"`
	SupersetURL string `json:"superset_url"`
	DashboardID string `json:"dashboard_id"`
}

// GuestToken issues a guest token for dashboard id to v.
func (s *Service) GuestToken(ctx context.Context, id string, v Viewer) (Token, error) {
	d, err := s.Dashboard(id)
	if err != nil {
		return Token{}, err
	}
	if !d.Allows(v) {
		return Token{}, ErrForbidden
	}
	rls, err := d.RLS(v)
	if err != nil {
		return Token{}, err
	}
	req := superset.GuestTokenRequest{
		User:      superset.GuestUser{Username: "ipai_" + v.Login, FirstName: cmp.Or(v.Name, v.Login), LastName: "User"},
		Resources: []superset.Resource{{Type: "dashboard", ID: d.EmbeddedUUID}},
		RLS:       rls,
	}
	c, base, err := s.client(ctx, false)
	if err != nil {
		return Token{}, err
	}
	tok, err := c.GuestToken(ctx, req)
	var se *connector.ServiceError
	if errors.As(err, &se) && se.Status == http.StatusForbidden {
		// The cached service session was refused: log in again, once (the
		// client itself logs in again once on 401).
		if c, base, err = s.client(ctx, true); err != nil {
			return Token{}, err
		}
		tok, err = c.GuestToken(ctx, req)
	}
	if err != nil {
		return Token{}, fmt.Errorf("superset guest token: %w", err)
	}
	if s.Audit != nil {
		var clauses []string
		for _, r := range rls {
			clauses = append(clauses, r.Clause)
		}
		_ = s.Audit.Write(ctx, audit.Entry{Actor: cmp.Or(v.UserID, v.Login), Action: "superset.guest_token", Target: d.ID,
			Message: "guest token issued for dashboard " + d.ID,
			Fields:  map[string]any{"user_login": v.Login, "company_id": v.CompanyID, "rls": strings.Join(clauses, " AND ")}})
	}
	return Token{Token: tok, SupersetURL: base, DashboardID: d.EmbeddedUUID}, nil
}
