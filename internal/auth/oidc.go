package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/insightpulseai/ipai/internal/outbound"
)

// OIDCConfig configures single sign-on with an OpenID Connect provider
// such as Keycloak (issuer https://auth.example.com/realms/<realm>).
type OIDCConfig struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	RedirectURL  string // e.g. https://ipai.example.com/auth/oidc/callback
	// PostLogoutRedirectURL is where the provider sends the browser after
	// ending its session (default: RedirectURL's site + /login). Keycloak
	// accepts it only when the client lists it in "Valid post logout
	// redirect URIs" (attribute post.logout.redirect.uris).
	PostLogoutRedirectURL string
	Scopes                []string
	// RoleClaim is the dotted path of the claim holding the provider's roles,
	// e.g. realm_access.roles (Keycloak realm roles) or groups.
	RoleClaim string
	// RoleMap maps a provider role to an ipai role; the highest match wins.
	RoleMap map[string]Role
	// DefaultRole is given when no role maps; "" refuses the sign-in.
	DefaultRole Role
	// HTTPClient reaches the provider (default: the outbound guard with the
	// issuer's scheme/host/port as its own allowance, 10s timeout).
	HTTPClient *http.Client
}

// OIDC runs the authorization code flow with PKCE, state and nonce.
type OIDC struct {
	cfg OIDCConfig

	mu       sync.Mutex
	provider *oidc.Provider
}

// NewOIDC returns the flow for cfg. The provider is discovered on first use,
// so the hub starts even while the provider is down.
func NewOIDC(cfg OIDCConfig) *OIDC {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = outbound.ClientFor(nil, outbound.Options{Timeout: 10 * time.Second}, cfg.Issuer)
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{oidc.ScopeOpenID, "profile", "email"}
	}
	if cfg.PostLogoutRedirectURL == "" {
		if site, ok := strings.CutSuffix(cfg.RedirectURL, "/auth/oidc/callback"); ok {
			cfg.PostLogoutRedirectURL = site + "/login"
		}
	}
	return &OIDC{cfg: cfg}
}

func (o *OIDC) ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, o.cfg.HTTPClient)
}

func (o *OIDC) discover(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	p, err := oidc.NewProvider(o.ctx(ctx), o.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discover the OIDC provider %s: %w", o.cfg.Issuer, err)
	}
	o.provider = p
	return p, nil
}

func (o *OIDC) oauth(p *oidc.Provider) *oauth2.Config {
	ep := p.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader // client_secret_basic, which Keycloak supports
	return &oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, RedirectURL: o.cfg.RedirectURL,
		Endpoint: ep, Scopes: o.cfg.Scopes}
}

// Flow is what the browser must carry from Start to Finish (in a cookie).
type Flow struct {
	State, Nonce, Verifier string
}

// Start begins a sign-in: it returns the provider URL to redirect to and the
// flow secrets to keep until the callback.
func (o *OIDC) Start(ctx context.Context) (string, Flow, error) {
	p, err := o.discover(ctx)
	if err != nil {
		return "", Flow{}, err
	}
	var f Flow
	if f.State, err = randomToken(); err != nil {
		return "", f, err
	}
	if f.Nonce, err = randomToken(); err != nil {
		return "", f, err
	}
	f.Verifier = oauth2.GenerateVerifier()
	u := o.oauth(p).AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier))
	return u, f, nil
}

// OIDC sign-in errors.
var (
	ErrOIDCState = errors.New("the sign-in state does not match (an old or forged link); start the sign-in again")
	ErrOIDCNonce = errors.New("the ID token's nonce does not match this sign-in; start the sign-in again")
	ErrOIDCRole  = errors.New("your account has no role that maps to an ipai role; ask an administrator")
)

// Finish completes a sign-in: it checks the state, redeems the code with the
// PKCE verifier, verifies the ID token (signature, issuer, audience, expiry)
// and its nonce, and maps the provider's roles.
func (o *OIDC) Finish(ctx context.Context, f Flow, gotState, code string) (Identity, error) {
	if f.State == "" || subtle.ConstantTimeCompare([]byte(f.State), []byte(gotState)) != 1 {
		return Identity{}, ErrOIDCState
	}
	p, err := o.discover(ctx)
	if err != nil {
		return Identity{}, err
	}
	cctx := o.ctx(ctx)
	tok, err := o.oauth(p).Exchange(cctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return Identity{}, fmt.Errorf("redeem the sign-in code at the provider: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return Identity{}, errors.New("the provider answered without an id_token; is the openid scope allowed for this client?")
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: o.cfg.ClientID}).Verify(cctx, raw)
	if err != nil {
		return Identity{}, fmt.Errorf("the ID token is not valid: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.Nonce)) != 1 {
		return Identity{}, ErrOIDCNonce
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return Identity{}, err
	}
	id := Identity{Issuer: idt.Issuer, Subject: idt.Subject, RawIDToken: raw}
	id.Name, _ = claims["preferred_username"].(string)
	id.Email, _ = claims["email"].(string)
	id.DisplayName, _ = claims["name"].(string)
	id.Roles = claimStrings(claims, o.cfg.RoleClaim)
	id.Role = o.MapRole(id.Roles)
	if id.Role == RolePublic {
		return id, ErrOIDCRole
	}
	return id, nil
}

// MapRole returns the highest ipai role any of roles maps to, or the
// default role.
func (o *OIDC) MapRole(roles []string) Role {
	best := o.cfg.DefaultRole
	for _, r := range roles {
		if m, ok := o.cfg.RoleMap[r]; ok && m.rank() > best.rank() {
			best = m
		}
	}
	return best
}

// claimStrings reads a dotted claim path as a list of strings (a single
// string counts as a list of one).
func claimStrings(claims map[string]any, path string) []string {
	if path == "" {
		return nil
	}
	var cur any = claims
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	switch v := cur.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// Origin is the scheme and host of the issuer (where the browser is sent
// to sign in and out), or "" when the issuer is not an absolute URL.
func (o *OIDC) Origin() string {
	u, err := url.Parse(o.cfg.Issuer)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// LogoutURL returns the provider's end-session URL (RP-initiated logout)
// that ends the provider's session of the ID token idTokenHint and sends the
// browser back to PostLogoutRedirectURL; "" when the provider has no
// end_session_endpoint or there is no ID token to name the session.
func (o *OIDC) LogoutURL(ctx context.Context, idTokenHint string) (string, error) {
	if idTokenHint == "" {
		return "", nil
	}
	p, err := o.discover(ctx)
	if err != nil {
		return "", err
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := p.Claims(&meta); err != nil || meta.EndSession == "" {
		return "", err
	}
	u, err := url.Parse(meta.EndSession)
	if err != nil {
		return "", fmt.Errorf("the provider's end_session_endpoint %q: %w", meta.EndSession, err)
	}
	q := u.Query()
	q.Set("id_token_hint", idTokenHint)
	q.Set("client_id", o.cfg.ClientID)
	if o.cfg.PostLogoutRedirectURL != "" {
		q.Set("post_logout_redirect_uri", o.cfg.PostLogoutRedirectURL)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}
