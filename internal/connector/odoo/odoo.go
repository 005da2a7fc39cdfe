// Package odoo is ipai's client of Odoo's external API: JSON-RPC on /jsonrpc
// (common.version, common.authenticate, object.execute_kw) for Odoo 17 and
// 18, and the JSON-2 API (/json/2/<model>/<method>, bearer API key) for Odoo
// 19 and later. Odoo reports errors inside HTTP 200 envelopes; they become
// *connector.ServiceError with the exception name as Code.
package odoo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/insightpulseai/ipai/internal/connector"
)

// Supported series on JSON-RPC; 19 and later use JSON-2.
const (
	MinSerie   = 17
	JSON2Serie = 19
)

func init() {
	connector.Register(connector.Type{
		Name:      "odoo",
		AuthTypes: []string{connector.AuthAPIKey, connector.AuthBasic},
		Fields: []connector.Field{
			{Name: "database", Label: "database name", Required: true},
			{Name: "login", Label: "user login (e.g. admin)", Required: true},
		},
		Secrets: []string{"api_key", "password"},
		New: func(cfg connector.Config, hc *http.Client) (connector.Connector, error) {
			key := cfg.Secret("api_key")
			if key == "" {
				key = cfg.Secret("password")
			}
			return New(cfg.BaseURL, cfg.Setting("database"), cfg.Setting("login"), key, hc), nil
		},
	})
}

// Client calls one Odoo server as one user. The key is a password or an
// API key (Odoo accepts either on the external API).
type Client struct {
	base, db, login, key string
	hc                   *http.Client
	id                   atomic.Int64

	mu    sync.Mutex
	uid   int
	serie int // 0 until Version ran
}

var _ connector.Connector = (*Client)(nil)

// New returns a client.
func New(baseURL, db, login, key string, hc *http.Client) *Client {
	return &Client{base: strings.TrimRight(baseURL, "/"), db: db, login: login, key: key, hc: connector.HTTPClient(hc, baseURL)}
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    struct {
		Name      string `json:"name"`
		Message   string `json:"message"`
		Arguments []any  `json:"arguments"`
	} `json:"data"`
}

// serviceError turns an Odoo JSON-RPC error into a ServiceError.
func (e *rpcError) serviceError() *connector.ServiceError {
	name := e.Data.Name
	msg := e.Data.Message
	if msg == "" {
		msg = e.Message
	}
	auth := name == "odoo.exceptions.AccessDenied" || name == "odoo.http.SessionExpiredException"
	return &connector.ServiceError{Status: http.StatusOK, Code: name, Message: msg, Auth: auth}
}

// call posts a JSON-RPC envelope to path and decodes result into out.
func (c *Client) call(ctx context.Context, path string, params, out any) error {
	id := c.id.Add(1)
	req, err := connector.NewRequest(ctx, http.MethodPost, c.base+path,
		map[string]any{"jsonrpc": "2.0", "method": "call", "params": params, "id": id})
	if err != nil {
		return err
	}
	var env struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Result  json.RawMessage `json:"result"`
		Error   *rpcError       `json:"error"`
	}
	resp, err := connector.Call(c.hc, req, nil, &env)
	if err != nil {
		return err
	}
	if env.Error != nil {
		return env.Error.serviceError()
	}
	if env.JSONRPC != "2.0" || env.Result == nil {
		return connector.Malformed("not a JSON-RPC 2.0 answer (body starts %q)", connector.Snippet(resp.Body))
	}
	if out != nil {
		if err := json.Unmarshal(env.Result, out); err != nil {
			return connector.Malformed("result: %v", err)
		}
	}
	return nil
}

// VersionInfo is common.version's answer.
type VersionInfo struct {
	ServerVersion     string `json:"server_version"`
	ServerVersionInfo []any  `json:"server_version_info"`
	ServerSerie       string `json:"server_serie"`
	ProtocolVersion   int    `json:"protocol_version"`
}

// Major returns the major series number ("saas~18.1" → 18).
func (v VersionInfo) Major() (int, error) {
	s := v.ServerSerie
	if s == "" {
		s = v.ServerVersion
	}
	p, err := connector.ParseVersion(s)
	return p.Major, err
}

