package n8nflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/insightpulseai/ipai/internal/audit"
)

// TriggerRequest is the body of POST /integrations/n8n/trigger/{action}.
type TriggerRequest struct {
	Model    string         `json:"model"`
	Values   map[string]any `json:"values"`
	RecordID int64          `json:"record_id"`
	Method   string         `json:"method"`
	Args     []any          `json:"args"`
	Kwargs   map[string]any `json:"kwargs"`
}

// Actions n8n may call.
var Actions = []string{"create_record", "update_record", "run_method"}

// ErrRefused marks a call the policy does not allow (403).
var ErrRefused = errors.New("refused")

// MethodAllowed reports whether n8n may call method: the prefixes action_,
// button_ and _handle_, or an allow-listed name; never dunder methods.
func MethodAllowed(method string, allow []string) bool {
	if method == "" || strings.HasPrefix(method, "__") || strings.ContainsAny(method, " .") {
		return false
	}
	for _, p := range []string{"action_", "button_", "_handle_"} {
		if strings.HasPrefix(method, p) {
			return true
		}
	}
	for _, a := range allow {
		if a == method {
			return true
		}
	}
	return false
}

// ParseTrigger reads a trigger body strictly.
func ParseTrigger(action string, body []byte) (TriggerRequest, error) {
	var t TriggerRequest
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return t, fmt.Errorf("body is not valid for %s: %v", action, err)
	}
	switch action {
	case "create_record":
		if t.Model == "" || t.Values == nil {
			return t, errors.New("create_record needs model and values")
		}
	case "update_record":
		if t.Model == "" || t.RecordID <= 0 || t.Values == nil {
			return t, errors.New("update_record needs model, record_id and values")
		}
	case "run_method":
		if t.Model == "" || t.Method == "" {
			return t, errors.New("run_method needs model and method")
		}
	default:
		return t, fmt.Errorf("unknown action %q; expected one of %s", action, strings.Join(Actions, ", "))
	}
	return t, nil
}

// Trigger runs an Odoo action for n8n as the configured integration user
// (never the superuser) on an allow-listed model, and audits it.
func (f *Service) Trigger(ctx context.Context, action string, t TriggerRequest) (map[string]any, error) {
	entry := audit.Entry{Actor: "n8n", Action: "n8n.trigger." + action, Target: t.Model,
		Fields: map[string]any{"record_id": t.RecordID, "method": t.Method}}
	refuse := func(format string, args ...any) (map[string]any, error) {
		entry.Level, entry.Message = audit.Warning, fmt.Sprintf(format, args...)
		f.audit(ctx, entry)
		return nil, fmt.Errorf("%w: %s", ErrRefused, entry.Message)
	}
	if f.Cfg.Odoo == "" {
		return refuse("no Odoo integration user is configured (chatops.n8n.odoo)")
	}
	allowed := false
	for _, m := range f.Cfg.Models {
		allowed = allowed || m == t.Model
	}
	if !allowed {
		return refuse("model %s is not in chatops.n8n.models", t.Model)
	}
	if action == "run_method" && !MethodAllowed(t.Method, f.Cfg.Methods) {
		return refuse("method %s is not allowed: use an action_, button_ or _handle_ method or add it to chatops.n8n.methods", t.Method)
	}
	cl, err := f.Clients.Odoo(ctx, f.Cfg.Odoo)
	if err != nil {
		return nil, err
	}
	uid, err := cl.Authenticate(ctx)
	if err != nil {
		return nil, fmt.Errorf("odoo login: %w", err)
	}
	if uid == 1 {
		return refuse("connector %s logs in as the superuser (uid 1); use an integration user", f.Cfg.Odoo)
	}
	// On Odoo 12+ the admin is uid 2: refuse any Settings administrator.
	var admin bool
	if err := cl.ExecuteKW(ctx, "res.users", "has_group", []any{[]any{uid}, "base.group_system"}, nil, &admin); err != nil {
		return nil, fmt.Errorf("odoo: check whether the integration user is an administrator: %w", err)
	}
	if admin {
		return refuse("connector %s logs in as an administrator (uid %d is in base.group_system); use an integration user without the Settings right", f.Cfg.Odoo, uid)
	}
	var out map[string]any
	switch action {
	case "create_record":
		id, err := cl.Create(ctx, t.Model, t.Values)
		if err == nil {
			var names []map[string]any
			_ = cl.Read(ctx, t.Model, []int{id}, []string{"display_name"}, &names)
			out = map[string]any{"status": "success", "record_id": id}
			if len(names) == 1 {
				out["record_name"] = names[0]["display_name"]
			}
		}
		entry.Fields["record_id"] = id
		err = wrapOdoo(err)
		if err != nil {
			return f.fail(ctx, entry, err)
		}
	case "update_record":
		if err := cl.Write(ctx, t.Model, []int{int(t.RecordID)}, t.Values); err != nil {
			return f.fail(ctx, entry, wrapOdoo(err))
		}
		out = map[string]any{"status": "success", "record_id": t.RecordID}
	case "run_method":
		args := t.Args
		if t.RecordID > 0 {
			args = append([]any{[]any{t.RecordID}}, args...)
		}
		if args == nil {
			args = []any{}
		}
		var res json.RawMessage
		if err := cl.ExecuteKW(ctx, t.Model, t.Method, args, t.Kwargs, &res); err != nil {
			return f.fail(ctx, entry, wrapOdoo(err))
		}
		out = map[string]any{"status": "success", "result": string(res)}
	}
	entry.Message = "ok"
	f.audit(ctx, entry)
	return out, nil
}

func wrapOdoo(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("odoo: %w", err)
}

func (f *Service) fail(ctx context.Context, e audit.Entry, err error) (map[string]any, error) {
	e.Level, e.Message = audit.Error, err.Error()
	f.audit(ctx, e)
	return nil, err
}
