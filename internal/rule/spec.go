package rule

import (
	"fmt"
	"sort"
	"strings"
)

// Action kinds a rule can run. Each becomes its own durable delivery.
const (
	KindWebhook    = "webhook"
	KindMattermost = "mattermost.post"
	KindN8N        = "n8n.trigger"
	KindOdoo       = "odoo.call"
	KindSupabase   = "supabase.insert"
	KindFocalboard = "focalboard.card"
)

// Kinds lists the action kinds rules accept, sorted.
func Kinds() []string {
	return []string{KindFocalboard, KindApproval, KindMattermost, KindN8N, KindOdoo, KindSupabase, KindWebhook, KindWorkItem}
}

// Spec is a routing rule as written in ipai.yaml or sent to the API.
type Spec struct {
	Name    string `yaml:"name" json:"name"`
	Enabled *bool  `yaml:"enabled" json:"enabled,omitempty"` // default true
	Match   Match  `yaml:"match" json:"match"`
	// Condition is an expr-lang expression over the event (type, source,
	// data, received_at) that must be true for the actions to run; "" = always.
	Condition string   `yaml:"condition" json:"condition,omitempty"`
	Actions   []Action `yaml:"actions" json:"actions"`
}

// IsEnabled reports whether the rule runs (enabled unless set false).
func (s Spec) IsEnabled() bool { return s.Enabled == nil || *s.Enabled }

// Match selects events by source (connector code or hook id; "" = any) and
// type pattern ("odoo.purchase.order.*"; "" = "*").
type Match struct {
	Source string `yaml:"source" json:"source,omitempty"`
	Type   string `yaml:"type" json:"type,omitempty"`
}

// Action is one thing a rule does. Which fields apply depends on Kind; text
// fields are Go text/template templates rendered from the event when the
// action runs, and so are the string values inside Attachments, Body, Args,
// Kwargs and Row. Body, Args and Row may also be one template string that
// renders JSON.
type Action struct {
	Kind string `yaml:"kind" json:"kind"`

	// webhook, workitem: the outgoing endpoint's id.
	Endpoint string `yaml:"endpoint" json:"endpoint,omitempty"`

	// Connector is the code of the connector the action uses (all but webhook).
	Connector string `yaml:"connector" json:"connector,omitempty"`

	// mattermost.post: channel name (in the connector's team, or
	// "team/channel") or id, message text, Slack-style attachments.
	Channel     string   `yaml:"channel" json:"channel,omitempty"`
	Text        string   `yaml:"text" json:"text,omitempty"`
	Attachments any      `yaml:"attachments" json:"attachments,omitempty"`
	Mention     *Mention `yaml:"mention" json:"mention,omitempty"`

	// n8n.trigger: webhook path (production URL <base>/webhook/<path>) and body.
	Path string `yaml:"path" json:"path,omitempty"`
	Body any    `yaml:"body" json:"body,omitempty"`

	// odoo.call: model.method(*args, **kwargs).
	Model  string `yaml:"model" json:"model,omitempty"`
	Method string `yaml:"method" json:"method,omitempty"`
	Args   any    `yaml:"args" json:"args,omitempty"`
	Kwargs any    `yaml:"kwargs" json:"kwargs,omitempty"`

	// supabase.insert: table and row.
	Table string `yaml:"table" json:"table,omitempty"`
	Row   any    `yaml:"row" json:"row,omitempty"`

	// focalboard.card: board id (default: the connector's board) and title.
	Board string `yaml:"board" json:"board,omitempty"`
	Title string `yaml:"title" json:"title,omitempty"`

	// workitem: endpoint, title and these (see workitem.go).
	WorkItemFields `yaml:",inline"`
}