// Version calls common.version (no authentication).
func (c *Client) Version(ctx context.Context) (VersionInfo, error) {
	var v VersionInfo
	err := c.call(ctx, "/jsonrpc", map[string]any{"service": "common", "method": "version", "args": []any{}}, &v)
	if err == nil && v.ServerSerie == "" && v.ServerVersion == "" {
		err = connector.Malformed("version answer has no server_serie")
	}
	if err == nil {
		if m, perr := v.Major(); perr == nil {
			c.mu.Lock()
			c.serie = m
			c.mu.Unlock()
		}
	}
	return v, err
}

// Authenticate calls common.authenticate and keeps the uid. Odoo answers
// false for bad credentials: that is an ErrAuth error, not a malformed answer.
func (c *Client) Authenticate(ctx context.Context) (int, error) {
	var raw json.RawMessage
	err := c.call(ctx, "/jsonrpc", map[string]any{"service": "common", "method": "authenticate",
		"args": []any{c.db, c.login, c.key, map[string]any{}}}, &raw)
	if err != nil {
		return 0, err
	}
	if string(raw) == "false" {
		return 0, &connector.ServiceError{Status: http.StatusOK, Code: "odoo.exceptions.AccessDenied",
			Message: fmt.Sprintf("login %q refused on database %q (authenticate returned false)", c.login, c.db), Auth: true}
	}
	var uid int
	if err := json.Unmarshal(raw, &uid); err != nil || uid <= 0 {
		return 0, connector.Malformed("authenticate returned %s", connector.Snippet(raw))
	}
	c.mu.Lock()
	c.uid = uid
	c.mu.Unlock()
	return uid, nil
}

func (c *Client) state() (uid, serie int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.uid, c.serie
}

// ExecuteKW calls model.method(*args, **kwargs) and decodes the result into
// out. On Odoo 19+ (after Version) it goes through JSON-2 instead, with
// kwargs as named parameters and args[0] as ids for record methods.
func (c *Client) ExecuteKW(ctx context.Context, model, method string, args []any, kwargs map[string]any, out any) error {
	uid, serie := c.state()
	if serie >= JSON2Serie {
		return c.json2FromKW(ctx, model, method, args, kwargs, out)
	}
	if uid == 0 {
		var err error
		if uid, err = c.Authenticate(ctx); err != nil {
			return err
		}
	}
	if args == nil {
		args = []any{}
	}
	if kwargs == nil {
		kwargs = map[string]any{}
	}
	return c.call(ctx, "/jsonrpc", map[string]any{"service": "object", "method": "execute_kw",
		"args": []any{c.db, uid, c.key, model, method, args, kwargs}}, out)
}

// json2FromKW maps the execute_kw conventions of the helpers below to JSON-2.
func (c *Client) json2FromKW(ctx context.Context, model, method string, args []any, kwargs map[string]any, out any) error {
	params := map[string]any{}
	for k, v := range kwargs {
		params[k] = v
	}
	switch method {
	case "search", "search_read", "search_count":
		if len(args) > 0 {
			params["domain"] = args[0]
		}
	case "create":
		if len(args) > 0 {
			params["vals_list"] = args[0]
		}
	case "write":
		if len(args) > 1 {
			params["ids"], params["vals"] = args[0], args[1]
		}
	default:
		if len(args) > 0 {
			params["ids"] = args[0]
		}
	}
	return c.JSON2(ctx, model, method, params, out)
}

// JSON2 calls POST /json/2/<model>/<method> (Odoo 19+) with a bearer key.
func (c *Client) JSON2(ctx context.Context, model, method string, params map[string]any, out any) error {
	if params == nil {
		params = map[string]any{}
	}
	req, err := connector.NewRequest(ctx, http.MethodPost, c.base+"/json/2/"+model+"/"+method, params)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "bearer "+c.key)
	if c.db != "" {
		req.Header.Set("X-Odoo-Database", c.db)
	}
	_, err = connector.Call(c.hc, req, decodeJSON2Error, out)
	return err
}

func decodeJSON2Error(resp *connector.Response) error {
	var e struct {
		Name    string `json:"name"`
		Message string `json:"message"`
	}
	if resp.IsHTML() || resp.JSON(&e) != nil || e.Name == "" {
		return connector.ServiceErrorf(resp)
	}
	return &connector.ServiceError{Status: resp.Status, Code: e.Name, Message: e.Message}
}

