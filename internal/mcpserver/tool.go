package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/auth"
)

// Every write tool's input has a dry_run field; the safety layer reads it
// from the raw arguments, so a dry run needs only the read scope.
func isDryRun(req *mcp.CallToolRequest) bool {
	if req == nil || req.Params == nil || len(req.Params.Arguments) == 0 {
		return false
	}
	var a struct {
		DryRun bool `json:"dry_run"`
	}
	_ = json.Unmarshal(req.Params.Arguments, &a)
	return a.DryRun
}

// Call is the context of one tool call, given to handlers.
type Call struct {
	Server, Tool string
	Caller       auth.Principal
	DryRun       bool
	target       string
	fields       map[string]any
}

// Target names what the call touched (e.g. "res.partner/7") for the audit log.
func (c *Call) Target(t string) { c.target = t }

// Note adds a field to the call's audit entry.
func (c *Call) Note(k string, v any) {
	if c.fields == nil {
		c.fields = map[string]any{}
	}
	c.fields[k] = v
}

// Can reports whether the caller has the server's scope (read or write).
func (c *Call) Can(write bool) bool {
	if write {
		return c.Caller.HasScope(WriteScope(c.Server))
	}
	return c.Caller.HasScope(ReadScope(c.Server)) || c.Caller.HasScope(WriteScope(c.Server))
}

// Handler is a tool's typed handler.
type Handler[In, Out any] func(ctx context.Context, c *Call, in In) (Out, error)

// addTool registers a tool behind the safety layer: scope check (read tools
// need mcp:<server>:read or :write; write tools need :write unless the call
// is a dry run), rate limit, and one audit entry per call.
func addTool[In, Out any](e *Env, s *mcp.Server, server string, write bool, t *mcp.Tool, h Handler[In, Out]) {
	if t.Annotations == nil {
		t.Annotations = &mcp.ToolAnnotations{}
	}
	t.Annotations.ReadOnlyHint = !write
	if write {
		f := false
		t.Annotations.DestructiveHint = &f
	}
	if t.InputSchema == nil {
		if is := schemaFor[In](); is != nil {
			t.InputSchema = is
		}
	}
	if t.OutputSchema == nil {
		if os := schemaFor[Out](); os != nil {
			t.OutputSchema = os
		}
	}
	guarded := func(ctx context.Context, req *mcp.CallToolRequest, in In) (*mcp.CallToolResult, Out, error) {
		start := time.Now()
		var zero Out
		c := &Call{Server: server, Tool: t.Name}
		c.DryRun = write && isDryRun(req)
		var extra *mcp.RequestExtra
		if req != nil {
			extra = req.Extra
		}
		p, ok := e.callerOf(extra)
		c.Caller = p
		var out Out
		var err error
		switch {
		case !ok:
			err = refuse("%s: no credentials: call with a bearer token that carries %s", t.Name, ReadScope(server))
		case !c.Can(false):
			err = refuse("%s needs the scope %s; your token has none of this server's scopes (create one with: ipai token create --scopes %s)",
				t.Name, ReadScope(server), ReadScope(server))
		case write && !c.DryRun && !c.Can(true):
			err = refuse("%s changes data and needs the scope %s, which your token lacks; call it with dry_run: true to preview, or use a token created with --scopes %s",
				t.Name, WriteScope(server), WriteScope(server))
		case !e.allow(p.ID):
			err = refuse("%s: rate limit of %d tool calls a minute reached for %s; wait and retry", t.Name, e.PerMinute, p.Name)
		default:
			out, err = h(ctx, c, in)
		}
		e.record(ctx, c, write, req, start, err)
		if err != nil {
			return nil, zero, err
		}
		return nil, out, nil
	}
	is, _ := t.InputSchema.(*jsonschema.Schema)
	if is == nil || is.Type != "object" {
		mcp.AddTool(s, t, guarded) // let the SDK infer (or report) the schema
		return
	}
	in, err := is.Resolve(&jsonschema.ResolveOptions{ValidateDefaults: true})
	if err != nil {
		panic(fmt.Sprintf("mcp tool %s: input schema: %v", t.Name, err))
	}
	s.AddTool(t, rawHandler(in, hasDefault(is), guarded))
}

