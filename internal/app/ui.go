package app

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/outbound"
	"github.com/insightpulseai/ipai/internal/ui"
)

// setupUI builds the admin web UI on the services the API uses. Needs
// setupWebhooks, setupConnectors and setupRules first.
func (a *App) setupUI(ctx context.Context) error {
	cfg := a.Cfg.UI.WithDefaults()
	if cfg.Disabled {
		return nil
	}
	s := &ui.Server{DB: a.DB, Audit: a.Audit, Tokens: a.API.Tokens, Users: auth.NewUsers(a.DB),
		Sessions: auth.NewSessions(a.DB, cfg.SessionTTL), Connectors: a.Connectors, Health: a.Health, Hooks: a.Hooks,
		Endpoints: a.Endpoints, Dispatcher: a.Dispatcher, Rules: a.Rules,
		Sync: a.API.Sync, ChatOps: a.API.ChatOps, Flows: a.API.Flows, Embed: a.API.Embed, BaseURL: a.Cfg.BaseURL(),
		SecureCookies: cfg.SecureCookies, Limiter: ui.NewLimiter(cfg.LoginAttempts, cfg.LoginWindow), Log: a.Log, Version: Version}
	if o := cfg.OIDC; o.Enabled() {
		roles := map[string]auth.Role{}
		for k, v := range o.Roles {
			roles[k] = auth.Role(v)
		}
		redirect := o.RedirectURL
		if redirect == "" {
			redirect = a.Cfg.BaseURL() + "/auth/oidc/callback"
		}
		s.OIDC = auth.NewOIDC(auth.OIDCConfig{Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: o.ClientSecret,
			RedirectURL: redirect, Scopes: o.Scopes, RoleClaim: o.RoleClaim, RoleMap: roles, DefaultRole: auth.Role(o.DefaultRole),
			HTTPClient: outbound.ClientFor(a.Guard, outbound.Options{Timeout: 10 * time.Second}, o.Issuer)})
		s.OIDCName = o.DisplayName
	}
	if a.Ingester != nil {
		s.Ingest = a.Ingester.Ingest
	}
	a.UI = s
	a.API.Sessions = s.Sessions // the embed page and its guest-token fetch accept UI sessions
	return nil
}

// Handler is the hub's HTTP handler: the API (/api/, /hooks/,
// /integrations/, /mcp/, /.well-known/, /healthz, /readyz, /metrics) and,
// unless disabled, the admin UI (/, /ui/, /login, /logout, /auth/oidc/).
func (a *App) Handler() http.Handler {
	apiH := a.API.Handler()
	if a.UI == nil {
		return apiH
	}
	uiH := a.UI.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isUIPath(r.URL.Path) {
			uiH.ServeHTTP(w, r)
			return
		}
		apiH.ServeHTTP(w, r)
	})
}

func isUIPath(p string) bool {
	return p == "/" || p == "/ui" || p == "/login" || p == "/logout" ||
		strings.HasPrefix(p, "/ui/") || strings.HasPrefix(p, "/auth/oidc/")
}
