package mcpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/insightpulseai/ipai/internal/connector/odoo"
)

// Record limits of the Odoo read tools.
const (
	defaultLimit = 80
	maxLimit     = 500
)

type odooServer struct {
	c      *odoo.Client
	policy OdooPolicy
	env    *Env

	mu       sync.Mutex
	defaults map[string]defaultFields // model → fields read when none are asked
}

type defaultFields struct {
	names []string
	at    time.Time
}

// defaultFieldsTTL bounds how long a model's default field list is kept
// (an app installed later may add fields).
const defaultFieldsTTL = 10 * time.Minute

// skippedTypes are left out of reads that name no fields: binaries (images
// and attachments, base64 — tens of kilobytes a record), html bodies and
// x2many id lists. Asked for by name, they are read.
var skippedTypes = map[string]bool{"binary": true, "html": true, "one2many": true, "many2many": true,
	"properties": true, "properties_definition": true}

// readFields returns the fields to read: the asked or allow-listed ones
// (policy), else the model's stored fields whose type is not in
// skippedTypes, plus display_name.
func (o *odooServer) readFields(ctx context.Context, model string, asked []string) ([]string, error) {
	fields, err := o.policy.ReadFields(model, asked)
	if err != nil || fields != nil {
		return fields, err
	}
	o.mu.Lock()
	d, ok := o.defaults[model]
	o.mu.Unlock()
	if ok && time.Since(d.at) < defaultFieldsTTL {
		return d.names, nil
	}
	var defs map[string]struct {
		Type  string `json:"type"`
		Store *bool  `json:"store"`
	}
	if err := o.c.FieldsGetAttrs(ctx, model, []string{"type", "store"}, &defs); err != nil {
		return nil, odooErr(err)
	}
	names := []string{}
	for name, f := range defs {
		stored := f.Store == nil || *f.Store
		if name == "display_name" || (stored && !skippedTypes[f.Type] && !isDenied(name)) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	o.mu.Lock()
	if o.defaults == nil {
		o.defaults = map[string]defaultFields{}
	}
	o.defaults[model] = defaultFields{names: names, at: time.Now()}
	o.mu.Unlock()
	return names, nil
}

// NewOdoo returns the odoo server over one Odoo client. Works on Odoo 17/18
// (JSON-RPC) and 19+ (JSON-2): call c.Version once before serving so the
// client picks the API.
func NewOdoo(e *Env, c *odoo.Client, p OdooPolicy) *mcp.Server {
	o := &odooServer{c: c, policy: p, env: e}
	s := e.newServer(Odoo, "Read and (when allowed) write Odoo ERP records. Writes need the mcp:odoo:write scope and an allow-listed model; pass dry_run: true to preview any write.")
	addTool(e, s, Odoo, false, &mcp.Tool{Name: "odoo_search_read", Description: "Search records of a model with an Odoo domain and return the chosen fields."}, o.searchRead)
	addTool(e, s, Odoo, false, &mcp.Tool{Name: "odoo_read", Description: "Read records by id."}, o.read)
	addTool(e, s, Odoo, false, &mcp.Tool{Name: "odoo_count", Description: "Count the records matching a domain."}, o.count)
	addTool(e, s, Odoo, false, &mcp.Tool{Name: "odoo_fields_get", Description: "Describe a model's fields (label, type, required, relation)."}, o.fieldsGet)
	addTool(e, s, Odoo, false, &mcp.Tool{Name: "odoo_list_models", Description: "List the models agents may read (from ir.model, filtered by the allow-list)."}, o.listModels)
	addTool(e, s, Odoo, true, &mcp.Tool{Name: "odoo_create", Description: "Create one record. Needs mcp:odoo:write and the model in the write allow-list; dry_run shows the values."}, o.create)
	addTool(e, s, Odoo, true, &mcp.Tool{Name: "odoo_write", Description: "Update records. Needs mcp:odoo:write and the model in the write allow-list; dry_run shows the diff of every record."}, o.write)
	addTool(e, s, Odoo, true, &mcp.Tool{Name: "odoo_call", Description: "Call an allow-listed model method (odoo.call_methods in the MCP policy)."}, o.call)
	addTool(e, s, Odoo, true, &mcp.Tool{Name: "odoo_post_message", Description: "Post a note in a record's chatter (message_post)."}, o.postMessage)
	o.addFinance(s)
	s.AddResourceTemplate(&mcp.ResourceTemplate{Name: "odoo-record", URITemplate: "odoo://{model}/{id}",
		Description: "One Odoo record as JSON", MIMEType: "application/json"}, o.resource)
	return s
}

type modelIn struct {
	Model string `json:"model" jsonschema:"technical model name, e.g. res.partner"`
}

type searchReadIn struct {
	Model  string   `json:"model" jsonschema:"technical model name, e.g. res.partner"`
	Domain []any    `json:"domain,omitempty" jsonschema:"Odoo domain, e.g. [[\"is_company\",\"=\",true]]; empty matches all"`
	Fields []string `json:"fields,omitempty" jsonschema:"fields to return; empty returns the stored fields except binary (images, files), html and one2many/many2many lists — name those to get them"`
	Limit  int      `json:"limit,omitempty" jsonschema:"maximum records (default 80, at most 500)"`
	Offset int      `json:"offset,omitempty"`
	Order  string   `json:"order,omitempty" jsonschema:"e.g. name asc, id desc"`
}

type recordsOut struct {
	Model   string           `json:"model"`
	Count   int              `json:"count"`
	Records []map[string]any `json:"records"`
}

func (o *odooServer) searchRead(ctx context.Context, c *Call, in searchReadIn) (recordsOut, error) {
	if err := o.policy.CanRead(in.Model); err != nil {
		return recordsOut{}, err
	}
	if err := checkDomain(in.Domain); err != nil {
		return recordsOut{}, err
	}
	fields, err := o.readFields(ctx, in.Model, in.Fields)
	if err != nil {
		return recordsOut{}, err
	}
	opts := map[string]any{"limit": min(clampN(in.Limit, defaultLimit), maxLimit)}
	if fields != nil {
		opts["fields"] = fields
	}
	if in.Offset > 0 {
		opts["offset"] = in.Offset
	}
	if in.Order != "" {
		opts["order"] = in.Order
	}
	c.Target("odoo:" + in.Model)
	var recs []map[string]any
	if err := o.c.SearchRead(ctx, in.Model, in.Domain, opts, &recs); err != nil {
		return recordsOut{}, odooErr(err)
	}
	o.policy.Filter(recs)
	return recordsOut{Model: in.Model, Count: len(recs), Records: nonNil(recs)}, nil
}

// checkDomain catches the commonest agent mistake (a flat triple) early.
func checkDomain(d []any) error {
	for _, t := range d {
		switch x := t.(type) {
		case string:
			if x != "&" && x != "|" && x != "!" {
				return fmt.Errorf("domain element %q is not an operator (&, |, !); write conditions as [field, operator, value] lists, e.g. [[\"name\",\"ilike\",\"deco\"]]", x)
			}
		case []any:
			if len(x) != 3 {
				return fmt.Errorf("domain condition %v must have 3 elements: [field, operator, value]", x)
			}
		default:
			return fmt.Errorf("domain element %v is neither an operator nor a [field, operator, value] list", t)
		}
	}
	return nil
}

// odooErr keeps Odoo's message and says what to do for the common cases.
func odooErr(err error) error {
	msg := err.Error()
	switch {
	case odoo.IsUnknownModel(err):
		return fmt.Errorf("odoo: model not installed on this Odoo (%v); check the spelling, install the app that provides it, or use odoo_list_models to see the installed models", err)
	case strings.Contains(msg, "ValueError: Invalid field") || strings.Contains(msg, "(builtins.ValueError): Invalid field"):
		return fmt.Errorf("odoo: unknown field (%v); use odoo_fields_get to find the model's field names", err)
	case strings.Contains(msg, "builtins.KeyError"):
		return fmt.Errorf("odoo: unknown model or field (%v); use odoo_list_models and odoo_fields_get to find the right names", err)
	case strings.Contains(msg, "AccessDenied"):
		return fmt.Errorf("odoo refused the configured credentials (%v); check ODOO_USERNAME and ODOO_API_KEY", err)
	}
	return fmt.Errorf("odoo: %w", err)
}

type readIn struct {
	Model  string   `json:"model" jsonschema:"technical model name, e.g. res.partner"`
	IDs    []int    `json:"ids" jsonschema:"record ids"`
	Fields []string `json:"fields,omitempty"`
}

func (o *odooServer) read(ctx context.Context, c *Call, in readIn) (recordsOut, error) {
	if err := o.policy.CanRead(in.Model); err != nil {
		return recordsOut{}, err
	}
	if len(in.IDs) == 0 {
		return recordsOut{}, fmt.Errorf("ids: give at least one record id (find ids with odoo_search_read)")
	}
	fields, err := o.readFields(ctx, in.Model, in.Fields)
	if err != nil {
		return recordsOut{}, err
	}
	c.Target(fmt.Sprintf("odoo:%s/%v", in.Model, in.IDs))
	var recs []map[string]any
	if err := o.c.Read(ctx, in.Model, in.IDs, fields, &recs); err != nil {
		return recordsOut{}, odooErr(err)
	}
	o.policy.Filter(recs)
	return recordsOut{Model: in.Model, Count: len(recs), Records: nonNil(recs)}, nil
}

type countIn struct {
	Model  string `json:"model" jsonschema:"technical model name, e.g. res.partner"`
	Domain []any  `json:"domain,omitempty"`
}

type countOut struct {
	Model string `json:"model"`
	Count int    `json:"count"`
}

func (o *odooServer) count(ctx context.Context, c *Call, in countIn) (countOut, error) {
	if err := o.policy.CanRead(in.Model); err != nil {
		return countOut{}, err
	}
	if err := checkDomain(in.Domain); err != nil {
		return countOut{}, err
	}
	n, err := o.c.SearchCount(ctx, in.Model, in.Domain)
	if err != nil {
		return countOut{}, odooErr(err)
	}
	return countOut{Model: in.Model, Count: n}, nil
}

type fieldsOut struct {
	Model  string                `json:"model"`
	Fields map[string]odoo.Field `json:"fields"`
}

func (o *odooServer) fieldsGet(ctx context.Context, c *Call, in modelIn) (fieldsOut, error) {
	if err := o.policy.CanRead(in.Model); err != nil {
		return fieldsOut{}, err
	}
	f, err := o.c.FieldsGet(ctx, in.Model)
	if err != nil {
		return fieldsOut{}, odooErr(err)
	}
	allow := o.policy.Fields[in.Model]
	for name := range f {
		if o.policy.CheckFields(in.Model, []string{name}) != nil && (len(allow) > 0 || isDenied(name)) {
			delete(f, name)
		}
	}
	return fieldsOut{Model: in.Model, Fields: f}, nil
}

func isDenied(f string) bool {
	for _, d := range deniedFields {
		if d == f {
			return true
		}
	}
	return false
}

type listModelsIn struct {
	Search string `json:"search,omitempty" jsonschema:"only models whose name or label contains this"`
}

type modelInfo struct {
	Model string `json:"model"`
	Name  string `json:"name"`
	Write bool   `json:"write"`
}

type listModelsOut struct {
	Models []modelInfo `json:"models"`
}

func (o *odooServer) listModels(ctx context.Context, c *Call, in listModelsIn) (listModelsOut, error) {
	var dom []any
	if in.Search != "" {
		dom = []any{"|", []any{"model", "ilike", in.Search}, []any{"name", "ilike", in.Search}}
	}
	var recs []struct {
		Model string `json:"model"`
		Name  string `json:"name"`
	}
	if err := o.c.SearchRead(ctx, "ir.model", dom, map[string]any{"fields": []string{"model", "name"}, "order": "model asc"}, &recs); err != nil {
		return listModelsOut{}, odooErr(err)
	}
	out := listModelsOut{Models: []modelInfo{}}
	for _, r := range recs {
		if o.policy.CanRead(r.Model) != nil {
			continue
		}
		out.Models = append(out.Models, modelInfo{Model: r.Model, Name: r.Name, Write: o.policy.CanWrite(r.Model) == nil})
	}
	return out, nil
}

type createIn struct {
	Model  string         `json:"model" jsonschema:"technical model name, e.g. res.partner"`
	Values map[string]any `json:"values" jsonschema:"field values of the new record"`
	DryRun bool           `json:"dry_run,omitempty" jsonschema:"when true, show exactly what would change and change nothing"`
}

type writeOut struct {
	Model   string       `json:"model"`
	DryRun  bool         `json:"dry_run"`
	Applied bool         `json:"applied"`
	IDs     []int        `json:"ids,omitempty"`
	Changes []recordDiff `json:"changes"`
}

// recordDiff is what a write changes on one record (id 0: a new record).
type recordDiff struct {
	ID      int                   `json:"id"`
	Changes map[string]fieldDelta `json:"changes"`
}

type fieldDelta struct {
	From any `json:"from"`
	To   any `json:"to"`
}

func (o *odooServer) checkWrite(model string, vals map[string]any) error {
	if err := o.policy.CanWrite(model); err != nil {
		return err
	}
	if len(vals) == 0 {
		return fmt.Errorf("values: give at least one field value")
	}
	return o.policy.CheckFields(model, slices.Sorted(maps.Keys(vals)))
}

func (o *odooServer) create(ctx context.Context, c *Call, in createIn) (writeOut, error) {
	if err := o.checkWrite(in.Model, in.Values); err != nil {
		return writeOut{}, err
	}
	d := recordDiff{Changes: map[string]fieldDelta{}}
	for k, v := range in.Values {
		d.Changes[k] = fieldDelta{From: nil, To: v}
	}
	out := writeOut{Model: in.Model, DryRun: c.DryRun, Changes: []recordDiff{d}}
	c.Target("odoo:" + in.Model)
	if c.DryRun {
		return out, nil
	}
	id, err := o.c.Create(ctx, in.Model, in.Values)
	if err != nil {
		return writeOut{}, odooErr(err)
	}
	c.Target(fmt.Sprintf("odoo:%s/%d", in.Model, id))
	out.Applied, out.IDs, out.Changes[0].ID = true, []int{id}, id
	return out, nil
}

type writeIn struct {
	Model  string         `json:"model" jsonschema:"technical model name, e.g. res.partner"`
	IDs    []int          `json:"ids" jsonschema:"records to update"`
	Values map[string]any `json:"values" jsonschema:"new field values"`
	DryRun bool           `json:"dry_run,omitempty" jsonschema:"when true, show exactly what would change and change nothing"`
}

func (o *odooServer) write(ctx context.Context, c *Call, in writeIn) (writeOut, error) {
	if err := o.checkWrite(in.Model, in.Values); err != nil {
		return writeOut{}, err
	}
	if len(in.IDs) == 0 {
		return writeOut{}, fmt.Errorf("ids: give the ids of the records to update")
	}
	c.Target(fmt.Sprintf("odoo:%s/%v", in.Model, in.IDs))
	var cur []map[string]any
	if err := o.c.Read(ctx, in.Model, in.IDs, slices.Sorted(maps.Keys(in.Values)), &cur); err != nil {
		return writeOut{}, odooErr(err)
	}
	out := writeOut{Model: in.Model, DryRun: c.DryRun, IDs: in.IDs, Changes: []recordDiff{}}
	for _, r := range cur {
		id, _ := r["id"].(float64)
		d := recordDiff{ID: int(id), Changes: map[string]fieldDelta{}}
		for k, v := range in.Values {
			if !sameJSON(r[k], v) {
				d.Changes[k] = fieldDelta{From: r[k], To: v}
			}
		}
		out.Changes = append(out.Changes, d)
	}
	c.Note("diff", out.Changes)
	if c.DryRun {
		return out, nil
	}
	if err := o.c.Write(ctx, in.Model, in.IDs, in.Values); err != nil {
		return writeOut{}, odooErr(err)
	}
	out.Applied = true
	return out, nil
}

func sameJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

type callIn struct {
	Model  string         `json:"model" jsonschema:"technical model name, e.g. res.partner"`
	Method string         `json:"method" jsonschema:"public method name; must be allow-listed as model.method"`
	Args   []any          `json:"args,omitempty" jsonschema:"positional arguments"`
	Kwargs map[string]any `json:"kwargs,omitempty" jsonschema:"keyword arguments"`
	DryRun bool           `json:"dry_run,omitempty" jsonschema:"when true, show exactly what would change and change nothing"`
}

type callOut struct {
	Call    string `json:"call"`
	DryRun  bool   `json:"dry_run"`
	Applied bool   `json:"applied"`
	Result  any    `json:"result,omitempty"`
}

func (o *odooServer) call(ctx context.Context, c *Call, in callIn) (callOut, error) {
	if err := o.policy.CanRead(in.Model); err != nil {
		return callOut{}, err
	}
	if strings.HasPrefix(in.Method, "_") {
		return callOut{}, refuse("private methods (starting with _) cannot be called")
	}
	if err := o.policy.CanCall(in.Model, in.Method); err != nil {
		return callOut{}, err
	}
	desc, _ := json.Marshal(map[string]any{"args": in.Args, "kwargs": in.Kwargs})
	out := callOut{Call: in.Model + "." + in.Method + " " + string(desc), DryRun: c.DryRun}
	c.Target("odoo:" + in.Model + "." + in.Method)
	if c.DryRun {
		return out, nil
	}
	var res any
	if err := o.c.ExecuteKW(ctx, in.Model, in.Method, in.Args, in.Kwargs, &res); err != nil {
		return callOut{}, odooErr(err)
	}
	out.Applied, out.Result = true, res
	return out, nil
}

type postMessageIn struct {
	Model  string `json:"model" jsonschema:"model of the record, e.g. res.partner"`
	ID     int    `json:"id" jsonschema:"record id"`
	Body   string `json:"body" jsonschema:"message text (plain text or simple HTML)"`
	DryRun bool   `json:"dry_run,omitempty" jsonschema:"when true, show exactly what would change and change nothing"`
}

type postMessageOut struct {
	DryRun    bool   `json:"dry_run"`
	Applied   bool   `json:"applied"`
	Record    string `json:"record"`
	Body      string `json:"body"`
	MessageID int    `json:"message_id,omitempty"`
}

func (o *odooServer) postMessage(ctx context.Context, c *Call, in postMessageIn) (postMessageOut, error) {
	if err := o.policy.CanWrite(in.Model); err != nil {
		return postMessageOut{}, err
	}
	if strings.TrimSpace(in.Body) == "" || in.ID <= 0 {
		return postMessageOut{}, fmt.Errorf("give the record id and a non-empty body")
	}
	rec := fmt.Sprintf("%s/%d", in.Model, in.ID)
	c.Target("odoo:" + rec)
	out := postMessageOut{DryRun: c.DryRun, Record: rec, Body: in.Body}
	var cur []map[string]any
	if err := o.c.Read(ctx, in.Model, []int{in.ID}, []string{"display_name"}, &cur); err != nil {
		return postMessageOut{}, odooErr(err)
	}
	if c.DryRun {
		return out, nil
	}
	id, err := o.c.MessagePost(ctx, in.Model, in.ID,
		map[string]any{"body": in.Body, "message_type": "comment", "subtype_xmlid": "mail.mt_note"})
	if err != nil {
		return postMessageOut{}, odooErr(err)
	}
	out.Applied, out.MessageID = true, id
	return out, nil
}

// resource serves odoo://{model}/{id}.
func (o *odooServer) resource(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	u, err := url.Parse(req.Params.URI)
	if err != nil || u.Scheme != "odoo" {
		return nil, mcp.ResourceNotFoundError(req.Params.URI)
	}
	model := u.Host
	id, err := strconv.Atoi(strings.Trim(u.Path, "/"))
	if err != nil || model == "" {
		return nil, fmt.Errorf("resource %s: expected odoo://<model>/<id>, e.g. odoo://res.partner/7", req.Params.URI)
	}
	p, ok := o.env.callerOf(req.Extra)
	if !ok || !(p.HasScope(ReadScope(Odoo)) || p.HasScope(WriteScope(Odoo))) {
		return nil, fmt.Errorf("reading %s needs the scope %s", req.Params.URI, ReadScope(Odoo))
	}
	if err := o.policy.CanRead(model); err != nil {
		return nil, err
	}
	fields, err := o.readFields(ctx, model, nil)
	if err != nil {
		return nil, err
	}
	var recs []map[string]any
	if err := o.c.Read(ctx, model, []int{id}, fields, &recs); err != nil {
		return nil, odooErr(err)
	}
	o.policy.Filter(recs)
	if len(recs) == 0 {
		return nil, mcp.ResourceNotFoundError(req.Params.URI)
	}
	b, _ := json.Marshal(recs[0])
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, MIMEType: "application/json", Text: string(b)}}}, nil
}