// rawHandler does what mcp.AddTool's typed handler does — validate the
// arguments against the input schema (defaults applied), decode them, call
// h, and return its output as structured content plus the same JSON as
// text — with one JSON decode of the arguments instead of three and one
// encode of the output; the output is not validated against the output
// schema, which is inferred from Out itself.
func rawHandler[In, Out any](in *jsonschema.Resolved, defaults bool, h func(context.Context, *mcp.CallToolRequest, In) (*mcp.CallToolResult, Out, error)) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		args := json.RawMessage("{}")
		if req.Params != nil && len(req.Params.Arguments) > 0 {
			args = req.Params.Arguments
		}
		var m map[string]any
		if err := json.Unmarshal(args, &m); err != nil {
			return toolError(fmt.Errorf("validating \"arguments\": unmarshaling arguments: %w", err)), nil
		}
		if m == nil {
			m = map[string]any{}
		}
		if defaults {
			var v any = m
			if err := in.ApplyDefaults(&v); err != nil {
				return toolError(fmt.Errorf("validating \"arguments\": applying schema defaults: %w", err)), nil
			}
			b, err := json.Marshal(v)
			if err != nil {
				return nil, err
			}
			args = b
		}
		if err := in.Validate(m); err != nil {
			return toolError(fmt.Errorf("validating \"arguments\": %w", err)), nil
		}
		var input In
		if err := json.Unmarshal(args, &input); err != nil {
			return toolError(err), nil
		}
		res, out, err := h(ctx, req, input)
		if err != nil {
			var wire *jsonrpc.Error
			if errors.As(err, &wire) {
				return nil, wire
			}
			return toolError(err), nil
		}
		if res == nil {
			res = &mcp.CallToolResult{}
		}
		var outval any = out
		if rv := reflect.ValueOf(out); rv.Kind() == reflect.Pointer && rv.IsNil() {
			outval = reflect.New(rv.Type().Elem()).Interface()
		}
		b, err := json.Marshal(outval)
		if err != nil {
			return nil, fmt.Errorf("marshaling output: %w", err)
		}
		res.StructuredContent = json.RawMessage(b)
		if res.Content == nil {
			res.Content = []mcp.Content{&mcp.TextContent{Text: string(b)}}
		}
		return res, nil
	}
}

// nonNil returns s, or an empty slice when s is nil (JSON [] rather than null).
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// mapSlice returns f of every element of s, never nil.
func mapSlice[S, T any](s []S, f func(S) T) []T {
	out := make([]T, 0, len(s))
	for _, v := range s {
		out = append(out, f(v))
	}
	return out
}

