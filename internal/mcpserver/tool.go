package mcpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

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
	mcp.AddTool(s, t, func(ctx context.Context, req *mcp.CallToolRequest, in In) (*mcp.CallToolResult, Out, error) {
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
	})
}

// record writes the audit entry of a call. Writes are audited before the
// answer goes out; reads are audited in the background (Flush waits).
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
	ent := audit.Entry{Actor: actor, IP: c.Caller.IP, Action: "mcp.tool_call", Level: level, Target: target,
		Message: msg, DurationMS: time.Since(start).Milliseconds(), Fields: fields}
	if e.Audit == nil {
		return
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	if write && outcome == "ok" {
		defer cancel()
		if werr := e.Audit.Write(wctx, ent); werr != nil {
			e.logger().Error("mcp audit write failed", "tool", c.Tool, "err", werr)
		}
		return
	}
	e.pending.Add(1)
	go func() {
		defer e.pending.Done()
		defer cancel()
		if werr := e.Audit.Write(wctx, ent); werr != nil {
			e.logger().Error("mcp audit write failed", "tool", c.Tool, "err", werr)
		}
	}()
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
