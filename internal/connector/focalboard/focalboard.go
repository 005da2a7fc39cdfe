// Package focalboard is ipai's client of the standalone Focalboard server
// API v2: Test Connection (/ping, users/me), login, boards and cards. Every
// /api/v2 call carries the X-Requested-With CSRF header Focalboard demands.
package focalboard

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/insightpulseai/ipai/internal/connector"
)

// MinVersion is the oldest supported Focalboard server.
var MinVersion = connector.MustVersion("7.0.0")

func init() {
	connector.Register(connector.Type{
		Name:              "focalboard",
		AuthTypes:         []string{connector.AuthToken, connector.AuthBasic},
		DefaultAPIVersion: "v2",
		Fields: []connector.Field{
			{Name: "team", Label: `team id ("0" on a standalone server)`},
			{Name: "board", Label: "default board id"},
			{Name: "username", Label: "login user (basic auth)"},
		},
		Secrets: []string{"token", "password"},
		New: func(cfg connector.Config, hc *http.Client) (connector.Connector, error) {
			c := New(cfg.BaseURL, cfg.Secret("token"), hc)
			if cfg.AuthType == connector.AuthBasic {
				c.username, c.password = cfg.Setting("username"), cfg.Secret("password")
			}
			return c, nil
		},
	})
}

// Client calls one Focalboard server.
type Client struct {
	base               string
	token              string
	username, password string
	hc                 *http.Client
}

var _ connector.Connector = (*Client)(nil)

// New returns a client using a session (or single-user) token.
func New(baseURL, token string, hc *http.Client) *Client {
	return &Client{base: strings.TrimRight(baseURL, "/"), token: token, hc: connector.HTTPClient(hc, baseURL)}
}

// WithToken returns a copy of c using another token.
func (c *Client) WithToken(token string) *Client { d := *c; d.token = token; return &d }

