package rule

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/insightpulseai/ipai/internal/store"
)

// KindWorkItem posts a work item {tenant_id, source, source_ref, title,
// lane, priority, payload, tags} to an outgoing endpoint (the work-item
// service's URL and signing secret), through the durable delivery path and
// signed like a webhook delivery.
const KindWorkItem = "workitem"

// DefaultPriority is a work item's priority when the action sets none.
const DefaultPriority = "normal"

func init() {
	kindFields[KindWorkItem] = struct{ required, allowed []string }{
		[]string{"endpoint", "title", "lane"},
		[]string{"tenant_id", "source_ref", "priority", "amount", "priority_thresholds", "tags"}}
}

// WorkItemFields are the fields of workitem actions (inline in Action).
// TenantID, SourceRef, Lane, Title and each tag are templates.
type WorkItemFields struct {
	TenantID string `yaml:"tenant_id" json:"tenant_id,omitempty"`
	// SourceRef identifies the record; default "<odoo model>:<id>" when the
	// event carries _model and _id, else the event id.
	SourceRef string `yaml:"source_ref" json:"source_ref,omitempty"`
	Lane      string `yaml:"lane" json:"lane,omitempty"` // HR, FIN, OPS …
	// Priority is fixed, or the default when no PriorityThresholds step is
	// passed (DefaultPriority if empty). A whole number is sent as a number.
	Priority string `yaml:"priority" json:"priority,omitempty"`
	// Amount is an expr-lang expression giving the number PriorityThresholds
	// compare, e.g. data.total_amount.
	Amount             string              `yaml:"amount" json:"amount,omitempty"`
	PriorityThresholds []PriorityThreshold `yaml:"priority_thresholds" json:"priority_thresholds,omitempty"`
	Tags               []string            `yaml:"tags" json:"tags,omitempty"`
}

// PriorityThreshold is one step of a work item's priority: the highest
// Over the amount is above wins.
type PriorityThreshold struct {
	Over     float64 `yaml:"over" json:"over"`
	Priority string  `yaml:"priority" json:"priority"`
}

// WorkItem is the document a workitem action posts.
type WorkItem struct {
	TenantID  string          `json:"tenant_id"`
	Source    string          `json:"source"`
	SourceRef string          `json:"source_ref"`
	Title     string          `json:"title"`
	Lane      string          `json:"lane"`
	Priority  any             `json:"priority"`
	Payload   json.RawMessage `json:"payload"`
	Tags      []string        `json:"tags"`
}

// set adds the work item fields that are set to m.
func (w WorkItemFields) set(m map[string]bool) {
	for k, v := range map[string]bool{"tenant_id": w.TenantID != "", "source_ref": w.SourceRef != "", "lane": w.Lane != "",
		"priority": w.Priority != "", "amount": w.Amount != "", "priority_thresholds": len(w.PriorityThresholds) > 0,
		"tags": len(w.Tags) > 0} {
		if v {
			m[k] = true
		}
	}
}

// checkWorkItem validates what checkShape cannot: the amount and
// thresholds go together, and every template parses.
func (a Action) checkWorkItem(field string) *FieldError {
	w := a.WorkItemFields
	if strings.TrimSpace(w.Lane) == "" {
		return &FieldError{field + ".lane", "is required for workitem actions, e.g. HR, FIN or OPS"}
	}
	if len(w.PriorityThresholds) > 0 && strings.TrimSpace(w.Amount) == "" {
		return &FieldError{field + ".amount", "is required with priority_thresholds: an expression giving the amount, e.g. data.total_amount"}
	}
	if w.Amount != "" && len(w.PriorityThresholds) == 0 {
		return &FieldError{field + ".priority_thresholds", "is required with amount, e.g. [{over: 50000, priority: high}]"}
	}
	if w.Amount != "" {
		if _, err := compileExpr(w.Amount, false); err != nil {
			return &FieldError{field + ".amount", "invalid expression: " + oneLine(err.Error())}
		}
	}
	for i, t := range w.PriorityThresholds {
		if strings.TrimSpace(t.Priority) == "" {
			return &FieldError{fmt.Sprintf("%s.priority_thresholds[%d].priority", field, i), "is required, e.g. \"high\""}
		}
	}
	for _, t := range []struct{ name, src string }{{"tenant_id", w.TenantID}, {"source_ref", w.SourceRef}, {"lane", w.Lane}} {
		if _, err := parseTemplate(t.src); err != nil {
			return &FieldError{field + "." + t.name, "template: " + err.Error()}
		}
	}
	for i, t := range w.Tags {
		if _, err := parseTemplate(t); err != nil {
			return &FieldError{fmt.Sprintf("%s.tags[%d]", field, i), "template: " + err.Error()}
		}
	}
	return nil
}

// choosePriority gives the action's priority for an event's environment.
func (w WorkItemFields) choosePriority(env map[string]any) (string, error) {
	def := w.Priority
	if def == "" {
		def = DefaultPriority
	}
	if len(w.PriorityThresholds) == 0 {
		return def, nil
	}
	m := &Mention{Amount: w.Amount, Default: def}
	for _, t := range w.PriorityThresholds {
		m.Thresholds = append(m.Thresholds, Threshold{Over: t.Over, Mention: t.Priority})
	}
	p, err := ChooseMention(m, env)
	if err != nil {
		return "", &FieldError{"amount", strings.TrimPrefix(err.Error(), "mention.amount: ")}
	}
	return p, nil
}

// renderWorkItem builds the work item of an action for an event; title
// is the action's rendered title.
func renderWorkItem(a Action, ev *store.Event, env map[string]any, title string) (*WorkItem, error) {
	w := a.WorkItemFields
	wi := &WorkItem{Source: ev.Source, Title: title, Tags: []string{}, Payload: json.RawMessage("null")}
	if json.Valid([]byte(ev.Payload)) {
		wi.Payload = json.RawMessage(ev.Payload)
	}
	var err error
	for _, f := range []struct {
		name string
		src  string
		dst  *string
	}{{"tenant_id", w.TenantID, &wi.TenantID}, {"source_ref", w.SourceRef, &wi.SourceRef}, {"lane", w.Lane, &wi.Lane}} {
		if *f.dst, err = renderString(f.src, env); err != nil {
			return nil, &FieldError{f.name, err.Error()}
		}
	}
	if wi.SourceRef == "" {
		wi.SourceRef = defaultSourceRef(ev, env)
	}
	for i, t := range w.Tags {
		s, err := renderString(t, env)
		if err != nil {
			return nil, &FieldError{fmt.Sprintf("tags[%d]", i), err.Error()}
		}
		if s != "" {
			wi.Tags = append(wi.Tags, s)
		}
	}
	p, err := w.choosePriority(env)
	if err != nil {
		return nil, err
	}
	wi.Priority = p
	if n, err := strconv.Atoi(p); err == nil {
		wi.Priority = n
	}
	return wi, nil
}

// defaultSourceRef is "<model>:<id>" of an Odoo record event, else the
// event id.
func defaultSourceRef(ev *store.Event, env map[string]any) string {
	if data, ok := env["data"].(map[string]any); ok {
		model, _ := data["_model"].(string)
		if id, ok := data["_id"]; ok && model != "" && id != nil {
			return model + ":" + str(id)
		}
	}
	return ev.ID
}
