// Package superset is ipai's client of Apache Superset: health, version,
// Flask-AppBuilder JWT login, CSRF token (with its session cookie), guest
// tokens for embedded dashboards, and the dashboard list.
package superset

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/insightpulseai/ipai/internal/connector"
)

// MinVersion is the oldest supported Superset (when its version is known).
var MinVersion = connector.MustVersion("3.0.0")

func init() {
	connector.Register(connector.Type{
		Name:      "superset",
		AuthTypes: []string{connector.AuthBasic},
		Fields: []connector.Field{
			{Name: "username", Label: "service user", Required: true},
			{Name: "provider", Label: `login provider: "db" (default) or "ldap"`},
		},
		Secrets: []string{"password"},
		New: func(cfg connector.Config, hc *http.Client) (connector.Connector, error) {
			c := New(cfg.BaseURL, cfg.Setting("username"), cfg.Secret("password"), hc)
			if p := cfg.Setting("provider"); p != "" {
				c.provider = p
			}
			return c, nil
		},
	})
}

// Client calls one Superset as a service user. It caches the access token
// and CSRF token (with its session cookie) and logs in again once on 401.
type Client struct {
	base, username, password, provider string
	hc                                 *http.Client

	mu      sync.Mutex
	access  string
	csrf    string
	session *http.Cookie
}

var _ connector.Connector = (*Client)(nil)

// New returns a client.
func New(baseURL, username, password string, hc *http.Client) *Client {
	return &Client{base: strings.TrimRight(baseURL, "/"), username: username, password: password, provider: "db", hc: connector.HTTPClient(hc, baseURL)}
}

func decodeError(resp *connector.Response) error {
	var e struct {
		Message any    `json:"message"`
		Msg     string `json:"msg"`
		Errors  []struct {
			Message   string `json:"message"`
			ErrorType string `json:"error_type"`
		} `json:"errors"`
	}
	if resp.IsHTML() || resp.JSON(&e) != nil {
		return connector.ServiceErrorf(resp)
	}
	se := &connector.ServiceError{Status: resp.Status}
	switch {
	case len(e.Errors) > 0:
		se.Code, se.Message = e.Errors[0].ErrorType, e.Errors[0].Message
	case e.Msg != "":
		se.Message = e.Msg
	case e.Message != nil:
		if s, ok := e.Message.(string); ok {
			se.Message = s
		} else {
			se.Message = fmt.Sprint(e.Message)
		}
	default:
		return connector.ServiceErrorf(resp)
	}
	return se
}

func (c *Client) send(ctx context.Context, method, path string, body any, auth bool, out any) (*connector.Response, error) {
	req, err := connector.NewRequest(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	if auth {
		c.mu.Lock()
		tok, csrf, sess := c.access, c.csrf, c.session
		c.mu.Unlock()
		req.Header.Set("Authorization", "Bearer "+tok)
		if csrf != "" && method != http.MethodGet {
			req.Header.Set("X-CSRFToken", csrf)
			req.Header.Set("Referer", c.base)
		}
		if sess != nil {
			req.AddCookie(&http.Cookie{Name: sess.Name, Value: sess.Value})
		}
	}
	return connector.Call(c.hc, req, decodeError, out)
}

// Health calls GET /health, which answers text "OK".
func (c *Client) Health(ctx context.Context) error {
	resp, err := c.send(ctx, http.MethodGet, "/health", nil, false, nil)
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(resp.Body)) != "OK" {
		if resp.IsHTML() {
			return connector.Malformed("/health answered an HTML page: is the base URL right?")
		}
		return connector.Malformed("/health answered %q, want OK", connector.Snippet(resp.Body))
	}
	return nil
}

// Version calls GET /version; it returns "" and no error on releases that
// do not have that endpoint (404).
func (c *Client) Version(ctx context.Context) (string, error) {
	var v struct {
		VersionString string `json:"version_string"`
	}
	_, err := c.send(ctx, http.MethodGet, "/version", nil, false, &v)
	var se *connector.ServiceError
	if errors.As(err, &se) && se.Status == http.StatusNotFound {
		return "", nil
	}
	return v.VersionString, err
}

// Login logs in and caches the access token.
func (c *Client) Login(ctx context.Context) (string, error) {
	var out struct {
		AccessToken string `json:"access_token"`
	}
	_, err := c.send(ctx, http.MethodPost, "/api/v1/security/login", map[string]any{
		"username": c.username, "password": c.password, "provider": c.provider, "refresh": true}, false, &out)
	if err != nil {
		return "", err
	}
	if out.AccessToken == "" {
		return "", connector.Malformed("login answer has no access_token")
	}
	c.mu.Lock()
	c.access, c.csrf, c.session = out.AccessToken, "", nil
	c.mu.Unlock()
	return out.AccessToken, nil
}

