package app

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/insightpulseai/ipai/internal/api"
	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/outbound"
	"github.com/insightpulseai/ipai/internal/rule"
	"github.com/insightpulseai/ipai/internal/ui"
)

// newUI builds the admin web UI on the services the API serves (and its
// sessions); rules edits the routing rules.
func newUI(cfg config.UI, baseURL string, a *api.Server, rules *rule.Service, guard *outbound.Guard, log *slog.Logger) *ui.Server {
	s := &ui.Server{DB: a.DB, Audit: a.Audit, Tokens: a.Tokens, Users: auth.NewUsers(a.DB),
		Sessions: a.Sessions, Connectors: a.Connectors, Health: a.Health, Hooks: a.Hooks,
		Endpoints: a.Endpoints, Dispatcher: a.Dispatcher, Rules: rules,
		Sync: a.Sync, ChatOps: a.ChatOps, Flows: a.Flows, Embed: a.Embed, Ingest: a.Ingest, BaseURL: baseURL,
		SecureCookies: cfg.SecureCookies, Limiter: ui.NewLimiter(cfg.LoginAttempts, cfg.LoginWindow), Log: log, Version: Version}
	if o := cfg.OIDC; o.Enabled() {
		roles := map[string]auth.Role{}
		for k, v := range o.Roles {
			roles[k] = auth.Role(v)
		}
		redirect := o.RedirectURL
		if redirect == "" {
			redirect = baseURL + "/auth/oidc/callback"
		}
		s.OIDC = auth.NewOIDC(auth.OIDCConfig{Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: o.ClientSecret,
			RedirectURL: redirect, Scopes: o.Scopes, RoleClaim: o.RoleClaim, RoleMap: roles, DefaultRole: auth.Role(o.DefaultRole),
			HTTPClient: outbound.ClientFor(guard, outbound.Options{Timeout: 10 * time.Second}, o.Issuer)})
		s.OIDCName = o.DisplayName
	}
	return s
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
