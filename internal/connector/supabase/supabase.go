// Package supabase is ipai's client of a Supabase project: the Auth
// (GoTrue) health endpoint and PostgREST select/insert, all through the API
// gateway with the apikey header.
package supabase

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/insightpulseai/ipai/internal/connector"
)

// MinAuthVersion is the oldest supported GoTrue (Auth) version.
var MinAuthVersion = connector.MustVersion("2.0.0")

func init() {
	connector.Register(connector.Type{
		Name:      "supabase",
		AuthTypes: []string{connector.AuthAPIKey},
		Fields: []connector.Field{
			{Name: "table", Label: "table read by Test Connection (default: the REST root)"},
		},
		Secrets: []string{"api_key"},
		New: func(cfg connector.Config, hc *http.Client) (connector.Connector, error) {
			c := New(cfg.BaseURL, cfg.Secret("api_key"), hc)
			c.testTable = cfg.Setting("table")
			return c, nil
		},
	})
}

// Client calls one Supabase project URL with an API key (legacy anon /
// service_role JWT, or sb_publishable_ / sb_secret_ key).
type Client struct {
	base, key, testTable string
	hc                   *http.Client
}

var _ connector.Connector = (*Client)(nil)

// New returns a client.
func New(projectURL, apiKey string, hc *http.Client) *Client {
	return &Client{base: strings.TrimRight(projectURL, "/"), key: apiKey, hc: connector.HTTPClient(hc, projectURL)}
}

func (c *Client) send(ctx context.Context, method, path string, body any, header map[string]string, out any) (*connector.Response, error) {
	req, err := connector.NewRequest(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("apikey", c.key)
	// Legacy keys are JWTs and set the role; new sb_ keys go in apikey only.
	if strings.HasPrefix(c.key, "eyJ") {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return connector.Call(c.hc, req, decodeError, out)
}

func decodeError(resp *connector.Response) error {
	var e struct {
		Code    any    `json:"code"`
		Message string `json:"message"`
		Msg     string `json:"msg"`
		Hint    string `json:"hint"`
	}
	if resp.IsHTML() || resp.JSON(&e) != nil || (e.Message == "" && e.Msg == "") {
		return connector.ServiceErrorf(resp)
	}
	se := &connector.ServiceError{Status: resp.Status, Message: e.Message}
	if se.Message == "" {
		se.Message = e.Msg
	}
	if s, ok := e.Code.(string); ok {
		se.Code = s
	}
	return se
}

// AuthHealth is GET /auth/v1/health's answer.
type AuthHealth struct {
	Version     string `json:"version"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// AuthHealth calls GET /auth/v1/health.
func (c *Client) AuthHealth(ctx context.Context) (AuthHealth, error) {
	var h AuthHealth
	_, err := c.send(ctx, http.MethodGet, "/auth/v1/health", nil, nil, &h)
	if err == nil && h.Version == "" {
		err = connector.Malformed("auth health answer has no version")
	}
	return h, err
}

// Select reads rows: query holds PostgREST parameters (select=, filters
// like done=eq.false, order=, limit=).
func (c *Client) Select(ctx context.Context, table string, query url.Values, out any) error {
	path := "/rest/v1/" + url.PathEscape(table)
	if len(query) > 0 {
		path += "?" + query.Encode()
	}
	_, err := c.send(ctx, http.MethodGet, path, nil, nil, out)
	return err
}

// Insert inserts one row (object) or many (slice) and decodes the inserted
// rows into out (Prefer: return=representation) when out is not nil.
func (c *Client) Insert(ctx context.Context, table string, rows any, out any) error {
	prefer := "return=minimal"
	if out != nil {
		prefer = "return=representation"
	}
	_, err := c.send(ctx, http.MethodPost, "/rest/v1/"+url.PathEscape(table), rows, map[string]string{"Prefer": prefer}, out)
	return err
}

// Test checks the Auth health endpoint (reachable, version) and makes a
// REST request with the key (auth).
func (c *Client) Test(ctx context.Context, p *connector.Probe) {
	h, err := c.AuthHealth(ctx)
	if errors.Is(err, connector.ErrAuth) {
		// The platform gateway checks the key before the health endpoint.
		p.Pass(connector.CheckReachable, "gateway answered")
		p.Fail(connector.CheckAuth, err)
		return
	}
	if err != nil {
		p.Fail(connector.CheckReachable, err)
		return
	}
	p.Pass(connector.CheckReachable, h.Name+" health OK")
	p.Version(h.Version)
	path := "/rest/v1/"
	if c.testTable != "" {
		path = "/rest/v1/" + url.PathEscape(c.testTable) + "?limit=1"
	}
	var any_ any
	if _, err := c.send(ctx, http.MethodGet, path, nil, nil, &any_); err != nil {
		p.Fail(connector.CheckAuth, err)
		return
	}
	p.Pass(connector.CheckAuth, "API key accepted by the REST API")
	p.RequireVersion("Supabase Auth", h.Version, MinAuthVersion, ">= v"+MinAuthVersion.String())
}
