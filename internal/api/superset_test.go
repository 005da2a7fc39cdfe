package api

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/connector"
	"github.com/insightpulseai/ipai/internal/embed"
	fakess "github.com/insightpulseai/ipai/internal/fake/superset"
	"github.com/insightpulseai/ipai/internal/store"
)

func TestSupersetGuestTokenAPI(t *testing.T) {
	ctx := context.Background()
	db := tempDB(t)
	f := fakess.New()
	al := audit.New(db)
	s := &Server{DB: db, Audit: al, Tokens: auth.NewTokens(db), Log: slog.New(slog.DiscardHandler)}
	s.Embed = &embed.Service{Audit: al, HTTP: f.Client(),
		Dashboards: []embed.Dashboard{
			{ID: "sales", Name: "Sales", EmbeddedUUID: "5b6e1f6a-0c1d-4a8e-9d7e-1f2a3b4c5d6e", Groups: []string{"sales"}, RLSByCompany: true},
			{ID: "ops", Name: "Ops", EmbeddedUUID: "5b6e1f6a-0c1d-4a8e-9d7e-1f2a3b4c5d6e", Roles: []string{"user"}},
		},
		Config: func(context.Context) (connector.Config, error) {
			return connector.Config{Type: "superset", BaseURL: f.URL, Settings: map[string]string{"username": fakess.Username},
				Secrets: map[string]string{"password": fakess.Password}}, nil
		}}
	h := serveHarness(t, s, nil, f.Close)
	user, erp := h.tokens[auth.RoleUser], h.tokens[auth.RoleManager]

	// A plain user sees only the dashboard their role opens.
	code, body := h.do(t, "GET", "/api/v1/superset/dashboards", user, "")
	if ds, _ := body["dashboards"].([]any); code != 200 || len(ds) != 1 {
		t.Fatalf("dashboards: %d %v", code, body)
	}
	// Outside the allowed groups: 403, no token.
	if code, body := h.do(t, "POST", "/api/v1/superset/guest-token/sales", user, ""); code != 403 {
		t.Fatalf("outsider: %d %v", code, body)
	}
	// A plain user may not name another viewer.
	if code, _ := h.do(t, "POST", "/api/v1/superset/guest-token/ops", user, `{"user":{"id":"1","login":"x"}}`); code != 403 {
		t.Fatalf("user naming a viewer: %d", code)
	}
	// The ERP (manager token) names a viewer in the sales group.
	code, body = h.do(t, "POST", "/api/v1/superset/guest-token/sales", erp,
		`{"user":{"id":"7","login":"ana","name":"Ana","company_id":"3","groups":["sales"]}}`)
	if code != 200 || body["token"] == "" || body["superset_url"] != f.URL || body["dashboard_id"] != "5b6e1f6a-0c1d-4a8e-9d7e-1f2a3b4c5d6e" {
		t.Fatalf("guest token: %d %v", code, body)
	}
	if g := f.GuestTokens(); len(g) != 1 || g[0].RLS[0]["clause"] != "company_id = 3" {
		t.Fatalf("issued: %+v", g)
	}
	if code, _ := h.do(t, "POST", "/api/v1/superset/guest-token/nope", erp, ""); code != 404 {
		t.Fatalf("unknown dashboard: %d", code)
	}
	al.Close()
	rows, _ := db.ListAudit(ctx, store.AuditFilter{Action: "superset.guest_token"})
	if len(rows) != 1 || rows[0].Target != "sales" {
		t.Fatalf("audit rows %+v", rows)
	}
	// The page loads the SDK from the hub, never a CDN.
	req := httptest.NewRequest("GET", "/embed/dashboards/ops", nil)
	req.Header.Set("Authorization", "Bearer "+user)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `src="/embed/sdk.js"`) || strings.Contains(rec.Body.String(), "https://") {
		t.Fatalf("page: %d %s", rec.Code, rec.Body.String())
	}
}

func TestSyncLinksAPI(t *testing.T) {
	h := sqliteHarness(t)
	if code, _ := h.do(t, "GET", "/api/v1/sync/links?state=bogus", h.tokens[auth.RoleUser], ""); code != 422 {
		t.Fatalf("bad state: %d", code)
	}
	code, body := h.do(t, "GET", "/api/v1/sync/links?state=conflict", h.tokens[auth.RoleUser], "")
	if links, ok := body["links"].([]any); code != 200 || !ok || len(links) != 0 {
		t.Fatalf("links: %d %v", code, body)
	}
	if code, _ := h.do(t, "POST", "/api/v1/sync/links/x/resolve", h.tokens[auth.RoleManager], `{"keep":"odoo"}`); code != 404 {
		t.Fatalf("resolve without board links: %d", code)
	}
}
