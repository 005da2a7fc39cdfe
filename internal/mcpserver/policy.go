package mcpserver

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Policy is the MCP part of the configuration (a YAML file given with
// --mcp-policy or IPAI_MCP_POLICY): what agents may read and write.
//
//	rate_limit_per_minute: 120
//	odoo:
//	  read_models: [res.partner, account.move]   # empty: every model not denied
//	  write_models: [res.partner]                 # empty: no writes at all
//	  fields: {res.partner: [name, email, phone]} # per-model field allow-list
//	  call_methods: [res.partner.name_search]     # odoo_call allow-list, model.method
type Policy struct {
	RateLimitPerMinute int        `yaml:"rate_limit_per_minute"`
	Odoo               OdooPolicy `yaml:"odoo"`
	// TrustedOrigins are browser origins allowed to call /mcp/* besides the
	// hub's own (e.g. https://inspector.example.com).
	TrustedOrigins []string `yaml:"trusted_origins"`
}

// OdooPolicy is the Odoo allow-list. Writes are denied by default.
type OdooPolicy struct {
	ReadModels  []string            `yaml:"read_models"`
	WriteModels []string            `yaml:"write_models"`
	Fields      map[string][]string `yaml:"fields"`
	CallMethods []string            `yaml:"call_methods"`
}

// deniedModels are never exposed: credentials, raw SQL-ish and config models.
var deniedModels = []string{"res.users.apikeys", "ir.config_parameter", "ir.cron", "ir.rule", "ir.model.access",
	"ir.attachment", "res.users.identitycheck", "auth_totp.device", "base.module.update"}

// deniedFields are never read or written, on any model.
var deniedFields = []string{"password", "new_password", "api_key_ids", "totp_secret", "signature", "oauth_access_token"}

// LoadPolicy reads a policy file; "" gives the default (reads of non-denied
// models, no writes).
func LoadPolicy(path string) (Policy, error) {
	var p Policy
	if path == "" {
		return p, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return p, fmt.Errorf("read mcp policy: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil && !errors.Is(err, io.EOF) {
		return p, fmt.Errorf("mcp policy %s: %w (expected keys: rate_limit_per_minute, trusted_origins, odoo.read_models, odoo.write_models, odoo.fields, odoo.call_methods)", path, err)
	}
	return p, p.Validate()
}

// Validate checks the policy.
func (p Policy) Validate() error {
	if p.RateLimitPerMinute < 0 {
		return errors.New("mcp policy: rate_limit_per_minute must be 0 (no limit) or more")
	}
	for _, m := range p.Odoo.CallMethods {
		if i := strings.LastIndex(m, "."); i <= 0 || i == len(m)-1 {
			return fmt.Errorf("mcp policy: odoo.call_methods entry %q must be model.method, e.g. res.partner.name_search", m)
		}
	}
	for _, m := range p.Odoo.WriteModels {
		if slices.Contains(deniedModels, m) {
			return fmt.Errorf("mcp policy: odoo.write_models lists %s, which ipai never exposes to agents", m)
		}
	}
	return nil
}

// CanRead reports whether agents may read model.
func (o OdooPolicy) CanRead(model string) error {
	if slices.Contains(deniedModels, model) {
		return refuse("model %s is never exposed to agents", model)
	}
	if len(o.ReadModels) > 0 && !slices.Contains(o.ReadModels, model) && !slices.Contains(o.WriteModels, model) {
		return refuse("model %s is not in the read allow-list (odoo.read_models in the MCP policy); allowed: %s", model, strings.Join(o.ReadModels, ", "))
	}
	return nil
}

// CanWrite reports whether agents may write model.
func (o OdooPolicy) CanWrite(model string) error {
	if slices.Contains(deniedModels, model) {
		return refuse("model %s is never exposed to agents", model)
	}
	if !slices.Contains(o.WriteModels, model) {
		allowed := "none"
		if len(o.WriteModels) > 0 {
			allowed = strings.Join(o.WriteModels, ", ")
		}
		return refuse("writes to %s are not allowed: add it to odoo.write_models in the MCP policy (allowed now: %s)", model, allowed)
	}
	return nil
}

// CheckFields refuses fields outside the model's allow-list or denied.
func (o OdooPolicy) CheckFields(model string, fields []string) error {
	allow := o.Fields[model]
	for _, f := range fields {
		if slices.Contains(deniedFields, f) {
			return refuse("field %s.%s is never exposed to agents", model, f)
		}
		if len(allow) > 0 && f != "id" && !slices.Contains(allow, f) {
			return refuse("field %s.%s is not in the field allow-list (odoo.fields.%s: %s)", model, f, model, strings.Join(allow, ", "))
		}
	}
	return nil
}

// ReadFields returns the fields to read: the requested ones (checked), or
// the allow-list when none were asked for (nil: all, then filtered).
func (o OdooPolicy) ReadFields(model string, asked []string) ([]string, error) {
	if len(asked) > 0 {
		return asked, o.CheckFields(model, asked)
	}
	if allow := o.Fields[model]; len(allow) > 0 {
		return append([]string{"id"}, allow...), nil
	}
	return nil, nil
}

// Filter drops denied fields from records (when all fields were read).
func (o OdooPolicy) Filter(recs []map[string]any) {
	for _, r := range recs {
		for _, f := range deniedFields {
			delete(r, f)
		}
	}
}

// CanCall reports whether odoo_call may run model.method.
func (o OdooPolicy) CanCall(model, method string) error {
	if slices.Contains(o.CallMethods, model+"."+method) {
		return nil
	}
	allowed := "none"
	if len(o.CallMethods) > 0 {
		allowed = strings.Join(o.CallMethods, ", ")
	}
	return refuse("%s.%s is not in the method allow-list: add it to odoo.call_methods in the MCP policy (allowed now: %s)", model, method, allowed)
}
