package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/chatops"
	"github.com/insightpulseai/ipai/internal/connector"
	"github.com/insightpulseai/ipai/internal/embed"
	"github.com/insightpulseai/ipai/internal/integration"
	"github.com/insightpulseai/ipai/internal/rule"
	"github.com/insightpulseai/ipai/internal/store"
)

func init() {
	route("GET", "/api/v1/openapi.json", auth.RolePublic, "", (*Server).openAPI)
}

// schema is a JSON Schema (the OpenAPI 3.1 dialect).
type schema = map[string]any

// op documents one operation of the route table. Req and Resp are either a
// schema or a Go value whose type is described by reflection (json tags).
type op struct {
	Summary string
	Query   []string // query parameters (strings)
	Req     any
	Status  int // success status; default 200
	Resp    any // nil: no body (204)
}

func typeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }

func obj(props schema, required ...string) schema {
	s := schema{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

func arr(item any) schema { return schema{"type": "array", "items": item} }

var (
	str      = schema{"type": "string"}
	integer  = schema{"type": "integer"}
	boolean  = schema{"type": "boolean"}
	dateTime = schema{"type": "string", "format": "date-time"}
	anyJSON  = schema{}
)

// page is a list response with items and the next page's cursor.
func page(item any) schema {
	return obj(schema{"items": arr(item), "next_cursor": str}, "items", "next_cursor")
}

// operations documents every /api/v1 route (and /healthz, /readyz); the
// test TestOpenAPIMatchesRouteTable keeps it and the route table in step.
var operations = map[string]op{
	"GET /healthz": {Summary: "The process is alive, and which build it runs",
		Resp: obj(schema{"status": str, "version": str, "revision": str, "modified": boolean}, "status", "version")},
	"GET /readyz": {Summary: "The store is reachable and migrated (else 503)",
		Resp: obj(schema{"status": str, "store": str, "schema_version": integer, "reason": str}, "status")},
	"GET /api/v1/openapi.json": {Summary: "This document", Resp: schema{"type": "object"}},
	"GET /api/v1/me":           {Summary: "The caller", Resp: typeOf[auth.Principal]()},

	"GET /api/v1/audit": {Summary: "Audit entries, newest first", Query: []string{"level", "action", "target", "actor", "since", "until", "limit", "cursor"},
		Resp: page(typeOf[AuditView]())},
	"GET /api/v1/audit/verify": {Summary: "Verify the audit hash chain", Resp: typeOf[audit.Report]()},

	"GET /api/v1/tokens": {Summary: "API tokens", Resp: obj(schema{"items": arr(typeOf[TokenView]())}, "items")},
	"POST /api/v1/tokens": {Summary: "Create a token (its value is returned once)", Status: http.StatusCreated,
		Req:  obj(schema{"name": str, "role": schema{"enum": []string{"user", "manager", "admin"}}, "scopes": arr(str), "expires_in": str}, "name", "role"),
		Resp: obj(schema{"token": str, "item": typeOf[TokenView](), "note": str}, "token", "item")},
	"DELETE /api/v1/tokens/{id}": {Summary: "Revoke a token"},

	"GET /api/v1/connectors": {Summary: "Connectors (secrets only as names set)", Query: []string{"state", "type"},
		Resp: obj(schema{"items": arr(typeOf[integration.View]())}, "items")},
	"POST /api/v1/connectors": {Summary: "Create a connector (secrets need admin)", Status: http.StatusCreated,
		Req:  obj(schema{"code": str, "name": str, "type": str, "base_url": str, "api_version": str, "auth_type": str, "settings": strMap, "secrets": strMap}, "code", "type", "base_url"),
		Resp: typeOf[integration.View]()},
	"GET /api/v1/connectors/{code}": {Summary: "One connector", Resp: typeOf[integration.View]()},
	"PATCH /api/v1/connectors/{code}": {Summary: "Change a connector (secrets need admin)",
		Req:  obj(schema{"name": str, "base_url": str, "api_version": str, "auth_type": str, "settings": strMap, "secrets": strMap}),
		Resp: typeOf[integration.View]()},
	"DELETE /api/v1/connectors/{code}":        {Summary: "Delete a connector (not a managed one)"},
	"POST /api/v1/connectors/{code}/test":     {Summary: "Test Connection", Resp: typeOf[connector.Report]()},
	"POST /api/v1/connectors/{code}/activate": {Summary: "testing → active", Resp: typeOf[integration.View]()},
	"GET /api/v1/health":                      {Summary: "Health of the active connectors", Resp: typeOf[integration.HealthView]()},

	"GET /api/v1/webhooks": {Summary: "Incoming hooks and outgoing endpoints", Query: []string{"direction"},
		Resp: obj(schema{"items": arr(typeOf[WebhookView]())}, "items")},
	"POST /api/v1/webhooks": {Summary: "Create a webhook; the secret is returned once", Status: http.StatusCreated,
		Req:  typeOf[WebhookInput](),
		Resp: obj(schema{"item": typeOf[WebhookView](), "secret": str, "note": str}, "item", "secret")},
	"GET /api/v1/webhooks/{id}": {Summary: "One webhook", Resp: typeOf[WebhookView]()},
	"PATCH /api/v1/webhooks/{id}": {Summary: "Change name, state or spec",
		Req: obj(schema{"name": str, "state": schema{"enum": []string{"active", "disabled"}}, "spec": schema{"type": "object"}}), Resp: typeOf[WebhookView]()},
	"DELETE /api/v1/webhooks/{id}": {Summary: "Delete a webhook"},
	"POST /api/v1/webhooks/{id}/rotate-secret": {Summary: "New secret (the old one stays valid for the grace period)",
		Resp: obj(schema{"item": typeOf[WebhookView](), "secret": str, "note": str}, "item", "secret")},

	"GET /api/v1/events": {Summary: "Events, newest first", Query: []string{"hook", "source", "type", "limit", "cursor"}, Resp: page(eventSchema)},
	"GET /api/v1/events/{id}": {Summary: "One event with the deliveries it caused",
		Resp: withProps(eventSchema, schema{"deliveries": arr(typeOf[DeliveryView]())})},
	"GET /api/v1/deliveries": {Summary: "Deliveries, newest first", Query: []string{"state", "endpoint", "event", "kind", "since", "until", "limit", "cursor"},
		Resp: page(typeOf[DeliveryView]())},
	"GET /api/v1/deliveries/{id}":         {Summary: "One delivery with every attempt", Resp: typeOf[DeliveryView]()},
	"POST /api/v1/deliveries/{id}/replay": {Summary: "Deliver again now", Status: http.StatusAccepted, Resp: replayed},
	"POST /api/v1/deliveries/replay": {Summary: "Bulk replay", Status: http.StatusAccepted,
		Req:  obj(schema{"endpoint": str, "state": schema{"enum": []string{"dead", "failed"}}, "since": dateTime, "until": dateTime}),
		Resp: replayed},

	"GET /api/v1/rules":      {Summary: "Routing rules", Resp: obj(schema{"items": arr(typeOf[RuleView]())}, "items")},
	"POST /api/v1/rules":     {Summary: "Create a rule", Status: http.StatusCreated, Req: typeOf[rule.Spec](), Resp: typeOf[RuleView]()},
	"GET /api/v1/rules/{id}": {Summary: "One rule", Resp: typeOf[RuleView]()},
	"PATCH /api/v1/rules/{id}": {Summary: "Change a rule (fields merged, then validated)",
		Req: schema{"type": "object"}, Resp: typeOf[RuleView]()},
	"DELETE /api/v1/rules/{id}": {Summary: "Delete a rule"},
	"POST /api/v1/rules/{id}/test": {Summary: "Dry-run a rule against an event",
		Req: schema{"type": "object"}, Resp: typeOf[rule.TestResult]()},

	"GET /api/v1/bots":          {Summary: "ChatOps bots", Resp: obj(schema{"data": arr(typeOf[chatops.BotView]())}, "data")},
	"POST /api/v1/bots":         {Summary: "Create or replace a bot", Req: typeOf[chatops.BotInput](), Resp: typeOf[chatops.BotView]()},
	"GET /api/v1/bots/{bot}":    {Summary: "One bot", Resp: typeOf[chatops.BotView]()},
	"DELETE /api/v1/bots/{bot}": {Summary: "Delete a bot"},
	"GET /api/v1/bots/{bot}/commands": {Summary: "A bot's slash commands",
		Resp: obj(schema{"data": arr(typeOf[chatops.CommandView]())}, "data")},
	"POST /api/v1/bots/{bot}/commands": {Summary: "Create or replace a command", Req: typeOf[chatops.CommandInput](),
		Resp: typeOf[chatops.CommandView]()},
	"DELETE /api/v1/bots/{bot}/commands/{command}": {Summary: "Delete a command"},

	"GET /api/v1/n8n/workflows":  {Summary: "n8n workflows in the registry", Resp: obj(schema{"data": arr(schema{"type": "object"})}, "data")},
	"POST /api/v1/n8n/sync":      {Summary: "Sync the registry from n8n", Resp: obj(schema{"synced": integer}, "synced")},
	"GET /api/v1/n8n/executions": {Summary: "Recent n8n executions", Resp: obj(schema{"data": arr(schema{"type": "object"})}, "data")},

	"GET /api/v1/superset/dashboards": {Summary: "Dashboards the caller may embed",
		Resp: obj(schema{"dashboards": arr(typeOf[embed.Dashboard]())}, "dashboards")},
	"POST /api/v1/superset/guest-token/{dashboard}": {Summary: "A Superset guest token for one dashboard",
		Req: obj(schema{"user": typeOf[embed.Viewer]()}), Resp: typeOf[embed.Token]()},

	"GET /api/v1/sync/links": {Summary: "Sync links", Query: []string{"state", "limit"},
		Resp: obj(schema{"links": arr(typeOf[store.SyncLink]())}, "links")},
	"GET /api/v1/sync/status": {Summary: "Sync link counts and change-capture cursors",
		Resp: obj(schema{"links": schema{"type": "object"}, "cursors": strMap}, "links", "cursors")},
	"POST /api/v1/sync/links/{id}/resolve": {Summary: "Resolve a conflict", Req: obj(schema{"keep": schema{"enum": []string{"odoo", "board"}}}, "keep"),
		Resp: typeOf[store.SyncLink]()},
	"POST /api/v1/sync/links/{id}/resync": {Summary: "Sync a link again", Resp: typeOf[store.SyncLink]()},
}

var (
	strMap      = schema{"type": "object", "additionalProperties": schema{"type": "string"}}
	replayed    = obj(schema{"replayed": integer}, "replayed")
	eventSchema = obj(schema{"id": str, "source": str, "type": str, "hook_id": str, "received_at": dateTime,
		"idempotency_key": str, "payload": anyJSON}, "id", "source", "type", "received_at", "payload")
	// errorSchema is every error answer: {"error":{"code","message","field"}}.
	errorSchema = obj(schema{"error": obj(schema{
		"code":    schema{"type": "string", "description": "machine-readable: bad_request, unauthorized, forbidden, not_found, conflict, too_large, unsupported_media_type, invalid, unavailable, internal"},
		"message": schema{"type": "string", "description": "what is wrong and what to do"},
		"field":   schema{"type": "string", "description": "the input field at fault (422)"},
	}, "code", "message")}, "error")
)

func withProps(s schema, extra schema) schema {
	props := schema{}
	for k, v := range s["properties"].(schema) {
		props[k] = v
	}
	for k, v := range extra {
		props[k] = v
	}
	out := schema{}
	for k, v := range s {
		out[k] = v
	}
	out["properties"] = props
	return out
}

// OpenAPI builds the OpenAPI 3.1 document of the documented routes of the
// route table; version is the server's version.
func OpenAPI(version string) map[string]any {
	comps := schema{"Error": errorSchema}
	paths := map[string]map[string]any{}
	for _, rt := range routes {
		key := rt.Method + " " + rt.Pattern
		o, ok := operations[key]
		if !ok {
			continue
		}
		item := paths[rt.Pattern]
		if item == nil {
			item = map[string]any{}
			paths[rt.Pattern] = item
		}
		item[strings.ToLower(rt.Method)] = o.build(rt, comps)
	}
	if version == "" {
		version = "dev"
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "ipai hub API", "version": version,
			"description": "Roles: user reads, manager configures, admin does everything (x-ipai-role). Every error is an Error object."},
		"paths": paths,
		"components": map[string]any{
			"schemas":         comps,
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "an API token (ipai token create)"}},
		},
	}
}

