package rule

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/insightpulseai/ipai/internal/store"
)

// Validate checks a rule completely: name, match, the condition compiles
// (as a boolean expression), every action's kind, fields and templates.
// It returns the first problem, naming its field ("actions[1].text").
func (s Spec) Validate() *FieldError {
	if strings.TrimSpace(s.Name) == "" {
		return &FieldError{"name", "is required"}
	}
	if len(s.Name) > 200 {
		return &FieldError{"name", "is longer than 200 characters"}
	}
	if s.Match.Type != "" && !ValidPattern(s.Match.Type) {
		return &FieldError{"match.type", fmt.Sprintf("%q is not an event type pattern; expected e.g. odoo.purchase.order.* or *", s.Match.Type)}
	}
	if c := strings.TrimSpace(s.Condition); c != "" {
		if _, err := compileExpr(c, true); err != nil {
			return &FieldError{"condition", "invalid expression: " + oneLine(err.Error())}
		}
	}
	if len(s.Actions) == 0 {
		return &FieldError{"actions", "at least one action is required"}
	}
	for i, a := range s.Actions {
		f := fmt.Sprintf("actions[%d]", i)
		if fe := a.checkShape(f); fe != nil {
			return fe
		}
		for _, t := range []struct{ name, src string }{{"channel", a.Channel}, {"text", a.Text}, {"path", a.Path},
			{"table", a.Table}, {"board", a.Board}, {"title", a.Title}} {
			if _, err := parseTemplate(t.src); err != nil {
				return &FieldError{f + "." + t.name, "template: " + err.Error()}
			}
		}
		for _, v := range []struct {
			name string
			v    any
		}{{"attachments", a.Attachments}, {"body", a.Body}, {"args", a.Args}, {"kwargs", a.Kwargs}, {"row", a.Row}} {
			if v.v == nil {
				continue
			}
			if fe := checkTemplates(v.v, f+"."+v.name); fe != nil {
				return fe
			}
		}
		if _, ok := a.Args.(map[string]any); ok {
			return &FieldError{f + ".args", "must be a list (the positional arguments) or a template rendering one"}
		}
		if _, ok := a.Kwargs.([]any); ok {
			return &FieldError{f + ".kwargs", "must be a mapping (the keyword arguments)"}
		}
		if m := a.Mention; m != nil {
			if _, err := compileExpr(m.Amount, false); err != nil {
				return &FieldError{f + ".mention.amount", "invalid expression: " + oneLine(err.Error())}
			}
		}
	}
	return nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Compiled is a validated rule ready to match events.
type Compiled struct {
	ID   string
	Spec Spec
	cond *vm.Program // nil = always
}

// Compile validates a rule and compiles its condition.
func Compile(id string, s Spec) (*Compiled, error) {
	if fe := s.Validate(); fe != nil {
		return nil, fe
	}
	c := &Compiled{ID: id, Spec: s}
	if cond := strings.TrimSpace(s.Condition); cond != "" {
		c.cond, _ = compileExpr(cond, true)
	}
	return c, nil
}

// Matches reports whether the rule's source and type select the event.
func (c *Compiled) Matches(ev *store.Event) bool {
	if c.Spec.Match.Source != "" && c.Spec.Match.Source != ev.Source {
		return false
	}
	t := c.Spec.Match.Type
	return t == "" || MatchType(t, ev.Type)
}

// Eval runs the condition over env; no condition is true.
func (c *Compiled) Eval(env map[string]any) (bool, error) {
	if c.cond == nil {
		return true, nil
	}
	out, err := expr.Run(c.cond, env)
	if err != nil {
		return false, err
	}
	b, _ := out.(bool)
	return b, nil
}

// Deliveries returns one pending delivery per action of the rule.
func (c *Compiled) Deliveries(ev *store.Event, now time.Time) []store.Delivery {
	out := make([]store.Delivery, 0, len(c.Spec.Actions))
	for _, a := range c.Spec.Actions {
		d := NewDelivery(ev, a.Kind, now)
		d.RuleID = c.ID
		d.Action = ActionJSON(a)
		if a.Kind == KindWebhook || a.Kind == KindWorkItem {
			d.EndpointID = a.Endpoint
		}
		out = append(out, d)
	}
	return out
}

// Engine is the rules Planner: the enabled compiled rules, matched in order.
type Engine struct {
	rules []*Compiled
	log   *slog.Logger
}

var _ Planner = (*Engine)(nil)

// NewEngine returns a planner of the enabled rules among rs.
func NewEngine(rs []*Compiled, log *slog.Logger) *Engine {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{log: log}
	for _, r := range rs {
		if r.Spec.IsEnabled() {
			e.rules = append(e.rules, r)
		}
	}
	return e
}

// Len is the number of active rules.
func (e *Engine) Len() int { return len(e.rules) }

// Plan returns the deliveries of every rule that matches the event. A
// condition that fails at run time counts as no match and is logged: it
// never fails the ingest.
func (e *Engine) Plan(ev *store.Event, now time.Time) []store.Delivery {
	var out []store.Delivery
	var env map[string]any
	for _, r := range e.rules {
		if !r.Matches(ev) {
			continue
		}
		if r.cond != nil && env == nil {
			env = Env(ev)
		}
		ok, err := r.Eval(env)
		if err != nil {
			e.log.Warn("rule condition failed; treating as no match", "rule", r.Spec.Name, "rule_id", r.ID,
				"event", ev.ID, "type", ev.Type, "err", oneLine(err.Error()))
			continue
		}
		if ok {
			out = append(out, r.Deliveries(ev, now)...)
		}
	}
	return out
}

// TestResult is a dry run of one rule against one event.
type TestResult struct {
	SourceMatched bool         `json:"source_matched"`
	TypeMatched   bool         `json:"type_matched"`
	Condition     *bool        `json:"condition,omitempty"` // nil when not evaluated
	ConditionErr  string       `json:"condition_error,omitempty"`
	Matched       bool         `json:"matched"`
	Actions       []TestAction `json:"actions"`
}

// TestAction is one action's rendering in a dry run.
type TestAction struct {
	Kind     string    `json:"kind"`
	Rendered *Rendered `json:"rendered,omitempty"`
	Error    string    `json:"error,omitempty"`
}

// Test dry-runs the rule against an event: matching, the condition and the
// rendered actions (rendered even when the rule would not match, so a
// template can be checked). Nothing is sent or stored.
func (c *Compiled) Test(ev *store.Event) TestResult {
	var res TestResult
	res.SourceMatched = c.Spec.Match.Source == "" || c.Spec.Match.Source == ev.Source
	res.TypeMatched = c.Spec.Match.Type == "" || MatchType(c.Spec.Match.Type, ev.Type)
	ok, err := c.Eval(Env(ev))
	if err != nil {
		res.ConditionErr = oneLine(err.Error())
	} else {
		res.Condition = &ok
	}
	res.Matched = res.SourceMatched && res.TypeMatched && err == nil && ok
	res.Actions = []TestAction{}
	for _, a := range c.Spec.Actions {
		ta := TestAction{Kind: a.Kind}
		r, err := Render(a, ev)
		if err != nil {
			ta.Error = err.Error()
		} else {
			ta.Rendered = &r
		}
		res.Actions = append(res.Actions, ta)
	}
	return res
}
