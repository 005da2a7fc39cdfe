// Package mattermost is ipai's client of the Mattermost API v4: Test
// Connection (system ping, users/me, X-Version-Id), users, teams, channels,
// posts and webhook creation.
package mattermost

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/insightpulseai/ipai/internal/connector"
)

// MinVersion is the oldest supported Mattermost server.
var MinVersion = connector.MustVersion("9.5.0")

func init() {
	connector.Register(connector.Type{
		Name:              "mattermost",
		AuthTypes:         []string{connector.AuthToken},
		DefaultAPIVersion: "v4",
		Fields: []connector.Field{
			{Name: "team", Label: "team name, e.g. ipai"},
			{Name: "channel", Label: "default channel name, e.g. town-square"},
		},
		Secrets: []string{"token"},
		New: func(cfg connector.Config, hc *http.Client) (connector.Connector, error) {
			return New(cfg.BaseURL, cfg.Secret("token"), hc), nil
		},
	})
}

// Client calls one Mattermost server with a bearer token (personal access,
// bot or session token).
type Client struct {
	base  string
	token string
	hc    *http.Client
}

var _ connector.Connector = (*Client)(nil)

// New returns a client; hc nil means connector.HTTPClient(nil, baseURL).
func New(baseURL, token string, hc *http.Client) *Client {
	return &Client{base: strings.TrimRight(baseURL, "/"), token: token, hc: connector.HTTPClient(hc, baseURL)}
}

// WithToken returns a copy of c using another token.
func (c *Client) WithToken(token string) *Client { d := *c; d.token = token; return &d }

type apiError struct {
	ID            string `json:"id"`
	Message       string `json:"message"`
	DetailedError string `json:"detailed_error"`
	RequestID     string `json:"request_id"`
	StatusCode    int    `json:"status_code"`
}

// do sends a request to /api/v4+path and decodes a 2xx JSON answer into out.
func (c *Client) do(ctx context.Context, method, path string, body, out any) (*connector.Response, error) {
	req, err := connector.NewRequest(ctx, method, c.base+"/api/v4"+path, body)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return connector.Call(c.hc, req, decodeError, out)
}

func decodeError(resp *connector.Response) error {
	var e apiError
	if resp.IsHTML() || resp.JSON(&e) != nil || (e.ID == "" && e.Message == "") {
		return connector.ServiceErrorf(resp)
	}
	return &connector.ServiceError{Status: resp.Status, Code: e.ID, Message: e.Message}
}

// Ping is the answer of GET /api/v4/system/ping.
type Ping struct {
	Status          string `json:"status"`
	DatabaseStatus  string `json:"database_status,omitempty"`
	FilestoreStatus string `json:"filestore_status,omitempty"`
	// Version is read from the X-Version-Id header.
	Version string `json:"-"`
}

// Ping calls GET /api/v4/system/ping?get_server_status=true (no auth needed).
func (c *Client) Ping(ctx context.Context) (Ping, error) {
	var p Ping
	resp, err := c.do(ctx, http.MethodGet, "/system/ping?get_server_status=true", nil, &p)
	if err != nil {
		return p, err
	}
	if p.Status == "" {
		return p, connector.Malformed("ping answer has no status")
	}
	p.Version = VersionFromHeader(resp.Header.Get("X-Version-Id"))
	return p, nil
}

// VersionFromHeader returns the semver part ("9.11.1") of X-Version-Id
// ("9.11.1.9.11.1.abcdef0123.false"), or "" when absent.
func VersionFromHeader(h string) string {
	parts := strings.Split(h, ".")
	if len(parts) < 3 {
		return ""
	}
	return strings.Join(parts[:3], ".")
}

// User is a Mattermost user (the fields ipai uses).
type User struct {
	ID        string `json:"id"`
	Username  string `json:"username"`
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Roles     string `json:"roles"`
	IsBot     bool   `json:"is_bot"`
}

// Me returns the token's user.
func (c *Client) Me(ctx context.Context) (User, error) {
	var u User
	_, err := c.do(ctx, http.MethodGet, "/users/me", nil, &u)
	if err == nil && u.ID == "" {
		err = connector.Malformed("users/me answer has no id")
	}
	return u, err
}

// Login exchanges a login id and password for a session token.
func (c *Client) Login(ctx context.Context, loginID, password string) (string, User, error) {
	var u User
	resp, err := c.do(ctx, http.MethodPost, "/users/login", map[string]string{"login_id": loginID, "password": password}, &u)
	if err != nil {
		return "", u, err
	}
	tok := resp.Header.Get("Token")
	if tok == "" {
		return "", u, connector.Malformed("login answer has no Token header")
	}
	return tok, u, nil
}

// ClientConfig returns GET /api/v4/config/client?format=old.
func (c *Client) ClientConfig(ctx context.Context) (map[string]string, error) {
	var m map[string]string
	_, err := c.do(ctx, http.MethodGet, "/config/client?format=old", nil, &m)
	return m, err
}

