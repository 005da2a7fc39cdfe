// Package focalboard is ipai's client of the standalone Focalboard server
// API v2: Test Connection (/ping, users/me), login, boards and cards. Every
// /api/v2 call carries the X-Requested-With CSRF header Focalboard demands.
package focalboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

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
				c = NewBasic(cfg.BaseURL, cfg.Setting("username"), cfg.Secret("password"), hc)
			}
			return c, nil
		},
	})
}

// Client calls one Focalboard server. A client made with NewBasic logs in
// before its first call and again (once per call) when the server answers
// 401 because the session expired or was revoked; it is safe for
// concurrent use.
type Client struct {
	base               string
	username, password string
	hc                 *http.Client
	sess               *session
}

// session is the token shared by the copies of a client.
type session struct {
	mu    sync.Mutex
	token string
}

func (s *session) get() string      { s.mu.Lock(); defer s.mu.Unlock(); return s.token }
func (s *session) set(token string) { s.mu.Lock(); s.token = token; s.mu.Unlock() }

var _ connector.Connector = (*Client)(nil)

// New returns a client using a session (or single-user) token.
func New(baseURL, token string, hc *http.Client) *Client {
	return &Client{base: strings.TrimRight(baseURL, "/"), sess: &session{token: token}, hc: connector.HTTPClient(hc, baseURL)}
}

// NewBasic returns a client that logs in with username and password (and
// renews its session when it expires).
func NewBasic(baseURL, username, password string, hc *http.Client) *Client {
	c := New(baseURL, "", hc)
	c.username, c.password = username, password
	return c
}

// WithToken returns a copy of c using another token (and no login).
func (c *Client) WithToken(token string) *Client {
	d := *c
	d.sess, d.username, d.password = &session{token: token}, "", ""
	return &d
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) (*connector.Response, error) {
	login := c.username != "" && path != "/api/v2/login" && strings.HasPrefix(path, "/api/v2/")
	token := c.sess.get()
	if login && token == "" {
		var err error
		if token, err = c.Login(ctx, c.username, c.password); err != nil {
			return nil, fmt.Errorf("focalboard login as %s: %w", c.username, err)
		}
	}
	resp, err := c.send(ctx, method, path, token, body, out)
	var se *connector.ServiceError
	if login && errors.As(err, &se) && se.Status == http.StatusUnauthorized {
		// The session expired or was revoked: log in again, once.
		if token, err = c.Login(ctx, c.username, c.password); err != nil {
			return nil, fmt.Errorf("focalboard login as %s: %w", c.username, err)
		}
		return c.send(ctx, method, path, token, body, out)
	}
	return resp, err
}

func (c *Client) send(ctx context.Context, method, path, token string, body, out any) (*connector.Response, error) {
	req, err := connector.NewRequest(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(path, "/api/v2/") {
		req.Header.Set("X-Requested-With", "XMLHttpRequest")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
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
	c.sess.set(out.Token)
	return out.Token, nil
}

// Logout ends the client's session (POST /api/v2/logout) and forgets its
// token.
func (c *Client) Logout(ctx context.Context) error {
	_, err := c.send(ctx, http.MethodPost, "/api/v2/logout", c.sess.get(), nil, nil)
	if err == nil {
		c.sess.set("")
	}
	return err
}

// SessionToken is the token the client calls with: the one it was made
// with, or its session's after a login.
func (c *Client) SessionToken() string { return c.sess.get() }

// User is a Focalboard user. Focalboard never sends users' emails (its
// model marks Email json:"-"), so users are matched by username.
type User struct {
	ID        string `json:"id"`
	Username  string `json:"username"`
	Nickname  string `json:"nickname,omitempty"`
	FirstName string `json:"firstname,omitempty"`
	LastName  string `json:"lastname,omitempty"`
	IsBot     bool   `json:"is_bot,omitempty"`
	DeleteAt  int64  `json:"delete_at,omitempty"`
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

// CardProperty is a board's card property template. Options is always
// sent (an empty list for non-select types), as the Focalboard web app
// makes templates: it reads options without checking they exist.
type CardProperty struct {
	ID      string        `json:"id"`
	Name    string        `json:"name"`
	Type    string        `json:"type"`
	Options []PropertyOpt `json:"options"`
}

// MarshalJSON sends a nil Options as [].
func (p CardProperty) MarshalJSON() ([]byte, error) {
	type plain CardProperty
	if p.Options == nil {
		p.Options = []PropertyOpt{}
	}
	return json.Marshal(plain(p))
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

// CardPatch changes some fields of a card. Focalboard replaces the card's
// whole properties map with a non-empty UpdatedProperties (an empty one
// leaves the properties alone) and has no way to delete one property: to
// change some properties, send every property the card keeps (see
// ChangeCard).
type CardPatch struct {
	Title             *string        `json:"title,omitempty"`
	Icon              *string        `json:"icon,omitempty"`
	ContentOrder      *[]string      `json:"contentOrder,omitempty"`
	UpdatedProperties map[string]any `json:"updatedProperties,omitempty"`
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

// CardChange is what ChangeCard changes: the title (when not nil), the
// properties to set and those to delete.
type CardChange struct {
	Title  *string
	Set    map[string]any
	Delete []string
	// IfUpdateAt, when not 0, is the card's updateAt as the caller last
	// read it: a card changed since is not written (ErrCardChanged).
	IfUpdateAt int64
}

// ErrCardChanged is returned by ChangeCard when the card changed since the
// caller read it.
var ErrCardChanged = errors.New("the card changed since it was read")

// ChangeCard changes some properties of a card (and its title), keeping
// every other property: Focalboard's card patch replaces the whole
// properties map, so the card is read first and the merged map written
// back. Focalboard has no ETag or If-Match: a change a user makes to the
// card between that read and the write (milliseconds) is overwritten;
// IfUpdateAt refuses to write over a change made before the read.
func (c *Client) ChangeCard(ctx context.Context, cardID string, ch CardChange) (Card, error) {
	cur, err := c.Card(ctx, cardID)
	if err != nil {
		return Card{}, err
	}
	if ch.IfUpdateAt != 0 && cur.UpdateAt != ch.IfUpdateAt {
		return Card{}, fmt.Errorf("card %s: %w (updateAt %d, now %d): not overwritten", cardID, ErrCardChanged, ch.IfUpdateAt, cur.UpdateAt)
	}
	props := make(map[string]any, len(cur.Properties)+len(ch.Set))
	for k, v := range cur.Properties {
		props[k] = v
	}
	for k, v := range ch.Set {
		props[k] = v
	}
	for _, k := range ch.Delete {
		delete(props, k)
	}
	if len(props) > 0 || len(cur.Properties) == 0 {
		return c.PatchCard(ctx, cardID, CardPatch{Title: ch.Title, UpdatedProperties: props})
	}
	// An empty updatedProperties leaves the map alone: clear it as a block.
	if err := c.PatchBlock(ctx, cur.BoardID, cardID, BlockPatch{Title: ch.Title, UpdatedFields: map[string]any{"properties": props}}); err != nil {
		return Card{}, err
	}
	return c.Card(ctx, cardID)
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
	if c.sess.get() == "" {
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
