// Package odoo is ipai's client of Odoo's external API: JSON-RPC on /jsonrpc
// (common.version, common.authenticate, object.execute_kw) for Odoo 17 and
// 18, and the JSON-2 API (/json/2/<model>/<method>, bearer API key) for Odoo
// 19 and later. Odoo reports errors inside HTTP 200 envelopes; they become
// *connector.ServiceError with the exception name as Code.
package odoo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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
	serie int // 0 until Version ran (-1: unreadable)
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
	if env.JSONRPC != "2.0" {
		return connector.Malformed("not a JSON-RPC 2.0 answer (body starts %q)", connector.Snippet(resp.Body))
	}
	// A method that returns None is a success: Odoo's JSON-RPC dispatcher
	// (odoo/http.py, JsonRPCDispatcher._response in 18 and 19) writes
	// "result" only when the result is not None —
	//     if result is not None: response['result'] = result
	// — so an answer with neither "result" nor "error" means "returned None".
	if env.Result == nil {
		env.Result = json.RawMessage("null")
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

// Version asks the server its version without authentication: first
// GET /web/version, which Odoo 19 serves from its rpc module (answering
// {"version_info": [19, 0, 0, "final", 0, ""], "version": "19.0"}) and
// which stays when /jsonrpc goes (deprecated in 19, removed in 20); when
// that is not there (Odoo 17 and 18 answer 404), /jsonrpc common.version.
func (c *Client) Version(ctx context.Context) (VersionInfo, error) {
	v, ok, err := c.webVersion(ctx)
	if err != nil {
		return v, err
	}
	if !ok {
		v = VersionInfo{}
		err := c.call(ctx, "/jsonrpc", map[string]any{"service": "common", "method": "version", "args": []any{}}, &v)
		if err != nil {
			return v, err
		}
		if v.ServerSerie == "" && v.ServerVersion == "" {
			return v, connector.Malformed("version answer has no server_serie")
		}
	}
	m, perr := v.Major()
	if perr != nil {
		m = -1 // answered, but unreadable: JSON-RPC, and do not ask again
	}
	c.mu.Lock()
	c.serie = m
	c.mu.Unlock()
	return v, nil
}

// webVersion reads GET /web/version; ok is false when the server does not
// serve it (then the caller asks common.version); err is a transport
// failure (unreachable, timeout), not worth a second try.
func (c *Client) webVersion(ctx context.Context) (VersionInfo, bool, error) {
	req, err := connector.NewRequest(ctx, http.MethodGet, c.base+"/web/version", nil)
	if err != nil {
		return VersionInfo{}, false, err
	}
	var w struct {
		VersionInfo []any  `json:"version_info"`
		Version     string `json:"version"`
	}
	if _, err := connector.Call(c.hc, req, nil, &w); err != nil {
		if errors.Is(err, connector.ErrUnreachable) || errors.Is(err, connector.ErrTimeout) || ctx.Err() != nil {
			return VersionInfo{}, false, err
		}
		return VersionInfo{}, false, nil
	}
	if w.Version == "" || len(w.VersionInfo) < 2 {
		return VersionInfo{}, false, nil
	}
	// odoo/release.py: serie = '.'.join(str(s) for s in version_info[:2])
	serie := fmt.Sprintf("%v.%v", w.VersionInfo[0], w.VersionInfo[1])
	return VersionInfo{ServerVersion: w.Version, ServerVersionInfo: w.VersionInfo, ServerSerie: serie, ProtocolVersion: 1}, true, nil
}

// Authenticate calls common.authenticate and keeps the uid. Odoo answers
// false for bad credentials: that is an ErrAuth error, not a malformed answer.
func (c *Client) Authenticate(ctx context.Context) (int, error) {
	var raw json.RawMessage
	err := c.call(ctx, "/jsonrpc", map[string]any{"service": "common", "method": "authenticate",
		"args": []any{c.db, c.login, c.key, map[string]any{}}}, &raw)
	var se *connector.ServiceError
	if errors.As(err, &se) && se.Code == "psycopg2.OperationalError" && strings.Contains(se.Message, "does not exist") {
		// Odoo 17/18 answer a wrong database name with PostgreSQL's
		// connection error: FATAL: database "x" does not exist.
		return 0, &connector.ServiceError{Status: se.Status, Code: "database_not_found",
			Message: fmt.Sprintf("database %q was not found on this Odoo server (%s); check the database name", c.db, connector.OneLine(se.Message))}
	}
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

// Login makes the client ready for calls: it asks the version when Version
// has not run and, below Odoo 19 (JSON-RPC), logs in when no uid is kept.
// ExecuteKW does the same on its first call.
func (c *Client) Login(ctx context.Context) error {
	_, _, err := c.ready(ctx)
	return err
}

func (c *Client) ready(ctx context.Context) (uid, serie int, err error) {
	uid, serie = c.state()
	if serie == 0 {
		if _, err := c.Version(ctx); err != nil {
			return 0, 0, err
		}
		uid, serie = c.state()
	}
	if serie < JSON2Serie && uid == 0 {
		if uid, err = c.Authenticate(ctx); err != nil {
			return 0, 0, err
		}
	}
	return uid, serie, nil
}

// ExecuteKW calls model.method(*args, **kwargs) and decodes the result into
// out. On Odoo 19+ it goes through JSON-2 instead (json2FromKW). The first
// call asks the version when Version has not run, so every client picks
// its API by itself (/jsonrpc is deprecated in 19 and goes in 20).
func (c *Client) ExecuteKW(ctx context.Context, model, method string, args []any, kwargs map[string]any, out any) error {
	uid, serie, err := c.ready(ctx)
	if err != nil {
		return err
	}
	if serie >= JSON2Serie {
		return c.json2FromKW(ctx, model, method, args, kwargs, out)
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

// json2Sig is what ipai knows of an ORM method's Python signature: model
// methods (@api.model, no ids) or record methods (args[0] are the ids), and
// the names of the positional parameters that follow.
type json2Sig struct {
	model  bool
	params []string
}

// json2Sigs maps execute_kw's positional arguments to JSON-2's named
// parameters, after Odoo 19's odoo/orm/models.py (and addons/web's
// formatted_read_group, base's res.users.has_group). JSON-2 takes named
// parameters only, and refuses ids for @api.model methods (422 "cannot
// call … with ids"). A real Odoo 19 took every name below that the
// contract test calls (testdata/odoo19.json, "… positional"); it refuses
// check_access and search_fetch, which 19 made private (403), whatever
// their parameters.
var json2Sigs = map[string]json2Sig{
	"search":               {true, []string{"domain", "offset", "limit", "order"}},
	"search_read":          {true, []string{"domain", "fields", "offset", "limit", "order"}},
	"search_count":         {true, []string{"domain", "limit"}},
	"search_fetch":         {true, []string{"domain", "field_names", "offset", "limit", "order"}},
	"name_search":          {true, []string{"name", "domain", "operator", "limit"}},
	"name_create":          {true, []string{"name"}},
	"default_get":          {true, []string{"fields"}},
	"fields_get":           {true, []string{"allfields", "attributes"}},
	"read_group":           {true, []string{"domain", "fields", "groupby", "offset", "limit", "orderby", "lazy"}},
	"formatted_read_group": {true, []string{"domain", "groupby", "aggregates", "having", "offset", "limit", "order"}},
	"create":               {true, []string{"vals_list"}},
	"check_access_rights":  {true, []string{"operation", "raise_exception"}},
	"read":                 {false, []string{"fields", "load"}},
	"write":                {false, []string{"vals"}},
	"copy":                 {false, []string{"default"}},
	"copy_data":            {false, []string{"default"}},
	"unlink":               {false, nil},
	"get_metadata":         {false, nil},
	"check_access":         {false, []string{"operation"}},
	"has_access":           {false, []string{"operation"}},
	"has_group":            {false, []string{"group_ext_id"}},
	"has_groups":           {false, []string{"group_spec"}},
}

// json2FromKW maps an execute_kw call to JSON-2: kwargs stay named
// parameters; positional arguments get the names of the method's
// parameters (json2Sigs). For a method ipai does not know, args[0] is the
// ids (the execute_kw convention of record methods such as action_* and
// button_*) and any further positional argument is refused: it is never
// dropped.
func (c *Client) json2FromKW(ctx context.Context, model, method string, args []any, kwargs map[string]any, out any) error {
	params, err := json2Params(model, method, args, kwargs)
	if err != nil {
		return err
	}
	return c.JSON2(ctx, model, method, params, out)
}

// ErrPositional is returned for positional arguments ipai cannot name on
// JSON-2 (errors.Is).
var ErrPositional = errors.New("positional arguments cannot be mapped to JSON-2 parameters")

func json2Params(model, method string, args []any, kwargs map[string]any) (map[string]any, error) {
	params := make(map[string]any, len(kwargs)+len(args))
	for k, v := range kwargs {
		params[k] = v
	}
	sig, known := json2Sigs[method]
	if !known {
		sig = json2Sig{model: false}
	}
	rest := args
	if !sig.model && len(rest) > 0 {
		ids, ok := asIDs(rest[0])
		if !ok {
			return nil, fmt.Errorf("%w: %s.%s: the first positional argument of a record method must be the record ids, got %s; "+
				"on Odoo 19+ (JSON-2) pass a model method's arguments as kwargs by name", ErrPositional, model, method, compact(rest[0]))
		}
		if _, dup := params["ids"]; dup {
			return nil, fmt.Errorf("%w: %s.%s: ids given both as args[0] and as kwargs[\"ids\"]", ErrPositional, model, method)
		}
		params["ids"] = ids
		rest = rest[1:]
	}
	if len(rest) > len(sig.params) {
		what := "takes no positional argument after the ids"
		if len(sig.params) > 0 {
			what = "takes at most " + strings.Join(sig.params, ", ") + " positionally"
		}
		if !known {
			what = "is not one ipai can map positional arguments for"
		}
		return nil, fmt.Errorf("%w: %s.%s %s (got %d more: %s); on Odoo 19+ (JSON-2) pass them as kwargs by parameter name, e.g. {\"kwargs\": {\"name\": …}}",
			ErrPositional, model, method, what, len(rest)-len(sig.params), compact(rest[len(sig.params):]))
	}
	for i, v := range rest {
		name := sig.params[i]
		if _, dup := params[name]; dup {
			return nil, fmt.Errorf("%w: %s.%s: %q given both positionally and in kwargs", ErrPositional, model, method, name)
		}
		params[name] = v
	}
	return params, nil
}

// asIDs accepts what execute_kw accepts as a record method's ids: a list of
// ids or one id.
func asIDs(v any) (any, bool) {
	switch x := v.(type) {
	case int, int64, float64, json.Number:
		return []any{x}, true
	case []int, []int64:
		return x, true
	case []any:
		for _, e := range x {
			switch n := e.(type) {
			case int, int64, json.Number:
			case float64:
				if n != float64(int64(n)) {
					return nil, false
				}
			default:
				return nil, false
			}
		}
		return x, true
	}
	return nil, false
}

func compact(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return connector.Snippet(b)
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
	_, err = connector.Call(c.hc, req, func(resp *connector.Response) error { return c.decodeJSON2Error(resp) }, out)
	return err
}

// decodeJSON2Error reads Odoo 19's JSON-2 error body (odoo/http.py
// Json2Dispatcher.handle_error: {"name", "message", "arguments", "context",
// "debug"}, with the exception's http_status). A 404 HTML page is what
// Odoo serves when the X-Odoo-Database header names no database it has:
// the request falls back to the database-free routes, which do not include
// /json/2 (NOT_FOUND_NODB: "No database is selected …").
func (c *Client) decodeJSON2Error(resp *connector.Response) error {
	var e struct {
		Name    string `json:"name"`
		Message string `json:"message"`
	}
	if resp.Status == http.StatusNotFound && resp.IsHTML() {
		if bytes.Contains(resp.Body, []byte("No database is selected")) {
			return &connector.ServiceError{Status: resp.Status, Code: "database_not_found",
				Message: fmt.Sprintf("database %q was not found on this Odoo server (it answered 404 \"No database is selected\"); check the database name", c.db)}
		}
		return &connector.ServiceError{Status: resp.Status,
			Message: fmt.Sprintf("404 HTML page for /json/2: is this an Odoo 19+ server, and does database %q exist on it?", c.db)}
	}
	if resp.IsHTML() || resp.JSON(&e) != nil || e.Name == "" {
		return connector.ServiceErrorf(resp)
	}
	return &connector.ServiceError{Status: resp.Status, Code: e.Name, Message: e.Message}
}

// IsUnknownModel reports whether err is Odoo's answer for a model that is
// not installed: Odoo 17/18 JSON-RPC raise UserError "Object <model>
// doesn't exist" (odoo/service/model.py execute_cr), Odoo 19 JSON-2 answers
// 404 NotFound "the model '<model>' does not exist" (addons/rpc json2.py),
// and older code paths KeyError '<model>'.
func IsUnknownModel(err error) bool {
	var se *connector.ServiceError
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code {
	case "odoo.exceptions.UserError":
		return strings.HasPrefix(se.Message, "Object ") && strings.HasSuffix(strings.TrimSpace(se.Message), "doesn't exist")
	case "werkzeug.exceptions.NotFound":
		return strings.HasPrefix(se.Message, "the model ") && strings.HasSuffix(se.Message, "does not exist")
	case "builtins.KeyError":
		return true
	}
	return false
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
	return oneID("create", raw)
}

// oneID decodes a method's answer that is one record: JSON-RPC answers its
// id (call_kw returns record.id), JSON-2 its ids, a one-element list.
func oneID(method string, raw json.RawMessage) (int, error) {
	var id int
	if err := json.Unmarshal(raw, &id); err == nil && id > 0 {
		return id, nil
	}
	var ids []int
	if err := json.Unmarshal(raw, &ids); err == nil && len(ids) == 1 {
		return ids[0], nil
	}
	return 0, connector.Malformed("%s returned %s", method, connector.Snippet(raw))
}

// MessagePost posts in a record's chatter (mail.thread.message_post, whose
// parameters are keyword-only) and returns the new mail.message id.
func (c *Client) MessagePost(ctx context.Context, model string, id int, kwargs map[string]any) (int, error) {
	var raw json.RawMessage
	if err := c.ExecuteKW(ctx, model, "message_post", []any{[]int{id}}, kwargs, &raw); err != nil {
		return 0, err
	}
	return oneID("message_post", raw)
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

// FieldsGetAttrs runs fields_get asking only the given attributes (e.g.
// "type", "store") and decodes the answer into out.
func (c *Client) FieldsGetAttrs(ctx context.Context, model string, attributes []string, out any) error {
	return c.ExecuteKW(ctx, model, "fields_get", nil, map[string]any{"attributes": attributes}, out)
}

// Test calls common.version (reachable, version: series 17 and 18 on
// JSON-RPC, 19+ on JSON-2) and authenticates (auth).
func (c *Client) Test(ctx context.Context, p *connector.Probe) {
	v, err := c.Version(ctx)
	if err != nil {
		p.Fail(connector.CheckReachable, err)
		return
	}
	p.Pass(connector.CheckReachable, "version answered")
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
