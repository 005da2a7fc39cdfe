package superset

import (
	"context"
	"net/http"
	"net/url"
)

// Get calls an authenticated GET on path (e.g. "/api/v1/chart/3"), with the
// rison query q as ?q= when set, and decodes the JSON answer into out; it
// logs in (again on 401) as needed. Used by the client's own list calls and
// the superset MCP server for the chart, dataset and database endpoints.
func (c *Client) Get(ctx context.Context, path string, q string, out any) error {
	if q != "" {
		path += "?q=" + url.QueryEscape(q)
	}
	return c.authedSend(ctx, http.MethodGet, path, nil, out)
}

// Post calls an authenticated POST (with the CSRF token) on path.
func (c *Client) Post(ctx context.Context, path string, body, out any) error {
	return c.authedSend(ctx, http.MethodPost, path, body, out)
}

// authedSend sends an authenticated request through authed.
func (c *Client) authedSend(ctx context.Context, method, path string, body, out any) error {
	return c.authed(ctx, func() error {
		_, err := c.send(ctx, method, path, body, true, out)
		return err
	})
}
