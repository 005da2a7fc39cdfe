// Package keycloak is ipai's client of Keycloak (17+, no /auth prefix):
// OIDC discovery for a realm, client-credentials tokens, and the server
// version from the admin API when the client may see it.
package keycloak

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/insightpulseai/ipai/internal/connector"
)

// MinVersion is the oldest supported Keycloak (Quarkus, no /auth prefix).
var MinVersion = connector.MustVersion("17.0.0")

func init() {
	connector.Register(connector.Type{
		Name:      "keycloak",
		AuthTypes: []string{connector.AuthOAuthClient},
		Fields: []connector.Field{
			{Name: "realm", Label: "realm name", Required: true},
			{Name: "client_id", Label: "confidential client with service accounts enabled", Required: true},
		},
		Secrets: []string{"client_secret"},
		New: func(cfg connector.Config, hc *http.Client) (connector.Connector, error) {
			return New(cfg.BaseURL, cfg.Setting("realm"), cfg.Setting("client_id"), cfg.Secret("client_secret"), hc), nil
		},
	})
}

// Client calls one Keycloak realm as a confidential client.
type Client struct {
	base, realm, clientID, secret string
	hc                            *http.Client
}

var _ connector.Connector = (*Client)(nil)

// New returns a client.
func New(baseURL, realm, clientID, secret string, hc *http.Client) *Client {
	return &Client{base: strings.TrimRight(baseURL, "/"), realm: realm, clientID: clientID, secret: secret, hc: connector.HTTPClient(hc, baseURL)}
}

func decodeError(resp *connector.Response) error {
	var e struct {
		Error        string `json:"error"`
		Description  string `json:"error_description"`
		ErrorMessage string `json:"errorMessage"`
	}
	if resp.IsHTML() || resp.JSON(&e) != nil || (e.Error == "" && e.ErrorMessage == "") {
		return connector.ServiceErrorf(resp)
	}
	se := &connector.ServiceError{Status: resp.Status, Code: e.Error, Message: e.Description}
	if se.Message == "" {
		se.Message = e.Error + e.ErrorMessage
	}
	if e.Error == "unauthorized_client" || e.Error == "invalid_client" || e.Error == "invalid_grant" {
		se.Auth = true
	}
	return se
}

func (c *Client) get(ctx context.Context, path, token string, out any) error {
	req, err := connector.NewRequest(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	_, err = connector.Call(c.hc, req, decodeError, out)
	return err
}

// Discovery is the subset of the OIDC discovery document ipai uses.
type Discovery struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	UserinfoEndpoint      string   `json:"userinfo_endpoint"`
	JWKSURI               string   `json:"jwks_uri"`
	EndSessionEndpoint    string   `json:"end_session_endpoint"`
	GrantTypesSupported   []string `json:"grant_types_supported"`
}

// Discover fetches the realm's OIDC discovery document.
func (c *Client) Discover(ctx context.Context) (Discovery, error) {
	var d Discovery
	err := c.get(ctx, "/realms/"+url.PathEscape(c.realm)+"/.well-known/openid-configuration", "", &d)
	if err == nil && (d.Issuer == "" || d.TokenEndpoint == "") {
		err = connector.Malformed("discovery document has no issuer or token_endpoint")
	}
	return d, err
}

// Token is an OAuth2 token response.
type Token struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
	TokenType   string `json:"token_type"`
	Scope       string `json:"scope"`
}

// ClientCredentials gets a token for the client's service account.
func (c *Client) ClientCredentials(ctx context.Context) (Token, error) {
	var t Token
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.clientID}, "client_secret": {c.secret}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		c.base+"/realms/"+url.PathEscape(c.realm)+"/protocol/openid-connect/token", strings.NewReader(form.Encode()))
	if err != nil {
		return t, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if _, err := connector.Call(c.hc, req, decodeError, &t); err != nil {
		return t, err
	}
	if t.AccessToken == "" {
		return t, connector.Malformed("token answer has no access_token")
	}
	return t, nil
}

// ServerVersion reads GET /admin/serverinfo with token; it returns "" and no
// error when the client may not see it (401/403).
func (c *Client) ServerVersion(ctx context.Context, token string) (string, error) {
	var info struct {
		SystemInfo struct {
			Version string `json:"version"`
		} `json:"systemInfo"`
	}
	err := c.get(ctx, "/admin/serverinfo", token, &info)
	var se *connector.ServiceError
	if errors.As(err, &se) && (se.Status == 401 || se.Status == 403) {
		return "", nil
	}
	return info.SystemInfo.Version, err
}

// Test fetches the realm's discovery document (reachable), gets a
// client-credentials token (auth) and reads the version when allowed.
func (c *Client) Test(ctx context.Context, p *connector.Probe) {
	d, err := c.Discover(ctx)
	if err != nil {
		p.Fail(connector.CheckReachable, err)
		return
	}
	p.Pass(connector.CheckReachable, "realm "+c.realm+" discovered, issuer "+d.Issuer)
	tok, err := c.ClientCredentials(ctx)
	if err != nil {
		p.Fail(connector.CheckAuth, err)
		return
	}
	p.Pass(connector.CheckAuth, fmt.Sprintf("client %s got a token (expires in %ds)", c.clientID, tok.ExpiresIn))
	v, err := c.ServerVersion(ctx, tok.AccessToken)
	if err != nil {
		p.Fail(connector.CheckVersion, err)
		return
	}
	if v == "" {
		p.Pass(connector.CheckVersion, "version not visible to this client (needs realm-management view-system)")
		return
	}
	p.Version(v)
	p.RequireVersion("Keycloak", v, MinVersion, ">= "+MinVersion.String())
}