func (o op) build(rt Route, comps schema) map[string]any {
	opID := strings.ToLower(rt.Method) + strings.NewReplacer("/api/v1", "", "/", "_", "{", "", "}", "", "-", "_", ".", "_").Replace(rt.Pattern)
	out := map[string]any{"operationId": opID, "summary": o.Summary, "x-ipai-role": string(rt.Role)}
	var params []any
	for _, seg := range strings.Split(rt.Pattern, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			params = append(params, map[string]any{"name": strings.Trim(seg, "{}"), "in": "path", "required": true, "schema": str})
		}
	}
	for _, q := range o.Query {
		params = append(params, map[string]any{"name": q, "in": "query", "required": false, "schema": str})
	}
	if len(params) > 0 {
		out["parameters"] = params
	}
	if o.Req != nil {
		out["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": toSchema(o.Req, comps)}}}
	}
	status := o.Status
	if status == 0 {
		status = http.StatusOK
		if o.Resp == nil {
			status = http.StatusNoContent
		}
	}
	resps := map[string]any{}
	ok := map[string]any{"description": http.StatusText(status)}
	if o.Resp != nil {
		ok["content"] = map[string]any{"application/json": map[string]any{"schema": toSchema(o.Resp, comps)}}
	}
	resps[itoa(status)] = ok
	errRef := map[string]any{"content": map[string]any{"application/json": map[string]any{"schema": schema{"$ref": "#/components/schemas/Error"}}}}
	errResp := func(code int) {
		r := map[string]any{"description": http.StatusText(code)}
		for k, v := range errRef {
			r[k] = v
		}
		resps[itoa(code)] = r
	}
	if rt.Role != auth.RolePublic {
		out["security"] = []any{map[string]any{"bearer": []string{}}}
		errResp(http.StatusUnauthorized)
		errResp(http.StatusForbidden)
	}
	if rt.Pattern == "/readyz" {
		resps["503"] = map[string]any{"description": "not ready", "content": ok["content"]}
	} else {
		resps["default"] = map[string]any{"description": "an error (4xx, 5xx)", "content": errRef["content"]}
	}
	out["responses"] = resps
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }

