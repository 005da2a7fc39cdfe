// Package httpcheck is the "http" connector type: any HTTP service checked
// by a GET of its base URL (or a health path) with an optional bearer token
// or basic credentials. A 2xx answer passes.
package httpcheck

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/insightpulseai/ipai/internal/connector"
)

func init() {
	connector.Register(connector.Type{
		Name:      "http",
		AuthTypes: []string{connector.AuthNone, connector.AuthToken, connector.AuthBasic},
		Fields: []connector.Field{
			{Name: "health_path", Label: "path checked, e.g. /healthz (default: the base URL)"},
			{Name: "username", Label: "user for basic auth"},
			{Name: "version_header", Label: "response header holding the version, e.g. X-Version"},
		},
		Secrets: []string{"token", "password"},
		New: func(cfg connector.Config, hc *http.Client) (connector.Connector, error) {
			return &Client{cfg: cfg, hc: hc}, nil
		},
	})
}

// Client checks one HTTP endpoint.
type Client struct {
	cfg connector.Config
	hc  *http.Client
}

var _ connector.Connector = (*Client)(nil)

// Test GETs the endpoint: reachable, auth (401/403 fail it) and version
// (from the configured header, when set).
func (c *Client) Test(ctx context.Context, p *connector.Probe) {
	u := c.cfg.BaseURL
	if hp := c.cfg.Setting("health_path"); hp != "" {
		u = connector.JoinURL(u, hp)
	}
	req, err := connector.NewRequest(ctx, http.MethodGet, u, nil)
	if err != nil {
		p.Fail(connector.CheckReachable, err)
		return
	}
	req.Header.Set("Accept", "*/*")
	switch c.cfg.AuthType {
	case connector.AuthToken:
		req.Header.Set("Authorization", "Bearer "+c.cfg.Secret("token"))
	case connector.AuthBasic:
		req.SetBasicAuth(c.cfg.Setting("username"), c.cfg.Secret("password"))
	}
	resp, err := connector.Send(c.hc, req)
	if err != nil {
		p.Fail(connector.CheckReachable, err)
		return
	}
	if resp.Status == 401 || resp.Status == 403 {
		p.Pass(connector.CheckReachable, fmt.Sprintf("answered %d", resp.Status))
		p.Fail(connector.CheckAuth, connector.ServiceErrorf(resp))
		return
	}
	if !resp.OK() {
		p.Fail(connector.CheckReachable, connector.ServiceErrorf(resp))
		return
	}
	p.Pass(connector.CheckReachable, fmt.Sprintf("answered %d", resp.Status))
	if c.cfg.AuthType != "" && c.cfg.AuthType != connector.AuthNone {
		p.Pass(connector.CheckAuth, "credentials accepted")
	}
	if h := c.cfg.Setting("version_header"); h != "" {
		v := strings.TrimSpace(resp.Header.Get(h))
		if v == "" {
			p.Fail(connector.CheckVersion, connector.Malformed("no %s header", h))
			return
		}
		p.Version(v)
		p.Pass(connector.CheckVersion, v)
	}
}
