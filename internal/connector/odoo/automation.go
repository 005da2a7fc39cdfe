package odoo

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// Triggers lists the automation triggers InstallWebhook accepts, with the
// verb its events get (see ParseWebhook). create_or_write events are told
// apart by create_date and write_date, which are always sent.
var Triggers = map[string]string{
	"on_create":          "create",
	"on_write":           "write",
	"on_create_or_write": "create_or_write",
	"on_unlink":          "unlink",
	"on_archive":         "archive",
	"on_unarchive":       "unarchive",
}

// WebhookInstall says what automation rule to create.
type WebhookInstall struct {
	Model   string   // e.g. purchase.order
	Trigger string   // a key of Triggers
	Fields  []string // fields sent with each notification
	URL     string   // where Odoo posts (with the token)
	// FilterDomain optionally restricts records (Odoo domain as text, e.g.
	// [("state", "=", "to approve")]).
	FilterDomain string
	// Replace deletes an automation rule of the same name first.
	Replace bool
}

// Installed is what InstallWebhook created.
type Installed struct {
	AutomationID int
	Name         string
	Fields       []string
}

// ErrInstalled is returned when the automation already exists and Replace is off.
var ErrInstalled = errors.New("automation rule already installed")

// AutomationName is the name InstallWebhook gives the rule of a model and trigger.
func AutomationName(model, trigger string) string { return "ipai: " + model + " " + trigger }

// InstallWebhook creates a base.automation rule on the model with one
// ir.actions.server of state "webhook" (Odoo 17+ "Send Webhook
// Notification") posting the fields to in.URL with "action=<verb>" added to
// its query, so that ipai knows which event it is (Odoo 17.2+ and 18 rename
// the server action; the name "ipai:<verb>" serves Odoo 17.0).
func (c *Client) InstallWebhook(ctx context.Context, in WebhookInstall) (Installed, error) {
	verb, ok := Triggers[in.Trigger]
	if !ok {
		keys := make([]string, 0, len(Triggers))
		for k := range Triggers {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return Installed{}, fmt.Errorf("trigger %q is not supported; use one of: %s", in.Trigger, strings.Join(keys, ", "))
	}
	if !modelRe.MatchString(in.Model) {
		return Installed{}, fmt.Errorf("model %q is not an Odoo model name (e.g. purchase.order)", in.Model)
	}
	if in.URL == "" {
		return Installed{}, errors.New("the webhook URL is required")
	}
	hook, err := url.Parse(in.URL)
	if err != nil || (hook.Scheme != "http" && hook.Scheme != "https") || hook.Host == "" {
		return Installed{}, fmt.Errorf("webhook URL %q is not an http(s) URL", in.URL)
	}
	// The verb travels in the URL: Odoo 17.2+ renames the server action to
	// "Send Webhook Notification" but keeps the URL as given.
	q := hook.Query()
	q.Set("action", verb)
	hook.RawQuery = q.Encode()
	var models []struct {
		ID int `json:"id"`
	}
	if err := c.SearchRead(ctx, "ir.model", []any{[]any{"model", "=", in.Model}}, map[string]any{"fields": []string{"id"}}, &models); err != nil {
		return Installed{}, fmt.Errorf("look up model %s: %w", in.Model, err)
	}
	if len(models) == 0 {
		return Installed{}, fmt.Errorf("Odoo has no model %q (is its module installed?)", in.Model)
	}
	modelID := models[0].ID
	want := map[string]bool{"create_date": true, "write_date": true}
	for _, f := range in.Fields {
		if f = strings.TrimSpace(f); f != "" {
			want[f] = true
		}
	}
	names := make([]string, 0, len(want))
	for f := range want {
		names = append(names, f)
	}
	sort.Strings(names)
	var fields []struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	}
	if err := c.SearchRead(ctx, "ir.model.fields", []any{[]any{"model", "=", in.Model}, []any{"name", "in", names}},
		map[string]any{"fields": []string{"id", "name"}}, &fields); err != nil {
		return Installed{}, fmt.Errorf("look up fields: %w", err)
	}
	found := map[string]bool{}
	var fieldIDs []any
	for _, f := range fields {
		found[f.Name] = true
		fieldIDs = append(fieldIDs, f.ID)
	}
	for _, n := range names {
		if !found[n] {
			return Installed{}, fmt.Errorf("model %s has no field %q", in.Model, n)
		}
	}
	name := AutomationName(in.Model, in.Trigger)
	existing, err := c.Search(ctx, "base.automation", []any{[]any{"name", "=", name}}, nil)
	if err != nil {
		return Installed{}, fmt.Errorf("look up automation rules: %w", err)
	}
	if len(existing) > 0 {
		if !in.Replace {
			return Installed{}, fmt.Errorf("%w: %q (id %d); pass --replace to recreate it", ErrInstalled, name, existing[0])
		}
		var ok bool
		if err := c.ExecuteKW(ctx, "base.automation", "unlink", []any{existing}, nil, &ok); err != nil {
			return Installed{}, fmt.Errorf("remove the old automation rule: %w", err)
		}
	}
	vals := map[string]any{
		"name": name, "model_id": modelID, "trigger": in.Trigger, "active": true,
		"action_server_ids": []any{[]any{0, 0, map[string]any{
			"name": ActionPrefix + verb, "model_id": modelID, "state": "webhook", "usage": "base_automation",
			"webhook_url": hook.String(), "webhook_field_ids": []any{[]any{6, 0, fieldIDs}},
		}}},
	}
	if in.FilterDomain != "" {
		vals["filter_domain"] = filterDomain(in.Trigger, in.FilterDomain)
	}
	id, err := c.Create(ctx, "base.automation", vals)
	if err != nil {
		return Installed{}, fmt.Errorf("create the automation rule: %w", err)
	}
	return Installed{AutomationID: id, Name: name, Fields: names}, nil
}

// filterDomain is the rule's filter_domain for a user's domain. Odoo
// computes on_archive's as [("active", "=", False)] (on_unarchive's True)
// and a given one replaces it: the rule would then fire on archive and
// unarchive alike (seen on Odoo 18), so the active term is kept in front.
func filterDomain(trigger, domain string) string {
	d := strings.TrimSpace(domain)
	var active string
	switch trigger {
	case "on_archive":
		active = `("active", "=", False)`
	case "on_unarchive":
		active = `("active", "=", True)`
	default:
		return domain
	}
	inner := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(d, "["), "]"))
	if inner == "" {
		return "[" + active + "]"
	}
	return "[" + active + ", " + inner + "]"
}