// toSchema turns an op's Req or Resp into a schema; Go types become named
// component schemas.
func toSchema(v any, comps schema) any {
	switch x := v.(type) {
	case reflect.Type:
		return typeSchema(x, comps)
	case schema:
		out := schema{}
		for k, val := range x {
			switch k {
			case "properties":
				props := schema{}
				for pk, pv := range val.(schema) {
					props[pk] = toSchema(pv, comps)
				}
				out[k] = props
			case "items", "additionalProperties":
				out[k] = toSchema(val, comps)
			default:
				out[k] = val
			}
		}
		return out
	}
	return v
}

var (
	timeType      = reflect.TypeFor[time.Time]()
	durationType  = reflect.TypeFor[time.Duration]()
	rawType       = reflect.TypeFor[json.RawMessage]()
	marshalerType = reflect.TypeFor[json.Marshaler]()
)

// typeSchema describes how encoding/json writes a value of t.
func typeSchema(t reflect.Type, comps schema) schema {
	switch {
	case t == timeType:
		return dateTime
	case t == durationType:
		return integer
	case t == rawType:
		return anyJSON
	}
	if t.Kind() != reflect.Pointer && t.Kind() != reflect.Interface && t.Implements(marshalerType) {
		return anyJSON
	}
	switch t.Kind() {
	case reflect.Pointer:
		return typeSchema(t.Elem(), comps)
	case reflect.String:
		return str
	case reflect.Bool:
		return boolean
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return integer
	case reflect.Float32, reflect.Float64:
		return schema{"type": "number"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return str
		}
		return schema{"type": []string{"array", "null"}, "items": typeSchema(t.Elem(), comps)}
	case reflect.Map:
		return schema{"type": []string{"object", "null"}, "additionalProperties": typeSchema(t.Elem(), comps)}
	case reflect.Struct:
		name := t.Name()
		if name == "" {
			return structSchema(t, comps)
		}
		name = componentName(t)
		if _, done := comps[name]; !done {
			comps[name] = schema{} // placeholder against cycles
			comps[name] = structSchema(t, comps)
		}
		return schema{"$ref": "#/components/schemas/" + name}
	}
	return anyJSON
}

func componentName(t reflect.Type) string {
	pkg := t.PkgPath()
	pkg = pkg[strings.LastIndex(pkg, "/")+1:]
	if pkg == "api" {
		return t.Name()
	}
	return strings.ToUpper(pkg[:1]) + pkg[1:] + t.Name()
}

func structSchema(t reflect.Type, comps schema) schema {
	props := schema{}
	var required []string
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					walk(ft)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			props[name] = typeSchema(f.Type, comps)
			if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
				required = append(required, name)
			}
		}
	}
	walk(t)
	sort.Strings(required)
	return obj(props, required...)
}

// openAPI serves the document.
func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, OpenAPI(s.Version))
	return nil
}