// clampN returns n, or def when n is not positive.
func clampN(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

func toolError(err error) *mcp.CallToolResult {
	var r mcp.CallToolResult
	r.SetError(err)
	return &r
}

// hasDefault reports whether a schema (or one of its sub-schemas) has a
// default value.
func hasDefault(s *jsonschema.Schema) bool {
	if s == nil {
		return false
	}
	if s.Default != nil {
		return true
	}
	subs := []*jsonschema.Schema{s.Items, s.AdditionalProperties, s.Not}
	subs = append(subs, s.PrefixItems...)
	subs = append(subs, s.AnyOf...)
	subs = append(subs, s.OneOf...)
	subs = append(subs, s.AllOf...)
	for _, p := range s.Properties {
		subs = append(subs, p)
	}
	for _, p := range s.Defs {
		subs = append(subs, p)
	}
	for _, p := range subs {
		if hasDefault(p) {
			return true
		}
	}
	return false
}

// record writes the audit entry of a call. Writes are audited before the
// answer goes out; the others are queued and written in batches (see queue).
func (e *Env) record(ctx context.Context, c *Call, write bool, req *mcp.CallToolRequest, start time.Time, err error) {
	outcome, level, msg := "ok", audit.Info, ""
	switch {
	case err != nil && IsRefusal(err):
		outcome, level, msg = "refused", audit.Warning, err.Error()
	case err != nil:
		outcome, level, msg = "error", audit.Error, err.Error()
	case c.DryRun:
		outcome = "dry_run"
	}
	var args json.RawMessage
	if req != nil && req.Params != nil {
		args = req.Params.Arguments
	}
	fields := map[string]any{"server": c.Server, "tool": c.Tool, "arguments": MaskJSON(args),
		"outcome": outcome, "write": write}
	for k, v := range c.fields {
		fields[k] = v
	}
	target := c.Server + "/" + c.Tool
	if c.target != "" {
		target = c.target
	}
	actor := c.Caller.ID
	if actor == "" {
		actor = "anonymous"
	}
	ent := audit.Entry{At: time.Now(), Actor: actor, IP: c.Caller.IP, Action: "mcp.tool_call", Level: level, Target: target,
		Message: msg, DurationMS: time.Since(start).Milliseconds(), Fields: fields}
	if e.Audit == nil {
		return
	}
	if write && outcome == "ok" {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if werr := e.Audit.Write(wctx, ent); werr != nil {
			e.logger().Error("mcp audit write failed", "tool", c.Tool, "err", werr)
		}
		return
	}
	e.queue(ent)
}

// Reads, dry runs, refusals and errors are audited in the background, in
// batches: one transaction per auditBatchDelay (or auditBatchMax entries)
// instead of one per call, so a busy agent does not keep the store's
// writer (and the token lookups queued behind it) busy. Flush writes what
// is queued and waits.
const (
	auditBatchDelay = 20 * time.Millisecond
	auditBatchMax   = 256
)

// batchAuditor is an Auditor that commits many entries at once (*audit.Log).
type batchAuditor interface {
	WriteAll(ctx context.Context, es []audit.Entry) error
}

var _ batchAuditor = (*audit.Log)(nil)

func (e *Env) queue(ent audit.Entry) {
	e.pending.Add(1)
	e.qmu.Lock()
	e.queued = append(e.queued, ent)
	n := len(e.queued)
	e.qmu.Unlock()
	switch {
	case n >= auditBatchMax:
		go e.writeQueued()
	case n == 1:
		time.AfterFunc(auditBatchDelay, e.writeQueued)
	}
}

// writeQueued writes the queued entries.
func (e *Env) writeQueued() {
	e.qmu.Lock()
	batch := e.queued
	e.queued = nil
	e.qmu.Unlock()
	if len(batch) == 0 {
		return
	}
	defer e.pending.Add(-len(batch))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if ba, ok := e.Audit.(batchAuditor); ok {
		if err := ba.WriteAll(ctx, batch); err != nil {
			e.logger().Error("mcp audit write failed", "entries", len(batch), "err", err)
		}
		return
	}
	for _, ent := range batch {
		if err := e.Audit.Write(ctx, ent); err != nil {
			e.logger().Error("mcp audit write failed", "target", ent.Target, "err", err)
		}
	}
}

// secretish reports keys whose values are never logged.
func secretish(k string) bool {
	k = strings.ToLower(k)
	for _, s := range []string{"password", "passwd", "secret", "token", "api_key", "apikey", "authorization", "credential", "private_key"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// maxArgText bounds how much of a string argument an audit entry keeps.
const maxArgText = 512

// MaskJSON decodes tool arguments and replaces secret values by "***" and
// long strings by their start.
func MaskJSON(raw json.RawMessage) any {
	if len(raw) == 0 {
		return map[string]any{}
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Sprintf("(unparsable arguments, %d bytes)", len(raw))
	}
	return mask(v)
}

func mask(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			if secretish(k) {
				out[k] = "***"
				continue
			}
			out[k] = mask(val)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = mask(val)
		}
		return out
	case string:
		if len(x) > maxArgText {
			return x[:maxArgText] + "…"
		}
	}
	return v
}