// Team is a Mattermost team.
type Team struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
	Type        string `json:"type"`
}

// TeamByName returns a team by its name.
func (c *Client) TeamByName(ctx context.Context, name string) (Team, error) {
	var t Team
	_, err := c.do(ctx, http.MethodGet, "/teams/name/"+url.PathEscape(name), nil, &t)
	return t, err
}

// Channel is a Mattermost channel.
type Channel struct {
	ID          string `json:"id"`
	TeamID      string `json:"team_id"`
	Type        string `json:"type"`
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
	Header      string `json:"header"`
	Purpose     string `json:"purpose"`
}

// ChannelByName returns a channel by team and channel name.
func (c *Client) ChannelByName(ctx context.Context, team, channel string) (Channel, error) {
	var ch Channel
	_, err := c.do(ctx, http.MethodGet, "/teams/name/"+url.PathEscape(team)+"/channels/name/"+url.PathEscape(channel), nil, &ch)
	return ch, err
}

// Post is a Mattermost post.
type Post struct {
	ID        string         `json:"id,omitempty"`
	CreateAt  int64          `json:"create_at,omitempty"`
	UserID    string         `json:"user_id,omitempty"`
	ChannelID string         `json:"channel_id"`
	RootID    string         `json:"root_id,omitempty"`
	Message   string         `json:"message"`
	Type      string         `json:"type,omitempty"`
	Props     map[string]any `json:"props,omitempty"`
}

// CreatePost creates a post (props may hold "attachments").
func (c *Client) CreatePost(ctx context.Context, p Post) (Post, error) {
	var out Post
	_, err := c.do(ctx, http.MethodPost, "/posts", p, &out)
	if err == nil && out.ID == "" {
		err = connector.Malformed("created post has no id")
	}
	return out, err
}

// IncomingHook is an incoming webhook.
type IncomingHook struct {
	ID          string `json:"id,omitempty"`
	ChannelID   string `json:"channel_id"`
	DisplayName string `json:"display_name,omitempty"`
	Description string `json:"description,omitempty"`
}

// CreateIncomingHook creates an incoming webhook; post to /hooks/{id}.
func (c *Client) CreateIncomingHook(ctx context.Context, h IncomingHook) (IncomingHook, error) {
	var out IncomingHook
	_, err := c.do(ctx, http.MethodPost, "/hooks/incoming", h, &out)
	return out, err
}

// OutgoingHook is an outgoing webhook.
type OutgoingHook struct {
	ID           string   `json:"id,omitempty"`
	Token        string   `json:"token,omitempty"`
	TeamID       string   `json:"team_id"`
	ChannelID    string   `json:"channel_id,omitempty"`
	TriggerWords []string `json:"trigger_words,omitempty"`
	CallbackURLs []string `json:"callback_urls"`
	DisplayName  string   `json:"display_name,omitempty"`
	ContentType  string   `json:"content_type,omitempty"`
}

// CreateOutgoingHook creates an outgoing webhook; its Token verifies calls.
func (c *Client) CreateOutgoingHook(ctx context.Context, h OutgoingHook) (OutgoingHook, error) {
	var out OutgoingHook
	_, err := c.do(ctx, http.MethodPost, "/hooks/outgoing", h, &out)
	return out, err
}

// Test pings the server (reachable, version ≥ 9.5 from X-Version-Id) and
// calls users/me with the token (auth).
func (c *Client) Test(ctx context.Context, p *connector.Probe) {
	ping, err := c.Ping(ctx)
	if err != nil {
		p.Fail(connector.CheckReachable, err)
		return
	}
	if ping.Status != "OK" {
		p.Fail(connector.CheckReachable, fmt.Errorf("server status %s (database %s, filestore %s)", ping.Status, ping.DatabaseStatus, ping.FilestoreStatus))
		return
	}
	p.Pass(connector.CheckReachable, "system ping OK")
	p.Version(ping.Version)
	if c.token == "" {
		p.Fail(connector.CheckAuth, fmt.Errorf("%w: no token set", connector.ErrAuth))
		return
	}
	u, err := c.Me(ctx)
	if err != nil {
		p.Fail(connector.CheckAuth, err)
		return
	}
	p.Pass(connector.CheckAuth, "token accepted for @"+u.Username)
	if ping.Version == "" {
		p.Fail(connector.CheckVersion, connector.Malformed("no X-Version-Id header in the ping answer"))
		return
	}
	p.RequireVersion("Mattermost", ping.Version, MinVersion, ">= "+MinVersion.String())
}

// GetPost returns a post (GET /api/v4/posts/{id}). Mattermost strips the
// actions' integration (url and context) from posts it returns.
func (c *Client) GetPost(ctx context.Context, id string) (Post, error) {
	var out Post
	_, err := c.do(ctx, http.MethodGet, "/posts/"+url.PathEscape(id), nil, &out)
	return out, err
}
