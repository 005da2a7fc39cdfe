package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// UI configures the admin web UI served by `ipai serve`.
type UI struct {
	// Disabled turns the admin UI off (the API still answers).
	Disabled bool `yaml:"disabled"`
	// SecureCookies: "auto" (default: Secure when public_url is https or the
	// request came over TLS), "always" or "never".
	SecureCookies string `yaml:"secure_cookies"`
	// SessionTTL is how long an idle session lives; default 12h.
	SessionTTL time.Duration `yaml:"session_ttl"`
	// LoginAttempts failed sign-ins per user name and per client address
	// are allowed per LoginWindow; default 5 per 15m.
	LoginAttempts int           `yaml:"login_attempts"`
	LoginWindow   time.Duration `yaml:"login_window"`
	OIDC          OIDC          `yaml:"oidc"`
}

// OIDC configures single sign-on (e.g. Keycloak) for the admin UI.
type OIDC struct {
	// Issuer enables SSO, e.g. https://auth.example.com/realms/insightpulse.
	Issuer       string `yaml:"issuer"`
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret"`
	// RedirectURL defaults to <public_url>/auth/oidc/callback.
	RedirectURL string `yaml:"redirect_url"`
	// DisplayName labels the sign-in button; default "Keycloak".
	DisplayName string `yaml:"display_name"`
	// RoleClaim is the dotted claim path of the provider's roles; default
	// realm_access.roles (Keycloak realm roles).
	RoleClaim string `yaml:"role_claim"`
	// Roles maps provider roles to ipai roles, e.g. {ipai-admin: admin}.
	Roles map[string]string `yaml:"roles"`
	// DefaultRole is given when no role maps ("" refuses the sign-in).
	DefaultRole string   `yaml:"default_role"`
	Scopes      []string `yaml:"scopes"`
}

// Enabled reports whether SSO is configured.
func (o OIDC) Enabled() bool { return o.Issuer != "" }

// WithDefaults fills the unset values.
func (u UI) WithDefaults() UI {
	if u.SecureCookies == "" {
		u.SecureCookies = "auto"
	}
	if u.SessionTTL == 0 {
		u.SessionTTL = 12 * time.Hour
	}
	if u.LoginAttempts == 0 {
		u.LoginAttempts = 5
	}
	if u.LoginWindow == 0 {
		u.LoginWindow = 15 * time.Minute
	}
	if u.OIDC.RoleClaim == "" {
		u.OIDC.RoleClaim = "realm_access.roles"
	}
	if u.OIDC.DisplayName == "" {
		u.OIDC.DisplayName = "Keycloak"
	}
	return u
}

func validRole(r string) bool { return r == "user" || r == "manager" || r == "admin" }

func (u *UI) validateAndSetDefaults(bad func(key, format string, args ...any)) {
	*u = u.WithDefaults()
	switch u.SecureCookies {
	case "auto", "always", "never":
	default:
		bad("ui.secure_cookies", "%q: expected auto, always or never", u.SecureCookies)
	}
	if u.SessionTTL < time.Minute {
		bad("ui.session_ttl", "%v is too short; expected at least 1m (default 12h)", u.SessionTTL)
	}
	if u.LoginAttempts < 1 {
		bad("ui.login_attempts", "%d: expected at least 1 (default 5)", u.LoginAttempts)
	}
	if u.LoginWindow < time.Second {
		bad("ui.login_window", "%v: expected at least 1s (default 15m)", u.LoginWindow)
	}
	o := u.OIDC
	if !o.Enabled() {
		if o.ClientID != "" || len(o.Roles) > 0 {
			bad("ui.oidc.issuer", "is required when ui.oidc is set; expected e.g. https://auth.example.com/realms/insightpulse")
		}
		return
	}
	if p, err := url.Parse(o.Issuer); err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
		bad("ui.oidc.issuer", "%q is not an absolute http(s) URL; expected e.g. https://auth.example.com/realms/insightpulse", o.Issuer)
	}
	if o.ClientID == "" {
		bad("ui.oidc.client_id", "is required; the client id of ipai in the provider (e.g. ipai-hub)")
	}
	if o.RedirectURL != "" && !strings.HasPrefix(o.RedirectURL, "http://") && !strings.HasPrefix(o.RedirectURL, "https://") {
		bad("ui.oidc.redirect_url", "%q: expected an absolute URL ending in /auth/oidc/callback", o.RedirectURL)
	}
	for k, v := range o.Roles {
		if !validRole(v) {
			bad(fmt.Sprintf("ui.oidc.roles.%s", k), "%q: expected user, manager or admin", v)
		}
	}
	if o.DefaultRole != "" && !validRole(o.DefaultRole) {
		bad("ui.oidc.default_role", "%q: expected user, manager, admin or empty (refuse users without a mapped role)", o.DefaultRole)
	}
	if len(o.Roles) == 0 && o.DefaultRole == "" {
		bad("ui.oidc.roles", "map at least one provider role to an ipai role (e.g. ipai-admin: admin), or set ui.oidc.default_role")
	}
}