// SearchRead runs search_read with a domain and options (fields, limit,
// offset, order).
func (c *Client) SearchRead(ctx context.Context, model string, domain []any, opts map[string]any, out any) error {
	if domain == nil {
		domain = []any{}
	}
	return c.ExecuteKW(ctx, model, "search_read", []any{domain}, opts, out)
}

// Search returns matching ids.
func (c *Client) Search(ctx context.Context, model string, domain []any, opts map[string]any) ([]int, error) {
	var ids []int
	if domain == nil {
		domain = []any{}
	}
	err := c.ExecuteKW(ctx, model, "search", []any{domain}, opts, &ids)
	return ids, err
}

// SearchCount counts matching records.
func (c *Client) SearchCount(ctx context.Context, model string, domain []any) (int, error) {
	var n int
	if domain == nil {
		domain = []any{}
	}
	err := c.ExecuteKW(ctx, model, "search_count", []any{domain}, nil, &n)
	return n, err
}

// Read reads records by id.
func (c *Client) Read(ctx context.Context, model string, ids []int, fields []string, out any) error {
	kw := map[string]any{}
	if fields != nil {
		kw["fields"] = fields
	}
	return c.ExecuteKW(ctx, model, "read", []any{ids}, kw, out)
}

// Create creates one record and returns its id.
func (c *Client) Create(ctx context.Context, model string, vals map[string]any) (int, error) {
	var raw json.RawMessage
	if err := c.ExecuteKW(ctx, model, "create", []any{vals}, nil, &raw); err != nil {
		return 0, err
	}
	var id int
	if err := json.Unmarshal(raw, &id); err == nil {
		return id, nil
	}
	var ids []int
	if err := json.Unmarshal(raw, &ids); err == nil && len(ids) == 1 {
		return ids[0], nil
	}
	return 0, connector.Malformed("create returned %s", connector.Snippet(raw))
}

// Write updates records.
func (c *Client) Write(ctx context.Context, model string, ids []int, vals map[string]any) error {
	var ok bool
	return c.ExecuteKW(ctx, model, "write", []any{ids, vals}, nil, &ok)
}

// Field is one entry of fields_get.
type Field struct {
	String   string `json:"string"`
	Type     string `json:"type"`
	Required bool   `json:"required"`
	Relation string `json:"relation,omitempty"`
}

// FieldsGet describes a model's fields.
func (c *Client) FieldsGet(ctx context.Context, model string) (map[string]Field, error) {
	var out map[string]Field
	err := c.ExecuteKW(ctx, model, "fields_get", nil, map[string]any{"attributes": []string{"string", "type", "required", "relation"}}, &out)
	return out, err
}

// Test calls common.version (reachable, version: series 17 and 18 on
// JSON-RPC, 19+ on JSON-2) and authenticates (auth).
func (c *Client) Test(ctx context.Context, p *connector.Probe) {
	v, err := c.Version(ctx)
	if err != nil {
		p.Fail(connector.CheckReachable, err)
		return
	}
	p.Pass(connector.CheckReachable, "common.version answered")
	p.Version(v.ServerVersion)
	major, err := v.Major()
	if err != nil {
		p.Fail(connector.CheckVersion, err)
		return
	}
	if major >= JSON2Serie {
		var ctxOut map[string]any
		if err := c.JSON2(ctx, "res.users", "context_get", nil, &ctxOut); err != nil {
			p.Fail(connector.CheckAuth, err)
			return
		}
		p.Pass(connector.CheckAuth, "API key accepted on the JSON-2 API")
	} else {
		uid, err := c.Authenticate(ctx)
		if err != nil {
			p.Fail(connector.CheckAuth, err)
			return
		}
		p.Pass(connector.CheckAuth, fmt.Sprintf("authenticated %s on %s as uid %d", c.login, c.db, uid))
	}
	if major < MinSerie {
		p.Fail(connector.CheckVersion, connector.Incompatible("Odoo", v.ServerSerie, "17.0, 18.0, or 19+ with the JSON-2 API"))
		return
	}
	api := "JSON-RPC"
	if major >= JSON2Serie {
		api = "JSON-2"
	}
	p.Pass(connector.CheckVersion, "Odoo "+v.ServerSerie+" via "+api)
}