func (c *Client) do(ctx context.Context, method, path string, body, out any) (*connector.Response, error) {
	req, err := connector.NewRequest(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(path, "/api/v2/") {
		req.Header.Set("X-Requested-With", "XMLHttpRequest")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return connector.Call(c.hc, req, decodeError, out)
}

func decodeError(resp *connector.Response) error {
	var e struct {
		Error     string `json:"error"`
		ErrorCode int    `json:"errorCode"`
	}
	if resp.IsHTML() || resp.JSON(&e) != nil || e.Error == "" {
		return connector.ServiceErrorf(resp)
	}
	return &connector.ServiceError{Status: resp.Status, Message: e.Error}
}

// Ping is the answer of GET /ping.
type Ping struct {
	Version     string `json:"version"`
	BuildNumber string `json:"build_number"`
	Edition     string `json:"edition"`
	DBType      string `json:"db_type"`
	SKU         string `json:"sku"`
}

// Ping calls GET /ping (no auth, no CSRF header).
func (c *Client) Ping(ctx context.Context) (Ping, error) {
	var p Ping
	_, err := c.do(ctx, http.MethodGet, "/ping", nil, &p)
	if err == nil && p.Version == "" {
		err = connector.Malformed("ping answer has no version")
	}
	return p, err
}

// Login exchanges username and password for a session token and keeps it.
func (c *Client) Login(ctx context.Context, username, password string) (string, error) {
	var out struct {
		Token string `json:"token"`
	}
	if _, err := c.do(ctx, http.MethodPost, "/api/v2/login", map[string]string{"type": "normal", "username": username, "password": password}, &out); err != nil {
		return "", err
	}
	if out.Token == "" {
		return "", connector.Malformed("login answer has no token")
	}
	c.token = out.Token
	return out.Token, nil
}

// User is a Focalboard user.
type User struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Email    string `json:"email"`
}

// Me returns the token's user.
func (c *Client) Me(ctx context.Context) (User, error) {
	var u User
	_, err := c.do(ctx, http.MethodGet, "/api/v2/users/me", nil, &u)
	if err == nil && u.ID == "" {
		err = connector.Malformed("users/me answer has no id")
	}
	return u, err
}

// Board is a Focalboard board (the fields ipai uses).
type Board struct {
	ID             string         `json:"id,omitempty"`
	TeamID         string         `json:"teamId"`
	Type           string         `json:"type,omitempty"`
	Title          string         `json:"title"`
	Description    string         `json:"description,omitempty"`
	Icon           string         `json:"icon,omitempty"`
	IsTemplate     bool           `json:"isTemplate"`
	Properties     map[string]any `json:"properties,omitempty"`
	CardProperties []CardProperty `json:"cardProperties,omitempty"`
	CreateAt       int64          `json:"createAt,omitempty"`
	UpdateAt       int64          `json:"updateAt,omitempty"`
}

// CardProperty is a board's card property template.
type CardProperty struct {
	ID      string        `json:"id"`
	Name    string        `json:"name"`
	Type    string        `json:"type"`
	Options []PropertyOpt `json:"options,omitempty"`
}

// PropertyOpt is one option of a select property.
type PropertyOpt struct {
	ID    string `json:"id"`
	Value string `json:"value"`
	Color string `json:"color,omitempty"`
}

// Boards lists a team's boards.
func (c *Client) Boards(ctx context.Context, teamID string) ([]Board, error) {
	var out []Board
	_, err := c.do(ctx, http.MethodGet, "/api/v2/teams/"+url.PathEscape(teamID)+"/boards", nil, &out)
	return out, err
}

// Board returns one board.
func (c *Client) Board(ctx context.Context, id string) (Board, error) {
	var out Board
	_, err := c.do(ctx, http.MethodGet, "/api/v2/boards/"+url.PathEscape(id), nil, &out)
	return out, err
}

// CreateBoard creates a board.
func (c *Client) CreateBoard(ctx context.Context, b Board) (Board, error) {
	var out Board
	_, err := c.do(ctx, http.MethodPost, "/api/v2/boards", b, &out)
	return out, err
}

// Card is a Focalboard card. Properties are keyed by card property ID and
// hold option IDs, not names.
type Card struct {
	ID           string         `json:"id,omitempty"`
	BoardID      string         `json:"boardId,omitempty"`
	CreatedBy    string         `json:"createdBy,omitempty"`
	Title        string         `json:"title"`
	ContentOrder []string       `json:"contentOrder,omitempty"`
	Icon         string         `json:"icon,omitempty"`
	IsTemplate   bool           `json:"isTemplate"`
	Properties   map[string]any `json:"properties,omitempty"`
	CreateAt     int64          `json:"createAt,omitempty"`
	UpdateAt     int64          `json:"updateAt,omitempty"`
	DeleteAt     int64          `json:"deleteAt,omitempty"`
}

// CardPatch changes some fields of a card.
type CardPatch struct {
	Title             *string        `json:"title,omitempty"`
	Icon              *string        `json:"icon,omitempty"`
	ContentOrder      *[]string      `json:"contentOrder,omitempty"`
	UpdatedProperties map[string]any `json:"updatedProperties,omitempty"`
	DeletedProperties []string       `json:"deletedProperties,omitempty"`
}

// CreateCard creates a card on a board.
func (c *Client) CreateCard(ctx context.Context, boardID string, card Card) (Card, error) {
	var out Card
	card.BoardID = boardID
	_, err := c.do(ctx, http.MethodPost, "/api/v2/boards/"+url.PathEscape(boardID)+"/cards?disable_notify=true", card, &out)
	return out, err
}

// PatchCard patches a card.
func (c *Client) PatchCard(ctx context.Context, cardID string, p CardPatch) (Card, error) {
	var out Card
	_, err := c.do(ctx, http.MethodPatch, "/api/v2/cards/"+url.PathEscape(cardID), p, &out)
	return out, err
}

// Card returns one card.
func (c *Client) Card(ctx context.Context, cardID string) (Card, error) {
	var out Card
	_, err := c.do(ctx, http.MethodGet, "/api/v2/cards/"+url.PathEscape(cardID), nil, &out)
	return out, err
}

// Cards lists a board's cards, one page (0-based) at a time.
func (c *Client) Cards(ctx context.Context, boardID string, page, perPage int) ([]Card, error) {
	var out []Card
	_, err := c.do(ctx, http.MethodGet, fmt.Sprintf("/api/v2/boards/%s/cards?page=%d&per_page=%d", url.PathEscape(boardID), page, perPage), nil, &out)
	return out, err
}

// Test pings the server (reachable, version ≥ 7.0) and calls users/me with
// the token, logging in first for basic auth (auth).
func (c *Client) Test(ctx context.Context, p *connector.Probe) {
	ping, err := c.Ping(ctx)
	if err != nil {
		p.Fail(connector.CheckReachable, err)
		return
	}
	p.Pass(connector.CheckReachable, "ping answered ("+ping.SKU+")")
	p.Version(ping.Version)
	if c.username != "" {
		if _, err := c.Login(ctx, c.username, c.password); err != nil {
			p.Fail(connector.CheckAuth, err)
			return
		}
	}
	if c.token == "" {
		p.Fail(connector.CheckAuth, fmt.Errorf("%w: no token set", connector.ErrAuth))
		return
	}
	u, err := c.Me(ctx)
	if err != nil {
		p.Fail(connector.CheckAuth, err)
		return
	}
	p.Pass(connector.CheckAuth, "token accepted for "+u.Username)
	p.RequireVersion("Focalboard", ping.Version, MinVersion, ">= "+MinVersion.String())
}