// CSRF fetches a CSRF token and keeps it with its session cookie.
func (c *Client) CSRF(ctx context.Context) (string, error) {
	var out struct {
		Result string `json:"result"`
	}
	resp, err := c.send(ctx, http.MethodGet, "/api/v1/security/csrf_token/", nil, true, &out)
	if err != nil {
		return "", err
	}
	if out.Result == "" {
		return "", connector.Malformed("csrf_token answer has no result")
	}
	var sess *http.Cookie
	for _, ck := range resp.Cookies {
		if ck.Name == "session" {
			sess = ck
		}
	}
	c.mu.Lock()
	c.csrf, c.session = out.Result, sess
	c.mu.Unlock()
	return out.Result, nil
}

// authed runs f after making sure a token and CSRF token are cached, and
// once more after a fresh login when f fails with 401.
func (c *Client) authed(ctx context.Context, f func() error) error {
	c.mu.Lock()
	have := c.access != "" && c.csrf != ""
	c.mu.Unlock()
	login := func() error {
		if _, err := c.Login(ctx); err != nil {
			return err
		}
		_, err := c.CSRF(ctx)
		return err
	}
	if !have {
		if err := login(); err != nil {
			return err
		}
	}
	err := f()
	var se *connector.ServiceError
	if errors.As(err, &se) && se.Status == http.StatusUnauthorized {
		if err := login(); err != nil {
			return err
		}
		err = f()
	}
	return err
}

// GuestUser names the viewer of an embedded dashboard.
type GuestUser struct {
	Username  string `json:"username"`
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
}

// Resource is a guest token resource.
type Resource struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// RLS is a row-level security clause, optionally for one dataset.
type RLS struct {
	Clause  string `json:"clause"`
	Dataset int    `json:"dataset,omitempty"`
}

// GuestTokenRequest is the body of POST /api/v1/security/guest_token/.
type GuestTokenRequest struct {
	User      GuestUser  `json:"user"`
	Resources []Resource `json:"resources"`
	RLS       []RLS      `json:"rls"`
}

// GuestToken asks for a guest token (resources and rls are sent as [] when empty).
func (c *Client) GuestToken(ctx context.Context, r GuestTokenRequest) (string, error) {
	if r.Resources == nil {
		r.Resources = []Resource{}
	}
	if r.RLS == nil {
		r.RLS = []RLS{}
	}
	var out struct {
		Token string `json:"token"`
	}
	err := c.Post(ctx, "/api/v1/security/guest_token/", r, &out)
	if err == nil && out.Token == "" {
		err = connector.Malformed("guest_token answer has no token")
	}
	return out.Token, err
}

// Dashboard is one entry of the dashboard list.
type Dashboard struct {
	ID             int    `json:"id"`
	DashboardTitle string `json:"dashboard_title"`
	Slug           string `json:"slug"`
	URL            string `json:"url"`
	Published      bool   `json:"published"`
}

// Dashboards lists dashboards; q is a rison query ("" for the default page).
func (c *Client) Dashboards(ctx context.Context, q string) ([]Dashboard, int, error) {
	var out struct {
		Count  int         `json:"count"`
		Result []Dashboard `json:"result"`
	}
	err := c.Get(ctx, "/api/v1/dashboard/", q, &out)
	return out.Result, out.Count, err
}

// Embedded is a dashboard's embedding configuration.
type Embedded struct {
	UUID           string   `json:"uuid"`
	AllowedDomains []string `json:"allowed_domains"`
	DashboardID    string   `json:"dashboard_id"`
}

// Embedded returns the embedded configuration (its UUID is what the SDK needs).
func (c *Client) Embedded(ctx context.Context, idOrSlug string) (Embedded, error) {
	var out struct {
		Result Embedded `json:"result"`
	}
	err := c.Get(ctx, "/api/v1/dashboard/"+url.PathEscape(idOrSlug)+"/embedded", "", &out)
	return out.Result, err
}

// Test checks /health (reachable), logs in and fetches a CSRF token (auth),
// and reads /version (version ≥ 3.0 when the server tells it).
func (c *Client) Test(ctx context.Context, p *connector.Probe) {
	if err := c.Health(ctx); err != nil {
		p.Fail(connector.CheckReachable, err)
		return
	}
	p.Pass(connector.CheckReachable, "/health OK")
	if _, err := c.Login(ctx); err != nil {
		p.Fail(connector.CheckAuth, err)
		return
	}
	if _, err := c.CSRF(ctx); err != nil {
		p.Fail(connector.CheckAuth, fmt.Errorf("logged in but no CSRF token: %w", err))
		return
	}
	p.Pass(connector.CheckAuth, "logged in as "+c.username+", CSRF token issued")
	v, err := c.Version(ctx)
	if err != nil {
		p.Fail(connector.CheckVersion, err)
		return
	}
	if v == "" {
		p.Pass(connector.CheckVersion, "version not exposed by this Superset (no /version)")
		return
	}
	p.Version(v)
	p.RequireVersion("Superset", v, MinVersion, ">= "+MinVersion.String())
}
