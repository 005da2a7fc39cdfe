package odoo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Notification is one "Send Webhook Notification" payload: Odoo 17/18
// server actions of state "webhook" POST {"_model", "_id", "_action":
// "<action name>(#<action id>)"} plus the selected fields, read with
// load=None (many2one values are bare ids) and dumped with str() for dates.
type Notification struct {
	Model string
	ID    int64
	// ActionName is the server action's "<name>(#<id>)" as sent ("" if absent).
	ActionName string
	// Action is the event verb: create, write, unlink … (see ParseWebhook).
	Action string
	// Body is the JSON object itself (unwrapped from a JSON-RPC envelope).
	Body []byte

	doc map[string]json.RawMessage
}

// ActionPrefix starts the name of server actions ipai installs; the rest of
// the name is the verb ("ipai:write").
const ActionPrefix = "ipai:"

var (
	modelRe  = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$`)
	verbRe   = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	actionRe = regexp.MustCompile(`\s*\(#\d+\)\s*$`)
)

// ParseWebhook reads a Send Webhook Notification body. It tolerates the
// variants seen in the wild: `_name` instead of `_action`, `_id` as a number
// or a numeric string, `model`/`id` without underscores, and the payload
// wrapped in a JSON-RPC envelope ({"jsonrpc":"2.0","params":{…}}).
//
// The verb is, in order: the part after "ipai:" in the server action's name
// (Odoo 17.0 keeps the name ipai gives; 17.2+ and 18 rename it, see
// SetAction); for "ipai:create_or_write" and actions ipai did not name,
// "create" when create_date equals write_date (Odoo sets both from one
// clock reading, to the microsecond) and "write" when they differ; else
// "notify".
func ParseWebhook(body []byte) (Notification, error) {
	var n Notification
	var doc map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return n, errors.New("body is not a JSON object (expected an Odoo webhook payload with _model and _id)")
	}
	if dec.More() {
		return n, errors.New("body has data after the JSON object")
	}
	if p, ok := doc["params"]; ok && doc["jsonrpc"] != nil {
		var inner map[string]json.RawMessage
		if err := json.Unmarshal(p, &inner); err != nil {
			return n, errors.New("JSON-RPC params is not an object")
		}
		doc, body = inner, p
	}
	n.Body = body
	str := func(keys ...string) (string, bool) {
		for _, k := range keys {
			if raw, ok := doc[k]; ok {
				var s string
				if json.Unmarshal(raw, &s) == nil {
					return s, true
				}
			}
		}
		return "", false
	}
	model, ok := str("_model", "model")
	if !ok || !modelRe.MatchString(model) || len(model) > 128 {
		return n, fmt.Errorf("_model missing or not an Odoo model name (got %q)", truncate(model))
	}
	n.Model = model
	idRaw, ok := doc["_id"]
	if !ok {
		idRaw, ok = doc["id"]
	}
	if !ok {
		return n, errors.New("_id is missing")
	}
	id, err := parseID(idRaw)
	if err != nil {
		return n, err
	}
	n.ID = id
	n.ActionName, _ = str("_action", "_name")
	n.Action = verb(n.ActionName, doc)
	n.doc = doc
	return n, nil
}

// SetAction applies the verb a webhook URL names (?action=<verb>, which
// InstallWebhook puts there: Odoo 17.2+ renames every webhook server action
// of an automation rule to "Send Webhook Notification", so the action name
// cannot carry it). "create_or_write" is told apart by create_date and
// write_date as ParseWebhook does.
func (n *Notification) SetAction(v string) {
	switch v {
	case "create_or_write":
		n.Action = verb("", n.doc)
	case "write":
		// An on_write rule fires on the writes Odoo makes inside a create
		// (res.partner: 14 posts for one create on Odoo 18): create_date
		// equal to write_date, to the microsecond, means the create.
		if verb("", n.doc) == "create" {
			n.Action = "create"
			return
		}
		n.Action = v
	default:
		n.Action = v
	}
}

func parseID(raw json.RawMessage) (int64, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return 0, errors.New("_id is not valid JSON")
	}
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = strings.TrimSpace(x)
	default:
		return 0, fmt.Errorf("_id must be a record id, got %s", truncate(string(raw)))
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("_id must be a positive record id, got %s", truncate(s))
	}
	return id, nil
}

func verb(actionName string, doc map[string]json.RawMessage) string {
	name := strings.TrimSpace(actionRe.ReplaceAllString(actionName, ""))
	if v, ok := strings.CutPrefix(name, ActionPrefix); ok {
		v = strings.TrimSpace(v)
		if verbRe.MatchString(v) && len(v) <= 64 && v != "create_or_write" {
			return v
		}
	}
	var created, written string
	_ = json.Unmarshal(doc["create_date"], &created)
	_ = json.Unmarshal(doc["write_date"], &written)
	switch {
	case created != "" && created == written:
		return "create"
	case created != "" && written != "":
		return "write"
	}
	return "notify"
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