// Mention picks who to mention by amount, as the original approval flow
// did: the first threshold (highest first) the amount is over wins, else
// Default. Templates see the result as {{.mention}}.
type Mention struct {
	// Amount is an expr-lang expression over the event giving a number,
	// e.g. data.amount_total.
	Amount     string      `yaml:"amount" json:"amount"`
	Thresholds []Threshold `yaml:"thresholds" json:"thresholds,omitempty"`
	Default    string      `yaml:"default" json:"default,omitempty"`
}

// Threshold is one step of a Mention.
type Threshold struct {
	Over    float64 `yaml:"over" json:"over"`
	Mention string  `yaml:"mention" json:"mention"`
}

// FieldError names the input field at fault.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// kindFields lists, per kind, the fields it requires and those it allows.
var kindFields = map[string]struct{ required, allowed []string }{
	KindWebhook:    {[]string{"endpoint"}, nil},
	KindMattermost: {[]string{"connector", "channel"}, []string{"text", "attachments", "mention"}},
	KindN8N:        {[]string{"connector", "path"}, []string{"body", "mention"}},
	KindOdoo:       {[]string{"connector", "model", "method"}, []string{"args", "kwargs", "mention"}},
	KindSupabase:   {[]string{"connector", "table", "row"}, []string{"mention"}},
	KindFocalboard: {[]string{"connector", "title"}, []string{"board", "mention"}},
}

// set reports which fields of a are set, by name.
func (a Action) set() map[string]bool {
	m := map[string]bool{
		"endpoint": a.Endpoint != "", "connector": a.Connector != "", "channel": a.Channel != "", "text": a.Text != "",
		"attachments": a.Attachments != nil, "mention": a.Mention != nil, "path": a.Path != "", "body": a.Body != nil,
		"model": a.Model != "", "method": a.Method != "", "args": a.Args != nil, "kwargs": a.Kwargs != nil,
		"table": a.Table != "", "row": a.Row != nil, "board": a.Board != "", "title": a.Title != "",
	}
	a.WorkItemFields.set(m)
	for k, v := range m {
		if !v {
			delete(m, k)
		}
	}
	return m
}

// checkShape checks an action's fields against its kind (not templates).
func (a Action) checkShape(field string) *FieldError {
	kf, ok := kindFields[a.Kind]
	if !ok {
		if a.Kind == "" {
			return &FieldError{field + ".kind", "is required; one of: " + strings.Join(Kinds(), ", ")}
		}
		msg := fmt.Sprintf("unknown action kind %q; expected one of: %s", a.Kind, strings.Join(Kinds(), ", "))
		if a.Kind == "mattermost.approval" {
			msg += " (approval buttons are configured under chatops)"
		}
		return &FieldError{field + ".kind", msg}
	}
	set := a.set()
	for _, f := range kf.required {
		if !set[f] {
			return &FieldError{field + "." + f, fmt.Sprintf("is required for %s actions", a.Kind)}
		}
	}
	allowed := map[string]bool{}
	for _, f := range append(append([]string{}, kf.required...), kf.allowed...) {
		allowed[f] = true
	}
	var extra []string
	for f := range set {
		if !allowed[f] {
			extra = append(extra, f)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return &FieldError{field + "." + extra[0], fmt.Sprintf("does not apply to %s actions (they take: %s)",
			a.Kind, strings.Join(append(append([]string{}, kf.required...), kf.allowed...), ", "))}
	}
	if a.Kind == KindMattermost && !set["text"] && !set["attachments"] {
		return &FieldError{field + ".text", "is required for mattermost.post actions (or give attachments)"}
	}
	if a.Kind == KindWorkItem {
		return a.checkWorkItem(field)
	}
	if m := a.Mention; m != nil {
		if strings.TrimSpace(m.Amount) == "" {
			return &FieldError{field + ".mention.amount", "is required: an expression giving the amount, e.g. data.amount_total"}
		}
		for i, t := range m.Thresholds {
			if t.Mention == "" {
				return &FieldError{fmt.Sprintf("%s.mention.thresholds[%d].mention", field, i), "is required, e.g. \"@approver\""}
			}
		}
	}
	return nil
}
